"""``truecourse drift run | baseline | reports``: the drift package's CLI.

``run`` compares files (Parquet/CSV) or store windows of a model's predictions or a service's
LLM spans; ``baseline`` uploads a reference file; ``reports`` lists stored reports. Each calls
the same domain functions as the REST API.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.table import Table

from truecourse.cli.spans import DEFAULT_URL, auth_headers
from truecourse.errors import InvalidInput, TrueCourseError

if TYPE_CHECKING:
    from truecourse.store.base import Store

drift_app = typer.Typer(help="Drift and data quality: compare current data with a reference.",
                        no_args_is_help=True)

_URL = typer.Option(os.environ.get("TRUECOURSE_URL", DEFAULT_URL),
                    help="TrueCourse server (env TRUECOURSE_URL).")
_DB = typer.Option(None, help="Read this DuckDB file or postgresql:// URL directly (a DuckDB "
                              "server must be stopped).")
_CONFIG = typer.Option(None, "--config", "-c", help="truecourse.yaml (drift settings).")


def _fail(exc: TrueCourseError) -> typer.Exit:
    from truecourse.cli.main import fail

    return fail(exc)


def _console() -> Console:
    return Console() if sys.stdout.isatty() else Console(width=200)


@contextmanager
def _open(db: str) -> Iterator[Store]:
    """The store named by ``--db``, migrated (a DuckDB file must not be served meanwhile)."""
    from truecourse.store import open_store

    if "://" not in db and db != ":memory:" and not Path(db).is_file():
        raise InvalidInput(f"--db {db}: no such DuckDB file",
                           hint="pass the file a stopped `truecourse serve` wrote")
    store = open_store(db)
    try:
        store.migrate()
        yield store
    finally:
        store.close()


def _settings(config: Path | None) -> Any:
    from truecourse.config import load_config

    return load_config(config).drift


@drift_app.command("run")
def run_command(
    reference: str = typer.Option(..., "--reference", "-r",
                                  help="Reference: a Parquet/CSV file, a window SINCE..UNTIL "
                                       "(e.g. 14d..7d), or baseline:ID (needs --db)."),
    current: str = typer.Option(..., "--current", help="Current: a Parquet/CSV file or a "
                                                       "window SINCE..UNTIL (e.g. 1d..now)."),
    model: str | None = typer.Option(None, help="Model whose predictions the windows read."),
    service: str | None = typer.Option(None, help="Service whose LLM spans the windows read "
                                                  "(instead of --model)."),
    db: str | None = _DB,
    config: Path | None = _CONFIG,
    score: list[str] = typer.Option([], "--score", help="Columns holding prediction scores "
                                                        "(Jensen-Shannon on binned scores)."),
    text: list[str] = typer.Option([], "--text", help="Free-text columns (embedding MMD)."),
    ignore: list[str] = typer.Option([], "--ignore", help="Columns not to judge (ids, "
                                                          "timestamps)."),
    every: str | None = typer.Option(None, "--every", help="The interval this check repeats "
                                                           "at on overlapping windows (e.g. "
                                                           "5m): alpha is shared among them."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    html: Path | None = typer.Option(None, "--html", help="Write a self-contained HTML report "
                                                          "with the plots here."),
    store_report: bool = typer.Option(False, "--store", help="Keep the report in the store "
                                                             "(--db) for the API."),
    fail_on_drift: bool = typer.Option(False, "--fail-on-drift",
                                       help="Exit 1 when any column drifted."),
) -> None:
    """Compare current data with a reference, column by column.

    Prints a table (or JSON with one entry per column: test, statistic, p-value or distance,
    threshold, drifted); data problems are findings, not failures. Exit 2 for invalid input.
    """
    from truecourse.drift.html import render_html
    from truecourse.drift.sources import run_report

    try:
        cfg = _settings(config)
        report = run_report(reference, current, cfg, db=db, model=model, service=service,
                            score_columns=score, text_columns=text, ignore=ignore,
                            keep=store_report, every=every)
    except TrueCourseError as exc:
        raise _fail(exc) from exc
    doc = report.to_dict()
    if html is not None:
        html.write_text(render_html(doc), encoding="utf-8")
    if as_json:
        sys.stdout.write(json.dumps(doc, indent=2, default=str) + "\n")
    else:
        _print_table(doc)
        if html is not None:
            _console().print(f"HTML report: {html}", highlight=False)
    if fail_on_drift and report.drifted:
        raise typer.Exit(1)


def _print_table(doc: dict[str, Any]) -> None:
    console = _console()
    share = doc.get("drift_share")
    title = (f"{doc.get('model') or 'data'}: {doc['status']} — drift share "
             f"{'n/a' if share is None else f'{share:.0%}'}")
    table = Table(title=title, title_justify="left")
    for col in ("column", "kind", "method", "statistic", "p / q", "threshold", "drifted"):
        table.add_column(col, justify="right" if col in ("statistic", "threshold") else "left")
    for c in doc["columns"]:
        pq = ""
        if c.get("p_value") is not None:
            pq = f"{c['p_value']:.3g} / {c['q_value']:.3g}" if c.get("q_value") is not None \
                else f"{c['p_value']:.3g}"
        stat = "" if c.get("statistic") is None else f"{c['statistic']:.4f}"
        thr = "" if c.get("threshold") is None else f"{c['threshold']:.4g} " \
                                                    f"({c.get('threshold_source')})"
        drifted = "[red]yes[/]" if c["drifted"] else (c["status"] if c["status"] != "ok"
                                                      else "no")
        table.add_row(c["column"], c["kind"], c.get("method") or "", stat, pq, thr, drifted)
    console.print(table)
    for f in doc.get("findings", []):
        style = {"error": "bold red", "warning": "yellow"}.get(f.get("severity", ""), "dim")
        console.print(f"[{style}]{f.get('severity')}[/] {f.get('check')}: ", end="")
        console.print(f.get("message", ""), highlight=False, markup=False)


@drift_app.command("baseline")
def baseline_command(
    path: Path = typer.Argument(..., help="A Parquet or CSV file of reference data."),
    model: str = typer.Option(..., help="The model (or service) this baseline is for."),
    name: str | None = typer.Option(None, help="A name for it (default: the file name)."),
    db: str | None = _DB,
    url: str = _URL,
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Upload a reference baseline; reports then use it with --reference baseline:ID."""
    from truecourse.drift.baselines import save_baseline

    try:
        if not path.is_file():
            raise InvalidInput(f"{path} does not exist or is not a file",
                               hint="pass a Parquet or CSV file")
        data = path.read_bytes()
        if db:
            with _open(db) as store:
                info = save_baseline(store, data, model=model, name=name or path.name)
        else:
            import httpx

            try:
                resp = httpx.post(f"{url.rstrip('/')}/api/v1/drift/baselines",
                                  params={"model": model, "name": name or path.name},
                                  content=data, timeout=60,
                                  headers={"content-type": "application/octet-stream",
                                           **auth_headers()})
            except httpx.HTTPError as exc:
                from truecourse.errors import StoreUnavailable

                raise StoreUnavailable(f"cannot reach {url}: {exc}",
                                       hint="start `truecourse serve` or pass --db") from exc
            if resp.status_code >= 400:
                msg = resp.json().get("error", {}).get("message", resp.text)
                raise InvalidInput(f"server refused the baseline: {msg}")
            info = resp.json()
    except TrueCourseError as exc:
        raise _fail(exc) from exc
    if as_json:
        sys.stdout.write(json.dumps(info, default=str) + "\n")
    else:
        _console().print(f"baseline {info['id']} for {info['model']}: {info['rows']} rows, "
                         f"{len(info['columns'])} columns", highlight=False)


