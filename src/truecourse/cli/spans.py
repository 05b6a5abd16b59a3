"""``truecourse spans``: recent spans from a running server (or straight from a DuckDB file)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import typer
from rich.console import Console
from rich.table import Table

from truecourse.errors import InvalidInput, RetryableError, TrueCourseError

if TYPE_CHECKING:
    from truecourse.store.base import Store

DEFAULT_URL = "http://127.0.0.1:4318"

_FILTERS = ("service", "env", "version", "model", "provider", "prompt_version", "operation",
            "status", "trace_id", "since", "until")


def fetch_spans_http(url: str, params: dict[str, Any], timeout_s: float = 10.0) -> dict[str, Any]:
    """GET /api/v1/spans; server errors become TrueCourse errors with the server's message."""
    return get_json(url, "/api/v1/spans", params, timeout_s)


def get_json(url: str, path: str, params: dict[str, Any],
             timeout_s: float = 30.0) -> dict[str, Any]:
    """GET ``path`` of the server at ``url``; errors become TrueCourse errors with its message."""
    return request_json(url, "GET", path, params=params, timeout_s=timeout_s)


def auth_headers() -> dict[str, str]:
    """``Authorization: Bearer $TRUECOURSE_API_KEY`` when that is set."""
    key = os.environ.get("TRUECOURSE_API_KEY", "").strip()
    return {"Authorization": f"Bearer {key}"} if key else {}


def request_json(url: str, method: str, path: str, *, params: dict[str, Any] | None = None,
                 body: Any = None, timeout_s: float = 30.0) -> dict[str, Any]:
    """``method`` ``path`` of the server at ``url`` (a JSON body when given); the JSON answer.

    Sends ``$TRUECOURSE_API_KEY`` as the bearer key when set. Unreachable server:
    ``RetryableError``; 4xx: ``InvalidInput`` with the server's message and hint; 5xx:
    ``RetryableError``.
    """
    data: dict[str, Any] = request_raw(url, method, path, params=params, body=body,
                                       timeout_s=timeout_s, decode=True)
    return data


def request_raw(url: str, method: str, path: str, *, params: dict[str, Any] | None = None,
                body: Any = None, timeout_s: float = 30.0, decode: bool = False) -> Any:
    """As :func:`request_json`; the body's bytes unless ``decode``."""
    endpoint = url.rstrip("/") + path
    try:
        resp = httpx.request(method, endpoint, timeout=timeout_s, json=body,
                             headers=auth_headers(),
                             params={k: v for k, v in (params or {}).items() if v is not None})
    except httpx.HTTPError as exc:
        raise RetryableError(f"cannot reach TrueCourse at {url}: {exc}",
                             hint="start it with `truecourse serve`, pass --url, or read a "
                                  "stopped server's file with --db") from exc
    if resp.status_code >= 400:
        try:
            detail = resp.json()["error"]
            msg, hint = detail.get("message", resp.text), detail.get("hint")
        except (ValueError, KeyError, TypeError):
            msg, hint = resp.text, None
        cls = RetryableError if resp.status_code >= 500 else InvalidInput
        if resp.status_code in (401, 403) and not hint:
            hint = "set TRUECOURSE_API_KEY to a key with the scope needed"
        raise cls(f"server answered {resp.status_code}: {msg}", hint=hint)
    return resp.json() if decode else resp.content


@contextmanager
def open_db(db: str, write: bool = False) -> Iterator[Store]:
    """A stopped server's DuckDB file (read-only unless ``write``, then migrated), closed after.

    Raises InvalidInput naming the path when the file does not exist.
    """
    from truecourse.store import DuckDBStore

    if db != ":memory:" and not Path(db).is_file():
        raise InvalidInput(f"--db {db}: no such DuckDB file",
                           hint="pass the file a stopped `truecourse serve` wrote, or use --url")
    store = DuckDBStore(db, read_only=not write)
    try:
        if write:
            store.migrate()
        yield store
    finally:
        store.close()


