"""``truecourse drift run`` and ``drift baseline`` on files: table, JSON, HTML, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from truecourse.cli import app

WIDE = {"COLUMNS": "200", "NO_COLOR": "1", "TERM": "dumb"}


def _write(path: Path, n: int, seed: int, shift: float = 0.0) -> Path:
    rng = np.random.default_rng(seed)
    table = pa.table({"amount": rng.normal(100 + shift * 15, 15, n),
                      "country": pa.array(rng.choice(["de", "fr", "us"], n)),
                      "id": np.arange(n)})
    if path.suffix == ".csv":
        from pyarrow import csv

        csv.write_csv(table, path)
    else:
        pq.write_table(table, path)
    return path


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    return (_write(tmp_path / "ref.parquet", 4000, 1),
            _write(tmp_path / "cur.csv", 3000, 2, shift=0.5))


def _run(*args: str) -> tuple[int, str, str]:
    res = CliRunner().invoke(app, list(args), env=WIDE)
    return res.exit_code, res.stdout, res.stderr


def test_drift_run_prints_a_table_and_writes_html(files: tuple[Path, Path],
                                                  tmp_path: Path) -> None:
    ref, cur = files
    out = tmp_path / "r.html"
    code, stdout, _ = _run("drift", "run", "--reference", str(ref), "--current", str(cur),
                           "--ignore", "id", "--html", str(out))
    assert code == 0, stdout
    assert "amount" in stdout and "wasserstein" in stdout and "drift share 50%" in stdout
    page = out.read_text()
    assert "<svg" in page and "amount" in page and "cdn" not in page.lower()


def test_drift_run_json_has_one_entry_per_column(files: tuple[Path, Path]) -> None:
    ref, cur = files
    code, stdout, _ = _run("drift", "run", "-r", str(ref), "--current", str(cur), "--json",
                           "--ignore", "id")
    assert code == 0
    doc = json.loads(stdout)
    by = {c["column"]: c for c in doc["columns"]}
    assert set(by) == {"amount", "country"}
    assert by["amount"]["drifted"] and not by["country"]["drifted"]
    for c in by.values():
        assert {"method", "statistic", "p_value", "threshold", "drifted"} <= set(c)


def test_fail_on_drift_exits_1(files: tuple[Path, Path]) -> None:
    ref, cur = files
    code, _, _ = _run("drift", "run", "-r", str(ref), "--current", str(cur), "--fail-on-drift")
    assert code == 1


def test_missing_file_is_exit_2_with_a_hint(files: tuple[Path, Path]) -> None:
    ref, _ = files
    code, _, stderr = _run("drift", "run", "-r", str(ref), "--current", "nope.parquet")
    assert code == 2 and "nope.parquet" in stderr and "hint" in stderr


def test_empty_and_non_tabular_baselines_are_exit_2(tmp_path: Path,
                                                    files: tuple[Path, Path]) -> None:
    _, cur = files
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    code, _, stderr = _run("drift", "run", "-r", str(empty), "--current", str(cur))
    assert code == 2 and "is empty" in stderr
    header_only = tmp_path / "header.csv"
    header_only.write_text("amount,country\n")
    code, _, stderr = _run("drift", "run", "-r", str(header_only), "--current", str(cur))
    assert code == 2 and "no rows" in stderr
    binary = tmp_path / "model.bin"
    binary.write_bytes(b"\x00\x01\x02PK\x03\x04" * 50)
    code, _, stderr = _run("drift", "run", "-r", str(binary), "--current", str(cur))
    assert code == 2 and "neither Parquet nor CSV" in stderr
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"PAR1 this is not really parquet")
    code, _, stderr = _run("drift", "run", "-r", str(broken), "--current", str(cur))
    assert code == 2 and "could not be read as Parquet" in stderr


def test_window_without_model_or_store_is_exit_2(files: tuple[Path, Path]) -> None:
    ref, _ = files
    code, _, stderr = _run("drift", "run", "-r", str(ref), "--current", "1d..now")
    assert code == 2 and "--model" in stderr


def test_baseline_upload_to_a_db_and_report_against_it(files: tuple[Path, Path],
                                                       tmp_path: Path) -> None:
    ref, cur = files
    db = tmp_path / "t.duckdb"
    from truecourse.store import DuckDBStore

    s = DuckDBStore(db)
    s.migrate()
    s.close()
    code, stdout, stderr = _run("drift", "baseline", str(ref), "--model", "fraud", "--db",
                                str(db), "--json")
    assert code == 0, stderr
    info = json.loads(stdout)
    assert info["rows"] == 4000 and info["columns"] == ["amount", "country", "id"]
    code, stdout, stderr = _run("drift", "run", "-r", f"baseline:{info['id']}", "--current",
                                str(cur), "--db", str(db), "--json", "--store")
    assert code == 0, stderr
    doc = json.loads(stdout)
    assert doc["reference"]["source"].startswith(f"baseline:{info['id']}")
    code, stdout, _ = _run("drift", "reports", "--db", str(db), "--json")
    assert json.loads(stdout)[0]["id"] == doc["id"]
    code, _, stderr = _run("drift", "baseline", str(tmp_path / "none.csv"), "--model", "m",
                           "--db", str(db))
    assert code == 2 and "does not exist" in stderr


def test_drift_run_on_store_windows_for_a_model_and_a_service(tmp_path: Path) -> None:
    from datetime import timedelta

    from truecourse.store import DuckDBStore

    from .data import DAY1, DAY2, llm_spans, predictions

    db = tmp_path / "w.duckdb"
    s = DuckDBStore(db)
    s.migrate()
    s.write([predictions("fraud", DAY1, 1200, 1)[0], predictions("fraud", DAY2, 1200, 2, 0.8)[0],
             llm_spans("bot", DAY1, 300, 1), llm_spans("bot", DAY2, 300, 2, longer=True)])
    s.close()
    w1 = f"{DAY1.isoformat()}..{(DAY1 + timedelta(hours=1)).isoformat()}"
    w2 = f"{DAY2.isoformat()}..{(DAY2 + timedelta(hours=1)).isoformat()}"
    code, stdout, stderr = _run("drift", "run", "--model", "fraud", "-r", w1, "--current", w2,
                                "--db", str(db), "--json")
    assert code == 0, stderr
    doc = json.loads(stdout)
    assert doc["model"] == "fraud" and "amount" in doc["drifted_columns"]
    code, stdout, stderr = _run("drift", "run", "--service", "bot", "-r", "rolling:1d",
                                "--current", w2, "--db", str(db))
    assert code == 0, stderr
    assert "prompt_chars" in stdout and "mmd" in stdout
    code, _, stderr = _run("drift", "run", "--model", "fraud", "-r", "tomorrow..now",
                           "--current", w2, "--db", str(db))
    assert code == 2 and "is not a time" in stderr
