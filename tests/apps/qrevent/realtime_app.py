"""The realtime module as ``headwater serve --app tests.apps.qrevent.realtime_app:module``."""

from __future__ import annotations

from headwater.realtime._module import RealtimeModule

module = RealtimeModule()
