"""The one assignment hash: which subjects are in an experiment, and in which variant.

Specification (the same in every SDK, with test vectors in ``docs/experiments-hash.md``)::

    unit(purpose, salt, subject) =
        int.from_bytes(SHA-256(UTF-8(purpose + "\\x1f" + salt + "\\x1f" + subject))[0:8], "big")
        / 2**64                                               # a float in [0, 1)

    in_traffic   = unit("traffic", salt, subject) < traffic       # traffic in [0, 1]
    variant      = the first variant i (declaration order) with
                   unit("variant", salt, subject) * (w_0 + ... + w_n) < w_0 + ... + w_i
                   (sums in declaration order, as doubles; the last variant if none)

``salt`` is the experiment's key unless the definition sets another one. Why this shape:

- **SHA-256**, not FNV or murmur: a cryptographic hash has no structure that correlates
  the buckets of similar keys (``exp-1``/``exp-2``), so assignments of two experiments are
  independent; every language has it in its standard library, so SDKs cannot disagree.
- **64 bits** of the digest, divided by 2**64: exact in every language with unsigned
  64-bit integers; Python's float division rounds the same way as IEEE doubles elsewhere.
- **Two draws** (``traffic`` and ``variant``): whether a subject is in the experiment and
  which variant it gets are independent. Raising traffic from 10 % to 50 % only adds
  subjects whose traffic draw lies in [0.1, 0.5); everyone already in keeps their
  variant draw, hence their variant. Changing weights does reshuffle, which is why the
  exposure event (not the hash) is what makes an assignment sticky.
- The unit separator ``\\x1f`` cannot occur in a salt or subject (both refuse control
  characters), so ``("a\\x1fb", "c")`` and ``("a", "b\\x1fc")`` cannot collide.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from typing import Final

from headwater.errors import InvalidInput

_SEPARATOR: Final = "\x1f"
_SCALE: Final = float(2**64)
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f]")
MAX_SUBJECT_LENGTH: Final = 200


def check_subject(subject: object) -> str:
    if not isinstance(subject, str) or not subject or len(subject) > MAX_SUBJECT_LENGTH:
        raise InvalidInput(f"a subject is a string of 1 to {MAX_SUBJECT_LENGTH} characters")
    if _CONTROL.search(subject):
        raise InvalidInput("a subject must not contain control characters")
    return subject


def unit(purpose: str, salt: str, subject: str) -> float:
    """The subject's uniform draw in [0, 1) for one purpose of one experiment."""
    text = f"{purpose}{_SEPARATOR}{salt}{_SEPARATOR}{subject}"
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / _SCALE


def in_traffic(salt: str, subject: str, traffic: float) -> bool:
    return unit("traffic", salt, subject) < traffic


def pick_variant(salt: str, subject: str, weights: Sequence[float]) -> int:
    """The index of the subject's variant, by cumulative weight."""
    total = float(sum(weights))
    if total <= 0:
        raise InvalidInput("variant weights must add up to more than zero")
    draw = unit("variant", salt, subject) * total
    cumulative = 0.0
    for index, weight in enumerate(weights):
        cumulative += weight
        if draw < cumulative:
            return index
    # Float rounding can leave the last boundary a hair below the total.
    return len(weights) - 1
