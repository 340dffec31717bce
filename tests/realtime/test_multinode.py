"""Two ``headwater serve`` processes on one PostgreSQL database: the store is the bus."""

from __future__ import annotations

import asyncio

import pytest

from tests.realtime.conftest import Nodes
from tests.realtime.support import append, positions, unique, ws_client

pytestmark = [pytest.mark.anyio, pytest.mark.postgres]


async def test_clients_on_both_nodes_see_every_commit_of_both_in_one_order(
    postgres_nodes: Nodes,
) -> None:
    node_a, node_b = postgres_nodes
    prefix = unique("multi")
    writes_per_node, batch = 10, 3
    total = 2 * writes_per_node * batch
    async with ws_client(node_a) as on_a, ws_client(node_b) as on_b:
        await on_a.subscribe(f"category:{prefix}")
        await on_b.subscribe(f"category:{prefix}")

        async def writer(node_index: int) -> list[int]:
            node = postgres_nodes[node_index]
            written: list[int] = []
            for i in range(writes_per_node):
                written += await append(node, f"{prefix}-{node_index}-{i % 3}", batch)
            return written

        # Both nodes write concurrently; commits interleave in the log.
        from_a, from_b = await asyncio.gather(writer(0), writer(1))
        seen_a = positions(await on_a.events(total))
        seen_b = positions(await on_b.events(total))
    expected = sorted(from_a + from_b)
    assert seen_b == expected  # node B got node A's commits, in log order, once each
    assert seen_a == expected


async def test_resume_on_the_other_node_after_failover(postgres_nodes: Nodes) -> None:
    node_a, node_b = postgres_nodes
    stream = unique("order")
    async with ws_client(node_a) as client:
        await client.subscribe(f"stream:{stream}")
        first = positions(await client.events(len(await append(node_a, stream, 4))))
    missed = await append(node_a, stream, 5)
    # Node A "went away": the client reconnects to node B with its last position.
    async with ws_client(node_b) as client:
        await client.subscribe(f"stream:{stream}", from_position=first[-1])
        live = await append(node_a, stream, 2)
        resumed = positions(await client.events(7))
    assert resumed == missed + live
