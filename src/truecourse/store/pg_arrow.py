"""Arrow to and from PostgreSQL: binary COPY data from Arrow tables, Arrow tables from results.

Writes are ``COPY ... FROM STDIN (FORMAT binary)``, built column at a time with Arrow compute
and numpy: every column becomes a (length prefix, value bytes) pair of arrays, and one
element-wise join lays the fields out row after row. No Python object is made per row or per
value. Measured on a 20k-span batch this is faster than CSV (PostgreSQL parses no text for
numbers and timestamps, and strings need no quoting).

Supported Arrow types are the canonical ones (``truecourse.model.columns``): string, int32,
int64, float64, bool, timestamp[us, UTC] and lists of int64 or float64.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["COPY_HEADER", "COPY_TRAILER", "arrow_table", "copy_chunks"]

#: ``PGCOPY\n\377\r\n\0``, flags 0, no header extension.
COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)
COPY_TRAILER = b"\xff\xff"

_PG_EPOCH_US = 946_684_800_000_000  # 2000-01-01 in Unix microseconds
_NULL = -1
_EMPTY = pa.scalar(b"", pa.large_binary())
_INT8_OID, _FLOAT8_OID = 20, 701


def _binary(offsets: np.ndarray, data: Any) -> pa.Array:
    """A large_binary array over ``data`` cut at ``offsets`` (n + 1 of them), without copying."""
    return pa.LargeBinaryArray.from_buffers(
        pa.large_binary(), len(offsets) - 1,
        [None, pa.py_buffer(np.ascontiguousarray(offsets, dtype=np.int64)), pa.py_buffer(data)])


def _prefixes(lengths: np.ndarray) -> pa.Array:
    """Each field's 4-byte big-endian length (-1 for NULL) as a binary array."""
    n = len(lengths)
    return _binary(np.arange(0, 4 * (n + 1), 4), lengths.astype(">i4").tobytes())


def _fixed(values: np.ndarray, valid: np.ndarray | None) -> tuple[pa.Array, pa.Array]:
    """Fixed-width big-endian ``values``; rows not ``valid`` are NULL."""
    n, width = len(values), values.dtype.itemsize
    if valid is None:
        offsets = np.arange(0, width * (n + 1), width)
        return _prefixes(np.full(n, width)), _binary(offsets, values.tobytes())
    offsets = np.zeros(n + 1, np.int64)
    np.cumsum(np.where(valid, width, 0), out=offsets[1:])
    return (_prefixes(np.where(valid, width, _NULL)),
            _binary(offsets, np.ascontiguousarray(values[valid]).tobytes()))


def _list(arr: pa.ListArray, valid: np.ndarray | None) -> tuple[pa.Array, ...]:
    """A one-dimensional PostgreSQL array per row (bigint[] or double precision[])."""
    n = len(arr)
    is_int = pa.types.is_integer(arr.type.value_type)
    oid, dtype = (_INT8_OID, ">i8") if is_int else (_FLOAT8_OID, ">f8")
    offsets = np.asarray(arr.offsets, dtype=np.int64)
    values = arr.values.slice(int(offsets[0]), int(offsets[-1] - offsets[0]))
    offsets = offsets - offsets[0]
    vvalid = None if values.null_count == 0 else np.asarray(values.is_valid())
    raw = values.fill_null(0).to_numpy(zero_copy_only=False).astype(dtype)
    vprefix, vdata = _fixed(raw, vvalid)
    elements = pc.binary_join_element_wise(vprefix, vdata, _EMPTY)
    joined = pc.binary_join(pa.LargeListArray.from_arrays(pa.array(offsets), elements), _EMPTY)
    counts = np.diff(offsets)
    elem_bytes = np.asarray(pc.binary_length(joined), dtype=np.int64)
    # header: ndim, flags (0: PostgreSQL derives has-nulls itself), element oid, then for one
    # dimension its length and lower bound 1; an empty array is ndim 0 without the dimension
    header = np.zeros((n, 5), ">i4")
    header[:, 0] = counts > 0
    header[:, 2] = oid
    header[:, 3] = counts
    header[:, 4] = 1
    keep = np.ones((n, 20), bool)
    keep[counts == 0, 12:] = False
    hlen = np.where(counts > 0, 20, 12)
    if valid is not None:
        keep[~valid] = False
        hlen = np.where(valid, hlen, 0)
    hoffsets = np.zeros(n + 1, np.int64)
    np.cumsum(hlen, out=hoffsets[1:])
    hdata = header.view(np.uint8).reshape(n, 20)[keep].tobytes()
    lengths = hlen + elem_bytes
    if valid is not None:
        lengths = np.where(valid, lengths, _NULL)
    return _prefixes(lengths), _binary(hoffsets, hdata), joined


