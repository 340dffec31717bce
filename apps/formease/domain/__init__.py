"""FormEase's write side: users with plans, forms with versions, open sessions, usage."""
