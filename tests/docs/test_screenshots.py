"""The documentation's images: every one a page shows exists, is a real PNG of a sane
size, and is made by ``scripts/docs-screenshots``, which is there to make them again.

The script itself drives a browser through the demo; it is not run here (the browser
tests under tests/apps, tests/admin and tests/http cover those pages).
"""

from __future__ import annotations

import os
import re
import struct
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
SCRIPT = ROOT / "scripts" / "docs-screenshots"
SHOTS = DOCS / "getting-started" / "img"
#: Markdown images, ``![alt](path)`` with an optional title or attribute list after.
IMAGE = re.compile(r"!\[[^\]]*\]\(([^)\s]+)[^)]*\)")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
BUDGET = 250_000  # bytes: the script's own budget per screenshot


def _referenced() -> dict[Path, list[str]]:
    """Every local image a docs page shows, with the pages that show it."""
    found: dict[Path, list[str]] = {}
    for page in sorted(DOCS.rglob("*.md")):
        for target in IMAGE.findall(page.read_text("utf-8")):
            if "://" in target:
                continue
            image = (page.parent / target.split("#")[0]).resolve()
            found.setdefault(image, []).append(str(page.relative_to(ROOT)))
    return found


def _png_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG's IHDR, after checking the signature and its CRC."""
    assert data[:8] == PNG_SIGNATURE
    length, kind = struct.unpack(">I4s", data[8:16])
    assert kind == b"IHDR"
    assert length == 13
    body = data[16:29]
    (crc,) = struct.unpack(">I", data[29:33])
    assert zlib.crc32(kind + body) == crc
    width, height = struct.unpack(">II", body[:8])
    return width, height


def test_every_image_the_docs_show_is_a_png_that_exists() -> None:
    referenced = _referenced()
    assert referenced, "no page shows an image: the demo tour's screenshots went missing"
    for image, pages in referenced.items():
        assert image.is_file(), f"{pages} show {image}, which does not exist"
        assert image.suffix == ".png", image
        data = image.read_bytes()
        assert data[:8] == PNG_SIGNATURE, f"{image} is not a PNG"
        width, height = _png_size(data)
        assert 200 <= width <= 2000, (image, width)
        assert 200 <= height <= 4000, (image, height)
        assert data.endswith(b"IEND\xaeB`\x82"), f"{image} is cut short"


def test_the_demo_tour_shows_every_screenshot_and_each_stays_small() -> None:
    shots = sorted(SHOTS.glob("*.png"))
    assert shots, f"no screenshots in {SHOTS}"
    shown = set(_referenced())
    for shot in shots:
        assert shot.resolve() in shown, f"{shot.name} is in the repository but no page shows it"
        assert shot.stat().st_size < BUDGET, f"{shot.name}: {shot.stat().st_size} bytes"
    tour = (DOCS / "getting-started" / "demo.md").read_text("utf-8")
    assert all(f"img/{shot.name}" in tour for shot in shots)


def test_the_screenshot_script_is_there_and_executable() -> None:
    assert SCRIPT.is_file()
    assert os.access(SCRIPT, os.X_OK), f"{SCRIPT} is not executable"
    text = SCRIPT.read_text("utf-8")
    assert text.startswith("#!/usr/bin/env python3\n")
    # It writes the images the tour shows, and nowhere else.
    assert '"docs" / "getting-started" / "img"' in text
    for shot in SHOTS.glob("*.png"):
        assert f'"{shot.name}"' in text, f"the script does not make {shot.name}"
