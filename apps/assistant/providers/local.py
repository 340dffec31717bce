"""The offline provider: an extractive answer from the app's own documents, with citations.

The documents (the Markdown under the checkout's ``docs/``, or the short built-in
notes when there is none) are cut into passages and indexed once per process in an
in-memory SQLite FTS5 table; a question's words are matched with BM25 and the best
passages are quoted, each with its source. The answer depends only on the question
and the documents, so a reply taken over by another worker continues word for word.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
from collections.abc import AsyncIterator, Iterable, Sequence
from pathlib import Path
from typing import Final

from apps.assistant.providers.base import Provider, Result, count_tokens

DOCS: Final = Path(__file__).resolve().parents[3] / "docs"
#: Passages quoted per answer, and the most characters quoted from each.
TOP: Final = 3
PASSAGE_CHARS: Final = 420
#: A system message with this asks for the short answer: the best passage only. The
#: prompt test's ``concise`` variant says it; a real model reads the whole sentence.
CONCISE: Final = "Answer concisely"
_WORD: Final = re.compile(r"[A-Za-z0-9]{3,}")
_PIECE: Final = re.compile(r"\S+\s*")
_STOP_WORDS: Final = (
    "the and for are but not you your with this that what how does can from have has was why "
    "when where which who will would should could into about there their they them its"
)
_STOP: Final = frozenset(_STOP_WORDS.split(" "))
BUILT_IN: Final = (
    (
        "assistant",
        "Replies",
        "A reply is written by a leased job into its own stream, chunk by chunk. A client "
        "resumes a reply from the last sequence number it saw, on any node.",
    ),
    (
        "assistant",
        "Budgets",
        "Each user and each tenant has a monthly token budget. When it is spent, new "
        "messages are refused until the first day of the next month, UTC.",
    ),
)


def _passages(root: Path) -> Iterable[tuple[str, str, str]]:
    """(source, title, text) for each paragraph of each Markdown file under ``root``."""
    for path in sorted(root.rglob("*.md")):
        title = path.stem
        source = str(path.relative_to(root.parent))
        for block in path.read_text("utf-8", errors="replace").split("\n\n"):
            block = block.strip()
            if block.startswith("#"):
                title = block.lstrip("#").strip().splitlines()[0]
                continue
            if len(block) < 80 or block.startswith(("```", "|", "<", "!", "--8<--")):
                continue
            yield source, title, " ".join(block.split())


class DocumentIndex:
    def __init__(self, passages: Iterable[tuple[str, str, str]]) -> None:
        # check_same_thread off: built once, then only read, from the event loop's thread.
        self._db = sqlite3.connect(":memory:", check_same_thread=False)
        self._db.execute("CREATE VIRTUAL TABLE passages USING fts5(source, title, body)")
        self._db.executemany("INSERT INTO passages VALUES (?, ?, ?)", passages)
        self.size = int(self._db.execute("SELECT count(*) FROM passages").fetchone()[0])

    @classmethod
    def of_docs(cls, root: Path = DOCS) -> DocumentIndex:
        found = list(_passages(root)) if root.is_dir() else []
        return cls(found or BUILT_IN)

    def search(self, question: str, limit: int = TOP) -> list[tuple[str, str, str]]:
        words = sorted({w.lower() for w in _WORD.findall(question)} - _STOP)
        if not words:
            return []
        query = " OR ".join(f'"{word}"' for word in words)
        rows = self._db.execute(
            "SELECT source, title, body FROM passages WHERE passages MATCH ? "
            "ORDER BY bm25(passages), rowid LIMIT ?",
            (query, limit),
        ).fetchall()
        return [(str(s), str(t), str(b)) for s, t, b in rows]


def _clip(text: str) -> str:
    if len(text) <= PASSAGE_CHARS:
        return text
    cut = text[:PASSAGE_CHARS]
    end = cut.rfind(". ")
    return cut[: end + 1] if end > PASSAGE_CHARS // 2 else cut.rstrip() + "…"


def compose(
    question: str, found: Sequence[tuple[str, str, str]]
) -> tuple[str, list[dict[str, str]]]:
    if not found:
        return (
            "I found nothing about that in this app's documents. Try other words, or ask "
            "about replies, budgets, streams or the event store.",
            [],
        )
    parts = ["Here is what the documents say:\n"]
    citations = []
    for n, (source, title, body) in enumerate(found, start=1):
        parts.append(f"\n{_clip(body)} [{n}]\n")
        citations.append({"n": str(n), "source": source, "title": title})
    parts.append(
        "\nSources: " + "; ".join(f"[{c['n']}] {c['title']} ({c['source']})" for c in citations)
    )
    return "".join(parts), citations


class LocalProvider(Provider):
    name = "local"
    deterministic = True

    def __init__(self, index: DocumentIndex, *, delay_ms: int = 20) -> None:
        self.index = index
        self.delay = delay_ms / 1000

    async def stream(
        self, messages: Sequence[dict[str, str]], result: Result
    ) -> AsyncIterator[str]:
        question = next((m["content"] for m in reversed(messages) if m["role"] == "user"), "")
        concise = any(m["role"] == "system" and CONCISE in m["content"] for m in messages)
        text, citations = compose(question, self.index.search(question, 1 if concise else TOP))
        result.prompt_tokens = sum(count_tokens(m["content"]) for m in messages)
        result.completion_tokens = count_tokens(text)
        result.citations = citations
        for piece in _PIECE.findall(text):
            if self.delay:
                await asyncio.sleep(self.delay)
            yield piece
