"""The pipeline runner: durable acknowledgement, group commit, backpressure, drain, failures."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

import pytest

from truecourse.errors import QueueFull, RetryableError, StoreUnavailable
from truecourse.ingest.otlp import decode
from truecourse.model import Batch, SpanBatch
from truecourse.pipeline.base import processor
from truecourse.pipeline.runner import Pipeline
from truecourse.store import DuckDBStore, SpanQuery

from otlp_builders import span, trace_request


def batch(n: int = 1, name: str = "s") -> SpanBatch:
    b = decode("traces", trace_request([span(f"{name}{i}") for i in range(n)])
               .SerializeToString(), "application/x-protobuf").batch
    assert isinstance(b, SpanBatch)
    return b


class GatedStore:
    """An in-process fake whose writes wait for a gate, to hold the writer mid-commit."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.entered = threading.Event()
        self.writes: list[int] = []
        self.fail_next = False

    def write(self, batches: Sequence[Batch]) -> None:
        self.entered.set()
        self.gate.wait(10)
        if self.fail_next:
            self.fail_next = False
            raise StoreUnavailable("disk full")
        self.writes.append(sum(len(b) for b in batches))


@pytest.fixture
def duck(tmp_path: Path) -> DuckDBStore:
    s = DuckDBStore(tmp_path / "r.duckdb")
    s.migrate()
    yield s
    s.close()


def test_future_resolves_after_commit_and_rows_are_queryable(duck: DuckDBStore) -> None:
    p = Pipeline(duck)
    p.start()
    p.submit(batch(3)).result(10)
    assert duck.counts()["spans"] == 3
    p.shutdown()


def test_scratch_columns_are_not_stored(duck: DuckDBStore) -> None:
    p = Pipeline(duck)
    p.start()
    b = batch(1)
    assert "_attrs" in b.columns
    p.write_now(b)
    assert "_attrs" not in b.columns
    p.shutdown()


def test_queue_full_raises_retryable_with_retry_after() -> None:
    store = GatedStore()
    p = Pipeline(store, queue_max_batches=2, retry_after_s=3)  # type: ignore[arg-type]
    p.start()
    first = p.submit(batch())
    assert store.entered.wait(5)  # writer holds the first batch
    p.submit(batch())
    p.submit(batch())
    assert not p.has_room()
    with pytest.raises(QueueFull) as e:
        p.submit(batch())
    assert e.value.retry_after_s == 3 and e.value.http_status == 503
    store.gate.set()
    first.result(5)
    p.shutdown()
    assert sum(store.writes) == 3  # the refused batch was never written


def test_group_commit_shares_one_transaction() -> None:
    store = GatedStore()
    p = Pipeline(store, queue_max_batches=10)  # type: ignore[arg-type]
    p.start()
    futures = [p.submit(batch(2))]
    assert store.entered.wait(5)
    futures += [p.submit(batch(2)) for _ in range(4)]
    store.gate.set()
    for f in futures:
        f.result(5)
    p.shutdown()
    assert store.writes == [2, 8]


def test_failed_commit_fails_every_waiter_and_recovers() -> None:
    store = GatedStore()
    store.fail_next = True
    p = Pipeline(store)  # type: ignore[arg-type]
    p.start()
    f = p.submit(batch())
    store.gate.set()
    with pytest.raises(StoreUnavailable, match="disk full"):
        f.result(5)
    assert p.last_error and "disk full" in p.last_error
    p.submit(batch()).result(5)
    assert p.last_error is None
    p.shutdown()


def test_shutdown_drains_the_queue_then_refuses(duck: DuckDBStore) -> None:
    p = Pipeline(duck, queue_max_batches=100)
    p.start()
    futures = [p.submit(batch(10, name=f"b{i}-")) for i in range(20)]
    p.shutdown()
    assert all(f.done() and f.exception() is None for f in futures)
    assert duck.counts()["spans"] == 200
    with pytest.raises(RetryableError, match="shutting down"):
        p.submit(batch())
    p.shutdown()  # twice is fine


def test_stages_run_in_order_and_only_on_their_tables(duck: DuckDBStore) -> None:
    seen: list[str] = []

    @processor("first", {"spans"})
    def first(b: Batch) -> Batch:
        seen.append("first")
        return b.select([i for i, n in enumerate(b["name"]) if n != "s1"])

    @processor("logs-only", {"logs"})
    def logs_only(b: Batch) -> Batch:
        seen.append("logs-only")
        return b

    p = Pipeline(duck, [first, logs_only])
    p.start()
    p.write_now(batch(3))
    p.shutdown()
    assert seen == ["first"]
    assert sorted(r["name"] for r in duck.spans(SpanQuery()).items) == ["s0", "s2"]
    assert first.stats.rows_in == 3 and first.stats.rows_out == 2


def test_routed_consumers_get_rows_after_commit(duck: DuckDBStore) -> None:
    got: list[int] = []

    class Split:
        def route(self, b: Batch) -> dict[str, Batch]:
            return {"store": b, "quality": b.select([0]), "drop": b.select([1])}

    p = Pipeline(duck, router=Split(), consumers={"quality": lambda b: got.append(len(b))})
    p.start()
    p.write_now(batch(2))
    p.shutdown()
    assert got == [1] and duck.counts()["spans"] == 2


def test_idle_writer_checkpoints_once_after_writes() -> None:
    checkpoints = threading.Event()
    calls: list[int] = []

    class Store:
        def write(self, batches: Sequence[Batch]) -> None:
            return None

        def checkpoint(self) -> None:
            calls.append(1)
            checkpoints.set()

    p = Pipeline(Store(), idle_checkpoint_s=0.05)  # type: ignore[arg-type]
    p.start()
    p.write_now(batch())
    assert checkpoints.wait(5)
    threading.Event().wait(0.3)  # idle longer: nothing new was written, no second checkpoint
    p.shutdown()
    assert calls == [1]
