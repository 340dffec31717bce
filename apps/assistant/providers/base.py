"""What a model provider is to the assistant: given the thread's messages, a stream of text.

A provider yields text deltas; as it goes it fills a ``Result`` with what it learns
(token usage, citations). The reply job decides how deltas become chunk events; the
provider knows nothing of the log.
"""

from __future__ import annotations

import abc
import re
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

_WORDS: Final = re.compile(r"\S+")


def count_tokens(text: str) -> int:
    """A provider that reports no usage is charged by this: words, a stable stand-in."""
    return len(_WORDS.findall(text))


@dataclass
class Result:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    citations: list[dict[str, Any]] = field(default_factory=list)

    def usage(self) -> dict[str, int]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
        }


class Provider(abc.ABC):
    #: Recorded on each reply: which provider wrote it.
    name: str = "provider"
    #: The same messages always give the same text. A deterministic provider's reply
    #: taken over mid-way continues exactly; another's restarts from a fresh answer
    #: whose first characters (as many as were recorded) are skipped.
    deterministic: bool = False

    @abc.abstractmethod
    def stream(self, messages: Sequence[dict[str, str]], result: Result) -> AsyncIterator[str]:
        """Yield the answer's text in pieces; fill ``result`` by the end."""

    async def close(self) -> None:
        """Release connections."""
