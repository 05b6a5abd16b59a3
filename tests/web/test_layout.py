"""The pieces behind the pages: URL state, the dependency graph layout, number formats."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from truecourse.errors import InvalidInput
from truecourse.web.graph import dependency_graph
from truecourse.web.render import fmt_count, fmt_metric, fmt_p, fmt_usd, to_json
from truecourse.web.state import PageState

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def test_state_reads_the_url_and_keeps_it_in_links() -> None:
    st = PageState.from_query({"since": "2h", "service": "checkout", "refresh": "30s",
                               "operation": "chat", "env": ""}, now=NOW)
    assert (st.window.since, st.window.until) == (NOW - timedelta(hours=2), NOW)
    assert st.refresh_s == 30 and st.is_preset is False  # 2h is not a preset
    assert st.extra == {"operation": "chat"}
    assert st.url("/traces") == "/traces?since=2h&service=checkout&refresh=30s"
    assert st.url("/", service=None, since="6h") == "/?since=6h&refresh=30s"
    default = PageState.from_query({}, now=NOW)
    assert default.since == "24h" and default.is_preset and default.refresh == "off"
    assert default.url("/oncall") == "/oncall?since=24h"


@pytest.mark.parametrize(("query", "message"), [
    ({"since": "last week"}, "since='last week' is not a time"),
    ({"since": "1h", "until": "2h"}, "inverted"),
    ({"refresh": "5s"}, "refresh='5s' is not valid"),
])
def test_state_refuses_bad_values(query: dict[str, str], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        PageState.from_query(query, now=NOW)


def test_graph_flows_left_to_right_and_survives_cycles() -> None:
    g = dependency_graph({"web": ["api", "cdn"], "api": ["db", "web"], "db": []},
                         hot={"api"}, seen={"web", "api"})
    nodes = {n.name: n for n in g.nodes}
    assert set(nodes) == {"web", "api", "db", "cdn"}
    assert nodes["cdn"].external and not nodes["db"].external
    assert nodes["api"].hot and nodes["web"].seen and not nodes["db"].seen
    assert nodes["api"].x > nodes["web"].x and nodes["db"].x > nodes["api"].x
    assert len(g.edges) == 4 and g.width > 0 and g.height > 0
    assert dependency_graph({}).nodes == ()


def test_number_formats() -> None:
    assert [fmt_count(v) for v in (None, 7, 1700, 17_000, 2_500_000)] == \
        ["—", "7", "1,700", "17.0k", "2.5M"]
    assert [fmt_usd(v) for v in (0, 12.5, 0.0123, 0.000263, -0.000263)] == \
        ["$0", "$12.50", "$0.0123", "$0.000263", "-$0.000263"]
    assert fmt_metric(0.99512, "ratio") == "99.51%" and fmt_metric(1234.0, "ms") == "1.23 s"
    assert fmt_metric(float("nan"), "ms") == "—" and fmt_p(1e-9) == "< 0.0001"


def test_json_in_a_script_block_cannot_close_it() -> None:
    out = str(to_json({"label": "</script><script>alert(1)</script>"}))
    assert "</script>" not in out and "<" not in out
