"""Governance: projects, scoped API keys, the gatekeeper, the hash-chained audit log,
erasure on request and retention.

::

    key, token = create_key(store, project="acme", scope="ingest", name="checkout", actor="me")
    Gatekeeper(store).authenticate("Bearer " + token)     # -> Principal(project="acme", ...)
    audit.record(store, "me", "silence.create", target=silence_id)
    audit.verify(store)                                   # -> Verdict(ok=..., bad_seq=...)
"""

from truecourse.governance import audit
from truecourse.governance.erasure import ErasureResult, erase
from truecourse.governance.gate import Gatekeeper, Principal, TokenBucket, required_action
from truecourse.governance.keys import (
    GRANTS,
    SCOPES,
    ApiKey,
    create_key,
    create_project,
    has_admin_key,
    list_keys,
    list_projects,
    parse_token,
    require_project,
    revoke_key,
)
from truecourse.governance.retention import (
    RetentionJob,
    RetentionMetrics,
    RetentionResult,
    preview_retention,
    run_retention,
)

__all__ = [
    "GRANTS",
    "SCOPES",
    "ApiKey",
    "ErasureResult",
    "Gatekeeper",
    "Principal",
    "RetentionJob",
    "RetentionMetrics",
    "RetentionResult",
    "TokenBucket",
    "audit",
    "create_key",
    "create_project",
    "erase",
    "has_admin_key",
    "list_keys",
    "list_projects",
    "parse_token",
    "preview_retention",
    "require_project",
    "required_action",
    "revoke_key",
    "run_retention",
]
