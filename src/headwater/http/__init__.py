"""The HTTP layer: app factory, envelope, errors, pagination and middleware."""
