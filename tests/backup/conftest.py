"""Backup fixtures: moto's S3 server on loopback (a real S3 API, never a mock object)."""

from __future__ import annotations

from headwater.testing._backup import moto_s3_endpoint  # noqa: F401 - a shared fixture
