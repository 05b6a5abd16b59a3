"""The engine on injected event time: grouping timings, muting, resolve_timeout, stats,
persistence."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from truecourse.alerting import AlertEngine
from truecourse.config.alerting import AlertingConfig
from truecourse.config.schema import CatalogConfig
from truecourse.errors import InvalidInput, NotFound
from truecourse.model.alerts import Alert
from truecourse.store.duckdb import DuckDBStore

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
CATALOG = CatalogConfig.model_validate({"services": {
    "checkout": {"owner": "alice@example.com", "team": "payments", "oncall": "payments-hook"},
    "search": {"owner": "bob@example.com", "team": "search", "oncall": "nowhere"}}})


def at(s: float) -> datetime:
    return T0 + timedelta(seconds=s)


def alert(name: str = "LatencyHigh", service: str = "checkout", **labels: str) -> Alert:
    return Alert(labels={"alertname": name, "service": service, **labels}, starts_at=T0,
                 evidence="/api/v1/scorecard?service=" + service)


def engine(**cfg: Any) -> AlertEngine:
    base: dict[str, Any] = {"receivers": [{"name": "payments-hook",
                                           "webhook": {"url": "http://127.0.0.1:9/x"}}]}
    return AlertEngine(AlertingConfig.model_validate({**base, **cfg}), CATALOG)


def test_group_wait_interval_and_repeat_known_answers() -> None:
    e = engine(resolve_timeout_s=10**6)
    e.receive([alert()], at(0))
    assert e.flush(at(29)) == []
    [n] = e.flush(at(30))  # group_wait 30 s
    assert (n.status, n.receiver, len(n.alerts)) == ("firing", "payments-hook", 1)
    assert n.owner["owner"] == "alice@example.com"
    e.receive([alert(instance="b")], at(60))  # joins the group: waits for the next tick
    assert e.flush(at(100)) == []
    [n] = e.flush(at(330))  # 30 + 300
    assert len(n.alerts) == 2
    assert e.flush(at(630)) == []  # unchanged: no update
    assert e.flush(at(14_700)) == []  # 14 400 s after 330 is 14 730, on the tick grid
    [n] = e.flush(at(14_730))
    assert len(n.alerts) == 2
    e.receive([alert(instance="b").resolve(at(14_800))], at(14_800))
    [n] = e.flush(at(15_030))  # a notified alert resolved: notified once
    assert n.status == "firing" and [a.labels.get("instance") for a in n.resolved] == ["b"]
    e.receive([alert().resolve(at(15_100))], at(15_100))
    [n] = e.flush(at(15_330))
    assert n.status == "resolved" and len(n.alerts) == 1
    assert e.flush(at(20_000)) == [] and e.stats()["groups"] == 0


def test_dedupe_by_fingerprint_and_groups_by_labels() -> None:
    e = engine()
    e.receive([alert(), alert(), alert("ErrorsHigh"), alert(service="search")], at(0))
    e.receive([alert()], at(5))
    ns = e.flush(at(30))
    assert sorted(n.group_labels["alertname"] + "/" + n.group_labels["service"] for n in ns) \
        == ["ErrorsHigh/checkout", "LatencyHigh/checkout", "LatencyHigh/search"]
    assert len(e.alerts()) == 3
    stats = e.stats()
    assert (stats["raw_signals"], stats["notifications"]) == (5, 3)
    assert stats["noise_reduction"] == pytest.approx(1 - 3 / 5)


def test_owner_without_oncall_receiver_is_recorded_undeliverable() -> None:
    e = engine()
    e.receive([alert(service="search"), alert(service="unknown")], at(0))
    assert len(e.flush(at(30))) == 2
    log = {r.group_key.split("service=")[1]: r for r in e.deliveries()}
    assert log['"search"}'].status == "undeliverable"
    assert "'nowhere'" in (log['"search"}'].error or "")
    assert "not in the catalog" in (log['"unknown"}'].error or "")


def test_resolve_timeout() -> None:
    e = engine(resolve_timeout_s=300)
    e.receive([alert()], at(0))
    e.receive([alert()], at(200))
    assert e.flush(at(30))[0].status == "firing"
    e.flush(at(330))
    [row] = e.alerts(at(400))
    assert row["status"] == "firing"
    assert e.flush(at(630)) != []  # 200 + 300 < 630: resolved at 500
    [row] = e.alerts()
    assert row["status"] == "resolved" and row["ends_at"] == at(500).isoformat()


def test_inhibition_holds_back_latency_of_a_down_service() -> None:
    e = engine(inhibit_rules=[{"source_matchers": ["alertname=ServiceDown"],
                               "target_matchers": ["alertname=~Latency.*"],
                               "equal": ["service"]}], route={"group_by": ["service"]})
    e.receive([alert("ServiceDown"), alert("LatencyHigh"), alert("LatencyHigh", "search")],
              at(0))
    ns = {n.group_labels["service"]: n for n in e.flush(at(30))}
    assert [a.name for a in ns["checkout"].alerts] == ["ServiceDown"]
    assert [a.name for a in ns["search"].alerts] == ["LatencyHigh"]
    rows = {(r["labels"]["alertname"], r["labels"]["service"]): r for r in e.alerts()}
    down = rows[("ServiceDown", "checkout")]["fingerprint"]
    assert rows[("LatencyHigh", "checkout")]["inhibited_by"] == [down]
    assert e.stats()["suppressed_by_inhibition"] == 1


def test_silence_suppresses_and_expiry_restores() -> None:
    e = engine(resolve_timeout_s=10**6)
    s = e.add_silence(["service=checkout"], at(0), at(3600), "carol", "maintenance")
    e.receive([alert()], at(0))
    assert e.flush(at(30)) == []
    [row] = e.alerts()
    assert row["silenced_by"] == [s.id] and row["status"] == "firing"  # still recorded
    assert e.silences(at(10), status="active") == [s]
    e.expire_silence(s.id, at(100))
    assert e.get_silence(s.id).status(at(100)) == "expired"
    [n] = e.flush(at(330))
    assert n.status == "firing"
    assert e.stats()["suppressed_by_silence"] == 1
    with pytest.raises(NotFound):
        e.expire_silence("nope", at(1))


@pytest.mark.parametrize(("matchers", "start", "end", "message"), [
    ([], 0, 10, "at least one matcher"),
    (["service=x"], 10, 10, r"ends_at \(.*\) must be after starts_at"),
    (["service=x"], 10, 5, "must be after"),
    (["service"], 0, 10, r"matchers\[0\]: bad matcher"),
])
def test_invalid_silences(matchers: list[str], start: int, end: int, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        engine().add_silence(matchers, at(start), at(end), "carol")


def test_deploy_window_suppresses_notification_but_records() -> None:
    e = engine(resolve_timeout_s=10**6)
    deploying = {"checkout"}
    e.set_deploy_window_source(lambda service, now: service in deploying)
    asks = Alert(labels={"alertname": "LatencyHigh", "service": "checkout"}, starts_at=T0,
                 annotations={"notify_during_deploys": "false"})
    plain = alert("ErrorsHigh")
    e.receive([asks, plain], at(0))
    ns = e.flush(at(30))
    assert [n.group_labels["alertname"] for n in ns] == ["ErrorsHigh"]  # did not ask
    row = next(r for r in e.alerts() if r["labels"]["alertname"] == "LatencyHigh")
    assert row["suppressed_by"] == "deploy" and row["status"] == "firing"
    assert e.stats()["suppressed_by_deploy"] == 1
    deploying.clear()
    assert [n.group_labels["alertname"] for n in e.flush(at(330))] == ["LatencyHigh"]


def test_mttd_and_acknowledge() -> None:
    e = engine()
    e.receive([alert()], at(100))
    e.receive([alert("ErrorsHigh")], at(400))
    assert e.mttd(at(50)) == timedelta(seconds=50)
    assert e.mttd(at(200)) == timedelta(seconds=200)
    assert e.mttd(at(500)) is None
    fp = alert().fingerprint
    e.acknowledge(fp, "dave")
    assert next(r for r in e.alerts() if r["fingerprint"] == fp)["acknowledged_by"] == "dave"
    with pytest.raises(NotFound):
        e.acknowledge("0" * 16, "dave")


@pytest.fixture
def duck(tmp_path: Path) -> Iterator[DuckDBStore]:
    store = DuckDBStore(tmp_path / "a.duckdb")
    store.migrate()
    yield store
    store.close()


def _round_trip(store: Any) -> None:
    cfg = AlertingConfig.model_validate({"receivers": [
        {"name": "payments-hook", "webhook": {"url": "http://127.0.0.1:9/x"}}]})
    e = AlertEngine(cfg, CATALOG, store=store)
    s = e.add_silence(["service=search"], at(0), at(600), "carol", "why")
    e.receive([alert(), alert(service="search", severity="page")], at(0))
    e.acknowledge(alert().fingerprint, "dave", at(5))
    e.flush(at(30))  # search: undeliverable (oncall 'nowhere') goes to the log
    e2 = AlertEngine(cfg, CATALOG, store=store)
    assert sorted(map(str, e2.alerts(at(40))), key=len) == sorted(map(str, e.alerts(at(40))),
                                                                 key=len)
    assert e2.get_silence(s.id) == s
    assert [r.status for r in e2.deliveries()] == [r.status for r in e.deliveries()]
    [n] = e2.flush(at(70))  # the rebuilt group waits group_wait again from last_seen
    assert n.group_labels["service"] == "checkout"


def test_persistence_round_trip_duckdb(duck: DuckDBStore) -> None:
    _round_trip(duck)


def test_persistence_round_trip_postgres() -> None:
    from truecourse.store.postgres import PostgresStore

    from pg_support import pg_database

    with pg_database() as url:
        store = PostgresStore(url)
        try:
            store.migrate()
            _round_trip(store)
        finally:
            store.close()


def test_groups_show_firing_alerts_as_notification_groups_them() -> None:
    e = engine(resolve_timeout_s=10**6)
    e.receive([alert(), alert(instance="b"), alert("ErrorsHigh"), alert(service="search")],
              at(0))
    e.receive([alert(service="search").resolve(at(10))], at(10))
    groups = e.groups(at(20))
    assert [(g["labels"]["alertname"], g["labels"]["service"], len(g["alerts"]))
            for g in groups] == [("LatencyHigh", "checkout", 2), ("ErrorsHigh", "checkout", 1)]
    top = groups[0]
    assert top["receiver"] == "payments-hook" and top["owner"]["team"] == "payments"
    assert top["last_notified_at"] is None
    assert {a["labels"].get("instance") for a in top["alerts"]} == {None, "b"}
    e.flush(at(30))
    assert e.groups(at(31))[0]["last_notified_at"] == at(30).isoformat()
