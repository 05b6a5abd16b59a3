"""The browser face. Until the full UI lands, ``/`` is a page that says where everything is."""

from __future__ import annotations

from html import escape


def landing_page(version: str) -> str:
    v = escape(version)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>TrueCourse</title>
<style>body{{font:15px system-ui,sans-serif;max-width:46rem;margin:3rem auto;color:#1d2433}}
code{{background:#f1f3f7;padding:.1rem .3rem;border-radius:4px}}li{{margin:.3rem 0}}</style>
</head><body>
<h1>TrueCourse <small>{v}</small></h1>
<p>This server takes OTLP/HTTP telemetry and answers queries about it.</p>
<ul>
<li>Send traces, logs and metrics to <code>/v1/traces</code>, <code>/v1/logs</code>,
<code>/v1/metrics</code> (protobuf or JSON).</li>
<li><a href="/api/v1/spans?limit=20">Recent spans</a> ·
<a href="/api/v1/services">Services</a> · <a href="/api/v1/events">Events</a></li>
<li><a href="/api/v1/docs">API reference</a> (<a href="/api/v1/openapi.json">OpenAPI</a>)</li>
<li><a href="/metrics">Server metrics</a> · <a href="/readyz">Readiness</a></li>
</ul>
</body></html>
"""
