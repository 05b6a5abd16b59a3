"""Web UI benchmark: the server time of every page over a DuckDB store of 1 million spans.

    python bench/web.py --spans 1000000 --repeat 5

Fills a fresh DuckDB file (or reuses ``--db``) with the scorecard benchmark's synthetic fleet
(:func:`bench.scorecard.fill`: traces of an entry span, a chat call and a tool or retrieval call
from 12 services and 8 models over 7 days, written in one bulk ``INSERT ... SELECT`` in time
order as ingest appends them), gives it a catalog and four availability SLOs, and puts 24
firing alerts in the alerting engine. Then it asks the in-process ASGI app for each page (one
warm-up, median of ``--repeat``) over the last 24 hours and, for the Overview, the whole 7 days.

Server time is the whole request in the app: the domain calls, the template and the response,
without a socket. In the same run it times each page's reference: the REST call that returns
the page's main data (e.g. ``/api/v1/scorecard?group_by=service`` for the Overview), so
``ratio`` says what the page costs beyond the data it shows.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

# measure the checkout this file is in, whatever the installed truecourse points at
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from starlette.testclient import TestClient

from bench.scorecard import END, SERVICES, fill
from truecourse.api import create_app
from truecourse.config import parse_config
from truecourse.model.alerts import Alert
from truecourse.runtime import Runtime

TARGET_MS = 300.0


def _iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def config_yaml() -> str:
    lines = ["catalog:", "  services:"]
    for i, s in enumerate(SERVICES):
        deps = [SERVICES[(i + 1) % len(SERVICES)]] if i % 3 == 0 else []
        lines.append(f"    {s}: {{owner: {s}@example.com, team: team-{i % 4}, tier: {i % 3 + 1},"
                     f" oncall: team-{i % 4}-pager, dependencies: {deps}}}")
    lines += ["detect:", "  slos:"]
    for s in SERVICES[:4]:
        lines += [f"    - name: {s}-availability", f"      service: {s}",
                  "      objective: 0.99", "      window: 7d",
                  "      good: [{field: status_code, op: '!=', value: error}]"]
    return "\n".join(lines) + "\n"


def seed_alerts(rt: Runtime) -> None:
    alerts = [Alert(labels={"alertname": name, "service": s, "severity": "page"},
                    starts_at=END - timedelta(minutes=30 + i),
                    annotations={"summary": f"{name} on {s}"})
              for i, s in enumerate(SERVICES)
              for name in ("HighErrorRate", "LatencyP95Anomaly")]
    rt.alerts.receive(alerts, END - timedelta(minutes=5))
    rt.alerts.flush(END)


def timed(client: TestClient, url: str, repeat: int) -> list[float]:
    r = client.get(url)
    assert r.status_code == 200, f"{url}: {r.status_code} {r.text[:300]}"
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        r = client.get(url)
        out.append((time.perf_counter() - t0) * 1000)
        assert r.status_code == 200
    return out


def pages(client: TestClient) -> list[tuple[str, str, str]]:
    """(name, page URL, reference API URL) over the last 24 hours (and 7 days)."""
    day = f"since={_iso(END - timedelta(days=1))}&until={_iso(END)}"
    week = f"since={_iso(END - timedelta(days=7))}&until={_iso(END)}"
    spans = client.get(f"/api/v1/spans?{day}&operation=chat&limit=1").json()["items"]
    tid = spans[0]["trace_id"]
    svc = SERVICES[0]
    return [
        ("overview 24h", f"/?{day}", f"/api/v1/scorecard?{day}&group_by=service"),
        ("overview 7d", f"/?{week}", f"/api/v1/scorecard?{week}&group_by=service"),
        ("on-call 24h", f"/oncall?{day}", "/api/v1/slo"),
        ("services 24h", f"/services?{day}", f"/api/v1/scorecard?{day}&group_by=service"),
        ("service 24h", f"/services/{svc}?{day}",
         f"/api/v1/scorecard?{day}&service={svc}"),
        ("models 24h", f"/models?{day}",
         f"/api/v1/scorecard?{day}&group_by=model,prompt_version"),
        ("models compare 24h", f"/models?{day}&dimension=model&a=gpt-4o&b=gpt-4o-mini",
         f"/api/v1/compare?{day}&dimension=model&a=gpt-4o&b=gpt-4o-mini"),
        ("traces 24h", f"/traces?{day}", f"/api/v1/spans?{day}&limit=50"),
        ("traces search 24h", f"/traces?{day}&q=refund&service={svc}",
         f"/api/v1/spans?{day}&limit=50&q=refund&service={svc}"),
        ("trace", f"/traces/{tid}?{day}", f"/api/v1/traces/{tid}"),
        ("alerts", f"/alerts?{day}", "/api/v1/alerts"),
        ("drift", f"/drift?{day}", "/healthz"),
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--spans", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--db", help="reuse (or create) this DuckDB file instead of a temp one")
    args = ap.parse_args()
    tmp = None
    if args.db:
        path = args.db
    else:
        tmp = tempfile.mkdtemp(prefix="tc-bench-web-")
        path = os.path.join(tmp, "web.duckdb")
    try:
        if not os.path.exists(path):
            t0 = time.perf_counter()
            child = multiprocessing.get_context("spawn").Process(target=fill,
                                                                 args=(path, args.spans))
            child.start()
            child.join()
            if child.exitcode != 0:
                raise SystemExit(f"filling the store failed ({child.exitcode})")
            print(f"filled {args.spans:,} spans in {time.perf_counter() - t0:.1f} s")
        rt = Runtime.build(parse_config(config_yaml()), db=path)
        rt.clock = lambda: END
        seed_alerts(rt)
        client = TestClient(create_app(rt, manage_lifecycle=False))
        print(f"{'page':<22}{'median ms':>10}{'min':>8}{'max':>8}  {'reference ms':>12}"
              f"{'ratio':>7}  target {TARGET_MS:.0f} ms")
        rows: list[dict[str, Any]] = []
        for name, url, ref in pages(client):
            t_page = timed(client, url, args.repeat)
            t_ref = timed(client, ref, args.repeat)
            med, ref_med = statistics.median(t_page), statistics.median(t_ref)
            flag = "" if med <= TARGET_MS else "  over"
            print(f"{name:<22}{med:>10.1f}{min(t_page):>8.1f}{max(t_page):>8.1f}  "
                  f"{ref_med:>12.1f}{med / ref_med:>7.2f}{flag}")
            rows.append({"page": name, "median_ms": med, "reference_ms": ref_med})
        rt.shutdown()
        over = [r["page"] for r in rows if r["median_ms"] > TARGET_MS]
        print(f"pages over {TARGET_MS:.0f} ms: {', '.join(over) if over else 'none'}"
              f" (cpus {os.cpu_count()}, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC)")
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
