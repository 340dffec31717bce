"""QR Event: a live event app (invitations, door check-in, games) on Headwater."""
