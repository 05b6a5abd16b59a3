"""Projects and API keys.

A key is ``tc_<id>_<secret>``: ``id`` (12 hex characters) names the row, ``secret`` (43
URL-safe characters, 256 bits) is stored only as its SHA-256. A slow password hash is not
needed: the secret is random, not chosen by a person, so a stolen hash cannot be guessed back.
The whole key is shown once, when created.

Scopes: ``ingest`` sends telemetry and events; ``read`` reads; ``operate`` reads and acts on
alerts, silences and drift; ``admin`` does everything, in every project (keys, erasure, audit,
retention). Every key belongs to one project; except admin keys, it can reach no other.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from truecourse.errors import InvalidInput, NotFound
from truecourse.governance import audit
from truecourse.model import DEFAULT_PROJECT
from truecourse.store import Store

SCOPES = ("ingest", "read", "operate", "admin")
#: what each scope may do
GRANTS: dict[str, frozenset[str]] = {
    "ingest": frozenset({"ingest"}),
    "read": frozenset({"read"}),
    "operate": frozenset({"read", "operate"}),
    "admin": frozenset({"ingest", "read", "operate", "admin"}),
}
PROJECT_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,62}$")
_TOKEN = re.compile(r"^tc_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")
_KEY_COLUMNS = ("id", "project", "scope", "name", "rate_per_s", "burst", "created_at",
                "created_by", "revoked_at", "revoked_by")


@dataclass(frozen=True)
class ApiKey:
    """A key as stored, without its secret."""

    id: str
    project: str
    scope: str
    name: str
    rate_per_s: float | None
    burst: float | None
    created_at: datetime
    created_by: str
    revoked_at: datetime | None = None
    revoked_by: str | None = None
    secret_sha256: str = ""

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def allows(self, action: str) -> bool:
        return action in GRANTS[self.scope]

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in _KEY_COLUMNS} | {"active": self.active}


def parse_token(token: str) -> tuple[str, str] | None:
    """``(id, secret)`` of a well-formed key, else None."""
    m = _TOKEN.match(token.strip())
    return (m.group(1), m.group(2)) if m else None


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def matches(key: ApiKey, secret: str) -> bool:
    """Constant-time check of ``secret`` against the key's stored hash."""
    return hmac.compare_digest(key.secret_sha256, secret_hash(secret))


# -- projects ---------------------------------------------------------------------------------


def check_project_name(name: str) -> str:
    if not PROJECT_NAME.match(name or ""):
        raise InvalidInput(f"project name {name!r} is not valid",
                           hint="use 1-63 lowercase letters, digits, '_', '.' or '-', "
                                "starting with a letter or digit")
    return name


def list_projects(store: Store) -> list[dict[str, Any]]:
    """Every project with its creation and how many active keys it has."""
    rows = store.select(
        "SELECT p.name, p.created_at, p.created_by, p.description, "
        "count(k.id) FILTER (WHERE k.revoked_at IS NULL) AS active_keys "
        "FROM projects p LEFT JOIN api_keys k ON k.project = p.name "
        "GROUP BY p.name, p.created_at, p.created_by, p.description ORDER BY p.name")
    return rows.to_pylist()


def project_names(store: Store) -> set[str]:
    return set(store.select("SELECT name FROM projects").column(0).to_pylist())


def require_project(store: Store, name: str) -> str:
    """``name`` when it is a known project; ``NotFound`` naming the known ones otherwise."""
    known = project_names(store)
    if name not in known:
        raise NotFound(f"unknown project {name!r}",
                       hint=f"known projects: {', '.join(sorted(known))}; create one with "
                            f"`truecourse projects create {name}`")
    return name


def create_project(store: Store, name: str, *, actor: str, description: str = "",
                   now: datetime | None = None) -> dict[str, Any]:
    """Create a project (audited); ``InvalidInput`` for a bad or taken name."""
    check_project_name(name)
    if name in project_names(store):
        raise InvalidInput(f"project {name!r} already exists")
    t = now or datetime.now(UTC)
    audit.record(store, actor, "project.create", project=name, target=name,
                 details={"description": description},
                 with_statements=[("INSERT INTO projects (name, created_at, created_by, "
                                   "description) VALUES (?, ?, ?, ?)",
                                   [name, t, actor, description])], now=t)
    return {"name": name, "created_at": t, "created_by": actor, "description": description}


# -- keys -------------------------------------------------------------------------------------


