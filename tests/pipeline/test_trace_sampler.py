"""Trace-consistent sampling: one decision per trace id, in every batch and every process."""

from __future__ import annotations

import itertools
import subprocess
import sys

from hypothesis import given, settings
from hypothesis import strategies as st

from truecourse.config import SampleConfig
from truecourse.pipeline.processors import TraceSampler, trace_position

from pipeline.telemetry_rows import logs, spans

TRACES = [f"{i:016x}{(i * 0x9E3779B97F4A7C15) % 2**64:016x}" for i in range(200)]


def sampler(
    ratio: float, keep_errors: bool = True, tables: tuple[str, ...] = ("spans",)
) -> TraceSampler:
    return TraceSampler(SampleConfig.model_validate(
        {"ratio": ratio, "keep_errors": keep_errors, "tables": list(tables)}))


def test_decision_is_the_low_64_bits_against_the_ratio() -> None:
    assert trace_position("f" * 16 + "0" * 16) == 0
    assert trace_position("0" * 16 + "8" + "0" * 15) == 2**63
    half = sampler(0.5)
    assert half.keeps("f" * 16 + "7" + "f" * 15)
    assert not half.keeps("0" * 16 + "8" + "0" * 15)


def test_same_trace_same_decision_in_two_batches() -> None:
    stage = sampler(0.3, keep_errors=False)
    first = stage.process(spans(*({"trace_id": t, "span_id": "1" * 16} for t in TRACES)))
    second = stage.process(spans(*({"trace_id": t, "span_id": "2" * 16} for t in TRACES[::-1])))
    assert set(first["trace_id"]) == set(second["trace_id"])
    assert 30 <= len(first) <= 90  # about 60 of 200
    assert stage.stats.sampled_out == 2 * (200 - len(first))


def test_same_decision_in_another_process() -> None:
    here = [sampler(0.3).keeps(t) for t in TRACES]
    code = ("from truecourse.config import SampleConfig\n"
            "from truecourse.pipeline.processors import TraceSampler\n"
            f"s = TraceSampler(SampleConfig(ratio=0.3))\n"
            f"print(''.join('1' if s.keeps(t) else '0' for t in {TRACES!r}))\n")
    there = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True).stdout.strip()
    assert there == "".join("1" if k else "0" for k in here)


def test_errors_keep_their_trace_in_the_batch() -> None:
    dropped = next(t for t in TRACES if not sampler(0.1).keeps(t))
    batch = spans(
        {"trace_id": dropped, "span_id": "1" * 16},
        {"trace_id": dropped, "span_id": "2" * 16, "status_code": "error"},
    )
    stage = sampler(0.1)
    assert len(stage.process(batch)) == 2
    assert stage.stats.kept_for_errors == 2
    assert len(sampler(0.1, keep_errors=False).process(batch)) == 0


def test_logs_sampled_by_trace_and_kept_without_one() -> None:
    dropped = next(t for t in TRACES if not sampler(0.1).keeps(t))
    stage = sampler(0.1, tables=("spans", "logs"))
    out = stage.process(logs(
        {"trace_id": dropped, "body": "a"},
        {"trace_id": None, "body": "b"},
        {"trace_id": dropped, "body": "c", "severity_number": 17},
    ))
    assert out["body"] == ["a", "b", "c"]
    out = sampler(0.1, keep_errors=False, tables=("logs",)).process(
        logs({"trace_id": dropped, "body": "a"}, {"trace_id": None, "body": "b"}))
    assert out["body"] == ["b"]


def test_ratio_one_keeps_everything() -> None:
    batch = spans(*({"trace_id": t} for t in TRACES))
    assert sampler(1.0).process(batch) is batch


span_rows = st.lists(
    st.tuples(st.sampled_from(TRACES[:20]), st.booleans()), min_size=1, max_size=60)


@settings(max_examples=200, deadline=None)
@given(rows=span_rows, cuts=st.lists(st.integers(0, 60), max_size=5),
       ratio=st.floats(0.01, 1.0))
def test_all_or_nothing_per_trace(rows: list[tuple[str, bool]], cuts: list[int],
                                  ratio: float) -> None:
    bounds = sorted({0, len(rows), *(c for c in cuts if c < len(rows))})
    batches = [rows[a:b] for a, b in itertools.pairwise(bounds)]
    plain = sampler(ratio, keep_errors=False)
    with_errors = sampler(ratio, keep_errors=True)
    kept_anywhere: dict[str, set[bool]] = {}
    for part in batches:
        batch = spans(*({"trace_id": t, "span_id": f"{i:016x}",
                         "status_code": "error" if err else "ok"} for i, (t, err) in
                        enumerate(part)))
        out = set(plain.process(batch)["span_id"])
        for i, (t, _) in enumerate(part):
            kept_anywhere.setdefault(t, set()).add(f"{i:016x}" in out)
        # with keep_errors: all-or-nothing per trace within the batch, error spans always kept
        out = set(with_errors.process(batch)["span_id"])
        by_trace: dict[str, set[bool]] = {}
        for i, (t, err) in enumerate(part):
            by_trace.setdefault(t, set()).add(f"{i:016x}" in out)
            assert not err or f"{i:016x}" in out
        assert all(len(flags) == 1 for flags in by_trace.values())
    assert all(len(flags) == 1 for flags in kept_anywhere.values())
