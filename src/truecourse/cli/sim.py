"""``truecourse demo`` and ``truecourse bench scenarios``: faces over :mod:`truecourse.sim`."""

from __future__ import annotations

import json
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from truecourse.errors import InvalidInput, TrueCourseError

bench_app = typer.Typer(help="Benchmarks of what the platform exists for.", no_args_is_help=True)
out = Console(soft_wrap=True, highlight=False)


def _fail(exc: TrueCourseError) -> typer.Exit:
    from truecourse.cli.main import fail

    return fail(exc)


def _fresh_dir(path: Path | None) -> Path:
    if path is None:
        return Path(tempfile.mkdtemp(prefix="truecourse-demo-"))
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise InvalidInput(f"--dir {path} is not an empty folder",
                           hint="the demo starts on a fresh database: name a new or empty folder")
    path.mkdir(parents=True, exist_ok=True)
    return path


def _port(port: int) -> int:
    """``port`` when free, else 0 (any free port), so a running `truecourse serve` on the
    default port does not stop the demo."""
    import socket

    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            out.print(f"[yellow]port {port} is in use; the demo takes a free one[/]")
            return 0
    return port


def _clock(t: datetime) -> str:
    return t.strftime("%H:%M")


def demo_command(
    exit_after: bool = typer.Option(False, "--exit", help="Stop the server when the script "
                                    "has run (default: keep serving until Ctrl+C)."),
    directory: Path | None = typer.Option(None, "--dir", help="Empty folder for the database "
                                          "and truecourse.yaml (default: a new temporary "
                                          "folder)."),
    port: int = typer.Option(4318, help="Port to serve on (a free one when it is taken)."),
    seed: int = typer.Option(7, help="Random seed: the same seed replays the same traffic."),
    rate: float = typer.Option(1.0, min=0.05, max=20, help="Traffic volume multiplier."),
    fault: list[str] = typer.Option([], "--fault", help="Replace the script with these "
                                    "faults, KIND@START[+DURATION][xMAGNITUDE], e.g. "
                                    "tool_outage@70m+20m (repeatable; see `truecourse bench "
                                    "scenarios --list`)."),
    horizon: str | None = typer.Option(None, help="Simulated length with --fault (default: "
                                       "15 minutes after the last fault ends)."),
) -> None:
    """Watch TrueCourse catch real-looking AI incidents, offline, in a few minutes.

    Starts a server on an embedded DuckDB in a fresh folder, plays a simulated fleet (a RAG
    support assistant, a fraud classifier, a recommender and an agent, instrumented with the
    OpenTelemetry SDK) through it with a scripted fault timeline on an accelerated clock,
    prints each alert as the platform raises it, then the faults it caught and how fast, and
    keeps serving (--exit to stop).
    """
    from truecourse.config.detect import parse_duration
    from truecourse.sim.faults import Timeline, parse_fault
    from truecourse.sim.run import run_timeline
    from truecourse.sim.scenarios import WARMUP_S, demo_timeline

    try:
        if fault:
            faults = [parse_fault(f) for f in fault]
            end = max(f.end_s for f in faults) + 900
            try:
                length = parse_duration(horizon) if horizon else max(end, WARMUP_S)
            except ValueError as exc:
                raise InvalidInput(f"--horizon: {exc}") from None
            timeline = Timeline(length, faults).validate()
        elif horizon:
            raise InvalidInput("--horizon applies to a timeline given with --fault")
        else:
            timeline = demo_timeline()
        folder = _fresh_dir(directory)
        port = _port(port)
    except TrueCourseError as exc:
        raise _fail(exc) from exc

    hours = timeline.horizon_s / 3600
    out.print(f"[bold]TrueCourse demo[/] — {hours:g} simulated hours of a four-service AI "
              f"fleet, seed {seed}, data in {folder}")
    for f in timeline.faults:
        out.print(f"  scripted: [magenta]{f.describe()}[/] — {f.spec.description}")
    out.print("  (the demo shows only what the platform detects: alerts come from its SLOs, "
              "rules and alerting engine)\n")

    progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                        TextColumn("{task.fields[sim]}"), TextColumn("{task.fields[spans]}"),
                        TimeElapsedColumn(), console=out, transient=True)
    task = progress.add_task("simulating", total=None, sim="", spans="")

    pending: list[Any] = []

    def show(batch: list[Any]) -> None:
        """Print one step's alerts and resolutions, a flood of one alert name as one line."""
        groups: dict[tuple[str, str, str], list[Any]] = {}
        for e in batch:
            a = e.data["alert"]
            groups.setdefault((e.kind, a.alertname, a.service or ""), []).append(e)
        for (kind, name, service), es in groups.items():
            e, a = es[0], es[0].data["alert"]
            many = f"{len(es)}x " if len(es) > 1 else ""
            if kind == "resolved":
                progress.console.print(f"[dim]{_clock(e.at)}[/] [green]resolved[/] {many}{name} "
                                       f"[cyan]{service}[/]")
                continue
            muted = f" [dim](muted: {', '.join(e.data['muted'])})[/]" if e.data["muted"] else ""
            what = f"{e.text} and {len(es) - 1} more" if len(es) > 1 else e.text
            progress.console.print(f"[dim]{_clock(e.at)}[/] [bold red]ALERT[/] {many}{name} "
                                   f"[cyan]{service}[/] {a.labels.get('severity', '')} — "
                                   f"{what}{muted}")

    def on_event(e: Any) -> None:
        if e.kind in ("alert", "resolved"):
            pending.append(e)
        elif e.kind == "step":
            show(pending)
            pending.clear()
            progress.update(task, total=e.data["steps"], completed=e.data["step"],
                            sim=f"sim {_clock(e.at)}", spans=f"{e.data['spans']:,} spans")
        elif e.kind == "fault":
            progress.console.print(f"[dim]{_clock(e.at)}[/] [magenta]▶ {e.text}[/]")

    try:
        with progress:
            result, server = run_timeline(timeline, seed=seed, folder=folder, rate=rate,
                                          on_event=on_event, keep_server=True, port=port)
    except TrueCourseError as exc:
        raise _fail(exc) from exc
    assert server is not None
    server.go_live()
    _summary(result)
    _moved(server.base_url, result)
    base = server.base_url
    out.print(f"\n[bold]Server[/] [cyan]{base}[/] (store: {folder / 'truecourse.duckdb'})")
    out.print(f"  web UI:    {base}/   ·   on-call: {base}/oncall")
    out.print(f"  alerts:    truecourse alerts --url {base}   ·   {base}/api/v1/alerts")
    out.print(f"  SLOs:      truecourse slo status --url {base}")
    out.print(f"  scorecard: truecourse scorecard --url {base} --since 3h --group-by service")
    out.print(f"  API docs:  {base}/api/v1/docs")
    if exit_after:
        server.stop()
        return
    out.print("  stop:      Ctrl+C")
    try:
        server.wait()
    finally:
        server.stop()


