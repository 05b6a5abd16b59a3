"""The predictions parser: any JSON body is either refused as a whole with InvalidInput or
split into accepted and rejected items, never an unexpected exception."""

from __future__ import annotations

import json

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from truecourse.drift.predictions import predictions_from_json
from truecourse.errors import InvalidInput

_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner,
                                                                 max_size=4),
    max_leaves=12)
_item = st.fixed_dictionaries({}, optional={
    "model": st.text(max_size=5) | st.integers(0, 10), "id": st.text(max_size=5),
    "score": st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=3),
    "features": st.dictionaries(st.text(max_size=4), _json, max_size=3),
    "prediction": _json, "time": st.text(max_size=10)})


@settings(max_examples=150, deadline=None)
@given(st.lists(_item | _json, max_size=6))
def test_every_item_is_accepted_or_rejected(items: list[object]) -> None:
    result = predictions_from_json(orjson.dumps(items))
    assert len(result.ids) + len(result.rejected) == len(items)
    assert len(result.batch) == len(result.ids)
    assert all(0 <= r["index"] < len(items) and r["error"] for r in result.rejected)


@settings(max_examples=100, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
                    lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner),
                    max_leaves=10))
def test_any_json_body_is_handled(doc: object) -> None:
    try:
        result = predictions_from_json(json.dumps(doc).encode())
    except InvalidInput as exc:
        assert exc.message
    else:
        assert len(result.ids) + len(result.rejected) >= 0
