"""Notifiers (Slack, PagerDuty, webhook, email) and the dispatcher that retries them."""

from truecourse.alerting.notify.base import Notifier, Outcome
from truecourse.alerting.notify.dispatch import DeliveryRecord, Dispatcher, integrations
from truecourse.alerting.notify.email import EmailNotifier
from truecourse.alerting.notify.pagerduty import PagerDutyNotifier
from truecourse.alerting.notify.slack import SlackNotifier
from truecourse.alerting.notify.webhook import SIGNATURE_HEADER, WebhookNotifier, signature

__all__ = [
    "SIGNATURE_HEADER",
    "DeliveryRecord",
    "Dispatcher",
    "EmailNotifier",
    "Notifier",
    "Outcome",
    "PagerDutyNotifier",
    "SlackNotifier",
    "WebhookNotifier",
    "integrations",
    "signature",
]
