"""Generic webhook: the notification as JSON, signed with HMAC-SHA256 when a secret is set."""

from __future__ import annotations

import hashlib
import hmac

import orjson

from truecourse.alerting.notification import Notification
from truecourse.alerting.notify.base import Outcome, http_client, post_json
from truecourse.config.alerting import WebhookConfig

SIGNATURE_HEADER = "X-TrueCourse-Signature"


def signature(secret: str, body: bytes) -> str:
    """``sha256=<hex>``: what a receiver recomputes over the raw body to verify it."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class WebhookNotifier:
    integration = "webhook"

    def __init__(self, cfg: WebhookConfig, timeout: float) -> None:
        self.cfg, self.client = cfg, http_client(timeout)

    def notify(self, notification: Notification) -> Outcome:
        if notification.status == "acknowledged":
            return False, None
        body = orjson.dumps(notification.to_dict())
        headers = {SIGNATURE_HEADER: signature(self.cfg.secret, body)} if self.cfg.secret else {}
        return post_json(self.client, self.cfg.url, body, headers)