def create_key(store: Store, *, project: str, scope: str, name: str, actor: str,
               rate_per_s: float | None = None, burst: float | None = None,
               now: datetime | None = None) -> tuple[ApiKey, str]:
    """Create a key (audited); returns it and the full ``tc_...`` token, which is not stored
    and cannot be shown again. Raises ``InvalidInput`` / ``NotFound`` for a bad scope, name,
    rate or project."""
    if scope not in SCOPES:
        raise InvalidInput(f"unknown scope {scope!r}", hint=f"one of: {', '.join(SCOPES)}")
    if not name or not name.strip():
        raise InvalidInput("a key needs a --name saying who or what uses it")
    if rate_per_s is not None and rate_per_s <= 0:
        raise InvalidInput(f"--rate {rate_per_s} must be above 0 requests per second")
    if burst is not None and burst < 1:
        raise InvalidInput(f"--burst {burst} must be at least 1 request")
    require_project(store, project)
    key_id, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
    t = now or datetime.now(UTC)
    key = ApiKey(key_id, project, scope, name.strip(), rate_per_s, burst, t, actor,
                 secret_sha256=secret_hash(secret))
    audit.record(store, actor, "key.create", project=project, target=key_id,
                 details={"scope": scope, "name": key.name, "rate_per_s": rate_per_s,
                          "burst": burst},
                 with_statements=[(
                     "INSERT INTO api_keys (id, project, scope, name, secret_sha256, "
                     "rate_per_s, burst, created_at, created_by) VALUES (?, ?, ?, ?, ?, ?, ?, "
                     "?, ?)", [key_id, project, scope, key.name, key.secret_sha256,
                               rate_per_s, burst, t, actor])], now=t)
    return key, f"tc_{key_id}_{secret}"


def _key(r: Mapping[str, Any]) -> ApiKey:
    return ApiKey(r["id"], r["project"], r["scope"], r["name"], r["rate_per_s"], r["burst"],
                  r["created_at"], r["created_by"], r["revoked_at"], r["revoked_by"],
                  r.get("secret_sha256") or "")


def load_keys(store: Store) -> dict[str, ApiKey]:
    """Every key (revoked ones too) by id, with its secret hash: the gatekeeper's table."""
    rows = store.select(f"SELECT {', '.join(_KEY_COLUMNS)}, secret_sha256 FROM api_keys")
    return {r["id"]: _key(r) for r in rows.to_pylist()}


def list_keys(store: Store, project: str | None = None) -> list[ApiKey]:
    """Keys (without secrets), newest first; only ``project``'s when given."""
    where, params = ("WHERE project = ?", [project]) if project else ("", [])
    rows = store.select(f"SELECT {', '.join(_KEY_COLUMNS)} FROM api_keys {where} "
                        "ORDER BY created_at DESC, id", params)
    return [_key(r) for r in rows.to_pylist()]


def revoke_key(store: Store, key_id: str, *, actor: str,
               now: datetime | None = None) -> ApiKey:
    """Revoke a key (audited); ``NotFound`` when there is no such key, ``InvalidInput`` when
    it is already revoked."""
    keys = {k.id: k for k in list_keys(store)}
    key_id = key_id.strip()
    parsed = parse_token(key_id)
    if parsed is not None:  # the whole key pasted: use its id, never echo the secret
        key_id = parsed[0]
    if key_id not in keys:
        raise NotFound(f"no key with id {key_id!r}",
                       hint="`truecourse keys list` shows the ids")
    if not keys[key_id].active:
        raise InvalidInput(f"key {key_id} was already revoked at "
                           f"{keys[key_id].revoked_at}")
    t = now or datetime.now(UTC)
    audit.record(store, actor, "key.revoke", project=keys[key_id].project, target=key_id,
                 details={"name": keys[key_id].name, "scope": keys[key_id].scope},
                 with_statements=[("UPDATE api_keys SET revoked_at = ?, revoked_by = ? "
                                   "WHERE id = ?", [t, actor, key_id])], now=t)
    return ApiKey(**{**keys[key_id].__dict__, "revoked_at": t, "revoked_by": actor})


def has_admin_key(store: Store) -> bool:
    """True when at least one active admin key exists (``serve`` needs one to bind beyond
    loopback)."""
    rows = store.select("SELECT count(*) AS n FROM api_keys WHERE scope = 'admin' AND "
                        "revoked_at IS NULL").to_pylist()
    return bool(rows and rows[0]["n"])


__all__ = ["DEFAULT_PROJECT", "GRANTS", "SCOPES", "ApiKey", "check_project_name",
           "create_key", "create_project", "has_admin_key", "list_keys", "list_projects",
           "load_keys", "matches", "parse_token", "project_names", "require_project",
           "revoke_key"]
