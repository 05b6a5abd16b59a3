"""Typer commands. Each is a thin face over the runtime, the config loader or the REST API.

Exit codes: 0 success, 1 unexpected failure, 2 invalid input or config (a permanent error),
75 a retryable failure (store or server unreachable).
"""

from __future__ import annotations

import ipaddress
import os
import platform
import sys
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.text import Text

from truecourse import __version__
from truecourse.api.listen import listen
from truecourse.cli.alerts import alerts_command, silence_app, slo_app
from truecourse.cli.drift import drift_app
from truecourse.cli.governance import (
    audit_app,
    erase_command,
    keys_app,
    projects_app,
    retention_app,
)
from truecourse.cli.guard import guard_app
from truecourse.cli.measure import compare_command, cost_app, pricing_app, scorecard_command
from truecourse.cli.sim import bench_app, demo_command
from truecourse.cli.spans import spans_command
from truecourse.cli.worker import check_queue, require_shared_store, worker_command
from truecourse.errors import InvalidInput, TrueCourseError
from truecourse.queue.log import masked_url

app = typer.Typer(
    name="truecourse",
    help="TrueCourse: telemetry, behaviour metrics and safe operations for production AI.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True)

DEFAULT_DB = "./truecourse.duckdb"
DEFAULT_CONFIG = "truecourse.yaml"


def fail(exc: TrueCourseError) -> typer.Exit:
    """Print ``exc`` the one way errors are shown, and return the Exit carrying its code."""
    err.print(Text.assemble(("error: ", "bold red"), exc.message), highlight=False)
    if exc.hint:
        err.print(Text.assemble(("hint: ", "dim"), exc.hint), highlight=False)
    return typer.Exit(exc.exit_code)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _config_path(config: Path | None) -> Path | None:
    if config is not None:
        return config
    default = Path(DEFAULT_CONFIG)
    return default if default.exists() else None


def _probe_admin_key(db: str) -> bool:
    """Whether the store at ``db`` has an active admin key, without creating anything (a
    DuckDB file that does not exist yet has none)."""
    from truecourse.errors import StoreUnavailable
    from truecourse.governance import has_admin_key
    from truecourse.store import DuckDBStore, open_store

    if not db.startswith(("postgres://", "postgresql://")):
        if not Path(db).is_file():
            return False
        store: Any = DuckDBStore(db, read_only=True)
    else:
        store = open_store(db)
    try:
        return has_admin_key(store)
    except StoreUnavailable:  # a database from before the governance migration: no keys
        return False
    finally:
        store.close()


def _refuse_open_bind(host: str, db: str) -> None:
    raise InvalidInput(
        f"refusing to bind to non-loopback address {host}: no admin API key is configured, "
        "so anyone who can reach it could write and read telemetry",
        hint=f"create one first, with the server stopped: truecourse keys create --db {db} "
             "--scope admin --name ops (then keys for senders with --scope ingest); or bind "
             "to 127.0.0.1")


@app.command()
def serve(
    host: str | None = typer.Option(None, help="Bind address (default: server.host, "
                                               "127.0.0.1)."),
    port: int | None = typer.Option(None, help="Port for OTLP/HTTP, API and UI (default: "
                                               "server.port, 4318)."),
    db: str | None = typer.Option(None, help="DuckDB file path or postgresql:// URL (default: "
                                             f"storage.db, {DEFAULT_DB})."),
    queue: str | None = typer.Option(None, help="nats:// URL of a NATS JetStream server: "
                                                "publish accepted batches there for "
                                                "`truecourse worker` to write (default: "
                                                "queue.url; none)."),
    config: Path | None = typer.Option(None, "--config", "-c",
                                       help=f"truecourse.yaml (default: ./{DEFAULT_CONFIG} when "
                                            "present)."),
    log_level: str = typer.Option("warning", help="uvicorn log level."),
) -> None:
    """Run the server: OTLP receivers, REST API, metrics and UI on one port.

    With --queue it is a stateless ingest node: a batch is answered 200 once JetStream
    stored it, and `truecourse worker` processes write it to the store.
    """
    import uvicorn

    from truecourse.api import create_app
    from truecourse.config import load_config
    from truecourse.runtime import Runtime

    try:
        cfg = load_config(_config_path(config))
        bind_host = host or cfg.server.host
        bind_port = port if port is not None else cfg.server.port
        if not _is_loopback(bind_host) and not _probe_admin_key(db or cfg.storage.db):
            _refuse_open_bind(bind_host, db or cfg.storage.db)
        queue_url = queue or cfg.queue.url
        if queue_url:
            require_shared_store(db or cfg.storage.db)
            check_queue(cfg, queue_url)
        sock = listen(bind_host, bind_port)  # before opening the store: fail fast and cheap
        try:
            rt = Runtime.build(cfg, db=db, queue=queue_url)
        except BaseException:
            sock.close()
            raise
    except TrueCourseError as exc:
        raise fail(exc) from exc
    bind_port = sock.getsockname()[1]
    base = f"http://{bind_host}:{bind_port}"
    via = f"queue: {masked_url(queue_url)} → " if queue_url else ""
    out.print(f"[bold]TrueCourse {__version__}[/] serving on [cyan]{base}[/] "
              f"({via}store: {rt.store.url})", highlight=False)
    out.print(f"  send OTLP:  OTEL_EXPORTER_OTLP_ENDPOINT={base}  "
              f"(protobuf or JSON at {base}/v1/traces, /v1/logs, /v1/metrics)", highlight=False)
    out.print(f"  browse:     {base}/   (overview, on-call, services, traces, alerts)",
              highlight=False)
    out.print(f"  look:       truecourse spans --url {base}   ·   {base}/api/v1/spans   ·   "
              f"{base}/api/v1/docs", highlight=False)
    auth = ("open: no API key exists, so anyone on this machine may send and read "
            "(truecourse keys create)" if rt.gate.open
            else "API keys required (Authorization: Bearer tc_...)")
    out.print(f"  auth:       {auth}", highlight=False)
    out.print("  stop:       Ctrl+C (queued batches are written before exit)", highlight=False)
    sys.stdout.flush()
    server = uvicorn.Server(uvicorn.Config(
        create_app(rt), host=bind_host, port=bind_port, log_level=log_level,
        access_log=False, timeout_graceful_shutdown=30))
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
    if not server.started:
        rt.shutdown()
        raise typer.Exit(1)


@app.command()
def validate(
    config: Path = typer.Argument(Path(DEFAULT_CONFIG), help="The truecourse.yaml to check."),
) -> None:
    """Check a truecourse.yaml: every problem with its file, line and a fix.

    Exits 0 when valid (a summary on stdout), 2 when invalid or missing (problems on stderr).
    """
    from truecourse.config import InvalidConfig, load_config

    try:
        cfg = load_config(config)
    except TrueCourseError as exc:
        problems = exc.problems if isinstance(exc, InvalidConfig) else [exc.message]
        if isinstance(exc.__cause__, FileNotFoundError):
            err.print(f"error: config file {config} not found", style="bold red",
                      highlight=False, markup=False)
            err.print(f"hint: pass the file to check: truecourse validate PATH (looked for "
                      f"{config.resolve()})", style="dim", highlight=False, markup=False)
            raise typer.Exit(exc.exit_code) from exc
        noun = "problem" if len(problems) == 1 else "problems"
        err.print(f"{config}: invalid — {len(problems)} {noun}", style="bold red",
                  highlight=False, markup=False)
        for line in problems:
            err.print(line, highlight=False, markup=False)
        raise typer.Exit(exc.exit_code) from exc
    services = len(cfg.catalog.services)
    procs = " → ".join(_processor_names(cfg)) or "(none)"
    detect = cfg.detect
    extra = ""
    if detect.slos or detect.rules or cfg.alerting.receivers:
        extra = (f", {len(detect.slos)} SLOs, {len(detect.rules)} rules, "
                 f"{len(cfg.alerting.receivers)} alert receivers")
    out.print(f"[green]{config}: valid[/] — {services} catalog "
              f"service{'' if services == 1 else 's'}, pipeline: {procs}{extra}",
              highlight=False)


def _processor_names(cfg: Any) -> list[str]:
    """The configured processor types of ``cfg`` (a TrueCourseConfig), in pipeline order."""
    return [entry.type for entry in cfg.pipeline.processors]


@app.command()
def version() -> None:
    """Print the TrueCourse version (and the Python and DuckDB it runs on)."""
    import duckdb

    out.print(f"truecourse {__version__} (python {platform.python_version()}, "
              f"duckdb {duckdb.__version__})", highlight=False)


app.command("demo")(demo_command)
app.command("worker")(worker_command)
app.command("alerts")(alerts_command)
app.add_typer(silence_app, name="silence")
app.add_typer(slo_app, name="slo")
app.command("spans")(spans_command)
app.command("scorecard")(scorecard_command)
app.command("compare")(compare_command)
app.add_typer(pricing_app, name="pricing")
app.add_typer(cost_app, name="cost")
app.add_typer(bench_app, name="bench")
app.add_typer(drift_app, name="drift")
app.add_typer(guard_app, name="guard")
app.add_typer(keys_app, name="keys")
app.add_typer(projects_app, name="projects")
app.add_typer(audit_app, name="audit")
app.command("erase")(erase_command)
app.add_typer(retention_app, name="retention")


def main() -> None:
    """Console-script entry point."""
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    app()
