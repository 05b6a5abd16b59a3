"""What a decoder hands back: the valid rows, and how many items it rejected and why."""

from __future__ import annotations

from dataclasses import dataclass, field

from truecourse.model import Batch

#: at most this many reject reasons are kept; the count is always exact
MAX_REASONS = 5


@dataclass
class DecodeResult:
    """Rows decoded from one request plus the rejected count and the first few reasons."""

    batch: Batch
    rejected: int = 0
    reasons: list[str] = field(default_factory=list)

    def reject(self, reason: str, count: int = 1) -> None:
        self.rejected += count
        if len(self.reasons) < MAX_REASONS:
            self.reasons.append(reason)

    @property
    def error_message(self) -> str:
        """The ``partial_success.error_message`` text: the first reasons, and how many more."""
        if not self.rejected:
            return ""
        more = self.rejected - len(self.reasons)
        tail = f" (and {more} more)" if more > 0 else ""
        return "; ".join(self.reasons) + tail
