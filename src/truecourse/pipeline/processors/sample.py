"""``sample``: keeps a share of traces, whole, with the same decision in every batch and process.

The decision for a trace is ``low 64 bits of trace_id < round(ratio * 2**64)`` — the rule of
OpenTelemetry's ``TraceIdRatioBased`` sampler — so it needs no state and agrees with SDKs that
head-sample at the same ratio. With ``keep_errors``, a trace with an error row in a batch keeps
all its rows in that batch; rows of the same trace in other batches keep their own decision, so
only a sampled-in trace is guaranteed complete across batches.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from truecourse.config import SampleConfig
from truecourse.model import Batch
from truecourse.pipeline.base import StageStats
from truecourse.pipeline.processors.stage import Stage

_LOW_64 = (1 << 64) - 1
_DROP, _KEEP, _KEEP_FOR_ERRORS = 0, 1, 2
ERROR_SEVERITY = 17
"""OTLP severity_number of ERROR; logs at or above it count as errors."""


@dataclass
class SampleStats(StageStats):
    sampled_out: int = 0
    kept_for_errors: int = 0


def trace_position(trace_id: str) -> int:
    """Where the trace falls in [0, 2**64): its low 64 bits (a stable digest if not hex)."""
    try:
        return int(trace_id[-16:], 16) & _LOW_64
    except ValueError:
        digest = hashlib.blake2b(trace_id.encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big")


class TraceSampler(Stage[SampleStats]):
    """Keeps rows whose trace is sampled in; rows without a trace id are always kept."""

    def __init__(self, config: SampleConfig, name: str = "sample") -> None:
        super().__init__(name, frozenset(config.tables), SampleStats())
        self.ratio = config.ratio
        self.keep_errors = config.keep_errors
        self._bound = round(config.ratio * (1 << 64))

    def keeps(self, trace_id: str) -> bool:
        """The sampling decision for ``trace_id`` alone (errors aside)."""
        return trace_position(trace_id) < self._bound

    def apply(self, batch: Batch) -> Batch:
        if self._bound > _LOW_64:  # ratio 1
            return batch
        trace_ids: list[str | None] = batch["trace_id"]
        errors = {trace_ids[i] for i in self._error_rows(batch)} if self.keep_errors else set()
        decisions: dict[str, int] = {}  # trace id -> _DROP, _KEEP or _KEEP_FOR_ERRORS
        kept: list[int] = []
        rescued = 0
        for i, trace_id in enumerate(trace_ids):
            if not trace_id:
                kept.append(i)
                continue
            decision = decisions.get(trace_id)
            if decision is None:
                if trace_position(trace_id) < self._bound:
                    decision = _KEEP
                else:
                    decision = _KEEP_FOR_ERRORS if trace_id in errors else _DROP
                decisions[trace_id] = decision
            if decision != _DROP:
                kept.append(i)
                rescued += decision == _KEEP_FOR_ERRORS
        self.stats.sampled_out += len(batch) - len(kept)
        self.stats.kept_for_errors += rescued
        return batch.select(kept)

    @staticmethod
    def _error_rows(batch: Batch) -> list[int]:
        if batch.table == "spans":
            return [i for i, s in enumerate(batch["status_code"]) if s == "error"]
        return [i for i, s in enumerate(batch["severity_number"])
                if s is not None and s >= ERROR_SEVERITY]
