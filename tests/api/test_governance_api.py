"""Keys, scopes and projects through the in-process app: who may send, who may read what.

Every refusal is checked for its status, its message and that nothing was stored or shown.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from truecourse.api import create_app
from truecourse.config import parse_config
from truecourse.governance import audit, create_key, create_project
from truecourse.runtime import Runtime

from otlp_builders import log_request, span, trace_request

PB = {"content-type": "application/x-protobuf"}


@pytest.fixture
def rt(tmp_path: Path) -> Iterator[Runtime]:
    cfg = parse_config("auth:\n  key_cache_s: 0\nserver:\n  ingest_workers: 0\n")
    runtime = Runtime.build(cfg, db=str(tmp_path / "gov.duckdb"))
    yield runtime


@pytest.fixture
def client(rt: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(rt)) as c:
        yield c


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _keys(rt: Runtime) -> dict[str, str]:
    """An admin key, and ingest/read/operate keys of `default` and `acme`."""
    create_project(rt.store, "acme", actor="test")
    out = {"admin": create_key(rt.store, project="default", scope="admin", name="ops",
                               actor="test")[1]}
    for project in ("default", "acme"):
        for scope in ("ingest", "read", "operate"):
            out[f"{scope}:{project}"] = create_key(rt.store, project=project, scope=scope,
                                                   name=f"{scope}-{project}", actor="test")[1]
    rt.gate.invalidate()
    return out


def _send(client: TestClient, token: str, service: str) -> Any:
    body = trace_request([span("op"), span("chat")], service=service).SerializeToString()
    return client.post("/v1/traces", content=body, headers={**PB, **_bearer(token)})


def _services(client: TestClient, token: str, **params: str) -> set[str]:
    r = client.get("/api/v1/spans", params=params, headers=_bearer(token))
    assert r.status_code == 200, r.text
    return {s["service"] for s in r.json()["items"]}


def test_an_open_server_takes_everything_into_default(client: TestClient, rt: Runtime) -> None:
    body = trace_request([span("op")], service="open-app").SerializeToString()
    assert client.post("/v1/traces", content=body, headers=PB).status_code == 200
    assert {s["service"] for s in client.get("/api/v1/spans").json()["items"]} == {"open-app"}
    [row] = rt.store.select("SELECT project FROM spans").to_pylist()
    assert row["project"] == "default"
    # an open server still refuses a project that does not exist
    r = client.get("/api/v1/spans", params={"project": "nope"})
    assert r.status_code == 404
    assert "unknown project 'nope'" in r.json()["error"]["message"]
    assert "truecourse projects create nope" in r.json()["error"]["hint"]


def test_projects_are_isolated_and_scopes_enforced(client: TestClient, rt: Runtime) -> None:
    k = _keys(rt)
    assert _send(client, k["ingest:acme"], "acme-app").status_code == 200
    assert _send(client, k["ingest:default"], "default-app").status_code == 200
    stored = rt.store.select("SELECT service, project, count(*) AS n FROM spans "
                             "GROUP BY ALL ORDER BY service").to_pylist()
    assert stored == [{"service": "acme-app", "project": "acme", "n": 2},
                      {"service": "default-app", "project": "default", "n": 2}]

    assert _services(client, k["read:acme"]) == {"acme-app"}
    assert _services(client, k["read:default"]) == {"default-app"}
    assert _services(client, k["operate:acme"]) == {"acme-app"}  # operate reads too
    assert _services(client, k["admin"], project="acme") == {"acme-app"}
    assert _services(client, k["admin"]) == {"default-app"}

    # a key of one project cannot name another
    r = client.get("/api/v1/spans", params={"project": "default"},
                   headers=_bearer(k["read:acme"]))
    assert r.status_code == 403
    assert "belongs to project 'acme' and cannot reach project 'default'" in r.text
    r = client.get("/api/v1/spans", headers={**_bearer(k["read:acme"]),
                                             "X-TrueCourse-Project": "default"})
    assert r.status_code == 403

    # nor see another project's trace, service list or scorecard
    tid = rt.store.select("SELECT trace_id FROM spans WHERE project = 'default' "
                          "LIMIT 1").column(0)[0].as_py()
    assert client.get(f"/api/v1/traces/{tid}", headers=_bearer(k["read:acme"])).status_code \
        == 404
    assert client.get(f"/api/v1/traces/{tid}",
                      headers=_bearer(k["read:default"])).status_code == 200
    svcs = client.get("/api/v1/services", headers=_bearer(k["read:acme"])).json()["items"]
    assert [s["service"] for s in svcs] == ["acme-app"]
    card = client.get("/api/v1/scorecard", params={"group_by": "service",
                                                   "since": "2023-11-01T00:00:00Z",
                                                   "until": "2023-12-01T00:00:00Z"},
                      headers=_bearer(k["read:acme"])).json()
    assert [g["group"]["service"] for g in card["groups"]] == ["acme-app"]

    # an ingest key cannot read; a read key cannot write (OTLP, events)
    r = client.get("/api/v1/spans", headers=_bearer(k["ingest:acme"]))
    assert r.status_code == 403
    assert "scope 'ingest'; read needs scope 'read' or 'operate' or 'admin'" in r.text
    r = _send(client, k["read:acme"], "sneaky")
    assert r.status_code == 403  # an OTLP google.rpc.Status in the request's encoding
    assert r.headers["content-type"] == "application/x-protobuf"
    r = client.post("/api/v1/events", json={"kind": "deploy", "service": "x", "version": "1"},
                    headers=_bearer(k["read:default"]))
    assert r.status_code == 403 and "ingest needs scope 'ingest' or 'admin'" in r.text
    r = client.post("/api/v1/silences", json={"matchers": ["service=a"], "created_by": "me",
                                              "duration": "1h"},
                    headers=_bearer(k["read:default"]))
    assert r.status_code == 403 and "operate needs scope 'operate' or 'admin'" in r.text
    r = client.get("/api/v1/admin/keys", headers=_bearer(k["operate:default"]))
    assert r.status_code == 403 and "admin needs scope 'admin'" in r.text
    assert rt.store.select("SELECT count(*) FROM spans WHERE service = 'sneaky'").column(0)[
        0].as_py() == 0
    assert rt.store.select("SELECT count(*) FROM events").column(0)[0].as_py() == 0

    # events and logs are stamped with the key's project too
    r = client.post("/api/v1/events", json={"kind": "deploy", "service": "acme-app",
                                            "version": "2"},
                    headers=_bearer(k["ingest:acme"]))
    assert r.status_code == 200
    body = log_request(["hello"], service="acme-app").SerializeToString()
    assert client.post("/v1/logs", content=body,
                       headers={**PB, **_bearer(k["ingest:acme"])}).status_code == 200
    assert rt.store.select("SELECT DISTINCT project FROM events").column(0).to_pylist() \
        == ["acme"]
    assert rt.store.select("SELECT DISTINCT project FROM logs").column(0).to_pylist() \
        == ["acme"]
    r = client.get("/api/v1/events", headers=_bearer(k["read:default"]))
    assert r.json()["items"] == []
    assert len(client.get("/api/v1/logs", headers=_bearer(k["read:acme"])).json()["items"]) \
        == 1


@pytest.mark.parametrize("header", [
    None, "Bearer", "Bearer not-a-key", "Basic dXNlcjpwYXNz",
    "Bearer tc_000000000000_" + "A" * 43,  # well formed, unknown
])
def test_bad_keys_get_the_same_401(client: TestClient, rt: Runtime,
                                   header: str | None) -> None:
    _keys(rt)
    headers = {"Authorization": header} if header else {}
    r = client.get("/api/v1/spans", headers=headers)
    assert r.status_code == 401
    assert r.json()["error"]["message"] == "missing or invalid API key"
    assert r.headers["www-authenticate"].startswith("Bearer")
    body = trace_request([span("op")]).SerializeToString()
    r = client.post("/v1/traces", content=body, headers={**PB, **headers})
    assert r.status_code == 401 and r.headers["content-type"] == "application/x-protobuf"
    # health checks stay open for load balancers
    assert client.get("/healthz").status_code == 200


def test_a_wrong_secret_and_a_revoked_key_are_401(client: TestClient, rt: Runtime) -> None:
    k = _keys(rt)
    token = k["read:default"]
    wrong = token[:-1] + ("A" if token[-1] != "A" else "B")
    assert client.get("/api/v1/spans", headers=_bearer(wrong)).status_code == 401
    key_id = token.split("_")[1]
    r = client.post(f"/api/v1/admin/keys/{key_id}/revoke", headers=_bearer(k["admin"]))
    assert r.status_code == 200 and r.json()["active"] is False
    r = client.get("/api/v1/spans", headers=_bearer(token))
    assert r.status_code == 401 and r.json()["error"]["message"] == "missing or invalid API key"
    r = client.post(f"/api/v1/admin/keys/{key_id}/revoke", headers=_bearer(k["admin"]))
    assert r.status_code == 400 and "already revoked" in r.text
    r = client.post("/api/v1/admin/keys/ffffffffffff/revoke", headers=_bearer(k["admin"]))
    assert r.status_code == 404 and "no key with id 'ffffffffffff'" in r.text


def test_ingest_rate_limit_answers_429_with_retry_after(client: TestClient,
                                                        rt: Runtime) -> None:
    _keys(rt)
    _, token = create_key(rt.store, project="default", scope="ingest", name="slow",
                          actor="test", rate_per_s=0.5, burst=2)
    rt.gate.invalidate()
    codes = [_send(client, token, "limited").status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    r = _send(client, token, "limited")
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
    # exactly the accepted batches were stored; reads are not rate limited
    assert rt.store.select("SELECT count(*) FROM spans WHERE service = 'limited'").column(0)[
        0].as_py() == 4


def test_admin_api_keys_projects_and_audit(client: TestClient, rt: Runtime) -> None:
    k = _keys(rt)
    admin = _bearer(k["admin"])
    r = client.post("/api/v1/admin/keys", json={"project": "nope", "scope": "read",
                                                 "name": "x"}, headers=admin)
    assert r.status_code == 404 and "unknown project 'nope'" in r.text
    r = client.post("/api/v1/admin/keys", json={"project": "acme", "scope": "root",
                                                 "name": "x"}, headers=admin)
    assert r.status_code == 400 and "unknown scope 'root'" in r.text
    r = client.post("/api/v1/admin/keys", json={"project": "acme", "scope": "read",
                                                 "name": "x", "colour": "red"}, headers=admin)
    assert r.status_code == 400 and "colour" in r.text
    r = client.post("/api/v1/admin/projects", json={"name": "Bad Name"}, headers=admin)
    assert r.status_code == 400 and "not valid" in r.text
    r = client.post("/api/v1/admin/projects", json={"name": "acme"}, headers=admin)
    assert r.status_code == 400 and "already exists" in r.text
    r = client.post("/api/v1/admin/projects", json={"name": "beta"}, headers=admin)
    assert r.status_code == 201
    r = client.post("/api/v1/admin/keys", json={"project": "beta", "scope": "ingest",
                                                 "name": "beta-sender"}, headers=admin)
    assert r.status_code == 201
    token = r.json()["key"]
    assert token.startswith("tc_") and _send(client, token, "beta-app").status_code == 200
    listed = client.get("/api/v1/admin/keys", params={"project": "beta"},
                        headers=admin).json()["keys"]
    assert [(x["name"], x["scope"]) for x in listed] == [("beta-sender", "ingest")]
    assert all("secret" not in str(x) and token not in str(x) for x in listed)
    stored = rt.store.select("SELECT * FROM api_keys").to_pylist()
    assert all(token.split("_", 2)[2] not in str(row) for row in stored)  # only the hash

    r = client.post("/api/v1/silences", json={"matchers": ["service=a"], "created_by": "me",
                                              "duration": "1h"},
                    headers=_bearer(k["operate:default"]))
    assert r.status_code == 201
    actions = [e["action"] for e in client.get("/api/v1/admin/audit",
                                               headers=admin).json()["entries"]]
    assert actions[0] == "config.load"
    assert actions.count("key.create") == 8 and "project.create" in actions
    assert actions[-1] == "silence.create"
    verdict = client.get("/api/v1/admin/audit/verify", headers=admin).json()
    assert verdict["ok"] and verdict["checked"] == len(actions)
    lines = client.get("/api/v1/admin/audit/export", headers=admin).text.splitlines()
    assert len(lines) == len(actions)
    # tamper with one entry: verify names it
    rt.store.execute([("UPDATE audit_log SET details = '{}' WHERE seq = 3", [])])
    verdict = client.get("/api/v1/admin/audit/verify", headers=admin).json()
    assert not verdict["ok"] and verdict["bad_seq"] == 3 and "edited" in verdict["problem"]
    r = client.get("/api/v1/admin/audit/verify", params={"expect_head": "nonsense"},
                   headers=admin)
    assert r.status_code == 400 and "SEQ:HASH" in r.text


def test_the_browser_signs_in_with_a_key(client: TestClient, rt: Runtime) -> None:
    k = _keys(rt)
    r = client.get("/traces?since=1h", headers={"accept": "text/html"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login?next=%2Ftraces")
    assert "API key" in client.get("/login").text
    r = client.post("/login", data={"key": k["ingest:default"], "next": "/traces"},
                    follow_redirects=False)
    assert r.status_code == 403 and "read needs scope" in r.text
    r = client.post("/login", data={"key": "nonsense", "next": "/"}, follow_redirects=False)
    assert r.status_code == 401
    r = client.post("/login", data={"key": k["read:acme"], "next": "https://evil.example/"},
                    follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/"
    assert "httponly" in r.headers["set-cookie"].lower()
    assert "samesite=strict" in r.headers["set-cookie"].lower()
    page = client.get("/traces?since=1h")
    assert page.status_code == 200 and "project: acme" in page.text


def test_audit_chain_holds_across_many_appends(rt: Runtime) -> None:
    for i in range(30):
        audit.record(rt.store, "t", "test.append", target=str(i), details={"i": i})
    assert audit.verify(rt.store).ok
    # cutting the tail is only visible against a head kept elsewhere
    head = audit.verify(rt.store)
    rt.store.execute([("DELETE FROM audit_log WHERE seq = ?", [head.head_seq])])
    assert audit.verify(rt.store).ok
    cut = audit.verify(rt.store, expect_head=f"{head.head_seq}:{head.head_hash}")
    assert not cut.ok and "cut from the end" in (cut.problem or "")
    # removing one in the middle
    rt.store.execute([("DELETE FROM audit_log WHERE seq = 10", [])])
    bad = audit.verify(rt.store)
    assert not bad.ok and bad.bad_seq == 10 and "entry 10 is missing" in (bad.problem or "")
