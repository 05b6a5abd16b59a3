"""``truecourse keys|projects|audit|erase|retention``: governance from the command line.

Each command works two ways: with ``--db`` straight on a store (a stopped server's DuckDB file,
or PostgreSQL at any time) — the way to create the first admin key — or, without ``--db``,
through a running server's admin API at ``--url`` with the key in ``$TRUECOURSE_API_KEY``.
Changes are audited with the actor ``cli:$USER`` (direct) or the key (API).
"""

from __future__ import annotations

import getpass
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import typer
from rich.table import Table

from truecourse.cli.spans import DEFAULT_URL, request_json, request_raw
from truecourse.errors import InvalidInput, TrueCourseError

if TYPE_CHECKING:
    from truecourse.store import Store

T = TypeVar("T")

keys_app = typer.Typer(help="API keys: create (shown once), list, revoke.", no_args_is_help=True)
projects_app = typer.Typer(help="Projects: every record belongs to one.", no_args_is_help=True)
audit_app = typer.Typer(help="The tamper-evident audit log: verify the chain, export it.",
                        no_args_is_help=True)
retention_app = typer.Typer(help="Retention: delete what outlived its TTL.",
                            no_args_is_help=True)

_URL = typer.Option(os.environ.get("TRUECOURSE_URL", DEFAULT_URL),
                    help="A running server (env TRUECOURSE_URL); its admin key in "
                         "$TRUECOURSE_API_KEY.")
_DB = typer.Option(None, "--db", help="Work on this store directly instead of a server: a "
                                      "stopped server's DuckDB file or a postgresql:// URL.")
_JSON = typer.Option(False, "--json", help="Print JSON (for scripts).")


def _fail(exc: TrueCourseError) -> typer.Exit:
    from truecourse.cli.main import fail

    return fail(exc)


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


@contextmanager
def _store(db: str) -> Iterator[Store]:
    """The store at ``db``, migrated (created when it is a new DuckDB file), closed after."""
    from truecourse.store import open_store

    if not db.startswith(("postgres://", "postgresql://")) and db != ":memory:":
        parent = Path(db).expanduser().resolve().parent
        if not parent.is_dir():
            raise InvalidInput(f"--db {db}: directory {parent} does not exist")
    store = open_store(db)
    try:
        store.migrate()
        yield store
    finally:
        store.close()


def _run(db: str | None, direct: Callable[[Store], T], remote: Callable[[], T]) -> T:
    """``direct(store)`` with ``--db``, else ``remote()``; errors become the CLI's exit."""
    try:
        if db is not None:
            with _store(db) as store:
                return direct(store)
        return remote()
    except TrueCourseError as exc:
        raise _fail(exc) from exc


def _emit(data: Any, as_json: bool, table: Table | None = None) -> None:
    if as_json or table is None:
        typer.echo(json.dumps(data, indent=2, default=str))
    else:
        from truecourse.cli.measure import _console

        _console().print(table)


# -- keys -------------------------------------------------------------------------------------


@keys_app.command("create")
def keys_create(
    scope: str = typer.Option(..., help="ingest, read, operate or admin."),
    name: str = typer.Option(..., help="Who or what uses the key (e.g. checkout-prod)."),
    project: str = typer.Option("default", help="The project the key belongs to."),
    rate: float | None = typer.Option(None, "--rate", help="Ingest requests per second "
                                                          "(token bucket; default unlimited)."),
    burst: float | None = typer.Option(None, "--burst", help="Bucket size in requests "
                                                            "(default 2 x rate)."),
    db: str | None = _DB, url: str = _URL, as_json: bool = _JSON,
) -> None:
    """Create a key and print it ONCE: it is stored only as a hash."""
    from truecourse.governance import create_key

    def direct(store: Store) -> dict[str, Any]:
        key, token = create_key(store, project=project, scope=scope, name=name,
                                actor=_actor(), rate_per_s=rate, burst=burst)
        return {**key.to_dict(), "key": token}

    data = _run(db, direct, lambda: request_json(
        url, "POST", "/api/v1/admin/keys",
        body={"project": project, "scope": scope, "name": name, "rate_per_s": rate,
              "burst": burst}))
    if as_json:
        _emit(data, True)
        return
    typer.echo(data["key"])
    typer.echo(f"key {data['id']} ({data['scope']}, project {data['project']}, "
               f"{data['name']}): shown once — store it now. Send it as "
               "'Authorization: Bearer <key>' (OTel SDKs: "
               "OTEL_EXPORTER_OTLP_HEADERS=Authorization=Bearer%20<key>).", err=True)


