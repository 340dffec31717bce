"""Constant-time comparisons must refuse, not crash on, any text a client sends."""

from __future__ import annotations

import time

from headwater.observability._webhooks import sign, verify_signature
from headwater.security._cookies import SessionCookies
from headwater.security._opaque import digest, equal_text, matches


def test_equal_text_compares_any_unicode_without_raising() -> None:
    assert equal_text("héllo", "héllo")
    assert not equal_text("héllo", "hello")
    assert not equal_text("токен", "token")


def test_a_non_ascii_secret_simply_does_not_match() -> None:
    assert not matches("sécret", digest("secret"))
    assert matches("sécret", digest("sécret"))


def test_a_non_ascii_webhook_signature_is_refused_not_an_error() -> None:
    body = b"{}"
    now = time.time()
    header = sign("whsec", body, int(now))
    assert verify_signature("whsec", body, header, now=now)
    forged = header.rsplit("v1=", 1)[0] + "v1=ünïcode"
    assert not verify_signature("whsec", body, forged, now=now)


def test_a_non_ascii_csrf_token_is_refused_not_an_error() -> None:
    cookies = SessionCookies("root-secret", max_age_seconds=60)
    token = cookies.csrf_token("session-1")
    assert cookies.csrf_matches("session-1", token)
    assert not cookies.csrf_matches("session-1", "tökén")
    assert not cookies.csrf_matches("session-1", None)
