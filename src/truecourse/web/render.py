"""The template environment and the number formats every page shares."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import orjson
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup
from starlette.responses import HTMLResponse

from truecourse import __version__

__all__ = ["render", "to_json"]


def _none(v: Any) -> bool:
    return v is None or (isinstance(v, float) and not math.isfinite(v))


def fmt_count(v: Any) -> str:
    if _none(v):
        return "—"
    v = float(v)
    for limit, scale, suffix in ((1e9, 1e9, "B"), (1e6, 1e6, "M"), (1e4, 1e3, "k")):
        if abs(v) >= limit:
            return f"{v / scale:.1f}{suffix}"
    return f"{v:,.0f}"


def fmt_pct(v: Any, digits: int = 2) -> str:
    return "—" if _none(v) else f"{float(v) * 100:.{digits}f}%"


def fmt_ms(v: Any) -> str:
    if _none(v):
        return "—"
    v = float(v)
    return f"{v / 1000:.2f} s" if v >= 1000 else f"{v:.0f} ms" if v >= 10 else f"{v:.1f} ms"


def fmt_usd(v: Any) -> str:
    if _none(v):
        return "—"
    v = float(v)
    if v == 0:
        return "$0"
    sign, v = ("-" if v < 0 else ""), abs(v)
    return sign + (f"${v:,.2f}" if v >= 1 else f"${v:.4f}" if v >= 0.001 else f"${v:.6f}")


def fmt_num(v: Any, digits: int = 2) -> str:
    return "—" if _none(v) else f"{float(v):,.{digits}f}"


def fmt_p(v: Any) -> str:
    """A p-value: four decimals, or ``< 0.0001``."""
    if _none(v):
        return "—"
    return "< 0.0001" if float(v) < 0.0001 else f"{float(v):.4f}"


def fmt_metric(v: Any, unit: str) -> str:
    """A scorecard value in its unit (``ratio``, ``ms``, ``USD``, ``count``, ...)."""
    if unit == "ratio":
        return fmt_pct(v)
    if unit == "ms":
        return fmt_ms(v)
    if unit == "USD":
        return fmt_usd(v)
    if unit in ("count", "tokens"):
        return fmt_count(v)
    if unit == "req/s":
        return "—" if _none(v) else f"{float(v):,.2f}/s"
    return fmt_num(v)


def fmt_time(v: Any, with_date: bool = False) -> str:
    if v is None:
        return "—"
    t = datetime.fromisoformat(v.replace("Z", "+00:00")) if isinstance(v, str) else v
    if t.tzinfo is not None:
        t = t.astimezone(UTC)
    return t.strftime("%Y-%m-%d %H:%M:%S" if with_date else "%H:%M:%S")


def fmt_ago(v: Any, now: datetime) -> str:
    if v is None:
        return "—"
    t = datetime.fromisoformat(v.replace("Z", "+00:00")) if isinstance(v, str) else v
    s = (now - t).total_seconds()
    if s < 0:
        return "just now"
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min")):
        if s >= size:
            return f"{s / size:.0f} {unit} ago"
    return f"{s:.0f} s ago"


def link(v: Any) -> str | None:
    """``v`` if it is safe as an ``href`` — an ``http(s)`` URL or a path on this server —
    else None. Alert evidence can come from an external webhook: it is data, and a
    ``javascript:`` URL in it must not become a link."""
    if not isinstance(v, str):
        return None
    text = v.strip()
    if text.startswith("/") and not text.startswith("//"):
        return text
    if text.lower().startswith(("http://", "https://")):
        return text
    return None


def to_json(v: Any) -> Markup:
    """``v`` as JSON safe to put inside a ``<script type="application/json">`` block."""
    raw = orjson.dumps(v, option=orjson.OPT_NON_STR_KEYS).decode()
    return Markup(raw.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(loader=PackageLoader("truecourse.web", "templates"),
                      autoescape=select_autoescape(["html"]), trim_blocks=True,
                      lstrip_blocks=True)
    env.filters.update(count=fmt_count, pct=fmt_pct, ms=fmt_ms, usd=fmt_usd, num=fmt_num,
                       pvalue=fmt_p, link=link, metric=fmt_metric, time=fmt_time, ago=fmt_ago,
                       tojson=to_json)
    env.globals["version"] = __version__
    return env


def render(template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """Render ``template`` with ``context`` into an HTML response."""
    html = environment().get_template(template).render(**context)
    return HTMLResponse(html, status_code=status_code)
