"""Route modules, one router per resource (FastAPI template shape)."""
