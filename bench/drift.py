"""Drift benchmark: power and false alarms on planted shifts, and speed against Evidently.

    python bench/drift.py                       # power (30 seeds, n=5,000) + speed at 1 M rows
    python bench/drift.py --skip-speed --seeds 30
    python bench/drift.py --skip-power --skip-repeated --rows 1000000,200000

Power: each seed draws a reference and a current table of ``--n`` rows and 10 columns
(7 numeric N(0, 1), 3 categorical with 3-6 categories) and plants one shift in the current
table: a mean shift of 0.1-0.5 sd, a variance change (sd x1.25, x1.5), a new category taking
5 % of a column, a category mix change; controls plant nothing. One TrueCourse report per
seed; power = share of seeds where the planted column drifted, false-positive rate = share of
control reports with ANY column drifted (per model report), plus the share of unplanted
columns that fired in the shifted runs.

Repeated checks: no-drift streams checked every 50 rows on the last 600 (each row seen by 12
checks), with alpha per check and with alpha shared among the overlapping checks
(``overlapping_checks``): false alarms per check and per window length.

Speed: a reference and a current table of ``--rows`` rows x 50 columns (35 numeric, 15
categorical), three numeric columns shifted by 0.5 sd and two categorical mixes changed. Times a
full TrueCourse report (``compare_frames`` from Arrow: typing, detectors, calibration,
quality, histograms) and, in the same process, Evidently's ``DataDriftPreset`` on the same
data as pandas frames (the ``bench`` extra installs it), and compares the verdicts on the
planted and the unplanted columns. The Arrow->pandas conversion is not counted for Evidently.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
from truecourse.config.drift import DriftConfig
from truecourse.drift import compare_frames, frame_from_arrow

CATS = {"c0": ["a", "b", "c"], "c1": ["u", "v", "w", "x"], "c2": ["p", "q", "r", "s", "t", "z"]}
MIX = {"c0": [0.5, 0.3, 0.2], "c1": [0.4, 0.3, 0.2, 0.1],
       "c2": [0.3, 0.2, 0.2, 0.1, 0.1, 0.1]}
SCENARIOS: dict[str, tuple[str, Any]] = {
    "control": ("", None),
    "mean +0.1 sd": ("x0", ("mean", 0.1)),
    "mean +0.2 sd": ("x0", ("mean", 0.2)),
    "mean +0.3 sd": ("x0", ("mean", 0.3)),
    "mean +0.5 sd": ("x0", ("mean", 0.5)),
    "variance x1.25": ("x1", ("scale", 1.25)),
    "variance x1.5": ("x1", ("scale", 1.5)),
    "new category 5%": ("c0", ("new", 0.05)),
    "category mix change": ("c1", ("mix", [0.3, 0.3, 0.2, 0.2])),
}


def _table(n: int, rng: np.random.Generator, plant: tuple[str, Any] | None = None,
           column: str = "") -> pa.Table:
    cols: dict[str, Any] = {}
    for i in range(7):
        x = rng.normal(0, 1, n)
        if plant and column == f"x{i}":
            kind, v = plant
            x = x + v if kind == "mean" else x * v
        cols[f"x{i}"] = x
    for name, cats in CATS.items():
        probs = MIX[name]
        values = rng.choice(cats, n, p=probs)
        if plant and column == name:
            kind, v = plant
            if kind == "new":
                values = np.where(rng.random(n) < v, "NEW", values)
            else:
                values = rng.choice(cats, n, p=v)
        cols[name] = pa.array(values)
    return pa.table(cols)


def power(n: int, seeds: int) -> None:
    cfg = DriftConfig()
    print(f"power at n={n:,} per side, {seeds} seeds, 10 columns per report "
          f"(alpha={cfg.alpha}, floors W={cfg.wasserstein_threshold}, JS={cfg.js_threshold})")
    print(f"{'scenario':22} {'planted fired':>14} {'any fired':>10} {'other cols fired':>17} "
          f"{'median stat':>12} {'s/report':>9}")
    for name, (column, plant) in SCENARIOS.items():
        fired = any_fired = others = 0
        stats: list[float] = []
        t = time.perf_counter()
        for seed in range(seeds):
            rng = np.random.default_rng(seed)
            ref = frame_from_arrow(_table(n, rng))
            cur = frame_from_arrow(_table(n, rng, plant, column))
            rep = compare_frames(ref, cur, cfg)
            by = {c.column: c for c in rep.columns}
            if column:
                fired += by[column].drifted
                stats.append(float(by[column].statistic or 0.0))
            any_fired += rep.drifted
            others += sum(c.drifted for c in rep.columns if c.column != column)
        per = (time.perf_counter() - t) / seeds
        planted = f"{fired / seeds:.2f}" if column else "-"
        med = f"{np.median(stats):.4f}" if stats else "-"
        other_share = others / (seeds * (10 if not column else 9))
        print(f"{name:22} {planted:>14} {any_fired / seeds:>10.2f} {other_share:>17.4f} "
              f"{med:>12} {per:>9.3f}", flush=True)


def repeated(seeds: int, window: int = 600, step: int = 50, stream: int = 6000) -> None:
    """No-drift streams checked every ``step`` rows on the last ``window`` rows (12
    overlapping checks per row): false alarms per window length, alpha per check vs shared.
    An episode is a run of consecutive alarming checks (what a person is paged for once the
    alerting engine deduplicates the repeated alert)."""
    cfg = DriftConfig()
    overlap = -(-window // step)
    print(f"\nrepeated checks: window {window} rows, every {step} rows ({overlap} checks see "
          f"each row), {stream}-row no-drift streams, 5 columns, {seeds} seeds")
    for label, share in (("alpha per check", 1), (f"alpha / {overlap} (shared)", overlap)):
        checks = alarms = episodes = 0
        t = time.perf_counter()
        for seed in range(seeds):
            rng = np.random.default_rng(1000 + seed)
            ref = frame_from_arrow(pa.table({f"x{i}": rng.normal(0, 1, 2000) for i in range(5)}))
            data = pa.table({f"x{i}": rng.normal(0, 1, stream) for i in range(5)})
            previous = False
            for end in range(window, stream + 1, step):
                cur = frame_from_arrow(data.slice(end - window, window))
                rep = compare_frames(ref, cur, cfg, overlapping_checks=share)
                checks += 1
                alarms += rep.drifted
                episodes += rep.drifted and not previous  # a run of alarming checks
                previous = rep.drifted
        lengths = checks / overlap
        print(f"  {label:24} checks {checks:5d}  alarming checks {alarms:4d} "
              f"({alarms / checks:.4f} per check, {alarms / lengths:.3f} per window length)  "
              f"alarm episodes {episodes:3d} ({episodes / lengths:.3f} per window length)  "
              f"({time.perf_counter() - t:.0f} s)", flush=True)


def _big(rows: int, seed: int, shifted: bool) -> pa.Table:
    rng = np.random.default_rng(seed)
    cols: dict[str, Any] = {}
    for i in range(35):
        x = rng.normal(0, 1, rows)
        if shifted and i < 3:
            x += 0.5
        cols[f"num{i:02d}"] = x
    base = np.array([0.4, 0.3, 0.2, 0.1])
    for j in range(15):
        p = np.array([0.2, 0.3, 0.3, 0.2]) if shifted and j < 2 else base
        codes = rng.choice(4, rows, p=p)
        cols[f"cat{j:02d}"] = pa.DictionaryArray.from_arrays(
            pa.array(codes.astype(np.int8)), pa.array([f"k{j}_{v}" for v in "abcd"]))
    return pa.table(cols)


PLANTED = {"num00", "num01", "num02", "cat00", "cat01"}


def speed(rows: int, with_evidently: bool) -> None:
    ref_t, cur_t = _big(rows, 1, False), _big(rows, 2, True)
    t = time.perf_counter()
    rep = compare_frames(frame_from_arrow(ref_t, "ref"), frame_from_arrow(cur_t, "cur"))
    ours = time.perf_counter() - t
    our_flags = {c.column for c in rep.columns if c.drifted}
    print(f"\nspeed: {rows:,} rows x 50 columns (35 numeric, 15 categorical) per side")
    print(f"  truecourse report: {ours:8.2f} s  drifted={sorted(our_flags)}", flush=True)
    if not with_evidently:
        return
    try:
        from evidently import Report
        from evidently.presets import DataDriftPreset
    except ImportError:
        print("  evidently: not installed (pip install -e '.[bench]')")
        return
    ref_df = ref_t.to_pandas()
    cur_df = cur_t.to_pandas()
    for df in (ref_df, cur_df):
        for c in df.columns:
            if c.startswith("cat"):
                df[c] = df[c].astype(str)
    t = time.perf_counter()
    result = Report([DataDriftPreset()]).run(cur_df, ref_df).dict()
    theirs = time.perf_counter() - t
    ev_flags = set()
    for m in result["metrics"]:
        cfg = m.get("config", {})
        if "column" not in cfg:
            continue
        value, thr, method = m["value"], cfg["threshold"], str(cfg["method"])
        drifted = value < thr if "p_value" in method or "test" in method.lower() \
            else value >= thr
        if drifted:
            ev_flags.add(cfg["column"])
    same_planted = (our_flags & PLANTED) == (ev_flags & PLANTED) == PLANTED
    print(f"  evidently DataDriftPreset: {theirs:8.2f} s  drifted={sorted(ev_flags)}")
    print(f"  ratio evidently / truecourse: {theirs / ours:6.1f}x   same verdict on planted "
          f"columns: {same_planted}; unplanted flagged: ours "
          f"{len(our_flags - PLANTED)}, evidently {len(ev_flags - PLANTED)}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--seeds", type=int, default=30)
    ap.add_argument("--rows", default="1000000", help="comma-separated speed sizes")
    ap.add_argument("--skip-power", action="store_true")
    ap.add_argument("--skip-speed", action="store_true")
    ap.add_argument("--no-evidently", action="store_true")
    ap.add_argument("--skip-repeated", action="store_true")
    args = ap.parse_args()
    if not args.skip_power:
        power(args.n, args.seeds)
    if not args.skip_repeated:
        repeated(args.seeds)
    if not args.skip_speed:
        for rows in (int(r) for r in args.rows.split(",")):
            speed(rows, not args.no_evidently)


if __name__ == "__main__":
    main()
