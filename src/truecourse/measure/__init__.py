"""Measure behaviour, not just uptime: SLIs, cost, AI scorecards, version comparison, KPIs."""
