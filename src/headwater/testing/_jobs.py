"""The job-queue contract: one suite that every queue backend passes unchanged.

A backend's tests subclass :class:`JobQueueContract` and provide a ``store_url``
fixture naming an empty event store (Headwater's own conftest parametrizes one over
SQLite file, SQLite memory and PostgreSQL)::

    from headwater.testing._jobs import JobQueueContract

    class TestSqlJobQueue(JobQueueContract):
        pass  # store_url comes from conftest

A queue other than ``SqlJobQueue`` overrides ``open_queue``. Tests that need a
second node (another store on the same URL) skip on an in-memory database. They
run under the anyio pytest plugin on asyncio.
"""

from __future__ import annotations

import pytest

pytest.register_assert_rewrite(
    "headwater.testing._jobs_base",
    "headwater.testing._jobs_enqueue",
    "headwater.testing._jobs_claims",
    "headwater.testing._jobs_atomic",
)

from headwater.testing._jobs_atomic import AtomicEnqueueContract  # noqa: E402
from headwater.testing._jobs_base import JobQueueContractBase, eventually  # noqa: E402
from headwater.testing._jobs_claims import ClaimContract  # noqa: E402
from headwater.testing._jobs_enqueue import EnqueueContract  # noqa: E402

__all__ = ["JobQueueContract", "JobQueueContractBase", "eventually"]


class JobQueueContract(EnqueueContract, ClaimContract, AtomicEnqueueContract):
    """Every behaviour a job queue promises, as tests; see the module docstring."""

    pytestmark = [pytest.mark.anyio]
