"""``truecourse scorecard``, ``compare``, ``pricing`` and ``cost``: the measure package's CLI.

Each command asks a running server (``--url``) or reads a stopped server's DuckDB file
(``--db``) through the same domain function the REST API calls.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.table import Table

from truecourse.cli.spans import DEFAULT_URL, get_json, open_db
from truecourse.errors import InvalidInput, TrueCourseError

if TYPE_CHECKING:
    from truecourse.store.base import Store

_URL = typer.Option(os.environ.get("TRUECOURSE_URL", DEFAULT_URL),
                    help="TrueCourse server (env TRUECOURSE_URL).")
_DB = typer.Option(None, help="Read this DuckDB file directly instead of a server (the server "
                              "must be stopped).")
_CONFIG = typer.Option(None, "--config", "-c", help="truecourse.yaml (for --db: measure "
                                                    "settings and price overrides).")
_SINCE = typer.Option("24h", help="RFC 3339 time or look-back (15m, 2h, 7d).")
_UNTIL = typer.Option(None, help="RFC 3339 time or look-back; default now.")
_JSON = typer.Option(False, "--json", help="Print JSON (for scripts).")
_FILTER_HELP = "Filters: service=chat,model=gpt-4o (any scorecard dimension)."

pricing_app = typer.Typer(help="The pricing catalog: list prices, find unpriced models.",
                          no_args_is_help=True)
cost_app = typer.Typer(help="Cost upkeep: reprice stored spans after prices change.",
                       no_args_is_help=True)


def _fail(exc: TrueCourseError) -> typer.Exit:
    from truecourse.cli.main import fail

    return fail(exc)


def _parse_filters(text: str | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in (text or "").split(","):
        if not part.strip():
            continue
        key, sep, value = part.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise InvalidInput(f"--where {part!r} is not dimension=value",
                               hint="e.g. --where service=chat,model=gpt-4o")
        out[key.strip()] = value.strip()
    return out


def _settings(config: Path | None) -> Any:
    from truecourse.config import load_config

    return load_config(config).measure


def _run(db: str | None, url: str, path: str, params: dict[str, Any],
         local: Callable[[Store], dict[str, Any]]) -> dict[str, Any]:
    if db:
        with open_db(db) as store:
            return local(store)
    return get_json(url, path, {k: v for k, v in params.items() if v is not None})


def _console() -> Console:
    """A console as wide as the terminal, or 200 columns when piped (no truncated tables)."""
    return Console() if sys.stdout.isatty() else Console(width=200)


def _fmt(value: Any, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "ratio":
        return f"{value * 100:.2f}%"
    if unit == "USD":
        return f"${value:,.4f}" if abs(value) < 100 else f"${value:,.2f}"
    if isinstance(value, float):
        return f"{value:,.1f}" if abs(value) >= 10 else f"{value:,.3g}"
    return f"{value:,}"


def scorecard_command(
    group_by: str | None = typer.Option(
        "service", "--group-by", "-g", help="Comma-separated: service, env, version, model, "
        "provider, operation, prompt_version, index_version, tool_name."),
    metrics: str | None = typer.Option(
        "requests,error_rate,latency_p50,latency_p95,llm_calls,input_tokens,output_tokens,"
        "cost_usd,refusal_rate,task_completion_rate", help="Comma-separated metric names; "
        "'all' for every metric."),
    where: str | None = typer.Option(None, "--where", "-w", help=_FILTER_HELP),
    since: str | None = _SINCE, until: str | None = _UNTIL,
    subject: str = typer.Option("auto", help="auto, requests or ai_calls."),
    as_json: bool = _JSON, url: str = _URL, db: str | None = _DB,
    config: Path | None = _CONFIG,
) -> None:
    """Service and AI behaviour metrics per group (a Rich table, or --json)."""
    from truecourse.api.params import parse_time
    from truecourse.measure.query import MeasureQuery, Window
    from truecourse.measure.scorecard import scorecard

    wanted = None if metrics in (None, "", "all") else metrics
    try:
        filters = _parse_filters(where)
        params = {"group_by": group_by, "metrics": wanted, "since": since, "until": until,
                  "subject": subject, **filters}

        def local(store: Store) -> dict[str, Any]:
            window = Window.of(parse_time(since, "since"), parse_time(until, "until"))
            q = MeasureQuery.build(window, group_by, filters, subject)
            return scorecard(store, q, wanted, _settings(config))

        data = _run(db, url, "/api/v1/scorecard", params, local)
    except TrueCourseError as exc:
        raise _fail(exc) from exc
    if as_json:
        typer.echo(json.dumps(data, indent=2, default=str))
        return
    console = _console()
    if not data["groups"]:
        console.print("no spans in the window", style="dim")
        return
    table = Table(header_style="bold", title=f"scorecard {data['window']['since'][:16]} .. "
                                             f"{data['window']['until'][:16]} "
                                             f"(over {data['subject']})")
    for dim in data["group_by"]:
        table.add_column(dim)
    for m in data["metrics"]:
        table.add_column(m["name"], justify="right")
    for g in data["groups"]:
        row = [str(g["group"].get(d) if g["group"].get(d) is not None else "-")
               for d in data["group_by"]]
        row += [_fmt(g["metrics"].get(m["name"]), m["unit"]) for m in data["metrics"]]
        table.add_row(*row)
    console.print(table)


def compare_command(
    dimension: str = typer.Argument(..., help="The dimension, e.g. prompt_version or model."),
    a: str = typer.Argument(..., help="Baseline value, e.g. v7."),
    b: str = typer.Argument(..., help="Candidate value, e.g. v8."),
    metrics: str | None = typer.Option(None, help="Comma-separated metric names (default all)."),
    where: str | None = typer.Option(None, "--where", "-w", help=_FILTER_HELP),
    since: str | None = _SINCE, until: str | None = _UNTIL,
    alpha: float = typer.Option(0.05, min=0.0001, max=0.5, help="Significance level."),
    as_json: bool = _JSON, url: str = _URL, db: str | None = _DB,
    config: Path | None = _CONFIG,
    fail_on_regression: bool = typer.Option(
        False, help="Exit 1 when any metric got significantly worse (for CI gates)."),
) -> None:
    """Compare two values of a dimension metric by metric, with significance tests."""
    from truecourse.api.params import parse_time
    from truecourse.measure.compare import compare
    from truecourse.measure.query import MeasureQuery, Window

    try:
        filters = _parse_filters(where)
        params = {"dimension": dimension, "a": a, "b": b, "metrics": metrics, "since": since,
                  "until": until, "alpha": alpha, **filters}

        def local(store: Store) -> dict[str, Any]:
            window = Window.of(parse_time(since, "since"), parse_time(until, "until"))
            q = MeasureQuery.build(window, None, filters)
            return compare(store, q, dimension, a, b, metrics, _settings(config), alpha)

        data = _run(db, url, "/api/v1/compare", params, local)
    except TrueCourseError as exc:
        raise _fail(exc) from exc
    worse = [m["name"] for m in data["metrics"] if m["verdict"] == "worse"]
    if as_json:
        typer.echo(json.dumps(data, indent=2, default=str))
    else:
        table = Table(header_style="bold",
                      title=f"{data['dimension']}: {a} (a) vs {b} (b), alpha {data['alpha']}")
        for col in ("metric", "a", "b", "delta", "test", "p", "verdict"):
            table.add_column(col, justify="left" if col in ("metric", "test", "verdict")
                             else "right")
        style = {"worse": "red", "better": "green", "changed": "yellow"}
        for m in data["metrics"]:
            t = m["test"] or {}
            p = t.get("p_value")
            rel = m["relative_delta"]
            delta = _fmt(m["delta"], m["unit"]) + (f" ({rel * 100:+.1f}%)" if rel is not None
                                                    else "")
            verdict = m["verdict"]
            table.add_row(m["name"], _fmt(m["a"], m["unit"]), _fmt(m["b"], m["unit"]), delta,
                          t.get("method") or "", "-" if p is None else f"{p:.3g}",
                          f"[{style[verdict]}]{verdict}[/]" if verdict in style else verdict)
        _console().print(table)
    if fail_on_regression and worse:
        raise typer.Exit(1)


@pricing_app.command("list")
def pricing_list(
    provider: str | None = typer.Option(None, help="Only this provider."),
    config: Path | None = _CONFIG, as_json: bool = _JSON,
) -> None:
    """The catalog in force: shipped prices with the overrides of --config applied."""
    from truecourse.pipeline.normalize import pricing_catalog

    try:
        catalog = pricing_catalog(_settings(config))
    except TrueCourseError as exc:
        raise _fail(exc) from exc
    rows = [p for p in catalog.entries if provider is None or p.provider == provider]
    if as_json:
        typer.echo(json.dumps({"version": catalog.version, "unit": "USD per 1M tokens",
                               "models": [p.to_dict() for p in rows]}, indent=2))
        return
    table = Table(header_style="bold", title=f"pricing catalog {catalog.version} "
                                             "(USD per 1M tokens)")
    for col in ("provider", "model", "input", "output", "cached in", "cache write", "source"):
        table.add_column(col, justify="right" if col in ("input", "output", "cached in",
                                                         "cache write") else "left")
    money = lambda v: "-" if v is None else f"{v:g}"  # noqa: E731
    for p in rows:
        table.add_row(p.provider, p.model, money(p.input), money(p.output),
                      money(p.cached_input), money(p.cache_write), p.source)
    Console().print(table)


@pricing_app.command("unknown")
def pricing_unknown(since: str | None = _SINCE, url: str = _URL, db: str | None = _DB,
                    as_json: bool = _JSON) -> None:
    """Models that reported tokens but have no price (their cost is left empty)."""
    from truecourse.api.params import parse_time
    from truecourse.measure.costs import unknown_models
    from truecourse.measure.query import Window

    try:
        def local(store: Store) -> dict[str, Any]:
            window = Window.of(parse_time(since, "since"), None)
            return {"unknown_models": unknown_models(store, window)}

        data = _run(db, url, "/api/v1/pricing", {"since": since}, local)
    except TrueCourseError as exc:
        raise _fail(exc) from exc
    rows = data["unknown_models"]
    if as_json:
        typer.echo(json.dumps(rows, indent=2, default=str))
        return
    if not rows:
        Console().print("every model with tokens has a price", style="dim")
        return
    table = Table(header_style="bold", title="models without a price")
    for col in ("provider", "model", "calls", "input tokens", "output tokens", "last seen"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["provider"] or "-", r["model"], str(r["calls"]), str(r["input_tokens"]),
                      str(r["output_tokens"]), str(r["last_seen"]))
    Console().print(table)
    Console().print("add them under measure.pricing in truecourse.yaml, then run "
                    "`truecourse cost recompute`", style="dim")


@cost_app.command("recompute")
def cost_recompute(
    db: str = typer.Option(..., help="The DuckDB file (stop the server first)."),
    since: str | None = typer.Option("30d", help="Reprice spans from this time on."),
    config: Path | None = _CONFIG, as_json: bool = _JSON,
) -> None:
    """Reprice stored spans whose cost came from the catalog or had no price."""
    from truecourse.api.params import parse_time
    from truecourse.measure.costs import recompute_costs
    from truecourse.measure.query import Window
    from truecourse.pipeline.normalize import pricing_catalog

    try:
        catalog = pricing_catalog(_settings(config))
        window = Window.of(parse_time(since, "since"), None)
        with open_db(db, write=True) as store:
            result = recompute_costs(store, catalog, window)
    except TrueCourseError as exc:
        raise _fail(exc) from exc
    if as_json:
        typer.echo(json.dumps(result, indent=2))
        return
    Console().print(f"catalog {result['catalog_version']}: examined {result['examined']:,} "
                    f"spans, updated {result['updated']:,} ({result['priced']:,} priced, "
                    f"{result['unknown_model']:,} without a price)")
