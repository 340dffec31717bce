"""Pure ASGI middleware, one concern per module; non-HTTP scopes pass through."""
