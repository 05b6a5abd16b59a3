"""The one exception tree of TrueCourse.

::

    TrueCourseError                      every error TrueCourse raises on purpose
     ├── PermanentError                  retrying the same input fails again (HTTP 4xx, exit 2)
     │    ├── InvalidInput               a payload or argument is malformed
     │    │    └── PayloadTooLarge       a body over the configured limit (HTTP 413)
     │    ├── UnsupportedMediaType       a content type no receiver understands (HTTP 415)
     │    ├── ConfigError                truecourse.yaml is invalid (names file, line, key)
     │    ├── NotFound                   a trace, span or resource that does not exist (HTTP 404)
     │    ├── Unauthorized               no usable key: none, malformed, unknown, revoked (HTTP 401)
     │    └── Forbidden                  a valid key without the scope or project asked for (403)
     └── RetryableError                  the same input may succeed later (HTTP 503, exit 75)
          ├── RateLimited                a key over its ingest rate (429 + Retry-After)
          ├── QueueFull                  the ingest queue is full (503 + Retry-After)
          ├── QueueUnavailable           the ingest log (NATS JetStream) cannot be reached
          └── StoreUnavailable           the database cannot be opened or written right now

Foreign errors are re-raised as one of these with ``raise ... from`` at the boundary where they
are caught, so the HTTP status and the CLI exit code are decided once, at the edge.
"""

from __future__ import annotations


class TrueCourseError(Exception):
    """Root of every error TrueCourse raises on purpose."""

    http_status: int = 500
    exit_code: int = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message

    def __reduce__(self) -> tuple[object, ...]:
        # keyword-only fields survive pickling (errors cross the ingest worker process boundary)
        return (_rebuild, (type(self), self.message, dict(self.__dict__)))


def _rebuild(cls: type[TrueCourseError], message: str, state: dict[str, object]) -> TrueCourseError:
    exc = cls.__new__(cls)
    Exception.__init__(exc, message)
    exc.__dict__.update(state)
    return exc


class PermanentError(TrueCourseError):
    """Retrying the same input gives the same error."""

    http_status = 400
    exit_code = 2


class InvalidInput(PermanentError):
    """A payload, query parameter or argument is malformed."""


class PayloadTooLarge(InvalidInput):
    http_status = 413


class UnsupportedMediaType(PermanentError):
    http_status = 415


class ConfigError(PermanentError):
    """The configuration is invalid; the message names the file, line and key."""


class NotFound(PermanentError):
    http_status = 404


class Unauthorized(PermanentError):
    """No usable API key. The message never says whether a given key exists."""

    http_status = 401


class Forbidden(PermanentError):
    """The key is valid but lacks the scope (or the project) the request needs."""

    http_status = 403


class RetryableError(TrueCourseError):
    """The same input may succeed later; callers should back off and retry."""

    http_status = 503
    exit_code = 75  # EX_TEMPFAIL

    def __init__(self, message: str, *, hint: str | None = None, retry_after_s: int = 1) -> None:
        super().__init__(message, hint=hint)
        self.retry_after_s = retry_after_s


class RateLimited(RetryableError):
    """An API key sent faster than its token bucket allows; retry after ``retry_after_s``."""

    http_status = 429


class QueueFull(RetryableError):
    """The bounded ingest queue is full; the sender should retry after ``retry_after_s``."""


class StoreUnavailable(RetryableError):
    """The store could not be opened or written."""


class QueueUnavailable(RetryableError):
    """The ingest log (NATS JetStream) cannot be reached or did not acknowledge in time."""
