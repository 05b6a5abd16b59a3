"""Detect: SLOs with multi-window burn-rate alerts, threshold and anomaly rules, evaluated on
event time.

::

    from truecourse.detect import Evaluator, due_ticks, slo_status

    ev = Evaluator(store, config.detect, measure=config.measure)
    for t in due_ticks(ev.last_tick, now, ev.interval_s):
        alerts = ev.tick(t)          # firing alerts, and resolved ones once
    ev.states()                      # every instance: inactive / pending / firing
    slo_status(store, slo, now)      # budget left, burn rates, the condition closest to firing
"""

from truecourse.detect.evaluator import Evaluator
from truecourse.detect.rules import Baseline, ewma_baseline, seasonal_baseline
from truecourse.detect.schedule import due_ticks, next_tick
from truecourse.detect.slo import BurnCondition, MinuteCounts, burn_conditions, slo_status

__all__ = [
    "Baseline", "BurnCondition", "Evaluator", "MinuteCounts", "burn_conditions", "due_ticks",
    "ewma_baseline", "next_tick", "seasonal_baseline", "slo_status",
]
