"""``enrich``: stamps rows with their service's owner, team and default environment."""

from __future__ import annotations

from dataclasses import dataclass

from truecourse.config import CatalogConfig, ServiceEntry
from truecourse.model import Batch
from truecourse.pipeline.base import StageStats
from truecourse.pipeline.processors.stage import Stage, with_columns


@dataclass
class EnrichStats(StageStats):
    enriched: int = 0
    """Rows whose service is in the catalog."""


class CatalogEnricher(Stage[EnrichStats]):
    """For rows whose ``service`` is in the catalog: sets ``team`` and ``owner`` from the
    catalog (where it names them), and ``env`` from the service's ``environment`` when the
    row has none. Rows of other services are left as they are."""

    def __init__(self, catalog: CatalogConfig, name: str = "enrich") -> None:
        super().__init__(name, frozenset({"spans", "logs", "metric_points"}), EnrichStats())
        self.services: dict[str, ServiceEntry] = dict(catalog.services)

    def apply(self, batch: Batch) -> Batch:
        if not self.services:
            return batch
        services = batch["service"]
        team, owner, env = batch["team"], batch["owner"], batch["env"]
        new_team: list[object] | None = None
        new_owner: list[object] | None = None
        new_env: list[object] | None = None
        enriched = 0
        lookup = self.services.get
        for i, service in enumerate(services):
            entry = lookup(service) if service is not None else None
            if entry is None:
                continue
            enriched += 1
            if entry.team is not None and team[i] != entry.team:
                if new_team is None:
                    new_team = list(team)
                new_team[i] = entry.team
            if entry.owner is not None and owner[i] != entry.owner:
                if new_owner is None:
                    new_owner = list(owner)
                new_owner[i] = entry.owner
            if entry.environment is not None and not env[i]:
                if new_env is None:
                    new_env = list(env)
                new_env[i] = entry.environment
        self.stats.enriched += enriched
        replaced = {name: col for name, col in
                    (("team", new_team), ("owner", new_owner), ("env", new_env))
                    if col is not None}
        return with_columns(batch, replaced)
