"""``filter``: drops the rows any drop rule matches (health checks, load generators, noise)."""

from __future__ import annotations

from dataclasses import dataclass

from truecourse.config import FilterConfig
from truecourse.model import Batch
from truecourse.pipeline.base import StageStats
from truecourse.pipeline.processors.match import AttributeIndex, RowMatcher
from truecourse.pipeline.processors.stage import Stage


@dataclass
class FilterStats(StageStats):
    dropped: int = 0


class FilterProcessor(Stage[FilterStats]):
    """Keeps the rows no rule matches, in order; each rule only looks at rows still kept."""

    def __init__(self, config: FilterConfig, name: str = "filter") -> None:
        super().__init__(name, frozenset(config.tables), FilterStats())
        self.rules = [RowMatcher(rule) for rule in config.drop]

    def apply(self, batch: Batch) -> Batch:
        if not self.rules:
            return batch
        attrs = AttributeIndex(batch)
        kept: list[int] = list(range(len(batch)))
        for rule in self.rules:
            _, kept = rule.split(batch, kept, attrs)
            if not kept:
                break
        self.stats.dropped += len(batch) - len(kept)
        return batch.select(kept)
