"""Columnar batches: the unit every pipeline stage and the store work on.

A batch holds one Python list per canonical column, all of equal length. Decoders append to the
lists directly; processors select rows by index or rewrite whole columns; the store turns a batch
into an Arrow table in one call. No per-record object is built on the hot path.

Besides the canonical columns a batch may carry scratch columns whose names start with ``_``
(the decoder's attribute dicts, ``_attrs``, and span events, ``_events``, for the normalize
stage). They travel through ``select`` like any column and are never written to the store.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, ClassVar, Self

import pyarrow as pa

from truecourse.model.columns import ARROW_SCHEMAS, TABLE_COLUMNS


class Batch:
    """Equal-length column lists for one table (``table`` names it: spans, logs, ...)."""

    table: ClassVar[str]
    __slots__ = ("columns",)

    def __init__(self, columns: dict[str, list[Any]] | None = None) -> None:
        names = self.column_names()
        if columns is None:
            self.columns: dict[str, list[Any]] = {n: [] for n in names}
        else:
            missing = [n for n in names if n not in columns]
            if missing:
                raise ValueError(f"{type(self).__name__} is missing columns: {missing}")
            lengths = {len(columns[n]) for n in names}
            if len(lengths) > 1:
                raise ValueError(f"{type(self).__name__} columns differ in length: {lengths}")
            self.columns = {n: columns[n] for n in names}
            for n, col in columns.items():
                if n.startswith("_"):
                    if len(col) != len(self.columns[names[0]]):
                        raise ValueError(f"scratch column {n} differs in length")
                    self.columns[n] = col

    @classmethod
    def column_names(cls) -> tuple[str, ...]:
        return tuple(c.name for c in TABLE_COLUMNS[cls.table])

    def __len__(self) -> int:
        first = next(iter(self.columns.values()))
        return len(first)

    def __getitem__(self, column: str) -> list[Any]:
        return self.columns[column]

    def row(self, i: int) -> dict[str, Any]:
        """Row ``i`` as a dict (for tests and debugging, not the hot path)."""
        return {name: col[i] for name, col in self.columns.items()}

    def rows(self) -> list[dict[str, Any]]:
        return [self.row(i) for i in range(len(self))]

    def select(self, keep: Sequence[int]) -> Self:
        """A new batch holding only rows ``keep``, in that order."""
        if len(keep) == len(self):
            return self
        return type(self)({n: [col[i] for i in keep] for n, col in self.columns.items()})

    def extend(self, other: Batch) -> None:
        """Append ``other``'s rows; scratch columns survive only when both batches have them."""
        n_before = len(self)
        for name in [n for n in self.columns if n.startswith("_") and n not in other.columns]:
            del self.columns[name]
        for name, col in self.columns.items():
            col.extend(other.columns[name])
        if n_before == 0:
            for name, col in other.columns.items():
                if name.startswith("_") and name not in self.columns:
                    self.columns[name] = list(col)

    def stamp_project(self, project: str) -> Self:
        """Set every row's ``project`` (decoders leave that column to the receiver, which
        knows the sending key's project); returns the batch."""
        self.columns["project"] = [project] * len(self)
        return self

    def drop_scratch(self) -> None:
        """Forget the scratch columns (after the last stage that reads them)."""
        for name in [n for n in self.columns if n.startswith("_")]:
            del self.columns[name]

    @classmethod
    def concat(cls, batches: Iterable[Batch]) -> Self:
        out = cls()
        for b in batches:
            out.extend(b)
        return out

    def to_arrow(self) -> pa.Table:
        """The batch as an Arrow table with the canonical schema (one C-level conversion)."""
        schema = ARROW_SCHEMAS[self.table]
        arrays = [pa.array(self.columns[f.name], type=f.type) for f in schema]
        return pa.Table.from_arrays(arrays, schema=schema)


class SpanBatch(Batch):
    table = "spans"
    __slots__ = ()


class LogBatch(Batch):
    table = "logs"
    __slots__ = ()


class MetricBatch(Batch):
    table = "metric_points"
    __slots__ = ()


class EventBatch(Batch):
    table = "events"
    __slots__ = ()


class PredictionBatch(Batch):
    table = "predictions"
    __slots__ = ()


class ArrowBatch:
    """Rows of one table already in Arrow form (from an ingest worker process).

    Quacks like a :class:`Batch` where the store and the writer need it (``table``, ``len``,
    ``to_arrow``); :meth:`to_batch` gives the list form for in-process consumers.
    """

    __slots__ = ("arrow", "table")

    def __init__(self, table: str, arrow: pa.Table) -> None:
        self.table = table
        self.arrow = arrow

    def __len__(self) -> int:
        return int(self.arrow.num_rows)

    def to_arrow(self) -> pa.Table:
        return self.arrow

    def to_batch(self) -> Batch:
        cls = BATCH_TYPES[self.table]
        return cls({name: self.arrow.column(name).to_pylist() for name in cls.column_names()})

    def to_ipc(self) -> bytes:
        """Arrow IPC stream bytes (what crosses the process boundary)."""
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, self.arrow.schema) as writer:
            writer.write_table(self.arrow)
        return bytes(sink.getvalue().to_pybytes())

    @classmethod
    def empty(cls, table: str) -> ArrowBatch:
        return cls(table, ARROW_SCHEMAS[table].empty_table())

    @classmethod
    def from_ipc(cls, table: str, data: bytes) -> ArrowBatch:
        return cls(table, pa.ipc.open_stream(data).read_all())


BATCH_TYPES: dict[str, type[Batch]] = {
    b.table: b for b in (SpanBatch, LogBatch, MetricBatch, EventBatch, PredictionBatch)
}
