"""The inline projection of ``hw.*`` events into the security lookup tables.

It runs inside each append's transaction, so a login sees a registration the moment
it is acknowledged, and a revocation takes effect in the same commit. It also holds
the last line of defence for invariants that a forged event could break: a failing
check (or the UNIQUE email) fails that append and writes nothing.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from headwater.errors import InvalidInput
from headwater.eventstore import RecordedEvent, Statement
from headwater.identity._principal import Role
from headwater.identity._reserved import is_security_event
from headwater.security import _events as ev

#: ``anonymous`` alone makes a device account that reaches only what a rule names for
#: it (e.g. QR Event's venue-screen displays): no route or channel that needs ``user``
#: or more lets it in.
TENANT_ROLES = frozenset(
    {Role.TENANT_ADMIN.value, Role.STAFF.value, Role.USER.value, Role.ANONYMOUS.value}
)
API_KEY_ROLES = frozenset({Role.STAFF.value, Role.USER.value})


def _us(event: RecordedEvent) -> int:
    return int(event.recorded_at.timestamp() * 1_000_000)


def _check_roles(roles: Any, tenant_id: str | None) -> str:
    if not isinstance(roles, list) or not roles or not all(isinstance(r, str) for r in roles):
        raise InvalidInput("account roles must be a non-empty list of role names")
    allowed = TENANT_ROLES if tenant_id is not None else {Role.PLATFORM_ADMIN.value}
    if not set(roles) <= allowed:
        # A platform admin belongs to no tenant, and a tenant's account is never one.
        raise InvalidInput(f"roles {sorted(roles)} are not allowed here")
    return ",".join(sorted(set(roles)))


def _tenant_created(e: RecordedEvent) -> list[Statement]:
    tenant_id = e.data["tenant_id"]
    if e.tenant_id != tenant_id or e.stream_id != ev.tenant_stream(tenant_id):
        raise InvalidInput("a tenant's events live in its own stream, under its own tenant")
    return [
        Statement(
            "INSERT INTO hw_tenants (tenant_id, name, created_at) VALUES (?, ?, ?)",
            (e.tenant_id, e.data["name"], _us(e)),
        )
    ]


def _settings_changed(e: RecordedEvent) -> list[Statement]:
    # Last write wins (seed 003 ``system.setting``): each event carries the whole
    # settings, so the row is simply the latest one.
    d = e.data
    if e.tenant_id is None or e.stream_id != ev.tenant_stream(e.tenant_id):
        raise InvalidInput("a tenant's settings live in its own stream, under its own tenant")
    plan, limits, features = d["plan"], d["limits"], d["features"]
    if not isinstance(plan, str) or not isinstance(limits, dict) or not isinstance(features, list):
        raise InvalidInput("tenant settings need a plan, limits and features")
    actor = e.metadata.get("actor")
    values = (
        plan,
        json.dumps(limits, sort_keys=True),
        json.dumps(features),
        actor if isinstance(actor, str) else None,
        _us(e),
        e.version,
    )
    return [
        Statement("DELETE FROM hw_tenant_settings WHERE tenant_id = ?", (e.tenant_id,)),
        Statement(
            "INSERT INTO hw_tenant_settings (plan, limits, features, updated_by, updated_at, "
            "version, tenant_id) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (*values, e.tenant_id),
        ),
    ]


def _membership_granted(e: RecordedEvent) -> list[Statement]:
    account_id = ev.id_in(e.stream_id, ev.ACCOUNT_CATEGORY)
    tenant_id = e.data["tenant_id"]
    if not isinstance(tenant_id, str) or not tenant_id:
        raise InvalidInput("a membership names its tenant")
    roles = _check_roles(e.data["roles"], tenant_id)
    return [
        *_bump_account_version(e),
        Statement(
            "DELETE FROM hw_memberships WHERE account_id = ? AND tenant_id = ?",
            (account_id, tenant_id),
        ),
        Statement(
            "INSERT INTO hw_memberships (account_id, tenant_id, roles, created_at) "
            "VALUES (?, ?, ?, ?)",
            (account_id, tenant_id, roles, _us(e)),
        ),
    ]


def _membership_revoked(e: RecordedEvent) -> list[Statement]:
    account_id = ev.id_in(e.stream_id, ev.ACCOUNT_CATEGORY)
    return [
        *_bump_account_version(e),
        Statement(
            "DELETE FROM hw_memberships WHERE account_id = ? AND tenant_id = ?",
            (account_id, e.data["tenant_id"]),
        ),
    ]


class Credentials:
    """Password hashes on their way into ``hw_accounts``, beside the log, not in it.

    A registration or password change appends an event that says what happened; the
    hash itself is handed over here, keyed by the event's id, and this projection
    writes it into the account's row in the same transaction as the event. So the
    credential commits with its event or not at all, and the immutable log, with its
    backups, replicas and exports, never holds a password hash (not even an old one
    after a change). Events of older versions that carried the hash still apply.

    Written here because an append takes events only: the inline handler is the one
    place that runs inside its transaction. Process-local by design: the handler runs
    in the process that appends.
    """

    def __init__(self) -> None:
        self._pending: dict[uuid.UUID, str] = {}

    @contextmanager
    def handing_over(self, event_id: uuid.UUID, password_hash: str) -> Iterator[None]:
        self._pending[event_id] = password_hash
        try:
            yield
        finally:
            self._pending.pop(event_id, None)

    def hash_for(self, e: RecordedEvent) -> str:
        found = self._pending.get(e.id)
        if found is None:
            found = e.data.get("password_hash")  # written by an older version
        if not isinstance(found, str) or not found:
            raise InvalidInput(f"{e.type} arrived without its credential")
        return found


credentials = Credentials()


def _registered(e: RecordedEvent) -> list[Statement]:
    d = e.data
    if e.stream_id != ev.account_stream(d["account_id"]) or e.tenant_id != d["tenant_id"]:
        raise InvalidInput("an account's events live in its own stream, under its tenant")
    roles = _check_roles(d["roles"], e.tenant_id)
    return [
        Statement(
            "INSERT INTO hw_accounts (account_id, email, tenant_id, display_name, "
            "password_hash, roles, tier, disabled, tokens_revoked_at, created_at, version) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, 0, 0, ?, ?)",
            (
                d["account_id"],
                d["email"],
                e.tenant_id,
                d.get("display_name"),
                credentials.hash_for(e),
                roles,
                d["tier"],
                _us(e),
                e.version,
            ),
        )
    ]


def _account_update(sets: str, *values: Any) -> Callable[[RecordedEvent], list[Statement]]:
    def build(e: RecordedEvent) -> list[Statement]:
        account_id = ev.id_in(e.stream_id, ev.ACCOUNT_CATEGORY)
        params = [v(e) if callable(v) else v for v in values]
        assignments = f"{sets}, version = ?" if sets else "version = ?"
        return [
            Statement(
                f"UPDATE hw_accounts SET {assignments} WHERE account_id = ?",
                (*params, e.version, account_id),
            )
        ]

    return build


def _end_sessions(e: RecordedEvent) -> Statement:
    # Every session that exists at this commit dies with it: exact, whatever the
    # clocks of the nodes say. Sessions opened later (a new login) are unaffected.
    return Statement(
        "UPDATE hw_sessions SET revoked_at = ?, revoked_reason = ? "
        "WHERE account_id = ? AND revoked_at IS NULL",
        (_us(e), e.type.removeprefix("hw.account."), ev.id_in(e.stream_id, ev.ACCOUNT_CATEGORY)),
    )


def _tokens_revoked(e: RecordedEvent) -> list[Statement]:
    return [*_account_update("tokens_revoked_at = ?", _us)(e), _end_sessions(e)]


def _password_changed(e: RecordedEvent) -> list[Statement]:
    password_hash = credentials.hash_for(e)
    if not e.data.get("sign_out"):
        return _account_update("password_hash = ?", password_hash)(e)
    update = _account_update("password_hash = ?, tokens_revoked_at = ?", password_hash, _us)
    return [*update(e), _end_sessions(e)]


def _roles_changed(e: RecordedEvent) -> list[Statement]:
    roles = _check_roles(e.data["roles"], e.tenant_id)
    return _account_update("roles = ?, tier = ?", roles, e.data["tier"])(e)


def _disabled(e: RecordedEvent) -> list[Statement]:
    return [*_account_update("disabled = 1, tokens_revoked_at = ?", _us)(e), _end_sessions(e)]


def _api_key_created(e: RecordedEvent) -> list[Statement]:
    d = e.data
    if e.stream_id != ev.api_key_stream(d["key_id"]) or e.tenant_id is None:
        raise InvalidInput("an API key's events live in its own stream, under its tenant")
    if d["role"] not in API_KEY_ROLES:
        raise InvalidInput(f"an API key cannot have the role {d['role']!r}")
    return [
        Statement(
            "INSERT INTO hw_api_keys (key_id, tenant_id, name, role, tier, secret_digest, "
            "created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                d["key_id"],
                e.tenant_id,
                d["name"],
                d["role"],
                d["tier"],
                d["secret_digest"],
                d["created_by"],
                _us(e),
            ),
        )
    ]


def _api_key_revoked(e: RecordedEvent) -> list[Statement]:
    key_id = ev.id_in(e.stream_id, ev.API_KEY_CATEGORY)
    return [
        Statement(
            "UPDATE hw_api_keys SET revoked_at = ? WHERE key_id = ? AND revoked_at IS NULL",
            (_us(e), key_id),
        )
    ]


_HANDLERS: dict[str, Callable[[RecordedEvent], list[Statement]]] = {
    ev.TENANT_CREATED: _tenant_created,
    ev.TENANT_SETTINGS_CHANGED: _settings_changed,
    ev.MEMBERSHIP_GRANTED: _membership_granted,
    ev.MEMBERSHIP_REVOKED: _membership_revoked,
    ev.ACCOUNT_REGISTERED: _registered,
    ev.PASSWORD_CHANGED: _password_changed,
    ev.ROLES_CHANGED: _roles_changed,
    ev.ACCOUNT_DISABLED: _disabled,
    ev.ACCOUNT_ENABLED: _account_update("disabled = 0"),
    ev.TOKENS_REVOKED: _tokens_revoked,
    ev.API_KEY_CREATED: _api_key_created,
    ev.API_KEY_REVOKED: _api_key_revoked,
}
#: Account events that change no column still move the row's version, which
#: commands use as the stream's expected version.
_bump_account_version = _account_update("")


def project_security_events(events: Sequence[RecordedEvent]) -> list[Statement]:
    """The store's inline handler: every append passes through, so the common case
    (not a security event) must cost one string comparison."""
    statements: list[Statement] = []
    for event in events:
        if is_security_event(event.type):
            handler = _HANDLERS.get(event.type)
            if handler is None and event.type.startswith("hw.account."):
                handler = _bump_account_version
            if handler is not None:
                try:
                    statements.extend(handler(event))
                except (KeyError, TypeError) as exc:
                    raise InvalidInput(f"malformed {event.type} event: {exc}") from exc
    return statements
