"""A drift report as one self-contained HTML page: a summary, the findings, and for every column
its verdict with an inline SVG histogram of reference vs current (no scripts, no CDN).

Every string from the data (column names, categories, messages) is HTML-escaped.
"""

from __future__ import annotations

from html import escape
from typing import Any

_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:24px;color:#1d2330;max-width:1100px}
h1{font-size:20px}h2{font-size:16px;margin-top:28px}
table{border-collapse:collapse;width:100%}td,th{padding:4px 8px;border-bottom:1px solid #e3e6ec;
text-align:left;vertical-align:top}.drift{color:#b3261e;font-weight:600}.ok{color:#1e7b34}
.muted{color:#667085}.card{border:1px solid #e3e6ec;border-radius:6px;padding:10px 14px;
margin:10px 0}.legend span{display:inline-block;width:10px;height:10px;margin:0 4px 0 10px}
"""
_REF, _CUR = "#8aa4d6", "#e08a3c"


def render_html(report: dict[str, Any]) -> str:
    """The page for a report's JSON form (``DriftReport.to_dict()``)."""
    share = report.get("drift_share")
    share_txt = "n/a" if share is None else f"{share:.0%}"
    verdict = ("<span class='drift'>drift</span>" if report.get("drifted")
               else f"<span class='ok'>{escape(str(report.get('status')))}</span>")
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>Drift report {escape(str(report.get('model') or ''))}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>Drift report — {escape(str(report.get('model') or 'data'))}: {verdict}</h1>",
        "<p class='muted'>reference: " + _side(report.get("reference")) + " · current: "
        + _side(report.get("current")) + f" · created {escape(str(report.get('created_at')))}"
        "</p>",
        f"<p>Drift share: <b>{share_txt}</b> ({len(report.get('drifted_columns', []))} of "
        f"{report.get('columns_judged', 0)} judged columns drifted)</p>",
    ]
    findings = report.get("findings") or []
    if findings:
        parts.append("<h2>Findings</h2><table><tr><th>severity</th><th>check</th>"
                     "<th>message</th></tr>")
        for f in findings:
            parts.append(f"<tr><td>{escape(str(f.get('severity')))}</td>"
                         f"<td>{escape(str(f.get('check')))}</td>"
                         f"<td>{escape(str(f.get('message')))}</td></tr>")
        parts.append("</table>")
    parts.append("<h2>Columns</h2><table><tr><th>column</th><th>kind</th><th>method</th>"
                 "<th>statistic</th><th>p / q</th><th>threshold</th><th>drifted</th></tr>")
    for c in report.get("columns", []):
        parts.append(_row(c))
    parts.append("</table><h2>Distributions</h2><p class='legend'>"
                 f"<span style='background:{_REF}'></span>reference"
                 f"<span style='background:{_CUR}'></span>current</p>")
    for c in report.get("columns", []):
        if c.get("histogram"):
            parts.append(f"<div class='card'><b>{escape(str(c['column']))}</b> "
                         f"<span class='muted'>{escape(str(c.get('method')))}</span>"
                         + _svg(c["histogram"]) + "</div>")
    if report.get("performance"):
        parts.append("<h2>Performance</h2><pre>" + escape(_pretty(report["performance"]))
                     + "</pre>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _side(side: Any) -> str:
    if not isinstance(side, dict):
        return ""
    return f"{escape(str(side.get('source')))} ({side.get('rows')} rows)"


def _fmt(v: Any) -> str:
    return "" if v is None else f"{v:.4g}" if isinstance(v, float) else escape(str(v))


def _row(c: dict[str, Any]) -> str:
    pq = ""
    if c.get("p_value") is not None:
        pq = f"{_fmt(c['p_value'])} / {_fmt(c.get('q_value'))}"
    flag = ("<span class='drift'>yes</span>" if c.get("drifted")
            else escape(str(c.get("status"))) if c.get("status") != "ok" else "no")
    thr = _fmt(c.get("threshold"))
    if c.get("threshold_source"):
        thr += f" <span class='muted'>({escape(str(c['threshold_source']))})</span>"
    return (f"<tr><td>{escape(str(c['column']))}</td><td>{escape(str(c['kind']))}</td>"
            f"<td>{_fmt(c.get('method'))}</td><td>{_fmt(c.get('statistic'))}</td>"
            f"<td>{pq}</td><td>{thr}</td><td>{flag}</td></tr>")


def _svg(h: dict[str, Any], width: int = 640, height: int = 140) -> str:
    ref = [float(x) for x in h.get("reference", [])]
    cur = [float(x) for x in h.get("current", [])]
    labels: list[str]
    if h.get("type") == "categorical":
        labels = [str(x) for x in h.get("categories", [])]
        if h.get("other"):
            ref.append(float(h["other"]["reference"]))
            cur.append(float(h["other"]["current"]))
            labels.append("(other)")
    else:
        edges = h.get("edges", [])
        labels = [f"{edges[i]:.3g}" for i in range(len(edges) - 1)]
    if not ref:
        return ""
    rs, cs = sum(ref) or 1.0, sum(cur) or 1.0
    ref_p, cur_p = [x / rs for x in ref], [x / cs for x in cur]
    top = max([*ref_p, *cur_p, 1e-9])
    n = len(ref_p)
    slot = (width - 40) / n
    bar = max(slot / 2 - 1, 1)
    body = []
    for i in range(n):
        x = 30 + i * slot
        for j, (p, color) in enumerate(((ref_p[i], _REF), (cur_p[i], _CUR))):
            bh = (height - 30) * p / top
            body.append(f"<rect x='{x + j * bar:.1f}' y='{height - 20 - bh:.1f}' "
                        f"width='{bar:.1f}' height='{bh:.1f}' fill='{color}'>"
                        f"<title>{escape(labels[i])}: {p:.1%}</title></rect>")
    step = max(1, n // 8)
    for i in range(0, n, step):
        body.append(f"<text x='{30 + i * slot:.1f}' y='{height - 5}' font-size='10' "
                    f"fill='#667085'>{escape(labels[i][:12])}</text>")
    return (f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
            f"role='img'>{''.join(body)}</svg>")


def _pretty(v: Any) -> str:
    import json

    return json.dumps(v, indent=2, default=str)
