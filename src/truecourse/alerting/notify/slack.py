"""Slack incoming webhooks: the notification as text with the owner and evidence links."""

from __future__ import annotations

import orjson

from truecourse.alerting.notification import Notification
from truecourse.alerting.notify.base import Outcome, http_client, post_json
from truecourse.config.alerting import SlackConfig


class SlackNotifier:
    integration = "slack"

    def __init__(self, cfg: SlackConfig, timeout: float) -> None:
        self.cfg, self.client = cfg, http_client(timeout)

    def notify(self, notification: Notification) -> Outcome:
        if notification.status == "acknowledged":
            return False, None
        body = {"text": notification.text(),
                "attachments": [{"color": "danger" if notification.status == "firing"
                                 else "good", "title": notification.title(),
                                 "text": notification.owner_line()}]}
        return post_json(self.client, self.cfg.webhook_url, orjson.dumps(body))
