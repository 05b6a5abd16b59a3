"""The CLI face: exit codes, messages and output of every command.

Each behaviour runs twice: in-process through Typer's ``CliRunner`` (fast, shares the process)
and as a real ``python -m truecourse`` child (the entry point, stdout/stderr and exit status
exactly as a shell or CI sees them).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from truecourse import __version__
from truecourse.cli import app
from truecourse.ingest.otlp import decode
from truecourse.pipeline.normalize import NormalizeProcessor
from truecourse.store import DuckDBStore

from otlp_builders import span, trace_request

EXAMPLE = Path(__file__).resolve().parents[2] / "truecourse.example.yaml"
WIDE = {"COLUMNS": "200", "NO_COLOR": "1", "TERM": "dumb"}


@dataclass
class Outcome:
    code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


Run = Callable[..., Outcome]


def _in_process(cwd: Path) -> Run:
    def run(*args: str) -> Outcome:
        old = Path.cwd()
        os.chdir(cwd)
        try:
            result = CliRunner().invoke(app, list(args), env=WIDE)
        finally:
            os.chdir(old)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        return Outcome(result.exit_code, result.stdout, result.stderr)
    return run


def _subprocess(cwd: Path) -> Run:
    def run(*args: str) -> Outcome:
        proc = subprocess.run([sys.executable, "-m", "truecourse", *args], cwd=cwd,
                              capture_output=True, text=True, timeout=120,
                              env={**os.environ, **WIDE})
        return Outcome(proc.returncode, proc.stdout, proc.stderr)
    return run


@pytest.fixture(params=["in-process", "subprocess"])
def cli(request: pytest.FixtureRequest, tmp_path: Path) -> Run:
    """Runs ``truecourse ARGS`` with ``tmp_path`` as the working directory."""
    factory = _in_process if request.param == "in-process" else _subprocess
    return factory(tmp_path)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- version and help ----------------------------------------------------------------------


def test_version(cli: Run) -> None:
    r = cli("version")
    assert r.code == 0
    assert r.stdout.startswith(f"truecourse {__version__} (python ")
    assert "duckdb" in r.stdout


def _commands() -> dict[str, Any]:
    """The app's commands by name (Typer's click objects; Typer may vendor its own click)."""
    return dict(typer.main.get_command(app).commands)  # type: ignore[attr-defined]


def test_every_command_is_listed_in_the_top_level_help(cli: Run) -> None:
    r = cli("--help")
    assert r.code == 0
    for name in _commands():
        assert name in r.stdout


@pytest.mark.parametrize("command", sorted(_commands()))
def test_help_of_every_command_lists_its_options(cli: Run, command: str) -> None:
    r = cli(command, "--help")
    assert r.code == 0, r.output
    params = _commands()[command].params
    for param in params:
        if param.param_type_name == "option":
            for opt in param.opts:
                assert opt in r.stdout, f"{command} --help lacks {opt}"
        else:
            assert param.name in r.stdout, f"{command} --help lacks argument {param.name}"


# --- validate ------------------------------------------------------------------------------


def test_validate_the_example_file(cli: Run) -> None:
    r = cli("validate", str(EXAMPLE))
    assert r.code == 0, r.output
    assert f"{EXAMPLE}: valid" in r.stdout
    assert "2 catalog services" in r.stdout
    assert ("pipeline: filter → sample → normalize → guard → enrich → dedupe → route"
            in r.stdout)
    assert r.stderr == ""


def test_validate_reads_truecourse_yaml_in_the_working_directory(
        cli: Run, tmp_path: Path) -> None:
    (tmp_path / "truecourse.yaml").write_text(
        "pipeline:\n  processors: [normalize, route]\n"
        "catalog:\n  services:\n    chat-api: {team: a}\n")
    r = cli("validate")
    assert r.code == 0, r.output
    assert "truecourse.yaml: valid — 1 catalog service, pipeline: normalize → route" in r.stdout


def test_validate_reports_every_problem_with_file_line_and_a_fix(
        cli: Run, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("server:\n  prot: 4318\npipeline:\n  processors:\n"
                   "    - guard: {mask: [{name: k, pattern: \"[a-z]+(\"}]}\n"
                   "    - filterr: {}\n")
    r = cli("validate", str(bad))
    assert r.code == 2
    assert r.stdout == ""
    lines = r.stderr.splitlines()
    assert lines[0] == f"{bad}: invalid — 3 problems"
    assert lines[1] == f"{bad}:2: server.prot: unknown key 'prot' — did you mean 'port'?"
    # markup is off: the brackets of the pattern and of the key path survive
    assert lines[2].startswith(f"{bad}:5: pipeline.processors[0].guard.mask[0].pattern: "
                               "invalid regular expression '[a-z]+('")
    assert lines[3].startswith(f"{bad}:6: pipeline.processors[1]: unknown processor type "
                               "'filterr' — did you mean 'filter'?")
    assert len(lines) == 4


def test_validate_a_missing_file(cli: Run, tmp_path: Path) -> None:
    r = cli("validate", "nope.yaml")
    assert r.code == 2
    assert "config file nope.yaml not found" in r.stderr
    assert str(tmp_path / "nope.yaml") in r.stderr  # where it looked


def test_validate_without_argument_and_no_file(cli: Run, tmp_path: Path) -> None:
    r = cli("validate")
    assert r.code == 2
    assert "config file truecourse.yaml not found" in r.stderr
    assert "truecourse validate PATH" in r.stderr


# --- serve: every refusal happens before anything binds or opens ----------------------------


def test_serve_refuses_a_non_loopback_host(cli: Run, tmp_path: Path) -> None:
    db = tmp_path / "never.duckdb"
    r = cli("serve", "--host", "0.0.0.0", "--port", str(_free_port()), "--db", str(db))
    assert r.code == 2
    assert "refusing to bind to non-loopback address 0.0.0.0: no admin API key" in r.stderr
    assert "truecourse keys create --db" in r.stderr
    assert "serving on" not in r.output
    assert not db.exists()  # refused before the store was opened, let alone the port


def test_serve_refuses_a_non_loopback_host_from_the_config_file(
        cli: Run, tmp_path: Path) -> None:
    (tmp_path / "truecourse.yaml").write_text("server:\n  host: 10.1.2.3\n")
    r = cli("serve", "--db", str(tmp_path / "never.duckdb"))
    assert r.code == 2
    assert "non-loopback address 10.1.2.3" in r.stderr


def test_serve_with_an_unopenable_db_is_retryable(cli: Run) -> None:
    r = cli("serve", "--db", "/nonexistent-dir/x.duckdb", "--port", str(_free_port()))
    assert r.code == 75
    assert "/nonexistent-dir/x.duckdb" in r.stderr
    assert "does not exist" in r.stderr
    assert "serving on" not in r.output


def test_serve_with_an_invalid_config(cli: Run, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("server:\n  prot: 4318\n")
    db = tmp_path / "never.duckdb"
    r = cli("serve", "--config", str(bad), "--db", str(db))
    assert r.code == 2
    assert f"{bad}:2: server.prot: unknown key 'prot' — did you mean 'port'?" in r.stderr
    assert not db.exists()


def test_serve_with_a_missing_config(cli: Run, tmp_path: Path) -> None:
    r = cli("serve", "-c", "missing.yaml", "--db", str(tmp_path / "never.duckdb"))
    assert r.code == 2
    assert "missing.yaml: config file not found" in r.stderr


# --- spans ---------------------------------------------------------------------------------


def test_spans_from_an_unreachable_server(cli: Run) -> None:
    url = f"http://127.0.0.1:{_free_port()}"
    r = cli("spans", "--url", url)
    assert r.code == 75
    assert f"cannot reach TrueCourse at {url}" in r.stderr
    assert "--db" in r.stderr  # the hint names the way to read a stopped server's file


@pytest.fixture
def span_file(tmp_path: Path) -> Path:
    """A DuckDB file holding two spans of service support-bot, as a stopped server left it."""
    path = tmp_path / "spans.duckdb"
    req = trace_request([
        span("chat gpt-4o-mini", attrs={
            "gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o-mini",
            "gen_ai.usage.input_tokens": 42, "gen_ai.usage.output_tokens": 9},
            start_ns=1_700_000_000 * 10**9),
        span("lookup order", status=2, start_ns=1_700_000_001 * 10**9),
    ], service="support-bot")
    batch = NormalizeProcessor().process(
        decode("traces", req.SerializeToString(), "application/x-protobuf").batch)
    store = DuckDBStore(path)
    try:
        store.migrate()
        store.write([batch])
    finally:
        store.close()
    return path


def test_spans_from_a_db_file_as_a_table(cli: Run, span_file: Path) -> None:
    r = cli("spans", "--db", str(span_file))
    assert r.code == 0, r.output
    lines = r.stdout.splitlines()
    header = next(line for line in lines if "service" in line and "tokens in/out" in line)
    assert "trace" in header and "status" in header
    chat = next(line for line in lines if "chat gpt-4o-mini" in line)
    assert "support-bot" in chat and "gpt-4o-mini" in chat and "42/9" in chat
    lookup = next(line for line in lines if "lookup order" in line)
    assert "error" in lookup
    assert lines.index(lookup) < lines.index(chat)  # newest first


def test_spans_from_a_db_file_as_json(cli: Run, span_file: Path) -> None:
    r = cli("spans", "--db", str(span_file), "--json", "--operation", "chat")
    assert r.code == 0, r.output
    data = json.loads(r.stdout)
    assert data["count"] == 1 and data["next_cursor"] is None
    (row,) = data["items"]
    assert row["name"] == "chat gpt-4o-mini" and row["service"] == "support-bot"
    assert row["model"] == "gpt-4o-mini" and row["operation"] == "chat"
    assert row["input_tokens"] == 42 and row["output_tokens"] == 9
    data = json.loads(cli("spans", "--db", str(span_file), "--json", "--limit", "1").stdout)
    assert [i["name"] for i in data["items"]] == ["lookup order"]


def test_spans_with_a_misspelt_status(cli: Run, span_file: Path) -> None:
    r = cli("spans", "--status", "eror", "--db", str(span_file))
    assert r.code == 2
    assert "status='eror' is not valid" in r.stderr
    assert "did you mean 'error'?" in r.stderr


def test_spans_with_an_unparseable_time(cli: Run, span_file: Path) -> None:
    r = cli("spans", "--since", "yesterday-ish", "--db", str(span_file))
    assert r.code == 2
    assert "since='yesterday-ish' is not a time" in r.stderr
