"""The notifier contract and the HTTP outcome rules every HTTP integration shares.

A notifier's ``notify`` returns ``(retryable, error)``, as Alertmanager's do: ``error`` is None
on success; otherwise ``retryable`` says whether the same notification may succeed later
(network errors, 429, 5xx) or never will (other 4xx, a rejected recipient).
"""

from __future__ import annotations

from typing import Protocol

import httpx

from truecourse.alerting.notification import Notification

Outcome = tuple[bool, str | None]


class Notifier(Protocol):
    #: integration name in the delivery log: slack, pagerduty, webhook, email
    integration: str

    def notify(self, notification: Notification) -> Outcome:
        """Deliver once; never raises for a delivery failure."""
        ...


def http_client(timeout: float) -> httpx.Client:
    """A pooled client for one notifier (thread-safe; building one costs milliseconds, so
    notifiers keep theirs rather than paying it per notification)."""
    return httpx.Client(timeout=timeout)


def post_json(client: httpx.Client, url: str, body: bytes,
              headers: dict[str, str] | None = None) -> Outcome:
    """POST a JSON body; the outcome by status (2xx ok; 429/5xx/network retryable)."""
    try:
        resp = client.post(url, content=body,
                           headers={"Content-Type": "application/json", **(headers or {})})
    except httpx.HTTPError as exc:
        return True, f"{type(exc).__name__}: {exc}"
    if resp.is_success:
        return False, None
    detail = resp.text[:200].strip()
    retryable = resp.status_code == 429 or resp.status_code >= 500
    return retryable, f"HTTP {resp.status_code}" + (f": {detail}" if detail else "")
