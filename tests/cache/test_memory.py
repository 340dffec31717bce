"""L1 on its own, and the XFetch formula."""

from __future__ import annotations

import math

from headwater.cache._entry import Entry, xfetch_due
from headwater.cache._memory import L1Item, MemoryCache


def item(value: object, *, until: float = 100.0, tags: tuple[str, ...] = ()) -> L1Item:
    return L1Item(Entry(value, until, 0.1, {}), until, until, tags, (0,) * len(tags))


def test_l1_evicts_the_least_recently_used_entry_past_its_bound() -> None:
    l1 = MemoryCache(max_entries=2)
    l1.set("a", item(1))
    l1.set("b", item(2))
    assert l1.get("a", 0.0) is not None  # "a" is now the most recent
    l1.set("c", item(3))
    assert l1.get("b", 0.0) is None
    assert l1.get("a", 0.0) is not None
    assert len(l1) == 2


def test_l1_drops_an_entry_past_its_keep_time() -> None:
    l1 = MemoryCache()
    l1.set("a", item(1, until=10.0))
    assert l1.get("a", 9.9) is not None
    assert l1.get("a", 10.0) is None


def test_invalidating_a_tag_drops_only_entries_carrying_it() -> None:
    l1 = MemoryCache()
    l1.set("a", L1Item(Entry(1, 100, 0, {}), 100, 100, ("t1",), l1.generations(["t1"])))
    l1.set("b", L1Item(Entry(2, 100, 0, {}), 100, 100, ("t2",), l1.generations(["t2"])))
    l1.invalidate(["t1"])
    assert l1.get("a", 0) is None
    assert l1.get("b", 0) is not None


def test_xfetch_is_due_exactly_when_the_formula_says() -> None:
    entry = Entry("v", expires_at=100.0, delta=2.0, versions={})
    # now - delta * beta * ln(rand) >= expiry
    rand = 0.5
    threshold = 100.0 + 2.0 * math.log(rand)  # about 98.61
    assert not xfetch_due(entry, threshold - 0.01, beta=1.0, rand=rand)
    assert xfetch_due(entry, threshold + 0.01, beta=1.0, rand=rand)
    # beta 0 turns early refresh off: due only at expiry
    assert not xfetch_due(entry, 99.99, beta=0.0)
    assert xfetch_due(entry, 100.0, beta=0.0)


def test_xfetch_refreshes_more_often_as_expiry_nears() -> None:
    entry = Entry("v", expires_at=100.0, delta=1.0, versions={})
    far = sum(xfetch_due(entry, 95.0, 1.0) for _ in range(2000))
    near = sum(xfetch_due(entry, 99.5, 1.0) for _ in range(2000))
    assert far < near
    assert far < 100  # e^-5 ≈ 0.7 %
