"""Span and log dedupe: windows measured by an injected clock, bounded memory."""

from __future__ import annotations

from truecourse.config import DedupeConfig
from truecourse.pipeline.processors import FirstSeen, LogDeduper, SpanDeduper

from pipeline.telemetry_rows import FakeClock, logs, spans

T = "a" * 32


def config(window_s: float = 300, max_keys: int = 1000) -> DedupeConfig:
    return DedupeConfig(window_s=window_s, max_keys=max_keys)


def test_span_repeats_dropped_in_and_across_batches() -> None:
    clock = FakeClock()
    stage = SpanDeduper(config(), clock=clock)
    first = stage.process(spans({"trace_id": T, "span_id": "1" * 16},
                                {"trace_id": T, "span_id": "2" * 16},
                                {"trace_id": T, "span_id": "1" * 16}))
    assert first["span_id"] == ["1" * 16, "2" * 16]
    clock.advance(299)
    second = stage.process(spans({"trace_id": T, "span_id": "2" * 16},
                                 {"trace_id": T, "span_id": "3" * 16}))
    assert second["span_id"] == ["3" * 16]
    assert stage.stats.duplicates == 2


def test_span_dedupe_on_arrow_rows_matches_the_list_path() -> None:
    from truecourse.model import ArrowBatch

    rows = [{"trace_id": T, "span_id": c * 16} for c in "1213"]
    by_list = SpanDeduper(config(), clock=FakeClock())
    by_arrow = SpanDeduper(config(), clock=FakeClock())
    expected = by_list.process(spans(*rows))
    got = by_arrow.process_arrow(ArrowBatch("spans", spans(*rows).to_arrow()))
    assert got.to_arrow().column("span_id").to_pylist() == expected["span_id"] == [
        "1" * 16, "2" * 16, "3" * 16]
    again = by_arrow.process_arrow(ArrowBatch("spans", spans(*rows[:2]).to_arrow()))
    assert len(again) == 0
    assert by_arrow.stats.duplicates == 3 and by_arrow.stats.rows_out == 3
    logs_batch = ArrowBatch.empty("logs")
    assert by_arrow.process_arrow(logs_batch) is logs_batch  # other tables pass untouched


def test_span_window_expiry() -> None:
    clock = FakeClock()
    stage = SpanDeduper(config(window_s=10), clock=clock)
    batch = spans({"trace_id": T, "span_id": "1" * 16})
    assert len(stage.process(batch)) == 1
    clock.advance(9.9)
    assert len(stage.process(batch)) == 0
    clock.advance(0.1)  # 10 s after the first occurrence: forgotten
    assert len(stage.process(batch)) == 1
    assert len(stage.process(batch)) == 0


def test_span_memory_is_bounded() -> None:
    stage = SpanDeduper(config(max_keys=2), clock=FakeClock())
    stage.process(spans(*({"trace_id": T, "span_id": f"{i:016x}"} for i in range(3))))
    assert len(stage.memory) == 2
    assert stage.stats.evicted == 1
    # the oldest was forgotten, so its repeat is kept; the newer ones are still known
    out = stage.process(spans(*({"trace_id": T, "span_id": f"{i:016x}"} for i in (2, 0))))
    assert out["span_id"] == [f"{0:016x}"]


def test_shutdown_forgets() -> None:
    stage = SpanDeduper(config(), clock=FakeClock())
    batch = spans({"trace_id": T, "span_id": "1" * 16})
    stage.process(batch)
    stage.shutdown()
    stage.shutdown()
    assert len(stage.process(batch)) == 1


SECOND = 1_000_000_000


def log(body: str, t: int = 0, **extra: object) -> dict[str, object]:
    return {"body": body, "time_unix_nano": 1_700_000_000 * SECOND + t, **extra}


def test_identical_logs_fold_into_the_first_with_count() -> None:
    stage = LogDeduper(config(window_s=60), clock=FakeClock())
    batch = logs(log("timeout", 0), log("ok", 1), log("timeout", 5 * SECOND, count=3),
                 log("timeout", 6 * SECOND, severity_number=17), log("timeout", 7 * SECOND))
    out = stage.process(batch)
    assert out["body"] == ["timeout", "ok", "timeout"]
    assert out["count"] == [5, None, None]
    assert out["severity_number"] == [9, 9, 17]
    assert batch["count"][0] is None  # copy-on-write
    assert stage.stats.folded == 2


def test_logs_beyond_the_window_of_event_time_start_a_new_row() -> None:
    stage = LogDeduper(config(window_s=60), clock=FakeClock())
    out = stage.process(logs(log("x", 0), log("x", 61 * SECOND), log("x", 62 * SECOND)))
    assert out["count"] == [None, 2]


def test_log_repeats_across_batches_dropped_within_window() -> None:
    clock = FakeClock()
    stage = LogDeduper(config(window_s=60), clock=clock)
    assert len(stage.process(logs(log("x")))) == 1
    clock.advance(30)
    out = stage.process(logs(log("x"), log("x"), log("y")))
    assert out["body"] == ["y"]
    assert (stage.stats.folded, stage.stats.suppressed) == (2, 2)
    clock.advance(30)
    assert stage.process(logs(log("x")))["body"] == ["x"]


def test_log_key_includes_trace_and_event_name() -> None:
    stage = LogDeduper(config(), clock=FakeClock())
    out = stage.process(logs(log("x", trace_id=T), log("x"), log("x", event_name="e"),
                             log("x", trace_id=T)))
    assert out["count"] == [2, None, None]


def test_first_seen_expires_in_order() -> None:
    memory = FirstSeen(window_s=10, max_keys=10)
    assert not memory.repeat("a", 0)
    assert not memory.repeat("b", 5)
    assert memory.repeat("a", 9)
    memory.expire(10)
    assert len(memory) == 1
    assert not memory.repeat("a", 10)
