"""The assistant's settings, read once from ``HEADWATER_ASSISTANT_*`` when the module is built.

An app cannot add fields to the framework's ``Settings``; these live beside it, read
the same way (once, at import of ``module.py``) and passed down.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from headwater.errors import InvalidInput


@dataclass(frozen=True, slots=True)
class AssistantConfig:
    #: Seconds a reply job's lease holds (``HEADWATER_ASSISTANT_REPLY_LEASE``): a
    #: worker killed mid-reply is replaced by another node's worker within about this.
    reply_lease: float = 10.0
    #: Reply jobs run at once per node (``HEADWATER_ASSISTANT_REPLY_CONCURRENCY``).
    reply_concurrency: int = 20
    #: A chunk event is written at most this many ms after its first delta
    #: (``HEADWATER_ASSISTANT_COALESCE_MS``): the log holds a few rows a second per
    #: reply, not one per token.
    coalesce_ms: int = 80
    #: ... or as soon as this many characters wait (``HEADWATER_ASSISTANT_COALESCE_CHARS``).
    coalesce_chars: int = 256
    #: The local provider's pause per word, ms (``HEADWATER_ASSISTANT_LOCAL_DELAY_MS``):
    #: it answers at a reading pace, as a model would, so streaming is visible offline.
    local_delay_ms: int = 20
    #: Tokens a user may spend per calendar month, UTC (``HEADWATER_ASSISTANT_USER_BUDGET``).
    user_budget: int = 200_000
    #: Tokens a tenant may spend per calendar month, UTC (``HEADWATER_ASSISTANT_TENANT_BUDGET``).
    tenant_budget: int = 2_000_000
    #: An OpenAI-compatible endpoint (``HEADWATER_ASSISTANT_OPENAI_URL``, e.g.
    #: ``https://api.openai.com/v1``); empty: the local provider answers.
    openai_url: str = ""
    #: Its key (``HEADWATER_ASSISTANT_OPENAI_KEY``) and model (``HEADWATER_ASSISTANT_MODEL``).
    openai_key: str = ""
    model: str = "gpt-4o-mini"
    #: Seconds to wait for the endpoint's first byte and between chunks
    #: (``HEADWATER_ASSISTANT_OPENAI_TIMEOUT``).
    openai_timeout: float = 30.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> AssistantConfig:
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        defaults = cls()
        for name in cls.__dataclass_fields__:
            variable = f"HEADWATER_ASSISTANT_{name.upper()}"
            raw = env.get(variable)
            if raw is None:
                continue
            kind = type(getattr(defaults, name))
            try:
                values[name] = kind(raw)
            except ValueError as exc:
                raise InvalidInput(f"{variable} must be a {kind.__name__}, not {raw!r}") from exc
        return cls(**values)
