"""The composition root: builds a node from the feature packages, and knows their order.

Nothing below it imports it: feature packages are composed here, never the other way.
"""

from headwater.app._core import core_modules
from headwater.app._factory import add_routes, create_app, postgres_timeouts, resolve_secret

__all__ = ["add_routes", "core_modules", "create_app", "postgres_timeouts", "resolve_secret"]
