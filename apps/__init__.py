"""Reference apps built on Headwater (QR Event, FormEase)."""
