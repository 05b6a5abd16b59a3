"""The gatekeeper: which key sent a request, whether it may do what it asks, and its rate.

With no key in the store the server is *open*: every request acts as an admin of the project
it names (``X-TrueCourse-Project`` header or ``?project=``, default ``default``); that is only
allowed on loopback (``truecourse serve`` refuses other addresses). Once a key exists every
request except health checks and static files needs one:

- no ``Authorization: Bearer`` header, a malformed, unknown or revoked key: ``Unauthorized``
  (401) with the same message whether the key exists or not;
- a key whose scope lacks the action: ``Forbidden`` (403) naming the scope needed;
- a key of one project asking for another (only admin keys may): ``Forbidden``;
- an ingest request over the key's token bucket: ``RateLimited`` (429, ``Retry-After``).

The key table is read from the store at most every ``auth.key_cache_s`` seconds (and at once
for an id not seen before, so a key created by another process works on its first request).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from truecourse.config import AuthConfig
from truecourse.errors import Forbidden, NotFound, RateLimited, Unauthorized
from truecourse.governance.keys import (
    GRANTS,
    ApiKey,
    load_keys,
    matches,
    parse_token,
    project_names,
)
from truecourse.model import DEFAULT_PROJECT
from truecourse.store import Store

_UNAUTHORIZED = "missing or invalid API key"
_HINT = ("send `Authorization: Bearer tc_...` with a key from `truecourse keys create` "
         "(OTel SDKs: OTEL_EXPORTER_OTLP_HEADERS=Authorization=Bearer%20tc_...)")


@dataclass(frozen=True)
class Principal:
    """Who a request acts as: a key (``key_id``) or, on an open server, nobody in particular."""

    project: str
    scope: str
    key_id: str | None = None
    name: str | None = None

    @property
    def open(self) -> bool:
        return self.key_id is None

    @property
    def actor(self) -> str:
        """How the audit log names it."""
        return f"key:{self.key_id} ({self.name})" if self.key_id else "open-server"

    def allows(self, action: str) -> bool:
        return action in GRANTS[self.scope]

    def may_see(self, project: str) -> bool:
        return self.scope == "admin" or project == self.project


def required_action(method: str, path: str) -> str | None:
    """The action a request needs (``ingest``, ``read``, ``operate``, ``admin``), or None for
    what anyone may reach (health checks, static files, the API description)."""
    if path in ("/healthz", "/readyz", "/favicon.ico", "/login", "/logout") \
            or path.startswith("/static/"):
        return None
    if path in ("/api/v1/openapi.json", "/api/v1/docs"):
        return None
    if path.startswith("/v1/"):
        return "ingest"
    if path.startswith("/api/v1/admin/"):
        return "admin"
    if method in ("GET", "HEAD", "OPTIONS"):
        return "read"
    if path in ("/api/v1/events", "/api/v1/predictions", "/api/v1/alerts/alertmanager",
                "/api/v1/alerts/grafana"):
        return "ingest"  # telemetry, events and external alerts: what senders send
    if path == "/api/v1/guard/scan":
        return "read"  # scans the body and stores nothing
    return "operate"


class TokenBucket:
    """``rate`` tokens per second up to ``burst``; :meth:`take` returns 0 or the seconds
    until a token is there."""

    def __init__(self, rate: float, burst: float, clock: Callable[[], float]) -> None:
        self.rate, self.burst, self.clock = rate, burst, clock
        self.tokens, self.at = burst, clock()

    def take(self) -> float:
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate


class Gatekeeper:
    """Authenticates and authorizes requests against the store's key table (thread-safe)."""

    def __init__(self, store: Store, config: AuthConfig | None = None, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.store = store
        self.config = config or AuthConfig()
        self.clock = clock
        self._keys: dict[str, ApiKey] = {}
        self._projects: set[str] = set()
        self._loaded_at = -math.inf
        self._lock = threading.Lock()
        self._buckets: dict[str, TokenBucket] = {}

    def _refresh(self, *, force: bool = False) -> dict[str, ApiKey]:
        now = self.clock()
        with self._lock:
            age = now - self._loaded_at
            if age >= self.config.key_cache_s or (force and age >= 0.2):
                self._keys = load_keys(self.store)
                self._projects = project_names(self.store)
                self._loaded_at = now
            return self._keys

    def require_project(self, name: str) -> None:
        """``NotFound`` naming the known projects when ``name`` is none of them."""
        self._refresh()
        if name not in self._projects:
            self._refresh(force=True)
            if name not in self._projects:
                raise NotFound(f"unknown project {name!r}",
                               hint=f"known projects: {', '.join(sorted(self._projects))}; "
                                    f"create one with `truecourse projects create {name}`")

    @property
    def fresh(self) -> bool:
        """True while the cached key table is young enough that a check of a known key reads
        nothing from the store (callers on an event loop may then check inline)."""
        return self.clock() - self._loaded_at < self.config.key_cache_s

    def invalidate(self) -> None:
        """Reload the key table on the next request (after a key was created or revoked)."""
        with self._lock:
            self._loaded_at = -math.inf

    @property
    def open(self) -> bool:
        """True while no key exists (re-checked at most every ``key_cache_s``)."""
        return not self._refresh()

    def authenticate(self, authorization: str | None, *, project: str | None = None,
                     ) -> Principal:
        """The principal of a request's ``Authorization`` header; ``project`` is the project
        it asks for (header or query), checked against the key. Raises ``Unauthorized`` or
        ``Forbidden``."""
        keys = self._refresh()
        if not keys:
            return Principal(project or DEFAULT_PROJECT, "admin")
        token = ""
        if authorization:
            kind, _, token = authorization.strip().partition(" ")
            if kind.lower() != "bearer":
                token = ""
        parsed = parse_token(token.strip()) if token else None
        if parsed is None:
            raise Unauthorized(_UNAUTHORIZED, hint=_HINT)
        key_id, secret = parsed
        key = keys.get(key_id) or self._refresh(force=True).get(key_id)
        if key is None or not key.active or not matches(key, secret):
            raise Unauthorized(_UNAUTHORIZED, hint=_HINT)
        principal = Principal(key.project, key.scope, key.id, key.name)
        if project is not None and project != key.project:
            if key.scope != "admin":
                raise Forbidden(f"this key belongs to project {key.project!r} and cannot reach "
                                f"project {project!r}",
                                hint="use a key of that project (or an admin key)")
            principal = Principal(project, key.scope, key.id, key.name)
        return principal

    def authorize(self, principal: Principal, action: str) -> None:
        """``Forbidden`` naming the scope needed when the principal may not do ``action``;
        ``RateLimited`` when an ingest request is over the key's bucket."""
        if not principal.allows(action):
            granting = [s for s in GRANTS if action in GRANTS[s]]
            needed = granting[0]
            raise Forbidden(f"this key has scope {principal.scope!r}; {action} needs scope "
                            f"{' or '.join(repr(s) for s in granting)}",
                            hint="create a key with that scope: truecourse keys create "
                                 f"--scope {needed}")
        if action == "ingest" and principal.key_id is not None:
            wait = self._take(principal.key_id) if self._limited(principal) else 0.0
            if wait > 0:
                raise RateLimited(f"key {principal.key_id} is over its ingest rate",
                                  hint="slow down or create the key with a higher --rate",
                                  retry_after_s=max(1, math.ceil(wait)))

    def _limited(self, principal: Principal) -> bool:
        key = self._keys.get(principal.key_id or "")
        return key is not None and (key.rate_per_s or self.config.ingest_rate_per_s) is not None

    def _take(self, key_id: str) -> float:
        with self._lock:
            bucket = self._buckets.get(key_id)
            if bucket is None:
                key = self._keys[key_id]
                rate = float(key.rate_per_s or self.config.ingest_rate_per_s or 0)
                burst = float(key.burst or self.config.ingest_burst or max(1.0, 2 * rate))
                bucket = self._buckets[key_id] = TokenBucket(rate, burst, self.clock)
            return bucket.take()
