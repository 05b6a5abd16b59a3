"""Versioned schema migrations: numbered SQL files applied in order, each in a transaction.

Files live in ``migrations/<dialect>/NNNN_name.sql``. The ``schema_migrations`` table records
what was applied; a database newer than this code is refused rather than silently used.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def migrations(dialect: str) -> list[Migration]:
    """All migrations shipped for ``dialect`` (``duckdb``, ``postgresql``: the folder names,
    matching ``Store.dialect``), by version."""
    folder = resources.files("truecourse.store") / "migrations" / dialect
    out = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            num, _, rest = entry.name.partition("_")
            out.append(Migration(int(num), rest.removesuffix(".sql"), entry.read_text()))
    out.sort(key=lambda m: m.version)
    if [m.version for m in out] != list(range(1, len(out) + 1)):
        versions = [m.version for m in out]
        raise RuntimeError(f"{dialect} migrations are not numbered 1..n: {versions}")
    return out
