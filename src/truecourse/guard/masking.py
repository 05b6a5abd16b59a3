"""Masking policies: which action a finding in a field gets, and the text that replaces it.

Actions: ``redact`` writes ``<EMAIL>``; ``hash`` writes ``<EMAIL:9f86d081884c7d65>``, the first
64 bits of HMAC-SHA256 under a key only the operator holds, so one address joins across rows
and services without being readable or guessable offline; ``partial`` keeps the last four
characters (``****1234``); ``drop`` removes the whole attribute (a column value becomes NULL);
``keep`` leaves the value but still counts the finding.
"""

from __future__ import annotations

import fnmatch
import hashlib
import hmac
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from truecourse.config.guard import FieldPolicy, GuardConfig
from truecourse.errors import ConfigError
from truecourse.guard.detectors import Finding

MIN_HASH_KEY_CHARS = 16


@dataclass(frozen=True)
class _Rule:
    pattern: str
    action: str
    types: frozenset[str] | None


class MaskPolicy:
    """Resolves ``(field, entity type)`` to an action and renders replacements.

    Order: the first :class:`FieldPolicy` whose ``field`` pattern matches (and whose ``types``
    include the type), else ``actions[type]``, else ``action``. Resolutions are cached.
    """

    def __init__(self, action: str = "redact", actions: Mapping[str, str] | None = None,
                 fields: Sequence[FieldPolicy] = (), hash_key: bytes | None = None) -> None:
        self.default = action
        self.by_type = dict(actions or {})
        self.rules = [_Rule(p.field, p.action, None if p.types is None else frozenset(p.types))
                      for p in fields]
        self.hash_key = hash_key
        self._cache: dict[tuple[str, str], str] = {}
        uses_hash = action == "hash" or "hash" in self.by_type.values() or any(
            r.action == "hash" for r in self.rules)
        if uses_hash and not hash_key:
            raise ConfigError("guard: the 'hash' action needs an HMAC key",
                              hint=f"set an environment variable with {MIN_HASH_KEY_CHARS}+ "
                                   "random characters and name it in guard.hash_key_env")
        #: whether any rule names attribute keys or drops: JSON values are then walked key by key
        self.keyed = any("." in r.pattern for r in self.rules) or any(
            a == "drop" for a in (action, *self.by_type.values(), *(r.action for r in self.rules)))

    @classmethod
    def from_config(cls, config: GuardConfig,
                    environ: Mapping[str, str] | None = None) -> MaskPolicy:
        """The policy of a ``guard`` section; the HMAC key is read from ``hash_key_env``.

        Raises :class:`ConfigError` when a policy hashes and the key is missing or shorter
        than 16 characters.
        """
        key: bytes | None = None
        if config.uses_hash:
            raw = (environ if environ is not None else os.environ).get(config.hash_key_env, "")
            if len(raw) < MIN_HASH_KEY_CHARS:
                raise ConfigError(
                    f"guard: the 'hash' action needs ${config.hash_key_env} set to "
                    f"{MIN_HASH_KEY_CHARS}+ characters (it is "
                    f"{'unset' if not raw else f'{len(raw)} characters'})",
                    hint=f"export {config.hash_key_env}=$(openssl rand -hex 32)")
            key = raw.encode()
        return cls(config.action, config.actions, config.fields, key)

    def action_for(self, field: str, entity_type: str) -> str:
        """The action for a finding of ``entity_type`` in ``field`` (``attributes.user.email``)."""
        cached = self._cache.get((field, entity_type))
        if cached is not None:
            return cached
        action = self.by_type.get(entity_type, self.default)
        for rule in self.rules:
            if (rule.types is None or entity_type in rule.types) and fnmatch.fnmatchcase(
                    field, rule.pattern):
                action = rule.action
                break
        if len(self._cache) < 10_000:
            self._cache[(field, entity_type)] = action
        return action

    def replacement(self, action: str, entity_type: str, value: str) -> str:
        """The text put in place of ``value`` (for ``redact``, ``hash`` and ``partial``)."""
        if action == "hash":
            assert self.hash_key is not None
            digest = hmac.new(self.hash_key, value.encode("utf-8", "surrogatepass"),
                              hashlib.sha256).hexdigest()
            return f"<{entity_type}:{digest[:16]}>"
        if action == "partial":
            tail = [c for c in value if c.isalnum()][-4:]
            return "****" + "".join(tail) if len(value) >= 8 else "****"
        return f"<{entity_type}>"


@dataclass
class Masked:
    """The outcome of masking one text: the new text (None when dropped) and what was found."""

    text: str | None
    findings: list[tuple[str, str]]
    """``(entity type, action)`` per finding, in order."""


def mask_findings(text: str, findings: Sequence[Finding], policy: MaskPolicy,
                  field: str) -> Masked:
    """``text`` with every finding replaced per ``policy``; ``text=None`` when one is dropped."""
    parts: list[str] = []
    pos = 0
    done: list[tuple[str, str]] = []
    dropped = False
    for f in findings:
        action = policy.action_for(field, f.type)
        done.append((f.type, action))
        if action == "drop":
            dropped = True
        if action in ("keep", "drop") or dropped:
            continue
        parts.append(text[pos:f.start])
        parts.append(policy.replacement(action, f.type, text[f.start:f.end]))
        pos = f.end
    if dropped:
        return Masked(None, done)
    if not parts:
        return Masked(text, done)
    parts.append(text[pos:])
    return Masked("".join(parts), done)
