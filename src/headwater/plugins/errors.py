"""The one error of the plugin layer: it always names the plugin at fault."""

from __future__ import annotations

from typing import Any

from headwater.errors import HeadwaterError


class PluginError(HeadwaterError):
    """A plugin could not be loaded, configured or started; start-up stops here.

    The message starts with ``plugin '<name>'`` so an operator reading a failed
    deploy's last log line knows which package to look at.
    """

    code = "plugin_failed"

    def __init__(self, plugin: str, stage: str, reason: str, **details: Any) -> None:
        super().__init__(
            f"plugin {plugin!r} failed to {stage}: {reason}", plugin=plugin, stage=stage, **details
        )
        self.plugin = plugin
        self.stage = stage
