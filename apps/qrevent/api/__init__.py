"""QR Event's HTTP API, mounted under ``/api``."""
