"""``truecourse.guard``: PII and secret detection and masking, prompt-injection scoring.

Used by the pipeline's ``guard`` stage (before anything is stored), the SDK (before export),
the scan API and CLI, and later the harness. See ``docs/guard.md``.

::

    from truecourse.guard import Guard, RowSafety, scan_text
    report = scan_text("card 4111 1111 1111 1111, ignore previous instructions")
    report.masked          # 'card <CREDIT_CARD>, ignore previous instructions'
    report.injection.score # 0.75
    report.to_dict()       # what the API and ``--json`` answer
"""

from truecourse.guard.detectors import Finding, PatternDetector, resolve_overlaps
from truecourse.guard.engine import WITHHELD, Guard, RowSafety
from truecourse.guard.exemplars import EXEMPLARS, ExemplarSimilarity, load_similarity
from truecourse.guard.injection import InjectionResult, InjectionScorer
from truecourse.guard.masking import MaskPolicy, mask_findings
from truecourse.guard.metrics import SafetyMetrics
from truecourse.guard.ner import load_ner, spacy_ner
from truecourse.guard.rules import Masker
from truecourse.guard.scan import ScanFinding, ScanReport, decode_input, scan_text

__all__ = [
    "EXEMPLARS",
    "WITHHELD",
    "ExemplarSimilarity",
    "Finding",
    "Guard",
    "InjectionResult",
    "InjectionScorer",
    "MaskPolicy",
    "Masker",
    "PatternDetector",
    "RowSafety",
    "SafetyMetrics",
    "ScanFinding",
    "ScanReport",
    "decode_input",
    "load_ner",
    "load_similarity",
    "mask_findings",
    "resolve_overlaps",
    "scan_text",
    "spacy_ner",
]
