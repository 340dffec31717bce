"""Access tokens: what is accepted, and every way a bad one is refused."""

from __future__ import annotations

import base64
import json
import time

import jwt
import pytest

from headwater.errors import TokenExpired, TokenInvalid
from headwater.security._opaque import derive_key
from headwater.security._tokens import AccessTokens

ROOT = "a-root-secret-that-is-long-enough-for-hs256"
tokens = AccessTokens(ROOT, lifetime_seconds=600, leeway_seconds=5)


def issue(**overrides: object) -> str:
    values: dict[str, object] = {
        "subject": "acc-1",
        "tenant_id": "t-1",
        "roles": ["staff"],
        "tier": "user",
        "session_id": "s-1",
    }
    values.update(overrides)
    token, _ = tokens.issue(**values)  # type: ignore[arg-type]
    return token


def b64(part: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(part).encode()).rstrip(b"=").decode()


def test_a_fresh_token_decodes_to_its_claims() -> None:
    claims = tokens.decode(issue())
    assert (claims.subject, claims.tenant_id, claims.roles) == ("acc-1", "t-1", ("staff",))
    assert claims.session_id == "s-1"
    assert claims.expires_at - claims.issued_at == 600
    assert set(claims.raw) >= {"sub", "tid", "roles", "tier", "jti", "iat", "exp", "typ", "sid"}
    assert not claims.acting_as_admin


def test_every_token_has_its_own_id() -> None:
    assert tokens.decode(issue()).token_id != tokens.decode(issue()).token_id


def test_an_expired_token_is_refused_as_expired() -> None:
    token = issue(now=time.time() - 700)
    with pytest.raises(TokenExpired) as caught:
        tokens.decode(token)
    assert caught.value.code == "token_expired"


def test_expiry_tolerates_the_configured_clock_skew_only() -> None:
    assert tokens.decode(issue(now=time.time() - 602)).subject == "acc-1"
    with pytest.raises(TokenExpired):
        tokens.decode(issue(now=time.time() - 610))


def test_a_token_signed_with_another_secret_is_forged() -> None:
    other = AccessTokens("another-secret", lifetime_seconds=600, leeway_seconds=5)
    token, _ = other.issue(subject="acc-1", tenant_id="t-1", roles=[], tier="user", session_id="s")
    with pytest.raises(TokenInvalid, match="signature"):
        tokens.decode(token)


def test_a_token_signed_with_the_raw_root_secret_is_forged() -> None:
    # Keys are derived per purpose: the root secret itself signs nothing.
    payload = tokens.decode(issue()).raw
    with pytest.raises(TokenInvalid):
        tokens.decode(jwt.encode(dict(payload), ROOT, algorithm="HS256"))


def test_a_tampered_payload_is_forged() -> None:
    header, _, signature = issue().split(".")
    payload = dict(tokens.decode(issue()).raw, roles=["platform_admin"])
    with pytest.raises(TokenInvalid, match="signature"):
        tokens.decode(f"{header}.{b64(payload)}.{signature}")


def test_alg_none_is_refused() -> None:
    payload = dict(tokens.decode(issue()).raw)
    unsigned = f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(payload)}."
    with pytest.raises(TokenInvalid, match="HS256"):
        tokens.decode(unsigned)


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
def test_another_hmac_algorithm_is_refused_even_with_the_right_key() -> None:
    payload = dict(tokens.decode(issue()).raw)
    token = jwt.encode(payload, derive_key(ROOT, "jwt-access"), algorithm="HS512")
    with pytest.raises(TokenInvalid, match="HS256"):
        tokens.decode(token)


def test_a_token_of_another_type_is_refused() -> None:
    payload = dict(tokens.decode(issue()).raw, typ="refresh")
    token = jwt.encode(payload, derive_key(ROOT, "jwt-access"), algorithm="HS256")
    with pytest.raises(TokenInvalid, match="not an access token"):
        tokens.decode(token)


@pytest.mark.parametrize("missing", ["sid", "exp", "typ", "roles"])
def test_a_token_missing_a_required_claim_is_refused(missing: str) -> None:
    payload = dict(tokens.decode(issue()).raw)
    del payload[missing]
    token = jwt.encode(payload, derive_key(ROOT, "jwt-access"), algorithm="HS256")
    with pytest.raises(TokenInvalid):
        tokens.decode(token)


@pytest.mark.parametrize("garbage", ["", "abc", "a.b.c", "eyJ.eyJ.sig", "x" * 5000])
def test_garbage_is_refused_as_invalid(garbage: str) -> None:
    with pytest.raises(TokenInvalid):
        tokens.decode(garbage)


def test_a_token_verified_once_still_expires_on_time(monkeypatch: pytest.MonkeyPatch) -> None:
    fresh = AccessTokens(ROOT, lifetime_seconds=60, leeway_seconds=5)
    token, _ = fresh.issue(
        subject="acc-1", tenant_id="t-1", roles=["staff"], tier="user", session_id="s-1"
    )
    assert fresh.decode(token).subject == "acc-1"
    assert fresh.decode(token).subject == "acc-1"  # remembered: no second verification
    later = time.time() + 66  # past expiry and leeway
    monkeypatch.setattr(time, "time", lambda: later)
    with pytest.raises(TokenExpired):
        fresh.decode(token)


def test_a_forged_copy_of_a_remembered_token_is_still_refused() -> None:
    token = issue()
    tokens.decode(token)
    header, _, signature = token.split(".")
    forged = ".".join([header, b64({"sub": "someone-else"}), signature])
    with pytest.raises(TokenInvalid):
        tokens.decode(forged)
