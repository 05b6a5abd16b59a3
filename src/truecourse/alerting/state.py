"""Alert state and its persistence in the ``alerts``, ``silences`` and ``notification_log``
tables (migrations duckdb 0004 / postgresql 0003). Without a store the engine keeps state in
memory only; with one, every change is written through ``Store.execute`` and loaded back at
construction. Aggregation groups are rebuilt from the loaded firing alerts (their first
notification after a restart waits ``group_wait`` again)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import orjson

from truecourse.alerting.notify.dispatch import DeliveryRecord
from truecourse.alerting.silences import Silence, new_silence
from truecourse.model.alerts import Alert
from truecourse.store.base import Store

Statement = tuple[str, list[Any]]
_EPS = timedelta(microseconds=1)


@dataclass
class AlertState:
    """The engine's record of one alert instance (by fingerprint)."""

    alert: Alert
    last_seen: datetime
    received_at: datetime  #: when the current firing instance was first received
    acknowledged_by: str | None = None
    acknowledged_at: datetime | None = None
    suppressed_by: str | None = None

    @property
    def firing(self) -> bool:
        return not self.alert.resolved


_ALERT_COLS = ("fingerprint, labels, annotations, status, starts_at, ends_at, last_seen, "
               "received_at, source, value, evidence, acknowledged_by, acknowledged_at, "
               "suppressed_by")


def upsert_alert(s: AlertState) -> Statement:
    a = s.alert
    cols = _ALERT_COLS.split(", ")
    updates = ", ".join(f"{c} = excluded.{c}" for c in cols[1:])
    return (f"INSERT INTO alerts ({_ALERT_COLS}) VALUES ({', '.join('?' * len(cols))}) "
            f"ON CONFLICT (fingerprint) DO UPDATE SET {updates}",
            [a.fingerprint, orjson.dumps(dict(a.labels)).decode(),
             orjson.dumps(dict(a.annotations)).decode(), "resolved" if a.resolved else "firing",
             a.starts_at, a.ends_at, s.last_seen, s.received_at, a.source, a.value, a.evidence,
             s.acknowledged_by, s.acknowledged_at, s.suppressed_by])


def upsert_silence(s: Silence) -> Statement:
    return ("INSERT INTO silences (id, matchers, starts_at, ends_at, created_by, comment) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET matchers = "
            "excluded.matchers, starts_at = excluded.starts_at, ends_at = excluded.ends_at, "
            "created_by = excluded.created_by, comment = excluded.comment",
            [s.id, orjson.dumps(list(s.matchers)).decode(), s.starts_at, s.ends_at,
             s.created_by, s.comment])


def insert_delivery(r: DeliveryRecord) -> Statement:
    return ("INSERT INTO notification_log (time, receiver, integration, group_key, "
            "notification_status, status, attempts, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [r.time, r.receiver, r.integration, r.group_key, r.notification_status, r.status,
             r.attempts, r.error])


def load_alerts(store: Store) -> list[AlertState]:
    rows = store.select(f"SELECT {_ALERT_COLS} FROM alerts").to_pylist()
    return [AlertState(
        Alert(labels=orjson.loads(r["labels"]), starts_at=r["starts_at"], ends_at=r["ends_at"],
              annotations=orjson.loads(r["annotations"] or "{}"), source=r["source"],
              value=r["value"], evidence=r["evidence"]),
        last_seen=r["last_seen"], received_at=r["received_at"],
        acknowledged_by=r["acknowledged_by"], acknowledged_at=r["acknowledged_at"],
        suppressed_by=r["suppressed_by"]) for r in rows]


def load_silences(store: Store) -> list[Silence]:
    rows = store.select("SELECT id, matchers, starts_at, ends_at, created_by, comment "
                        "FROM silences").to_pylist()
    return [new_silence(orjson.loads(r["matchers"]), r["starts_at"], r["ends_at"],
                        r["created_by"], r["comment"] or "", id=r["id"])
            if r["ends_at"] > r["starts_at"] else _expired_at_start(r) for r in rows]


def _expired_at_start(r: dict[str, Any]) -> Silence:
    # a pending silence expired before it started has ends_at == starts_at: keep it as is
    s = new_silence(orjson.loads(r["matchers"]), r["starts_at"], r["starts_at"] + _EPS,
                    r["created_by"], r["comment"] or "", id=r["id"])
    return replace(s, ends_at=r["ends_at"])


def load_deliveries(store: Store, limit: int = 1000) -> list[DeliveryRecord]:
    rows = store.select("SELECT time, receiver, integration, group_key, status, attempts, "
                        "error, notification_status FROM notification_log ORDER BY time DESC "
                        f"LIMIT {int(limit)}").to_pylist()
    return [DeliveryRecord(**r) for r in reversed(rows)]


def write(store: Store | None, statements: Iterable[Statement]) -> None:
    batch = list(statements)
    if store is not None and batch:
        store.execute(batch)

