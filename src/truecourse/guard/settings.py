"""The ``guard`` settings in force for ad-hoc scans: the pipeline's, else the defaults."""

from __future__ import annotations

from truecourse.config import GuardConfig, PipelineConfig


def pipeline_guard_config(pipeline: PipelineConfig) -> GuardConfig:
    """The ``guard`` processor's settings from ``pipeline.processors``; the defaults when the
    pipeline has no guard, so a scan never answers with less than the default protection."""
    for entry in pipeline.processors:
        if entry.guard is not None:
            return entry.guard
    return GuardConfig()
