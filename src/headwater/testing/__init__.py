"""Contract suites and helpers that backends and plugins reuse in their own tests.

``headwater.testing.eventstore.EventStoreContract`` is the event-store contract: a
backend's test class subclasses it and only says how to reach an empty store.
This package's ``__init__`` imports nothing, so the subprocess helpers that run
under ``python -m headwater.testing._writer`` start without loading pytest.
"""
