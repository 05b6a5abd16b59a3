"""The documentation keeps up with the code: config reference, HTTP routes, metrics, CLI flags.

When one of these fails, the message says what to add or which command regenerates the page.
"""

from __future__ import annotations

import difflib
import importlib.util
import re
import typing
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import typer
from pydantic import BaseModel
from starlette.testclient import TestClient

from truecourse.api import create_app
from truecourse.cli import app as cli_app
from truecourse.config import config_reference_markdown, parse_config
from truecourse.model import EVENT_KINDS
from truecourse.model import events as event_models
from truecourse.pipeline.metrics import PipelineMetrics
from truecourse.runtime import Runtime

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
REGENERATE = "python docs/gen_config_reference.py"
NON_REST = ("/v1/traces", "/v1/logs", "/v1/metrics", "/healthz", "/readyz", "/metrics")


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_config_reference",
                                                  DOCS / "gen_config_reference.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _api_doc() -> str:
    return (DOCS / "api.md").read_text(encoding="utf-8")


# --- docs/configuration.md -----------------------------------------------------------------


def test_configuration_reference_matches_the_schema() -> None:
    gen = _generator()
    _head, generated, _tail = gen.split((DOCS / "configuration.md").read_text(encoding="utf-8"))
    wanted = config_reference_markdown()
    if generated != wanted:
        diff = "".join(difflib.unified_diff(
            generated.splitlines(keepends=True), wanted.splitlines(keepends=True),
            "docs/configuration.md", "config_reference_markdown()", n=1))
        pytest.fail(f"docs/configuration.md is out of date with the config schema; run\n\n"
                    f"    {REGENERATE}\n\nand commit the result. Difference:\n{diff[:4000]}")


def test_regenerating_keeps_the_hand_written_parts() -> None:
    gen = _generator()
    page = f"# Intro\n\nhand-written\n\n{gen.START}\nstale\n{gen.END}\n\nfooter\n"
    new = gen.regenerated(page)
    assert new.startswith(f"# Intro\n\nhand-written\n\n{gen.START}\n")
    assert new.endswith(f"\n{gen.END}\n\nfooter\n")
    assert gen.split(new) == ("# Intro\n\nhand-written\n\n", config_reference_markdown(),
                              "\n\nfooter\n")
    assert gen.regenerated(new) == new
    with pytest.raises(ValueError, match="generated:start"):
        gen.split("# no markers\n")


def test_configuration_intro_explains_validation_and_precedence() -> None:
    intro, _generated, _tail = _generator().split(
        (DOCS / "configuration.md").read_text(encoding="utf-8"))
    for needed in ("truecourse validate", "./truecourse.yaml", "--config", "precedence",
                   REGENERATE):
        assert needed.lower() in intro.lower(), f"the intro of configuration.md lacks {needed!r}"


# --- docs/api.md ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def openapi(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    db = tmp_path_factory.mktemp("docs") / "openapi.duckdb"
    rt = Runtime.build(parse_config(""), db=str(db))
    try:
        spec: dict[str, Any] = TestClient(create_app(rt)).get("/api/v1/openapi.json").json()
    finally:
        rt.shutdown()
    return spec


def test_api_doc_lists_every_route(openapi: dict[str, Any]) -> None:
    text = _api_doc()
    paths = sorted({*openapi["paths"], *NON_REST})
    missing = [p for p in paths if p not in text]
    assert missing == [], f"document these routes in docs/api.md: {missing}"
    for path, methods in openapi["paths"].items():
        for method in methods:
            assert f"{method.upper()} {path}" in text or path in NON_REST, (
                f"docs/api.md should name '{method.upper()} {path}'")


def test_api_doc_lists_every_query_parameter(openapi: dict[str, Any]) -> None:
    text = _api_doc()
    missing = sorted({
        f"{path}: {param['name']}"
        for path, methods in openapi["paths"].items()
        for op in methods.values()
        for param in op.get("parameters", [])
        if param["in"] == "query" and f"`{param['name']}`" not in text
    })
    assert missing == [], f"document these query parameters in docs/api.md: {missing}"


def test_api_doc_covers_the_otlp_answers() -> None:
    text = _api_doc()
    for needed in ("partial_success", "google.rpc.Status", "`413`", "`415`", "`503`",
                   "Retry-After", "gzip", "server.max_body_bytes", '{"error": {"type"'):
        assert needed in text, f"docs/api.md lacks {needed!r}"


def test_api_doc_lists_every_metric_series() -> None:
    text = _api_doc()
    names = sorted({m.name for m in PipelineMetrics().registry.collect()})
    missing = [n for n in names if n not in text and f"{n}_total" not in text]
    assert missing == [], f"document these /metrics series in docs/api.md: {missing}"


def _event_models() -> Iterator[type[BaseModel]]:
    for value in vars(event_models).values():
        if (isinstance(value, type) and issubclass(value, BaseModel)
                and "kind" in value.model_fields):
            yield value


def test_api_doc_lists_every_event_kind_and_field() -> None:
    text = _api_doc()
    kinds = {typing.get_args(m.model_fields["kind"].annotation)[0]: m
             for m in _event_models()}
    assert sorted(kinds) == sorted(EVENT_KINDS)
    missing = sorted({f"{kind}.{field}" for kind, model in kinds.items()
                      for field in [*model.model_fields, kind]
                      if f"`{field}`" not in text})
    assert missing == [], f"document these event kinds/fields in docs/api.md: {missing}"


# --- CLI -----------------------------------------------------------------------------------


def _cli_options() -> dict[str, list[str]]:
    commands = typer.main.get_command(cli_app).commands  # type: ignore[attr-defined]
    return {name: [opt for p in cmd.params if p.param_type_name == "option"
                   for opt in p.opts if opt != "--help"]
            for name, cmd in commands.items()}


def test_every_cli_command_is_in_the_readme_table() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = [line for line in readme.splitlines() if line.startswith("| `truecourse ")]
    missing = [name for name in _cli_options()
               if not any(line.startswith(f"| `truecourse {name}") for line in table)]
    assert missing == [], f"add these commands to the CLI table of README.md: {missing}"


def test_every_cli_option_is_documented() -> None:
    docs = "\n".join(p.read_text(encoding="utf-8")
                     for p in [ROOT / "README.md", *sorted(DOCS.glob("*.md"))])
    missing = [f"truecourse {name} {opt}" for name, opts in _cli_options().items()
               for opt in opts if not re.search(rf"`[^`\n]*{re.escape(opt)}\b", docs)]
    assert missing == [], ("document these flags in README.md's CLI table or in "
                           f"docs/configuration.md / docs/api.md: {missing}")


def test_measure_doc_defines_every_metric_and_refusal_pattern() -> None:
    from truecourse.measure.metrics import METRICS
    from truecourse.measure.refusal import REFUSAL_PATTERNS

    text = (DOCS / "measure.md").read_text(encoding="utf-8")
    missing = [m for m in METRICS if f"| `{m}` |" not in text]
    missing += [name for name, _ in REFUSAL_PATTERNS if f"| `{name}` |" not in text]
    assert missing == [], f"define these in docs/measure.md: {missing}"