@keys_app.command("list")
def keys_list(
    project: str | None = typer.Option(None, help="Only this project's keys."),
    db: str | None = _DB, url: str = _URL, as_json: bool = _JSON,
) -> None:
    """Keys with their scope, project and state (never their secrets)."""
    from truecourse.governance import list_keys

    data = _run(db, lambda s: {"keys": [k.to_dict() for k in list_keys(s, project)]},
                lambda: request_json(url, "GET", "/api/v1/admin/keys",
                                     params={"project": project}))
    table = Table(header_style="bold", title=f"{len(data['keys'])} keys")
    for col in ("id", "project", "scope", "name", "rate/s", "created", "by", "state"):
        table.add_column(col)
    for k in data["keys"]:
        state = "active" if k["active"] else f"revoked {str(k['revoked_at'])[:19]}"
        table.add_row(k["id"], k["project"], k["scope"], k["name"],
                      "" if k["rate_per_s"] is None else f"{k['rate_per_s']:g}",
                      str(k["created_at"])[:19], k["created_by"], state)
    _emit(data, as_json, table)


@keys_app.command("revoke")
def keys_revoke(
    key_id: str = typer.Argument(..., help="The key's id (from `keys list`)."),
    db: str | None = _DB, url: str = _URL, as_json: bool = _JSON,
) -> None:
    """Revoke a key: requests with it get 401 (within auth.key_cache_s on other servers)."""
    from truecourse.governance import revoke_key

    data = _run(db, lambda s: revoke_key(s, key_id, actor=_actor()).to_dict(),
                lambda: request_json(url, "POST", f"/api/v1/admin/keys/{key_id}/revoke"))
    if as_json:
        _emit(data, True)
    else:
        typer.echo(f"key {data['id']} ({data['name']}) revoked")


# -- projects ---------------------------------------------------------------------------------


@projects_app.command("create")
def projects_create(
    name: str = typer.Argument(..., help="1-63 lowercase letters, digits, '_', '.', '-'."),
    description: str = typer.Option("", help="What the project holds."),
    db: str | None = _DB, url: str = _URL, as_json: bool = _JSON,
) -> None:
    """Create a project (then give it keys: `keys create --project NAME`)."""
    from truecourse.governance import create_project

    data = _run(db, lambda s: create_project(s, name, actor=_actor(),
                                             description=description),
                lambda: request_json(url, "POST", "/api/v1/admin/projects",
                                     body={"name": name, "description": description}))
    if as_json:
        _emit(data, True)
    else:
        typer.echo(f"project {data['name']} created")


@projects_app.command("list")
def projects_list(db: str | None = _DB, url: str = _URL, as_json: bool = _JSON) -> None:
    """Projects with their active keys."""
    from truecourse.governance import list_projects

    data = _run(db, lambda s: {"projects": list_projects(s)},
                lambda: request_json(url, "GET", "/api/v1/admin/projects"))
    table = Table(header_style="bold")
    for col in ("project", "active keys", "created", "by", "description"):
        table.add_column(col)
    for p in data["projects"]:
        table.add_row(p["name"], str(p["active_keys"]), str(p["created_at"])[:19],
                      p["created_by"] or "", p["description"] or "")
    _emit(data, as_json, table)


# -- audit ------------------------------------------------------------------------------------


@audit_app.command("verify")
def audit_verify(
    expect_head: str | None = typer.Option(
        None, "--expect-head", help="SEQ:HASH printed by an earlier verify: also catches "
                                    "entries cut from the end."),
    db: str | None = _DB, url: str = _URL, as_json: bool = _JSON,
) -> None:
    """Recompute the hash chain. Exit 0 when intact, 1 naming the first bad entry."""
    from truecourse.governance import audit

    data = _run(db, lambda s: audit.verify(s, expect_head=expect_head).to_dict(),
                lambda: request_json(url, "GET", "/api/v1/admin/audit/verify",
                                     params={"expect_head": expect_head}))
    if as_json:
        _emit(data, True)
    elif data["ok"]:
        typer.echo(f"audit log intact: {data['checked']} entries; head "
                   f"{data['head_seq']}:{data['head_hash']}")
    else:
        typer.echo(f"audit log BROKEN at entry {data['bad_seq']}: {data['problem']}", err=True)
    if not data["ok"]:
        raise typer.Exit(1)


