"""A tenant-isolation probe: every route, another tenant's credentials, nothing comes back.

The probe reads the app's OpenAPI document, so a route added tomorrow is probed
tomorrow without anyone remembering to. For each operation it fills path parameters
with tenant A's real ids, builds a minimal valid body from the request schema (so the
request gets past validation to the authorization check), sends it with tenant B's
credentials and asserts:

* no 5xx, ever;
* a route that names one of A's resources answers 401, 403 or 404, never 2xx, and
  never 422 (that would mean the probe stopped at validation and proved nothing);
* no response body contains any of A's markers (ids, emails, names), except what the
  request itself sent (an error echoing the id you asked for leaks nothing).

A path parameter for which the victim has no id fails the probe: add the id rather
than let the route go unprobed. Routes that cannot be probed this way (streams) must
be listed in ``skip`` with a reason. ``attacker`` is called before each request, so a
route that ends the attacker's own session (logout) does not weaken the ones after;
its headers are the only credentials sent (the client's cookie jar is emptied before
each request, so a cookie set by one route never rides along to the next: pass a
``cookie`` header to probe as a cookie session)::

    report = probe_tenant_isolation(
        client,
        attacker=lambda: {"authorization": f"Bearer {login_as_tenant_b()}"},
        victim=Victim(ids={"account_id": a_account, "key_id": a_key}, markers=[a_email]),
    )
    report.assert_isolated()
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Protocol
from urllib.parse import quote

DENIED: Final = frozenset({401, 403, 404})
METHODS: Final = ("get", "post", "put", "patch", "delete")


class _Response(Protocol):
    @property
    def status_code(self) -> int: ...

    @property
    def text(self) -> str: ...


class _Client(Protocol):
    """``httpx.Client`` (a real server) or Starlette's ``TestClient`` (in process)."""

    def request(
        self, method: str, url: str, *, params: Any = ..., headers: Any = ..., json: Any = ...
    ) -> Any: ...


@dataclass(frozen=True)
class Victim:
    #: Parameter name -> one of tenant A's real ids (``account_id``, ``key_id``...).
    ids: Mapping[str, str]
    #: Strings only tenant A's data contains. Ids in ``ids`` are markers too.
    markers: Collection[str] = ()

    def all_markers(self) -> set[str]:
        return {m for m in [*self.markers, *self.ids.values()] if m}


@dataclass(frozen=True)
class ProbeResult:
    method: str
    path: str
    url: str
    status: int | None
    problems: tuple[str, ...]


@dataclass
class ProbeReport:
    results: list[ProbeResult] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)

    @property
    def failures(self) -> list[ProbeResult]:
        return [r for r in self.results if r.problems]

    def assert_isolated(self) -> None:
        if not self.results:
            raise AssertionError("the probe found no routes to call")
        lines = [
            f"{r.method} {r.path} -> {r.status}: {'; '.join(r.problems)}" for r in self.failures
        ]
        if lines:
            raise AssertionError("tenant isolation broken:\n" + "\n".join(lines))


def probe_tenant_isolation(
    client: _Client,
    *,
    attacker: Callable[[], Mapping[str, str]],
    victim: Victim,
    skip: Mapping[tuple[str, str], str] | None = None,
    openapi_url: str = "/openapi.json",
) -> ProbeReport:
    document = client.request("GET", openapi_url).json()
    components = document.get("components", {}).get("schemas", {})
    skip = skip or {}
    report = ProbeReport()
    for path, item in sorted(document.get("paths", {}).items()):
        for method in METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            if (method.upper(), path) in skip:
                report.skipped[f"{method.upper()} {path}"] = skip[(method.upper(), path)]
                continue
            report.results.append(
                _probe(client, method.upper(), path, operation, components, attacker, victim)
            )
    return report


def _probe(
    client: _Client,
    method: str,
    path: str,
    operation: Mapping[str, Any],
    components: Mapping[str, Any],
    attacker: Callable[[], Mapping[str, str]],
    victim: Victim,
) -> ProbeResult:
    url, query, targets_victim, missing = path, {}, False, []
    for parameter in operation.get("parameters", []):
        name, where = parameter["name"], parameter["in"]
        if where == "path":
            if name not in victim.ids:
                missing.append(name)
                continue
            url = url.replace("{" + name + "}", quote(victim.ids[name], safe=""))
            targets_victim = True
        elif where == "query" and name in victim.ids:
            query[name] = victim.ids[name]
            targets_victim = True
        elif where == "query" and parameter.get("required"):
            query[name] = _example(parameter.get("schema", {}), components, victim, name)
    if missing:
        problem = f"no id of the victim tenant for path parameter(s) {missing}: add to Victim.ids"
        return ProbeResult(method, path, url, None, (problem,))
    body = None
    content = operation.get("requestBody", {}).get("content", {})
    if "application/json" in content:
        body = _example(content["application/json"].get("schema", {}), components, victim, None)
        targets_victim = targets_victim or _mentions(body, victim.ids.values())
    headers = dict(attacker())
    jar = getattr(client, "cookies", None)
    if jar is not None:
        jar.clear()
    response: _Response = client.request(method, url, params=query, headers=headers, json=body)
    sent = f"{url} {query} {body}"
    problems = []
    if response.status_code >= 500:
        problems.append("server error")
    if targets_victim and response.status_code not in DENIED:
        problems.append(f"answered {response.status_code} about another tenant's resource")
    leaked = sorted(m for m in victim.all_markers() if m in response.text and m not in sent)
    if leaked:
        problems.append(f"the body contains the victim's data: {leaked}")
    return ProbeResult(method, path, url, response.status_code, tuple(problems))


def _mentions(value: Any, ids: Collection[str]) -> bool:
    text = repr(value)
    return any(i in text for i in ids)


def _example(
    schema: Mapping[str, Any],
    components: Mapping[str, Any],
    victim: Victim,
    name: str | None,
    depth: int = 0,
) -> Any:
    """A small value that satisfies ``schema``; victim ids for fields named like them."""
    if name is not None and name in victim.ids:
        return victim.ids[name]
    if "$ref" in schema:
        target = components.get(schema["$ref"].rsplit("/", 1)[-1], {})
        return _example(target, components, victim, name, depth + 1)
    if "default" in schema and schema["default"] is not None:
        return schema["default"]
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    for combiner in ("anyOf", "oneOf", "allOf"):
        options = [s for s in schema.get(combiner, []) if s.get("type") != "null"]
        if options:
            return _example(options[0], components, victim, name, depth + 1)
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        if depth > 8:
            return {}
        properties = schema.get("properties", {})
        return {
            key: _example(properties[key], components, victim, key, depth + 1)
            for key in schema.get("required", [])
            if key in properties
        }
    if kind == "array":
        count = max(1, schema.get("minItems", 1))
        return [_example(schema.get("items", {}), components, victim, None, depth + 1)] * count
    if kind == "integer" or kind == "number":
        return schema.get("minimum", 1)
    if kind == "boolean":
        return False
    return _string(schema, name)


def _string(schema: Mapping[str, Any], name: str | None) -> str:
    if schema.get("format") == "email" or (name and "email" in name):
        return "probe@probe.example"
    value = "probe-value-0123456789"
    low, high = schema.get("minLength", 0), schema.get("maxLength", len(value))
    value = value.ljust(low, "x")
    return value[: max(high, low)]
