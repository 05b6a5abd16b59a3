"""Alerting: alert state, grouping, dedupe, inhibition, silences, the routing tree and
notifiers — Alertmanager's semantics over :class:`truecourse.model.alerts.Alert`.

Stages, as in Alertmanager's ``notify/``: :mod:`routing` picks the routes, :mod:`groups`
decides when a group notifies, :mod:`inhibit` and :mod:`silences` mute, :mod:`notify`
delivers with retries; :class:`AlertEngine` wires them together.
"""

from truecourse.alerting.engine import AlertEngine, DeployWindowSource, asks_deploy_suppression
from truecourse.alerting.external import (
    ExternalAlerts,
    Rejected,
    parse_alertmanager_webhook,
    parse_grafana_webhook,
)
from truecourse.alerting.matchers import Matcher, matches_all, parse_matcher, parse_matchers
from truecourse.alerting.notification import Notification, dedup_key
from truecourse.alerting.notify import DeliveryRecord, Dispatcher
from truecourse.alerting.routing import Route, build_routes, match
from truecourse.alerting.silences import Silence, new_silence

__all__ = [
    "AlertEngine",
    "DeliveryRecord",
    "DeployWindowSource",
    "Dispatcher",
    "ExternalAlerts",
    "Matcher",
    "Notification",
    "Rejected",
    "Route",
    "Silence",
    "asks_deploy_suppression",
    "build_routes",
    "dedup_key",
    "match",
    "matches_all",
    "new_silence",
    "parse_alertmanager_webhook",
    "parse_grafana_webhook",
    "parse_matcher",
    "parse_matchers",
]
