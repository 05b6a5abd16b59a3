"""Alert storm benchmark: 10,000 raw alerts in one minute of event time across 50 services.

    python bench/alerting_storm.py --alerts 10000 --services 50

Each service has five alert names (latency, errors, cost, refusals, drift) on a few instances
and models; every second of event time a detector re-sends the alerts still firing plus new
ones, as a storm does, so most raw signals are repeats of a few thousand label sets. They go
through :class:`truecourse.alerting.AlertEngine` (``receive`` every second, ``flush`` every
second) with the default route (the catalog owner, delivered via the service's oncall receiver:
a webhook on a local HTTP server), then event time runs on to group_wait past the storm.

Prints raw alerts, distinct alerts, notifications produced and delivered, the noise reduction
(1 - notifications / raw alerts), the engine's processing time (receive + flush, delivery runs
on the dispatcher's threads) with alerts/s, and the time until every delivery was acknowledged.
"""

from __future__ import annotations

import argparse
import random
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
from truecourse.alerting import AlertEngine, Dispatcher
from truecourse.config.alerting import AlertingConfig
from truecourse.config.schema import CatalogConfig
from truecourse.model.alerts import Alert

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
NAMES = (("LatencyP95High", "page"), ("ErrorRateHigh", "page"), ("CostSpike", "ticket"),
         ("RefusalRateHigh", "ticket"), ("DriftDetected", "info"))
MODELS = ("gpt-4o", "claude-sonnet", "llama-70b")


def serve() -> tuple[ThreadingHTTPServer, list[int]]:
    hits = [0]

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            hits[0] += 1
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, hits


def storm(n: int, services: int, seed: int) -> list[list[Alert]]:
    """``n`` raw alerts spread over 60 one-second batches."""
    rng = random.Random(seed)
    label_sets = []
    for s in range(services):
        service = f"svc-{s:02d}"
        for name, severity in NAMES:
            for instance in range(rng.randint(2, 6)):
                label_sets.append({"alertname": name, "service": service, "severity": severity,
                                   "env": "prod", "instance": f"{service}-{instance}",
                                   "model": rng.choice(MODELS)})
    batches: list[list[Alert]] = [[] for _ in range(60)]
    active: list[dict[str, str]] = []
    per_second = n // 60
    for sec in range(60):
        # the storm spreads: new label sets join, most of the firing ones are re-sent
        active += rng.sample(label_sets, k=min(len(label_sets) // 30, len(label_sets)))
        starts = T0 + timedelta(seconds=sec)
        for _ in range(per_second + (1 if sec < n % 60 else 0)):
            labels = rng.choice(active)
            batches[sec].append(Alert(labels=labels, starts_at=starts,
                                      evidence=f"/api/v1/scorecard?service={labels['service']}"))
    return batches


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--alerts", type=int, default=10_000)
    ap.add_argument("--services", type=int, default=50)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()

    server, hits = serve()
    url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    catalog = CatalogConfig.model_validate({"services": {
        f"svc-{s:02d}": {"owner": f"team{s}@example.com", "team": f"team-{s}",
                         "oncall": "oncall-hook"} for s in range(args.services)}})
    cfg = AlertingConfig.model_validate({
        "receivers": [{"name": "oncall-hook", "webhook": {"url": url, "secret": "bench"}}],
        "delivery": {"workers": 8}})
    dispatcher = Dispatcher(cfg)
    dispatcher.start()
    engine = AlertEngine(cfg, catalog, dispatcher=dispatcher)
    batches = storm(args.alerts, args.services, args.seed)
    raw = sum(map(len, batches))
    distinct = len({a.fingerprint for b in batches for a in b})

    started = time.perf_counter()
    notifications = 0
    for sec, batch in enumerate(batches):
        now = T0 + timedelta(seconds=sec)
        engine.receive(batch, now)
        notifications += len(engine.flush(now))
    for sec in range(60, 91):  # event time runs on to group_wait past the storm
        notifications += len(engine.flush(T0 + timedelta(seconds=sec)))
    elapsed = time.perf_counter() - started
    drained = dispatcher.wait_idle(120)
    delivered = time.perf_counter() - started
    dispatcher.shutdown()
    server.shutdown()

    sent = sum(1 for r in engine.deliveries(10**6) if r.status == "sent")
    stats = engine.stats()
    print(f"raw alerts            {raw:>10,}  ({args.services} services, 60 s of event time)")
    print(f"distinct alerts       {distinct:>10,}")
    print(f"notifications         {notifications:>10,}  (delivered: {sent:,}, "
          f"webhook requests: {hits[0]:,})")
    print(f"noise reduction       {stats['noise_reduction']:>10.4f}  (1 - notifications / raw)")
    print(f"processing time       {elapsed:>10.3f} s  ({raw / elapsed:,.0f} alerts/s, "
          "receive + flush)")
    print(f"all delivered after   {delivered:>10.3f} s{'' if drained else '  (NOT drained)'}")


if __name__ == "__main__":
    main()