def _summary(result: Any) -> None:
    table = Table(title="What TrueCourse caught", header_style="bold")
    for col in ("fault", "started", "detected", "time to detect", "first alert(s)"):
        table.add_column(col)
    for o in result.outcomes:
        first = ", ".join(sorted({f"{a.alertname} ({a.service})" for a in o.alerts[:3]}))
        table.add_row(o.fault.kind, _clock(o.started),
                      "[green]yes[/]" if o.detected else "[red]no[/]",
                      f"{o.mttd_s / 60:.0f} min" if o.mttd_s is not None else "—",
                      first or f"[dim]{o.fault.spec.caught_by}[/]")
    out.print(table)
    s = result.stats
    other = result.unattributed
    out.print(f"alerts raised: {len(result.episodes)} ({len(other)} not explained by a "
              f"scripted fault) · raw signals {s.get('raw_signals', 0):,} → notifications "
              f"{s.get('notifications', 0):,} (noise reduction {s.get('noise_reduction', 0):.1%})"
              f" · delivered to on-call webhooks: {result.notifications_delivered}")
    out.print(f"telemetry: {result.spans:,} spans, {result.logs:,} logs, {result.events:,} "
              f"events in {result.wall_s:.0f} s")


def _moved(base: str, result: Any) -> None:
    """The scorecard comparisons behind the detected changes (deploys and prompt rollouts)."""
    import httpx

    pairs = {"latency_regression": ("recommender", "version", "2026.11.1", "2026.11.2",
                                    "latency_p95"),
             "bad_prompt": ("support-assistant", "prompt_version", "support-v12",
                            "support-v13", "negative_feedback_rate,refusal_rate")}
    for o in result.outcomes:
        if o.fault.kind not in pairs:
            continue
        service, dim, a, b, metrics = pairs[o.fault.kind]
        try:
            r = httpx.get(f"{base}/api/v1/compare", timeout=30, params={
                "service": service, "dimension": dim, "a": a, "b": b, "metrics": metrics,
                "since": result.start.isoformat()})
        except httpx.HTTPError:
            continue
        if r.status_code != 200:
            continue
        for m in r.json().get("metrics", []):
            if m.get("a") is None or m.get("b") is None:
                continue
            out.print(f"scorecard moved: {service} {m['name']} {dim} {a} → {b}: "
                      f"{m['a']:.3g} → {m['b']:.3g} ({m['verdict']})")


