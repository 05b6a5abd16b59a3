"""``truecourse demo`` and ``truecourse bench scenarios`` as a user runs them (subprocesses)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e


def truecourse(*args: str, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "truecourse", *args], cwd=cwd, text=True,
                          capture_output=True, timeout=timeout,
                          env={**os.environ, "COLUMNS": "200"})


def test_demo_prints_what_it_caught_and_leaves_its_data(tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    r = truecourse("demo", "--exit", "--dir", str(folder), "--port", "0", "--seed", "3",
                   "--fault", "tool_outage@5m+10m", "--horizon", "25m", cwd=tmp_path)
    assert r.returncode == 0, r.stderr + r.stdout
    out = r.stdout
    assert "scripted: tool_outage at +5m for 10m" in out
    assert "fault injected: tool_outage" in out
    assert "ALERT" in out and "ToolFailing" in out
    assert "What TrueCourse caught" in out
    row = next(line for line in out.splitlines() if line.startswith("│ tool_outage"))
    assert "yes" in row and "min" in row
    assert "noise reduction" in out and "Server http://127.0.0.1:" in out
    assert (folder / "truecourse.duckdb").exists() and (folder / "truecourse.yaml").exists()
    # the folder is a working setup: its config validates
    v = truecourse("validate", str(folder / "truecourse.yaml"), cwd=tmp_path)
    assert v.returncode == 0, v.stderr


@pytest.mark.parametrize(("args", "message"), [
    (["--fault", "tool_outge@5m"], "unknown fault 'tool_outge'; did you mean 'tool_outage'?"),
    (["--fault", "tool_outage@-5m"], "is not a duration"),
    (["--fault", "tool_outage@30m", "--horizon", "20m"],
     "starts at +30m, at or after the run's end (+20m)"),
    (["--fault", "bad_prompt@5m+20m", "--fault", "bad_prompt@10m+5m"],
     "'prompt:support-assistant' changes and cannot happen at once"),
    (["--horizon", "2h"], "--horizon applies to a timeline given with --fault"),
])
def test_demo_refuses_impossible_timelines(tmp_path: Path, args: list[str],
                                           message: str) -> None:
    r = truecourse("demo", "--exit", "--dir", str(tmp_path / "d"), *args, cwd=tmp_path)
    assert r.returncode == 2, r.stdout + r.stderr
    assert message in " ".join(r.stderr.split())
    assert not (tmp_path / "d").exists(), "nothing is created for a refused timeline"


def test_demo_wants_a_fresh_folder(tmp_path: Path) -> None:
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "truecourse.duckdb").write_text("x")
    r = truecourse("demo", "--exit", "--dir", str(tmp_path / "used"), cwd=tmp_path)
    assert r.returncode == 2
    assert "is not an empty folder" in r.stderr and "fresh database" in r.stderr
    assert (tmp_path / "used" / "truecourse.duckdb").read_text() == "x"


def test_bench_rejects_unknown_scenarios_before_running_any(tmp_path: Path) -> None:
    r = truecourse("bench", "scenarios", "-s", "tool_outage", "-s", "latency_regresion",
                   cwd=tmp_path)
    assert r.returncode == 2
    err = " ".join(r.stderr.split())
    assert "unknown scenario 'latency_regresion'" in err
    assert "did you mean 'latency_regression'" in err
    assert "seed" not in err, "no run started"


def test_bench_lists_its_scenarios(tmp_path: Path) -> None:
    r = truecourse("bench", "scenarios", "--list", cwd=tmp_path)
    assert r.returncode == 0
    for name in ("control", "latency_regression", "alert_storm", "prompt_injection"):
        assert name in r.stdout


@pytest.mark.timeout(900)  # eleven simulated runs: ~4 min alone on 2 cores, more when shared
def test_bench_scenarios_quick_reports_every_scenario(tmp_path: Path) -> None:
    """The reduced benchmark CI runs: one seed, short horizons, every scenario."""
    r = truecourse("bench", "scenarios", "--quick", "--json", cwd=tmp_path, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    data = json.loads(r.stdout)
    by = {s["scenario"]: s for s in data["scenarios"]}
    assert next(iter(by)) == "control" and len(by) == 11
    control = by["control"]
    assert control["false_alarms"] is not None and control["false_alarms_per_day"] is not None
    assert control["detected"] is None
    for name in ("latency_regression", "tool_outage", "dependency_outage", "alert_storm",
                 "bad_prompt", "cost_runaway", "retrieval_regression", "input_drift"):
        s = by[name]
        assert s["runs"] == 1 and s["detected"] == 1, (name, s["details"])
        assert 0 < s["mttd_s_median"] <= 1800
        assert s["notifications"] <= s["raw_signals"]
    # what the platform cannot see yet is reported as such, not papered over
    for name in ("pii_leak", "prompt_injection"):
        assert by[name]["detected"] in (0, 1)
    storm = by["alert_storm"]
    assert storm["raw_signals"] >= 100 * storm["notifications"] > 0
