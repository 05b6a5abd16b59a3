"""What the active faults do to the fleet during one step: the one interface between the fault
timeline (:mod:`truecourse.sim.faults`) and the simulated apps (:mod:`truecourse.sim.fleet`).

The apps never look at fault names: they read these knobs, so a new fault is a new mapping onto
knobs, and a fault-free step is ``Effects()``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Effects", "ServiceEffects"]


@dataclass
class ServiceEffects:
    """Knobs on one service's own work (its server spans and what calls it sees)."""

    #: multiplies the latency of the service's own spans (1.0: unchanged)
    latency_mult: float = 1.0
    #: extra probability that a request to the service fails (status error)
    error_rate: float = 0.0
    #: the service is down: every call to it fails fast (connection refused / 503)
    down: bool = False


@dataclass
class Effects:
    """Everything a step's faults change; the defaults are a healthy fleet."""

    #: per service name (catalog names, see :data:`truecourse.sim.fleet.SERVICES`)
    services: dict[str, ServiceEffects] = field(default_factory=dict)
    #: service -> prompt version now deployed (a bad prompt rollout names a new version)
    prompt_version: dict[str, str] = field(default_factory=dict)
    #: 0..1: answer quality drop (more negative feedback, lower groundedness, more corrections)
    quality_drop: float = 0.0
    #: extra probability that the assistant refuses
    refusal_add: float = 0.0
    #: tool name -> probability that a call of it fails
    tool_fail: dict[str, float] = field(default_factory=dict)
    #: 0..1: retrieval index regression (fewer and worse documents, more empty retrievals)
    retrieval_degrade: float = 0.0
    #: retrieval index version now serving (set by an index regression)
    index_version: str | None = None
    #: multiplies the prompt tokens of LLM calls (cost runaway: growing context); 1.0 unchanged
    context_growth: float = 1.0
    #: probability that an assistant output contains PII (emails, card numbers, phones)
    pii_leak_rate: float = 0.0
    #: share of user inputs that carry a prompt-injection payload
    injection_rate: float = 0.0
    #: 0..1: a new user population (longer inputs, other topics, shifted fraud features)
    input_shift: float = 0.0

    def service(self, name: str) -> ServiceEffects:
        """The knobs of service ``name`` (defaults when no fault touches it)."""
        return self.services.get(name) or ServiceEffects()

    def touch(self, name: str) -> ServiceEffects:
        """The knobs of service ``name``, created for a fault to change."""
        return self.services.setdefault(name, ServiceEffects())
