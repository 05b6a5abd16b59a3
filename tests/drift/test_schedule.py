"""Scheduled drift checks: due times, alerts while drifting, resolution when it clears."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from truecourse.config import InvalidConfig, parse_config
from truecourse.drift.reports import list_reports
from truecourse.drift.schedule import DriftChecks
from truecourse.store import DuckDBStore

from .data import DAY1, DAY2, predictions


def test_check_fires_then_waits_then_resolves(tmp_path: Path) -> None:
    store = DuckDBStore(tmp_path / "s.duckdb")
    store.migrate()
    store.write([predictions("fraud", DAY1, 1200, 1)[0],
                 predictions("fraud", DAY2, 1200, 2, shift=1.0)[0]])
    ref = f"{DAY1.isoformat()}..{(DAY1 + timedelta(hours=1)).isoformat()}"
    cfg = parse_config(f"drift:\n  checks:\n    - model: fraud\n      reference: '{ref}'\n"
                       f"      window_s: 3600\n      every_s: 300\n").drift
    checks = DriftChecks(store, cfg)
    now = DAY2 + timedelta(hours=1)
    fired = checks.run_due(now)
    assert [a.labels["alertname"] for a in fired] == ["ModelDrift"]
    assert not fired[0].resolved and fired[0].labels["model"] == "fraud"
    assert checks.run_due(now + timedelta(seconds=60)) == []  # not due yet
    later = checks.run_due(now + timedelta(hours=3))  # the window is empty: nothing to judge
    assert len(later) == 1 and later[0].resolved and later[0].fingerprint == fired[0].fingerprint
    reports = list_reports(store, model="fraud")
    assert len(reports) == 2 and reports[-1]["status"] == "drift"
    store.close()


def test_a_check_names_exactly_one_subject() -> None:
    with pytest.raises(InvalidConfig, match="exactly one of model or service"):
        parse_config("drift:\n  checks:\n    - reference: 7d..1d\n")


def test_leader_sketches_closed_windows_as_data_arrives(tmp_path: Path) -> None:
    from truecourse.drift.sketches import load_windows

    store = DuckDBStore(tmp_path / "k.duckdb")
    store.migrate()
    for h in range(3):
        store.write([predictions("fraud", DAY1 + timedelta(hours=h), 200, h, prefix=f"k{h}")[0]])
    cfg = parse_config("drift:\n  sketch_models: [fraud]\n").drift
    checks = DriftChecks(store, cfg)
    assert checks.sketch_due(DAY1 + timedelta(hours=1, minutes=5)) == 1  # hour 0 closed
    assert checks.sketch_due(DAY1 + timedelta(hours=1, minutes=30)) == 0  # nothing new
    assert checks.sketch_due(DAY1 + timedelta(hours=3, minutes=1)) == 2  # hours 1 and 2
    windows = load_windows(store, "fraud", DAY1, DAY1 + timedelta(hours=3))
    assert len(windows["amount"]) == 3 and sum(w.rows for w in windows["amount"]) == 600
    store.close()
