"""The observability module's tables: the downsampled metric history."""
