"""Password hashing with argon2id, always off the event loop.

One argon2 hash costs tens of milliseconds of CPU and ``memory_cost`` of RAM by
design. Run on the event loop it would stall every other request for that long, so
every hash and verify goes to a worker thread (argon2-cffi releases the GIL while it
works), and a semaphore bounds how many run at once so a login flood cannot exhaust
memory or starve the thread pool.
"""

from __future__ import annotations

import asyncio
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from headwater.errors import InvalidInput
from headwater.security._config import PasswordPolicy


class Passwords:
    def __init__(self, policy: PasswordPolicy, *, max_concurrent: int = 4) -> None:
        self.policy = policy
        self._hasher = PasswordHasher(
            time_cost=policy.time_cost,
            memory_cost=policy.memory_cost_kib,
            parallelism=policy.parallelism,
        )
        self._slots = asyncio.Semaphore(max_concurrent)
        self._dummy: str | None = None

    def check_strength(self, password: str) -> None:
        if len(password) < self.policy.min_length:
            raise InvalidInput(
                f"a password needs at least {self.policy.min_length} characters",
                field="password",
            )
        if len(password) > self.policy.max_length:
            raise InvalidInput(
                f"a password has at most {self.policy.max_length} characters", field="password"
            )

    async def hash(self, password: str) -> str:
        self.check_strength(password)
        async with self._slots:
            return await asyncio.to_thread(self._hasher.hash, password)

    async def verify(self, stored_hash: str, password: str) -> bool:
        if len(password) > self.policy.max_length:
            return False
        async with self._slots:
            return await asyncio.to_thread(self._verify, stored_hash, password)

    async def verify_nothing(self, password: str) -> None:
        """Spend what a real verify costs, for a login whose email does not exist.

        Without it, "unknown email" answers measurably faster than "wrong password",
        which tells an attacker which emails have accounts.
        """
        if self._dummy is None:
            async with self._slots:
                self._dummy = await asyncio.to_thread(self._hasher.hash, secrets.token_urlsafe(16))
        await self.verify(self._dummy, password[: self.policy.max_length])

    def needs_rehash(self, stored_hash: str) -> bool:
        """True when ``stored_hash`` was made with other parameters than the policy's."""
        try:
            return self._hasher.check_needs_rehash(stored_hash)
        except InvalidHashError:
            return True

    def _verify(self, stored_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(stored_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
