"""Reference and current data as typed columns: numeric (float64, NaN for null) or categorical.

Files (Parquet or CSV) and store windows both arrive as an Arrow table; :func:`frame_from_arrow`
types each column once, vectorized (no per-row Python). A column of a type drift cannot judge
(timestamps, lists, structs) is kept out and reported, never silently dropped.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from truecourse.errors import InvalidInput

ColumnKind = Literal["numeric", "categorical"]
FORMATS = ("parquet", "csv")

_PARQUET_MAGIC = b"PAR1"


@dataclass
class DriftColumn:
    """One column's values: ``numeric`` as float64 (NaN = null), ``categorical`` as an Arrow
    string array or a dictionary array of strings (null = null)."""

    name: str
    kind: ColumnKind
    numeric: np.ndarray | None = None
    categorical: pa.Array | None = None
    #: rows including nulls
    rows: int = 0

    def non_null(self) -> int:
        if self.numeric is not None:
            return int(np.count_nonzero(~np.isnan(self.numeric)))
        assert self.categorical is not None
        return len(self.categorical) - self.categorical.null_count


@dataclass
class DriftFrame:
    """Typed columns of one side (reference or current) and what could not be typed."""

    columns: dict[str, DriftColumn] = field(default_factory=dict)
    rows: int = 0
    #: column -> why it is not judged (e.g. a timestamp column)
    unsupported: dict[str, str] = field(default_factory=dict)
    #: a label for reports: the file path or the window
    source: str = ""


def detect_format(data: bytes, name: str | None = None) -> str:
    """``parquet`` or ``csv`` from the content (magic bytes), else from the file name."""
    if data[:4] == _PARQUET_MAGIC:
        return "parquet"
    if name and name.lower().endswith((".parquet", ".pq")):
        return "parquet"
    return "csv"


def read_table(data: bytes, *, name: str = "baseline", fmt: str | None = None) -> pa.Table:
    """Parse a Parquet or CSV baseline into an Arrow table.

    Raises ``InvalidInput`` naming the file when it is empty, not Parquet/CSV, or has no rows.
    """
    if not data or not data.strip():
        raise InvalidInput(f"{name} is empty", hint="upload a Parquet or CSV file with a header "
                                                    "row and at least one data row")
    fmt = fmt or detect_format(data, name)
    if fmt not in FORMATS:
        raise InvalidInput(f"{name}: format {fmt!r} is not supported",
                           hint="use parquet or csv")
    try:
        if fmt == "parquet":
            import pyarrow.parquet as pq

            table = pq.read_table(io.BytesIO(data))
        else:
            if b"\x00" in data[:4096]:
                raise InvalidInput(f"{name} is neither Parquet nor CSV (binary content)",
                                   hint="export the baseline as Parquet or CSV")
            from pyarrow import csv

            table = csv.read_csv(io.BytesIO(data))
    except InvalidInput:
        raise
    except (pa.ArrowInvalid, pa.ArrowTypeError, OSError, UnicodeDecodeError) as exc:
        kind = "Parquet" if fmt == "parquet" else "CSV"
        raise InvalidInput(f"{name} could not be read as {kind}: {exc}",
                           hint="upload a Parquet file or a CSV with a header row") from exc
    if table.num_rows == 0:
        raise InvalidInput(f"{name} has columns {table.column_names[:10]} but no rows",
                           hint="a baseline needs data rows")
    return table


def read_path(path: str | Path) -> pa.Table:
    """:func:`read_table` on a file; ``InvalidInput`` when it does not exist."""
    p = Path(path)
    if not p.is_file():
        raise InvalidInput(f"{p} does not exist or is not a file",
                           hint="pass a Parquet or CSV file, or a window like 7d..1d")
    return read_table(p.read_bytes(), name=str(p))


def _as_kind(arr: pa.ChunkedArray) -> ColumnKind | None:
    t = arr.type
    if pa.types.is_dictionary(t):
        t = t.value_type
    if pa.types.is_boolean(t) or pa.types.is_string(t) or pa.types.is_large_string(t):
        return "categorical"
    if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t):
        return "numeric"
    if pa.types.is_null(t):
        return "numeric"  # all null: judged as missing data, not drift
    return None


def column_from_arrow(name: str, arr: pa.ChunkedArray | pa.Array,
                      kind: ColumnKind | None = None) -> DriftColumn | None:
    """Type one Arrow column (``kind`` forces it); None when drift cannot judge its type."""
    chunked = arr if isinstance(arr, pa.ChunkedArray) else pa.chunked_array([arr])
    kind = kind or _as_kind(chunked)
    if kind is None:
        return None
    if kind == "numeric":
        if pa.types.is_null(chunked.type):
            values = np.full(len(chunked), np.nan)
        else:
            values = (pc.cast(chunked, pa.float64()).to_numpy(zero_copy_only=False)
                      .astype(np.float64, copy=False))
        return DriftColumn(name, "numeric", numeric=values, rows=len(chunked))
    if pa.types.is_dictionary(chunked.type) and pa.types.is_string(chunked.type.value_type):
        # keep the codes: counting categories then needs no string hashing at all
        dictionary = chunked.unify_dictionaries().combine_chunks()
        return DriftColumn(name, "categorical", categorical=dictionary, rows=len(chunked))
    if pa.types.is_dictionary(chunked.type):
        chunked = pc.cast(chunked, chunked.type.value_type)
    strings = pc.cast(chunked, pa.string()).combine_chunks()
    return DriftColumn(name, "categorical", categorical=strings, rows=len(chunked))


def frame_from_arrow(table: pa.Table, source: str = "",
                     kinds: dict[str, ColumnKind] | None = None) -> DriftFrame:
    """Type every column of ``table``; ``kinds`` overrides the inferred kind per column."""
    frame = DriftFrame(rows=table.num_rows, source=source)
    for name in table.column_names:
        col = column_from_arrow(name, table.column(name), (kinds or {}).get(name))
        if col is None:
            frame.unsupported[name] = f"type {table.column(name).type} is not numeric or " \
                                      "categorical"
        else:
            frame.columns[name] = col
    return frame


def numeric_from_strings(values: pa.Array) -> np.ndarray | None:
    """Float64 values when every non-null string parses as a number, else None (vectorized)."""
    try:
        return (pc.cast(values, pa.float64()).to_numpy(zero_copy_only=False)
                .astype(np.float64, copy=False))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