def fetch_spans_db(db: str, params: dict[str, Any]) -> dict[str, Any]:
    """Read spans from a DuckDB file directly (the server must not be running on it)."""
    from truecourse.api.params import one_of, parse_time, parse_trace_id
    from truecourse.model import OPERATIONS
    from truecourse.store import SpanQuery

    with open_db(db) as store:
        q = SpanQuery(
            service=params.get("service"), env=params.get("env"), version=params.get("version"),
            model=params.get("model"), provider=params.get("provider"),
            prompt_version=params.get("prompt_version"),
            operation=one_of(params.get("operation"), "operation", OPERATIONS),
            status=one_of(params.get("status"), "status", ("unset", "ok", "error")),
            trace_id=parse_trace_id(params["trace_id"]) if params.get("trace_id") else None,
            since=parse_time(params.get("since"), "since"),
            until=parse_time(params.get("until"), "until"),
            text=params.get("q"), limit=params.get("limit") or 20)
        page = store.spans(q)
    return {"items": page.items, "next_cursor": page.next_cursor, "count": len(page.items)}


def _fmt_time(v: Any) -> str:
    if isinstance(v, datetime):
        return v.strftime("%H:%M:%S.%f")[:-3]
    if isinstance(v, str):
        return v[11:23] if len(v) >= 23 else v
    return ""


def _tokens(r: dict[str, Any]) -> str:
    i, o = r.get("input_tokens"), r.get("output_tokens")
    if i is None and o is None:
        return ""
    return f"{i if i is not None else '-'}/{o if o is not None else '-'}"


def render_table(items: list[dict[str, Any]]) -> Table:
    table = Table(show_lines=False, header_style="bold")
    for col, kw in (("time", {}), ("service", {}), ("name", {"overflow": "fold"}),
                    ("op", {}), ("model", {}), ("tokens in/out", {"justify": "right"}),
                    ("ms", {"justify": "right"}), ("status", {}), ("prompt", {}),
                    ("trace", {})):
        table.add_column(col, **kw)  # type: ignore[arg-type]
    for r in items:
        status = r.get("status_code") or ""
        table.add_row(
            _fmt_time(r.get("start_time")), r.get("service") or "", r.get("name") or "",
            r.get("operation") or "", r.get("model") or "", _tokens(r),
            f"{r.get('duration_ms') or 0:.1f}",
            f"[red]{status}[/]" if status == "error" else status,
            r.get("prompt_version") or "", (r.get("trace_id") or "")[:8])
    return table


def spans_command(
    service: str | None = typer.Option(None, help="Only this service."),
    env: str | None = typer.Option(None, help="Only this environment."),
    version: str | None = typer.Option(None, help="Only this deployed version."),
    model: str | None = typer.Option(None, help="Only this model."),
    provider: str | None = typer.Option(None, help="Only this provider."),
    prompt_version: str | None = typer.Option(None, help="Only this prompt version."),
    operation: str | None = typer.Option(None, help="chat, completion, embeddings, tool, "
                                                    "retrieval, agent, other."),
    status: str | None = typer.Option(None, help="unset, ok or error."),
    trace_id: str | None = typer.Option(None, help="Only spans of this trace."),
    since: str | None = typer.Option(None, help="RFC 3339 time or look-back (15m, 2h, 7d)."),
    until: str | None = typer.Option(None, help="RFC 3339 time or look-back."),
    q: str | None = typer.Option(None, "--search", "-q", help="Text in name, input or output."),
    limit: int = typer.Option(20, min=1, max=1000, help="How many spans."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON (for scripts)."),
    url: str = typer.Option(os.environ.get("TRUECOURSE_URL", DEFAULT_URL),
                            help="TrueCourse server (env TRUECOURSE_URL)."),
    db: str | None = typer.Option(None, help="Read this DuckDB file directly instead of a "
                                             "server (the server must be stopped)."),
) -> None:
    """Show recent spans, newest first, as a table or JSON."""
    from truecourse.cli.main import fail

    params: dict[str, Any] = {k: v for k, v in locals().items() if k in _FILTERS}
    params.update(q=q, limit=limit)
    try:
        data = fetch_spans_db(db, params) if db else fetch_spans_http(url, params)
    except TrueCourseError as exc:
        raise fail(exc) from exc
    if as_json:
        typer.echo(json.dumps(data, default=str, indent=2))
        return
    console = Console()
    if not data["items"]:
        console.print("no spans match", style="dim")
        return
    console.print(render_table(data["items"]))
    if data.get("next_cursor"):
        console.print(f"[dim]more: --limit {limit * 2} or the API's cursor[/]")
