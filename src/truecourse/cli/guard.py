"""``truecourse guard scan FILE``: PII, secrets and prompt injection in one file, locally."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from truecourse.errors import InvalidInput, TrueCourseError

guard_app = typer.Typer(help="PII, secret and prompt-injection scanning.",
                        no_args_is_help=True)


def _fail(exc: TrueCourseError) -> typer.Exit:
    err = Console(stderr=True, soft_wrap=True)
    err.print(Text.assemble(("error: ", "bold red"), exc.message), highlight=False)
    if exc.hint:
        err.print(Text.assemble(("hint: ", "dim"), exc.hint), highlight=False)
    return typer.Exit(exc.exit_code)


@guard_app.command("scan")
def scan_command(
    file: str = typer.Argument(..., help="File to scan; - reads standard input."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    config: Path | None = typer.Option(None, "--config", "-c",
                                       help="truecourse.yaml whose guard settings to use "
                                            "(default: ./truecourse.yaml when present)."),
    untrusted: bool = typer.Option(False, "--untrusted",
                                   help="Score as retrieved content or a tool's output."),
    fail_on_findings: bool = typer.Option(
        False, "--fail-on-findings",
        help="Exit 1 when anything is found or the injection score reaches the threshold."),
) -> None:
    """Print what the guard finds in FILE (types and positions, never the values), the masked
    text and the prompt-injection score. Bytes that are not UTF-8 are replaced and reported."""
    from truecourse.config import load_config
    from truecourse.guard import Guard, scan_text
    from truecourse.guard.settings import pipeline_guard_config

    try:
        path = config if config is not None else (
            Path("truecourse.yaml") if Path("truecourse.yaml").exists() else None)
        settings = pipeline_guard_config(load_config(path).pipeline)
        guard = Guard(settings)
        data = _read(file)
        report = scan_text(data, guard, untrusted=untrusted)
    except TrueCourseError as exc:
        raise _fail(exc) from exc
    flagged = bool(report.findings) or (report.injection is not None and (
        report.injection.score >= settings.injection.threshold))
    if as_json:
        typer.echo(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    else:
        _print(report, settings.injection.threshold)
    if fail_on_findings and flagged:
        raise typer.Exit(1)


def _read(file: str) -> bytes:
    if file == "-":
        return sys.stdin.buffer.read()
    path = Path(file)
    if not path.is_file():
        raise InvalidInput(f"cannot read {file!r}: " + (
            "it is a directory" if path.is_dir() else "no such file"),
            hint="pass a file path, or - for standard input")
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InvalidInput(f"cannot read {file!r}: {exc.strerror}") from exc


def _print(report: object, threshold: float) -> None:
    from truecourse.guard import ScanReport

    assert isinstance(report, ScanReport)
    console = Console(soft_wrap=True)
    if report.encoding != "utf-8":
        console.print(f"[yellow]{report.encoding}[/yellow]")
    if report.unscanned:
        console.print(f"[yellow]not scanned past {report.scanned_chars} of {report.chars} "
                      "characters[/yellow]")
    if report.findings:
        table = Table("type", "category", "position", "action")
        for f in report.findings:
            table.add_row(f.type, f.category, f"{f.start}-{f.end}", f.action)
        console.print(table)
    else:
        console.print("no PII or secrets found")
    if report.injection is not None:
        inj = report.injection
        verdict = "[bold red]likely injection[/bold red]" if inj.score >= threshold else "ok"
        checks = f" ({', '.join(inj.checks)})" if inj.checks else ""
        console.print(f"prompt injection score {inj.score:.2f}{checks}: {verdict}")
    if report.findings and report.masked is not None:
        console.rule("masked")
        console.print(Text(report.masked[:5000]))
