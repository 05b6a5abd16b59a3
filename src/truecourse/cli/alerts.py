"""``truecourse alerts``, ``truecourse silence add|list|expire``, ``truecourse slo status``:
thin faces over a running server's alerting API."""

from __future__ import annotations

import json
import os
from typing import Any

import typer
from rich.table import Table

from truecourse.cli.spans import DEFAULT_URL, request_json
from truecourse.errors import InvalidInput, TrueCourseError

_URL = typer.Option(os.environ.get("TRUECOURSE_URL", DEFAULT_URL),
                    help="TrueCourse server (env TRUECOURSE_URL).")
_JSON = typer.Option(False, "--json", help="Print JSON (for scripts).")

silence_app = typer.Typer(help="Silences: mute alerts that match label matchers for a while.",
                          no_args_is_help=True)
slo_app = typer.Typer(help="Service level objectives and their error budgets.",
                      no_args_is_help=True)


def _fail(exc: TrueCourseError) -> typer.Exit:
    from truecourse.cli.main import fail

    return fail(exc)


def _call(url: str, method: str, path: str, **kw: Any) -> dict[str, Any]:
    try:
        return request_json(url, method, path, **kw)
    except TrueCourseError as exc:
        raise _fail(exc) from exc


def _print(data: Any, as_json: bool, table: Table | None) -> None:
    from truecourse.cli.measure import _console

    if as_json or table is None:
        typer.echo(json.dumps(data, indent=2, default=str))
    else:
        _console().print(table)


def alerts_command(
    status: str | None = typer.Option(None, help="firing or resolved."),
    service: str | None = typer.Option(None, help="Only this service's alerts."),
    as_json: bool = _JSON, url: str = _URL,
) -> None:
    """Current alerts, newest first, with why each is muted (silence, inhibition, deploy)."""
    data = _call(url, "GET", "/api/v1/alerts", params={"status": status, "service": service})
    table = Table(header_style="bold", title=f"{data['count']} alerts")
    for col in ("status", "alert", "service", "severity", "since", "muted by", "value"):
        table.add_column(col)
    for a in data["items"]:
        muted = ", ".join([*(f"silence {s[:8]}" for s in a["silenced_by"]),
                           *(f"inhibited by {i[:8]}" for i in a["inhibited_by"]),
                           *(["deploy"] if a.get("suppressed_by") == "deploy" else [])])
        value = "" if a["value"] is None else f"{a['value']:.4g}"
        name = a["labels"].get("alertname", "")
        if "window" in a["labels"]:
            name += f" ({a['labels']['window']})"
        table.add_row(a["status"], name,
                      a["labels"].get("service", ""), a["labels"].get("severity", ""),
                      a["starts_at"][:19], muted, value)
    _print(data, as_json, table)


@silence_app.command("add")
def silence_add(
    matchers: list[str] = typer.Argument(..., help="Matchers: service=checkout "
                                                   "'alertname=~Latency.*'."),
    duration: str = typer.Option("2h", help="How long (30m, 2h, 1d)."),
    author: str = typer.Option(os.environ.get("USER", "cli"), "--author",
                               help="Who silences (default $USER)."),
    comment: str = typer.Option("", help="Why."),
    as_json: bool = _JSON, url: str = _URL,
) -> None:
    """Create a silence starting now; prints its id (for `silence expire`)."""
    data = _call(url, "POST", "/api/v1/silences",
                 body={"matchers": matchers, "duration": duration, "created_by": author,
                       "comment": comment})
    if as_json:
        _print(data, True, None)
    else:
        typer.echo(f"silence {data['id']} until {data['ends_at']}: {' '.join(data['matchers'])}")


@silence_app.command("list")
def silence_list(
    status: str | None = typer.Option(None, help="pending, active or expired."),
    as_json: bool = _JSON, url: str = _URL,
) -> None:
    """Silences with their matchers, window, author and state."""
    data = _call(url, "GET", "/api/v1/silences", params={"status": status})
    table = Table(header_style="bold")
    for col in ("id", "status", "matchers", "starts", "ends", "by", "comment"):
        table.add_column(col)
    for s in data["items"]:
        table.add_row(s["id"], s["status"], " ".join(s["matchers"]), s["starts_at"][:19],
                      s["ends_at"][:19], s["created_by"], s["comment"])
    _print(data, as_json, table)


@silence_app.command("expire")
def silence_expire(
    silence_id: str = typer.Argument(..., help="The id `silence add` printed."),
    as_json: bool = _JSON, url: str = _URL,
) -> None:
    """End a silence now."""
    if not silence_id.strip():
        raise _fail(InvalidInput("give the id of the silence to expire"))
    data = _call(url, "DELETE", f"/api/v1/silences/{silence_id}")
    if as_json:
        _print(data, True, None)
    else:
        typer.echo(f"silence {data['id']} expired at {data['ends_at']}")


@slo_app.command("status")
def slo_status_command(
    name: str | None = typer.Argument(None, help="One SLO (default: all)."),
    as_json: bool = _JSON, url: str = _URL,
) -> None:
    """Budget left, burn rate per window and the condition closest to firing, per SLO."""
    data = _call(url, "GET", "/api/v1/slo", params={"name": name})
    table = Table(header_style="bold", title=f"SLOs at {data['at'][:19]}")
    for col in ("slo", "objective", "sli", "budget left", "burn rates (long/short)", "closest"):
        table.add_column(col)
    for s in data["items"]:
        burns = "  ".join(f"{w}: {b['long']:.2f}/{b['short']:.2f}"
                          for w, b in s.get("burn_rates", {}).items())
        c = s.get("closest") or {}
        near = (f"{c['severity']} {c['factor']}x {c['long']}/{c['short']} at "
                f"{c['closeness']:.0%} of its threshold" if c else "")
        sli = "" if s.get("sli") is None else f"{s['sli']:.4%}"
        left = "" if s.get("budget_remaining_share") is None else \
            f"{s['budget_remaining_share']:.1%}"
        table.add_row(s["name"], str(s["objective"]), sli, left, burns, near)
    _print(data, as_json, table)