@bench_app.command("scenarios")
def bench_scenarios(
    quick: bool = typer.Option(False, "--quick", help="One seed and shorter runs (what CI "
                               "runs)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON (for CI)."),
    seeds: int = typer.Option(3, min=1, max=50, help="Runs per scenario, seeds 1..N "
                              "(--quick: 1)."),
    scenario: list[str] = typer.Option([], "--scenario", "-s", help="Only these scenarios "
                                       "(repeatable; default: all, control first)."),
    rate: float = typer.Option(1.0, min=0.05, max=20, help="Traffic volume multiplier."),
    list_: bool = typer.Option(False, "--list", help="List the scenarios and fault kinds, "
                               "then exit."),
) -> None:
    """Run every fault scenario several times (and fault-free controls) and report: detected
    or not, time to detect, false alarms per simulated day, raw signals vs notifications."""
    from truecourse.sim.bench import run_bench
    from truecourse.sim.faults import FAULTS
    from truecourse.sim.scenarios import CONTROL, scenario_names
    from truecourse.sim.scenarios import scenario as get_scenario

    if list_:
        table = Table(header_style="bold")
        for col in ("scenario", "what happens", "meant to be caught by"):
            table.add_column(col)
        table.add_row(CONTROL, get_scenario(CONTROL).description, "nothing (false alarms)")
        for k in FAULTS.values():
            table.add_row(k.name, k.description, k.caught_by)
        out.print(table)
        return
    names = scenario or scenario_names()
    n = 1 if quick else seeds
    try:
        for name in names:
            get_scenario(name)
    except TrueCourseError as exc:
        raise _fail(exc) from exc
    err = Console(stderr=True)

    def on_run(name: str, seed: int, r: Any) -> None:
        err.print(f"[dim]{name} seed {seed}: {len(r.episodes)} alerts, "
                  f"{r.spans:,} spans, {r.wall_s:.1f} s[/]", highlight=False)

    try:
        reports = run_bench(names, list(range(1, n + 1)), quick=quick, rate=rate, on_run=on_run)
    except TrueCourseError as exc:
        raise _fail(exc) from exc
    data = [r.to_dict() for r in reports]
    if as_json:
        typer.echo(json.dumps({"quick": quick, "seeds": n, "scenarios": data}, indent=2))
        return
    table = Table(title="Scenario benchmark", header_style="bold")
    for col in ("scenario", "runs", "detected", "MTTD median / max", "false alarms / day",
                "other alerts", "raw signals → notifications", "caught by"):
        table.add_column(col)
    for d in data:
        det = "—" if d["detected"] is None else f"{d['detected']}/{d['runs']}"
        mttd = ("—" if d["mttd_s_median"] is None
                else f"{d['mttd_s_median'] / 60:.0f} / {d['mttd_s_max'] / 60:.0f} min")
        fa = "—" if d["false_alarms_per_day"] is None else f"{d['false_alarms_per_day']:g}"
        other = "—" if d["other_alerts"] is None else str(d["other_alerts"])
        noise = f"{d['raw_signals']:,} → {d['notifications']:,}"
        by = ", ".join(list(d["detected_by"])[:2])
        table.add_row(d["scenario"], str(d["runs"]), det, mttd, fa, other, noise, by)
    out.print(table)
