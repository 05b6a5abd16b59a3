"""``truecourse.yaml``: the schema, loading with file:line errors, and the generated reference.

::

    config = load_config("truecourse.yaml")   # InvalidConfig (a ConfigError) lists every problem
    config.pipeline.processors                # ordered [ProcessorEntry], .type / .settings
"""

from truecourse.config.drift import DriftConfig, SpanAttributeFeature
from truecourse.config.governance import (
    RETENTION_KINDS,
    AuthConfig,
    RetentionConfig,
    RetentionTTLs,
)
from truecourse.config.guard import FieldPolicy, GuardConfig, InjectionConfig, MaskRule
from truecourse.config.loader import InvalidConfig, load_config, parse_config
from truecourse.config.measure import MeasureConfig, PriceOverride
from truecourse.config.processors import (
    PROCESSOR_TYPES,
    RESERVED_DESTINATIONS,
    DedupeConfig,
    EnrichConfig,
    FilterConfig,
    NormalizeConfig,
    ProcessorEntry,
    RouteConfig,
    RouteRule,
    SampleConfig,
    default_processors,
)
from truecourse.config.reference import config_reference_markdown
from truecourse.config.rules import MatchRule
from truecourse.config.schema import (
    CatalogConfig,
    PipelineConfig,
    QueueConfig,
    ServerConfig,
    ServiceEntry,
    StorageConfig,
    TrueCourseConfig,
)

__all__ = [
    "PROCESSOR_TYPES",
    "RESERVED_DESTINATIONS",
    "RETENTION_KINDS",
    "AuthConfig",
    "CatalogConfig",
    "DedupeConfig",
    "DriftConfig",
    "EnrichConfig",
    "FieldPolicy",
    "FilterConfig",
    "GuardConfig",
    "InjectionConfig",
    "InvalidConfig",
    "MaskRule",
    "MatchRule",
    "MeasureConfig",
    "NormalizeConfig",
    "PipelineConfig",
    "PriceOverride",
    "ProcessorEntry",
    "QueueConfig",
    "RetentionConfig",
    "RetentionTTLs",
    "RouteConfig",
    "RouteRule",
    "SampleConfig",
    "ServerConfig",
    "ServiceEntry",
    "SpanAttributeFeature",
    "StorageConfig",
    "TrueCourseConfig",
    "config_reference_markdown",
    "default_processors",
    "load_config",
    "parse_config",
]
