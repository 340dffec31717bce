"""The assignment hash: published vectors, independence, stable traffic growth."""

from __future__ import annotations

import re
from pathlib import Path

from headwater.experiments._hashing import in_traffic, pick_variant, unit
from headwater.experiments._stats import chi_square_sf

DOC = Path(__file__).parents[2] / "docs" / "experiments-hash.md"


def _rows(header: str) -> list[list[str]]:
    text = DOC.read_text("utf-8")
    table = text[text.index(header) :].split("\n\n")[0]
    return [re.findall(r"`([^`]*)`", line) for line in table.splitlines()[2:]]


def test_unit_matches_every_published_vector() -> None:
    rows = _rows("| purpose | salt | subject |")
    assert len(rows) >= 5
    for purpose, salt, subject, _hex, expected in rows:
        assert unit(purpose, salt, subject) == float(expected), (purpose, salt, subject)


def test_variant_matches_every_published_vector() -> None:
    rows = _rows("| salt | subject | weights |")
    assert len(rows) >= 4
    for salt, subject, weights, expected in rows:
        assert pick_variant(salt, subject, [float(w) for w in weights.split(",")]) == int(expected)


def test_assignments_of_two_experiments_are_independent() -> None:
    # A 2x2 contingency table of the variants 20,000 subjects get in two experiments
    # with similar keys: a correlated hash (FNV-style) would concentrate the diagonal.
    table = [[0, 0], [0, 0]]
    for i in range(20_000):
        subject = f"user-{i}"
        table[pick_variant("exp-1", subject, [1, 1])][pick_variant("exp-2", subject, [1, 1])] += 1
    total = 20_000
    rows = [sum(r) for r in table]
    cols = [table[0][j] + table[1][j] for j in range(2)]
    statistic = sum(
        (table[i][j] - rows[i] * cols[j] / total) ** 2 / (rows[i] * cols[j] / total)
        for i in range(2)
        for j in range(2)
    )
    assert chi_square_sf(statistic, 1) > 0.001
    # And the test would notice dependence: the same experiment twice is fully correlated.
    same = sum(
        pick_variant("exp-1", f"user-{i}", [1, 1]) == pick_variant("exp-1", f"user-{i}", [1, 1])
        for i in range(1000)
    )
    assert same == 1000


def test_raising_traffic_from_10_to_50_percent_keeps_every_earlier_variant() -> None:
    weights = [1.0, 1.0, 2.0]
    subjects = [f"s{i}" for i in range(20_000)]
    before = {
        s: pick_variant("growth", s, weights) for s in subjects if in_traffic("growth", s, 0.1)
    }
    after = {
        s: pick_variant("growth", s, weights) for s in subjects if in_traffic("growth", s, 0.5)
    }
    assert 1700 < len(before) < 2300
    assert 9500 < len(after) < 10_500
    assert set(before) <= set(after)
    assert all(after[s] == variant for s, variant in before.items())
