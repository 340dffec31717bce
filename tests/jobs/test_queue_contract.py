"""The job-queue contract on every backend (``store_url``: SQLite file, memory, PostgreSQL)."""

from __future__ import annotations

from headwater.testing._jobs import JobQueueContract


class TestSqlJobQueue(JobQueueContract):
    pass