@audit_app.command("export")
def audit_export(
    out: Path | None = typer.Option(None, "--out", "-o", help="Write here (default stdout)."),
    db: str | None = _DB, url: str = _URL,
) -> None:
    """Write every entry as JSON Lines, in order (details decoded, hashes included)."""
    from truecourse.governance import audit

    def direct(store: Store) -> bytes:
        return b"".join(audit.export_lines(store))

    data = _run(db, direct, lambda: request_raw(url, "GET", "/api/v1/admin/audit/export"))
    if out is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    else:
        out.write_bytes(data)
        n = data.count(b"\n")
        typer.echo(f"{n} entries written to {out}", err=True)


# -- erasure and retention --------------------------------------------------------------------


def erase_command(
    user_id: str | None = typer.Option(None, "--user-id", help="Every trace of this user."),
    conversation_id: str | None = typer.Option(None, "--conversation-id",
                                               help="Every trace of this conversation."),
    trace_id: str | None = typer.Option(None, "--trace-id", help="This trace."),
    project: str | None = typer.Option(None, help="Only this project (default: all)."),
    db: str | None = _DB, url: str = _URL, as_json: bool = _JSON,
) -> None:
    """Erase every span, log and event of a user, conversation or trace; audited (the
    identifier only as its hash). Exit 0 also when nothing matched (it says so)."""
    from truecourse.governance import erase

    def direct(store: Store) -> dict[str, Any]:
        return erase(store, user_id=user_id, conversation_id=conversation_id,
                     trace_id=trace_id, project=project, actor=_actor()).to_dict()

    data = _run(db, direct, lambda: request_json(
        url, "POST", "/api/v1/admin/erase",
        body={"user_id": user_id, "conversation_id": conversation_id, "trace_id": trace_id,
              "project": project}))
    if as_json:
        _emit(data, True)
    else:
        typer.echo(f"{data['message']} (audit entry {data['audit_seq']})")


@retention_app.command("run")
def retention_run(
    dry_run: bool = typer.Option(False, "--dry-run", help="Count what would go; remove "
                                                          "nothing."),
    config: Path | None = typer.Option(None, "--config", "-c",
                                       help="truecourse.yaml with the TTLs (with --db; "
                                            "default ./truecourse.yaml when present)."),
    db: str | None = _DB, url: str = _URL, as_json: bool = _JSON,
) -> None:
    """Delete what outlived its TTL now (the server also runs this every retention.interval).
    With --url the server's TTLs apply; with --db those of --config."""
    from datetime import UTC, datetime

    from truecourse.config import load_config
    from truecourse.governance import preview_retention, run_retention

    def direct(store: Store) -> dict[str, Any]:
        path = config if config is not None else (
            Path("truecourse.yaml") if Path("truecourse.yaml").exists() else None)
        ttl = load_config(path).retention
        if not ttl.enabled:
            raise InvalidInput("no retention TTL is configured, so nothing would be removed",
                               hint="set retention.defaults (e.g. {spans: 30d, text: 7d}) in "
                                    "truecourse.yaml and pass it with --config")
        now = datetime.now(UTC)
        result = (preview_retention(store, ttl, now=now) if dry_run
                  else run_retention(store, ttl, now=now, actor=_actor()))
        return {**result.to_dict(), "dry_run": dry_run}

    data = _run(db, direct, lambda: request_json(url, "POST", "/api/v1/admin/retention/run",
                                                 body={"dry_run": dry_run}))
    if as_json:
        _emit(data, True)
        return
    table = Table(header_style="bold", title=("would remove" if dry_run else "removed")
                  + f": {data['total']} rows")
    for col in ("project", "kind", "rows"):
        table.add_column(col)
    for proj, kinds in sorted(data["removed"].items()):
        for kind, n in sorted(kinds.items()):
            table.add_row(proj, kind, str(n))
    _emit(data, False, table)
    for note in data.get("notes") or []:
        typer.echo(f"note: {note}", err=True)
