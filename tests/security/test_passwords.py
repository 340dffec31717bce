"""argon2id hashing: correct, bounded, and never on the event loop."""

from __future__ import annotations

import asyncio
import time

import pytest

from headwater.errors import InvalidInput
from headwater.security._config import FAST_PASSWORDS, PasswordPolicy
from headwater.security._passwords import Passwords

pytestmark = pytest.mark.anyio

#: Costly enough (~tens of ms a hash) that blocking the loop would be unmistakable.
SLOW = PasswordPolicy(time_cost=2, memory_cost_kib=32 * 1024, parallelism=1)


async def test_hash_then_verify() -> None:
    passwords = Passwords(FAST_PASSWORDS)
    stored = await passwords.hash("correct horse")
    assert stored.startswith("$argon2id$")
    assert await passwords.verify(stored, "correct horse")
    assert not await passwords.verify(stored, "wrong horse")
    assert not await passwords.verify("not a hash", "correct horse")


async def test_weak_and_huge_passwords_are_refused() -> None:
    passwords = Passwords(FAST_PASSWORDS)
    with pytest.raises(InvalidInput):
        await passwords.hash("short")
    with pytest.raises(InvalidInput):
        await passwords.hash("x" * 2000)
    assert not await passwords.verify(await passwords.hash("long enough"), "x" * 2000)


async def test_a_hash_made_with_other_parameters_needs_rehash() -> None:
    fast = Passwords(FAST_PASSWORDS)
    stronger = Passwords(PasswordPolicy(time_cost=2, memory_cost_kib=16, parallelism=1))
    stored = await fast.hash("correct horse")
    assert not fast.needs_rehash(stored)
    assert stronger.needs_rehash(stored)


async def _max_loop_lag(work: asyncio.Future[object], tick: float = 0.005) -> float:
    """The longest the loop took to wake a sleeper while ``work`` ran."""
    worst = 0.0
    while not work.done():
        started = time.perf_counter()
        await asyncio.sleep(tick)
        worst = max(worst, time.perf_counter() - started - tick)
    await work
    return worst


async def test_hashing_does_not_block_the_event_loop() -> None:
    # One hash at a time leaves the other core to the loop; the test is about where
    # hashing runs, not how many hashes run at once.
    passwords = Passwords(SLOW, max_concurrent=1)
    started = time.perf_counter()
    one = await passwords.hash("correct horse")
    single = time.perf_counter() - started

    async def workload() -> object:
        return await asyncio.gather(
            *(passwords.hash("correct horse") for _ in range(3)),
            *(passwords.verify(one, "correct horse") for _ in range(3)),
        )

    # Other load on the machine can only add lag, never hide a blocked loop: the best
    # of three runs is the honest figure.
    lag = min([await _max_loop_lag(asyncio.ensure_future(workload())) for _ in range(3)])
    # Six hashes of `single` seconds each ran; the loop never stalled for one.
    assert single > 0.02, "the hash is too cheap for this test to mean anything"
    assert lag < single / 2, f"loop lag {lag * 1000:.1f} ms vs {single * 1000:.1f} ms a hash"


async def test_the_probe_does_see_a_blocked_loop() -> None:
    # The control: the same hash run on the loop shows up as lag.
    passwords = Passwords(SLOW)

    async def on_the_loop() -> object:
        return passwords._hasher.hash("correct horse")

    async def after_a_tick() -> object:
        await asyncio.sleep(0.01)
        return await on_the_loop()

    lag = await _max_loop_lag(asyncio.ensure_future(after_a_tick()))
    assert lag > 0.02


async def test_unknown_email_costs_a_verify_too() -> None:
    passwords = Passwords(SLOW)
    stored = await passwords.hash("correct horse")
    started = time.perf_counter()
    await passwords.verify(stored, "wrong horse")
    real = time.perf_counter() - started
    await passwords.verify_nothing("warm up the dummy hash")
    started = time.perf_counter()
    await passwords.verify_nothing("wrong horse")
    dummy = time.perf_counter() - started
    assert dummy > real / 3
