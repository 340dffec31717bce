"""The assistant's events and streams: threads (what users say) and replies (what it answers)."""