@drift_app.command("reports")
def reports_command(
    model: str | None = typer.Option(None, help="Only this model's reports."),
    db: str = typer.Option(..., help="DuckDB file or postgresql:// URL."),
    limit: int = typer.Option(20, help="Most recent N."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Stored drift reports, newest first."""
    from truecourse.drift.reports import list_reports

    try:
        with _open(db) as store:
            rows = list_reports(store, model=model, limit=limit)
    except TrueCourseError as exc:
        raise _fail(exc) from exc
    if as_json:
        sys.stdout.write(json.dumps(rows, default=str) + "\n")
        return
    table = Table()
    for col in ("id", "model", "created_at", "status", "drift_share"):
        table.add_column(col)
    for r in rows:
        share = r.get("drift_share")
        table.add_row(r["id"], str(r.get("model")), str(r["created_at"]), r["status"],
                      "" if share is None else f"{share:.0%}")
    _console().print(table)


@drift_app.command("sketch")
def sketch_command(
    model: str = typer.Option(..., help="The model whose predictions to sketch."),
    since: str = typer.Option("1d", help="Start: RFC 3339 or look-back (1d)."),
    until: str = typer.Option("now", help="End: RFC 3339, look-back or now."),
    step: str = typer.Option("1h", help="Window length of one sketch (1h)."),
    db: str = typer.Option(..., help="DuckDB file or postgresql:// URL."),
    config: Path | None = _CONFIG,
) -> None:
    """Build the per-window sketches (KLL, frequent items) of a model's predictions, for
    references like --reference sketches:30d..1d. Run it every STEP (cron) as data arrives."""
    from truecourse.drift.sketches import build_sketches
    from truecourse.drift.sources import parse_window

    try:
        cfg = _settings(config)
        window = parse_window(f"{since}..{until}")
        step_s = parse_window(f"{step}..now").until - parse_window(f"{step}..now").since
        with _open(db) as store:
            n = build_sketches(store, model, window.since, window.until,
                               int(step_s.total_seconds()), cfg)
    except TrueCourseError as exc:
        raise _fail(exc) from exc
    _console().print(f"{n} windows of {model} sketched", highlight=False)
