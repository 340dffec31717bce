"""Rendering a signed code as PNG or SVG (segno: pure Python, no network)."""

from __future__ import annotations

import io
from typing import Literal

import segno

Format = Literal["png", "svg"]
MEDIA_TYPES: dict[Format, str] = {"png": "image/png", "svg": "image/svg+xml"}


def render(code: str, fmt: Format, *, scale: int = 6) -> bytes:
    # Error correction M: survives a scuffed phone screen, keeps the code small.
    qr = segno.make(code, error="m")
    out = io.BytesIO()
    qr.save(out, kind=fmt, scale=scale, border=2)
    return out.getvalue()
