"""QR Event's write side: aggregates, their events and ids."""
