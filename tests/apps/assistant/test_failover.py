"""A worker killed mid-reply, on two nodes sharing one database: the reply completes, and
the client, moved to the surviving node, sees no gap and no duplicate."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from apps.assistant.providers.local import DocumentIndex, compose
from tests.apps.assistant.conftest import database
from tests.apps.assistant.nodes import cluster, lease_owner_pid
from tests.apps.assistant.support import Follower, ask, check_sequence, data

QUESTION = "How does a projection rebuild from the log after a failover?"
#: Slow enough that a kill lands mid-reply; a short lease, so the takeover is quick.
SLOW = {"HEADWATER_ASSISTANT_LOCAL_DELAY_MS": "25", "HEADWATER_ASSISTANT_REPLY_LEASE": "3"}


@pytest.mark.parametrize("backend", ["postgres", "sqlite-file"])
def test_a_node_killed_mid_reply_loses_nothing(backend: str, tmp_path: Path) -> None:
    expected = compose(QUESTION, DocumentIndex.of_docs().search(QUESTION))[0]
    with database(backend, tmp_path) as url, cluster(url, tmp_path, 2, SLOW) as nodes:
        tenant = nodes.tenant("Failover")
        with httpx.Client(base_url=nodes.bases[0], timeout=30) as http:
            _, reply_id = ask(http, tenant.alice, QUESTION)
        follower = Follower(nodes.bases, tenant.alice, reply_id)
        follower.read(max_events=3)
        owner = None
        deadline = time.monotonic() + 10
        while owner is None:
            assert time.monotonic() < deadline, "no worker took the reply"
            owner = nodes.node_of_pid(lease_owner_pid(url, reply_id) or -1)
            time.sleep(0.02)
        seen_before_kill = follower.last
        assert not follower.ended  # the kill lands mid-reply
        nodes.kill(owner)
        follower.node = 1 - owner  # the client's next connection goes to the survivor
        follower.read()
        text = check_sequence(follower.received)
        assert follower.received[-1]["kind"] == "completed"
        assert text == expected
        assert follower.received[-1]["text"] == expected
        assert seen_before_kill >= 3
        with httpx.Client(base_url=nodes.bases[1 - owner], timeout=30) as http:
            reply = data(http.get(f"/assistant/replies/{reply_id}", headers=tenant.alice))
        assert reply["text"] == expected
