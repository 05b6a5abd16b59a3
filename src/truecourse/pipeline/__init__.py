"""Processors over columnar batches, the runner (bounded queue, group-committing writer) and the
ingest worker processes."""

from truecourse.pipeline.base import FunctionProcessor, Processor, StageStats, processor
from truecourse.pipeline.runner import Pipeline, run_stages

__all__ = ["FunctionProcessor", "Pipeline", "Processor", "StageStats", "processor", "run_stages"]
