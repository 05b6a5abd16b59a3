"""Deploy windows and recent changes, from real events in the store (both backends)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson

from truecourse.context import DeployWindows, recent_changes
from truecourse.ingest.events import events_from_json
from truecourse.store import Store

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def _events(store: Store, *events: dict[str, object]) -> None:
    result = events_from_json(orjson.dumps(list(events)))
    assert not result.rejected, result.rejected
    store.write([result.batch])


def test_deploy_window_covers_the_deploys_service_for_the_window(store: Store) -> None:
    _events(store,
            {"kind": "deploy", "service": "checkout", "version": "2.0", "time": T0.isoformat()},
            {"kind": "config_change", "service": "search", "key": "model", "new_value": "x",
             "time": T0.isoformat()})
    windows = DeployWindows(store, timedelta(minutes=15))
    assert windows("checkout", T0 + timedelta(minutes=5))
    assert not windows("checkout", T0 - timedelta(seconds=1))
    assert not windows("checkout", T0 + timedelta(minutes=15))
    assert not windows("search", T0 + timedelta(minutes=5))  # a config change is no deploy
    changes = recent_changes(store, T0 - timedelta(hours=1), T0 + timedelta(hours=1))
    assert {c["kind"] for c in changes} == {"deploy", "config_change"}
    only = recent_changes(store, T0 - timedelta(hours=1), T0 + timedelta(hours=1), "checkout")
    assert [c["version"] for c in only] == ["2.0"]
