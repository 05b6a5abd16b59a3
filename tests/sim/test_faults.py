"""Fault kinds, their effects on the fleet's knobs, and timeline validation."""

from __future__ import annotations

import pytest

from truecourse.errors import InvalidInput
from truecourse.sim import FAULTS, Fault, Timeline, parse_fault, scenario, scenario_names


def test_every_fault_kind_moves_a_knob_or_comes_from_outside() -> None:
    healthy = Timeline(7200).effects(100)
    for kind in FAULTS:
        t = Timeline(7200, [Fault(kind, 0, 3600)])
        e = t.effects(3500)  # late in the fault: ramps are complete
        if FAULTS[kind].external:
            assert e == healthy, kind
        else:
            assert e != healthy, f"{kind} changes nothing"
        assert t.effects(3600) == healthy, f"{kind} still active after its end"


def test_levels_ramp_and_scale_with_magnitude() -> None:
    drift = Fault("input_drift", 600, 3600, magnitude=1.0)
    assert drift.level(599) == 0
    assert drift.level(600 + 300) == pytest.approx(0.5)  # 10-minute ramp
    assert drift.level(600 + 900) == pytest.approx(1.0)
    half = Timeline(7200, [Fault("tool_outage", 0, 600, 0.5)]).effects(10)
    full = Timeline(7200, [Fault("tool_outage", 0, 600, 1.0)]).effects(10)
    assert half.tool_fail["order_lookup"] == pytest.approx(full.tool_fail["order_lookup"] / 2)
    cost = Timeline(7200, [Fault("cost_runaway", 0, 1000)])
    assert cost.effects(900).context_growth > cost.effects(100).context_growth > 1


def test_dependency_outage_takes_the_service_down() -> None:
    e = Timeline(3600, [Fault("dependency_outage", 0, 600)]).effects(1)
    assert e.service("feature-store").down
    partial = Timeline(3600, [Fault("dependency_outage", 0, 600, 0.3)]).effects(1)
    assert not partial.service("feature-store").down
    assert partial.service("feature-store").error_rate == pytest.approx(0.3)


@pytest.mark.parametrize(("text", "fault"), [
    ("tool_outage@30m+20m", Fault("tool_outage", 1800, 1200)),
    ("cost_runaway@1h x2", Fault("cost_runaway", 3600, FAULTS["cost_runaway"].default_duration_s,
                                 2.0)),
    ("pii_leak@0", Fault("pii_leak", 0, FAULTS["pii_leak"].default_duration_s)),
])
def test_parse_fault(text: str, fault: Fault) -> None:
    assert parse_fault(text) == fault


@pytest.mark.parametrize(("text", "message"), [
    ("tool_outge@30m", "unknown fault 'tool_outge'; did you mean 'tool_outage'?"),
    ("tool_outage", "is not KIND@START[+DURATION][xMAGNITUDE]"),
    ("tool_outage@soon", "'soon' is not a duration"),
    ("tool_outage@10m+0s", "must be longer than zero"),
    ("tool_outage@10mxbig", "magnitude 'big' is not a number"),
])
def test_bad_fault_specs_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        parse_fault(text)
    assert message in exc.value.message


def test_impossible_timelines_list_every_problem() -> None:
    t = Timeline(3600, [
        Fault("latency_regression", -60, 600),
        Fault("tool_outage", 3600, 600),
        Fault("bad_prompt", 100, 1000),
        Fault("bad_prompt", 600, 1000),
        Fault("pii_leak", 10, 100, magnitude=0),
        Fault("nonsense", 10, 100),
    ])
    problems = t.problems()
    text = "\n".join(problems)
    assert "fault 1 (latency_regression): starts 1m before the run starts" in text
    assert "fault 2 (tool_outage): starts at +1h, at or after the run's end (+1h)" in text
    assert "overlap, but both are 'prompt:support-assistant' changes" in text
    assert "magnitude 0 is outside (0, 10]" in text
    assert "unknown fault 'nonsense'" in text
    assert len(problems) == 5
    with pytest.raises(InvalidInput) as exc:
        t.validate()
    assert "invalid fault timeline" in exc.value.message and exc.value.hint
    # the same kinds back to back are fine
    Timeline(7200, [Fault("bad_prompt", 0, 600), Fault("bad_prompt", 600, 600)]).validate()


def test_scenarios_cover_every_fault_and_reject_unknown_names() -> None:
    names = scenario_names()
    assert names[0] == "control" and set(names[1:]) == set(FAULTS)
    for name in names:
        s = scenario(name, quick=True)
        s.timeline()
        assert all(f.at_s >= 3600 for f in s.faults), "faults come after the warm-up hour"
    demo = scenario("demo")
    assert len({f.kind for f in demo.faults}) >= 5
    with pytest.raises(InvalidInput) as exc:
        scenario("latency_regresion")
    assert "unknown scenario 'latency_regresion'" in exc.value.message
    assert "did you mean 'latency_regression'" in (exc.value.hint or "")