def _column(arr: pa.Array) -> tuple[pa.Array, ...]:
    """The binary COPY fields of one column: a length-prefix array and the value arrays."""
    valid = None if arr.null_count == 0 else np.asarray(arr.is_valid())
    t = arr.type
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        lengths = pc.binary_length(arr).fill_null(_NULL).to_numpy()
        return _prefixes(lengths), arr.cast(pa.large_binary())
    if pa.types.is_timestamp(t):
        us = arr.cast(pa.timestamp("us", tz=t.tz)).cast(pa.int64()).fill_null(0).to_numpy()
        return _fixed((us - _PG_EPOCH_US).astype(">i8"), valid)
    if pa.types.is_int64(t):
        return _fixed(arr.fill_null(0).to_numpy().astype(">i8"), valid)
    if pa.types.is_int32(t):
        return _fixed(arr.fill_null(0).to_numpy().astype(">i4"), valid)
    if pa.types.is_float64(t):
        return _fixed(arr.fill_null(0).to_numpy().astype(">f8"), valid)
    if pa.types.is_boolean(t):
        flags = arr.fill_null(False).to_numpy(zero_copy_only=False).astype(np.uint8)
        return _fixed(flags, valid)
    if pa.types.is_list(t) and (pa.types.is_int64(t.value_type)
                                or pa.types.is_float64(t.value_type)):
        return _list(arr, valid)
    raise TypeError(f"no binary COPY encoding for Arrow type {t}")


def _rows(table: pa.Table) -> pa.Buffer:
    """The binary COPY tuples of ``table`` (no file header or trailer)."""
    n = table.num_rows
    count = table.num_columns.to_bytes(2, "big")
    parts: list[pa.Array] = [_binary(np.arange(0, 2 * (n + 1), 2), count * n)]
    for col in table.columns:
        parts.extend(_column(col.combine_chunks() if col.num_chunks != 1 else col.chunk(0)))
    rows = pc.binary_join_element_wise(*parts, _EMPTY, null_handling="skip")
    _, offsets_buf, data = rows.buffers()
    offsets = np.frombuffer(offsets_buf, np.int64, n + 1, rows.offset * 8)
    return data.slice(int(offsets[0]), int(offsets[-1] - offsets[0]))


def copy_chunks(table: pa.Table, rows_per_chunk: int = 8192) -> Iterator[pa.Buffer]:
    """``table`` as binary COPY data: the header, tuples ``rows_per_chunk`` at a time, the
    trailer. Raises TypeError for a column type without an encoding."""
    yield pa.py_buffer(COPY_HEADER)
    for start in range(0, table.num_rows, rows_per_chunk):
        yield _rows(table.slice(start, rows_per_chunk))
    yield pa.py_buffer(COPY_TRAILER)


# -- results ---------------------------------------------------------------------------------

_SCALARS: dict[int, pa.DataType] = {
    16: pa.bool_(), 20: pa.int64(), 21: pa.int16(), 23: pa.int32(), 26: pa.int64(),
    700: pa.float32(), 701: pa.float64(), 25: pa.string(), 1043: pa.string(),
    1042: pa.string(), 18: pa.string(), 19: pa.string(), 114: pa.string(), 3802: pa.string(),
    2950: pa.string(), 17: pa.binary(), 1082: pa.date32(), 1083: pa.time64("us"),
    1114: pa.timestamp("us"), 1184: pa.timestamp("us", tz="UTC"), 1186: pa.duration("us"),
}
_ARRAYS: dict[int, int] = {1000: 16, 1005: 21, 1007: 23, 1016: 20, 1021: 700, 1022: 701,
                           1009: 25, 1015: 1043, 1115: 1114, 1185: 1184, 1231: 1700}
_NUMERIC = 1700


def _numeric(values: Sequence[Any]) -> pa.Array:
    """NUMERIC (``sum`` of integers, ``avg``): int64 when every value came without a fraction
    (the connection's loader makes those ints), else float64.

    PostgreSQL writes ``sum(bigint)`` without a fraction and ``avg`` with one, except for an
    average so large that its scale is 0: that column comes back int64.
    """
    if all(v is None or isinstance(v, int) for v in values):
        try:
            return pa.array(values, pa.int64())
        except OverflowError:
            pass
    return pa.array([None if v is None else float(v) for v in values], pa.float64())


def _array(type_oid: int, values: Sequence[Any]) -> pa.Array:
    if type_oid == _NUMERIC:
        return _numeric(values)
    if type_oid in _SCALARS:
        return pa.array(values, _SCALARS[type_oid])
    elem = _ARRAYS.get(type_oid)
    if elem == _NUMERIC:
        return pa.array([None if v is None else [None if x is None else float(x) for x in v]
                         for v in values], pa.list_(pa.float64()))
    if elem is not None:
        return pa.array(values, pa.list_(_SCALARS[elem]))
    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pa.array([None if v is None else str(v) for v in values], pa.string())


def arrow_table(names: Sequence[str], type_oids: Sequence[int],
                rows: Sequence[Sequence[Any]]) -> pa.Table:
    """A query result as an Arrow table typed by the columns' PostgreSQL types.

    Timestamps with time zone become timestamp[us, UTC], NUMERIC int64 or float64 (see
    :func:`_numeric`), JSON strings, arrays lists; an unknown type is inferred by Arrow (or
    given as text). Expects the loaders of :mod:`truecourse.store.pg_connect` (NUMERIC as
    int/float, JSON as text).
    """
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in names]
    arrays = [_array(oid, col) for oid, col in zip(type_oids, columns, strict=True)]
    return pa.Table.from_arrays(arrays, names=list(names))
