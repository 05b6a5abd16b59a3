"""Export an app's spans to TrueCourse: ``init``, ``shutdown`` and joining an existing provider.

Lifecycle, in order:

1. ``init`` resolves its settings (argument, else ``TRUECOURSE_*`` environment variable, else
   default) and finds the tracer provider to use: the one passed as ``tracer_provider``; else the
   global OpenTelemetry SDK provider if the app already set one (TrueCourse *joins* it, leaving its
   resource and processors alone); else a new provider with TrueCourse's resource, set as global.
2. It adds one relay processor to that provider (once per provider, ever) and points the relay at
   an exporting processor: ``BatchSpanProcessor`` (or ``SimpleSpanProcessor`` with
   ``batch=False``) over an OTLP/HTTP exporter to ``{endpoint}/v1/traces``.
3. Calling ``init`` again with the same arguments returns the same handle and adds nothing. With
   different arguments the relay is pointed at a new processor; the old one is flushed and shut
   down first, so no span is exported twice. Changing the service, env, version or resource
   attributes of a provider TrueCourse created raises :class:`~truecourse.errors.InvalidInput`:
   a provider's resource is fixed and OpenTelemetry lets the global provider be set only once.
4. ``shutdown`` flushes and shuts down TrueCourse's processor only; the provider and any other
   processor on it keep working. It is safe to call twice or before ``init``. The settings stay
   known, so ``feedback`` after ``shutdown`` still goes to the endpoint ``init`` named.
"""

from __future__ import annotations

import os
import threading
import warnings
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import metadata
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from opentelemetry import context as otel_context
from opentelemetry import trace as otel_trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter

from truecourse.errors import InvalidInput

DEFAULT_ENDPOINT = "http://127.0.0.1:4318"
TRACER_NAME = "truecourse.sdk"

ENV_ENDPOINT = "TRUECOURSE_ENDPOINT"
ENV_API_KEY = "TRUECOURSE_API_KEY"
ENV_ENV = "TRUECOURSE_ENV"
ENV_VERSION = "TRUECOURSE_VERSION"
ENV_GUARD = "TRUECOURSE_GUARD"

try:
    _SDK_VERSION: str | None = metadata.version("truecourse")
except metadata.PackageNotFoundError:  # running from a source tree that is not installed
    _SDK_VERSION = None


@dataclass(frozen=True)
class Settings:
    """What ``init`` resolved from its arguments, the environment and the defaults."""

    service: str
    endpoint: str
    env: str | None
    version: str | None
    api_key: str | None = field(repr=False)
    resource_attributes: tuple[tuple[str, Any], ...]
    batch: bool
    capture_content: bool
    guard: Any = None
    """The client-side ``GuardConfig`` (masking before export), or None when off."""

    def resource(self) -> dict[str, Any]:
        """Resource attributes for a provider TrueCourse creates; the named arguments win."""
        attrs = dict(self.resource_attributes)
        attrs["service.name"] = self.service
        if self.env is not None:
            attrs["deployment.environment.name"] = self.env
            attrs["deployment.environment"] = self.env  # pre-1.27 name, still read by many tools
        if self.version is not None:
            attrs["service.version"] = self.version
        return attrs

    def resource_key(self) -> tuple[Any, ...]:
        return (self.service, self.env, self.version, self.resource_attributes)


class _Relay(SpanProcessor):
    """The one processor TrueCourse adds to a provider; forwards to a replaceable processor.

    OpenTelemetry providers cannot remove a processor, so ``shutdown`` and re-``init`` swap the
    relay's target instead of adding and removing processors.
    """

    def __init__(self) -> None:
        self.target: SpanProcessor | None = None

    def on_start(self, span: Span, parent_context: otel_context.Context | None = None) -> None:
        target = self.target
        if target is not None:
            target.on_start(span, parent_context=parent_context)

    def _on_ending(self, span: Span) -> None:
        target = self.target
        if target is not None:
            target._on_ending(span)

    def on_end(self, span: ReadableSpan) -> None:
        target = self.target
        if target is not None:
            target.on_end(span)

    def shutdown(self) -> None:
        target, self.target = self.target, None
        if target is not None:
            target.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        target = self.target
        return True if target is None else target.force_flush(timeout_millis)


@dataclass(frozen=True, eq=False)
class TrueCourseHandle:
    """What ``init`` set up. Usable as a context manager that calls ``shutdown`` on exit."""

    settings: Settings
    tracer_provider: Any
    """The provider spans go through (an ``opentelemetry.sdk.trace.TracerProvider``)."""
    joined: bool
    """True when TrueCourse joined a provider the app set up, False when it created one."""
    processor: SpanProcessor = field(repr=False)
    exporter: SpanExporter | None = field(repr=False)
    """The exporter passed to ``init``; None when TrueCourse built its OTLP exporter."""
    tracer: otel_trace.Tracer = field(repr=False)

    @property
    def service(self) -> str:
        return self.settings.service

    @property
    def endpoint(self) -> str:
        return self.settings.endpoint

    @property
    def capture_content(self) -> bool:
        return self.settings.capture_content

    @property
    def active(self) -> bool:
        """True until ``shutdown`` or a later ``init`` replaced this handle's processor."""
        return _state.handle is self

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Export every span ended so far; False if that did not finish within the timeout."""
        return self.processor.force_flush(timeout_millis) if self.active else True

    def shutdown(self) -> None:
        """Same as :func:`shutdown` while this handle is active; a no-op afterwards."""
        with _state.lock:
            if _state.handle is self:
                shutdown()

    def __enter__(self) -> TrueCourseHandle:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.shutdown()


class _State:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.handle: TrueCourseHandle | None = None
        self.settings: Settings | None = None  # the last init's, kept after shutdown
        self.owned_provider: TracerProvider | None = None
        self.owned_resource_key: tuple[Any, ...] | None = None
        self.relays: weakref.WeakKeyDictionary[Any, _Relay] = weakref.WeakKeyDictionary()
        self.warned: weakref.WeakSet[Any] = weakref.WeakSet()
        self.global_tracer: otel_trace.Tracer | None = None


_state = _State()


def init(
    service: str,
    endpoint: str | None = None,
    env: str | None = None,
    version: str | None = None,
    api_key: str | None = None,
    resource_attributes: Mapping[str, Any] | None = None,
    batch: bool = True,
    capture_content: bool = True,
    *,
    exporter: SpanExporter | None = None,
    tracer_provider: Any = None,
    guard: Any = None,
) -> TrueCourseHandle:
    """Start exporting this process's spans to TrueCourse; returns the handle of what was set up.

    ``endpoint`` is the server's base URL (default ``$TRUECOURSE_ENDPOINT``, else
    ``http://127.0.0.1:4318``); spans go to ``{endpoint}/v1/traces``. ``env``, ``version`` and
    ``api_key`` default to ``$TRUECOURSE_ENV``, ``$TRUECOURSE_VERSION`` and
    ``$TRUECOURSE_API_KEY``; the key is sent as ``Authorization: Bearer <key>``. ``batch=False``
    exports each span as it ends (for scripts and tests). ``capture_content=False`` keeps prompt,
    completion and tool-call content out of spans; only their sizes are recorded.

    ``exporter`` replaces the OTLP exporter (tests pass an ``InMemorySpanExporter``); it is
    shut down with TrueCourse's processor, so a later ``init`` with other settings needs a new one;
    ``tracer_provider`` names the provider to join instead of the global one, and is not made
    global. See the module docstring for joining, idempotence and re-initialization.

    ``guard`` masks PII and secrets in the app's process before export: ``True`` for the
    default settings, or the ``guard`` processor's settings (a ``GuardConfig`` or a mapping);
    default ``$TRUECOURSE_GUARD`` (``1`` turns it on). See :mod:`truecourse.sdk.guard`.

    Raises :class:`~truecourse.errors.InvalidInput` for an empty service, an endpoint that is not
    an http(s) URL, a global provider that cannot take span processors, or a change of resource
    on the provider TrueCourse created.
    """
    settings = _resolve(service, endpoint, env, version, api_key, resource_attributes,
                        batch, capture_content, guard)
    with _state.lock:
        current = _state.handle
        if (current is not None and current.settings == settings
                and current.exporter is exporter
                and (tracer_provider is None or tracer_provider is current.tracer_provider)):
            return current
        provider, joined = _provider_for(settings, tracer_provider)
        processor = _exporting_processor(settings, exporter)
        if current is not None:
            _detach(current)
        relay = _state.relays.get(provider)
        if relay is None:
            relay = _state.relays[provider] = _Relay()
            provider.add_span_processor(relay)
        relay.target = processor
        _state.settings = settings
        _state.handle = TrueCourseHandle(
            settings=settings, tracer_provider=provider, joined=joined, processor=processor,
            exporter=exporter, tracer=provider.get_tracer(TRACER_NAME, _SDK_VERSION),
        )
        return _state.handle


def shutdown() -> None:
    """Export what is pending, then stop TrueCourse's processor (only it). Safe to call twice."""
    with _state.lock:
        handle, _state.handle = _state.handle, None
        if handle is not None:
            _detach(handle)


def current_handle() -> TrueCourseHandle | None:
    """The handle of the active ``init``, or None before ``init`` and after ``shutdown``."""
    return _state.handle


def configured_settings() -> Settings | None:
    """The settings of the last successful ``init``, still there after ``shutdown``.

    Feedback uses them: an app may send feedback after it stopped exporting spans.
    """
    return _state.settings


def get_tracer() -> otel_trace.Tracer:
    """The tracer spans are started with: the initialized provider's, else the global one's."""
    handle = _state.handle
    if handle is not None:
        return handle.tracer
    if _state.global_tracer is None:
        _state.global_tracer = otel_trace.get_tracer(TRACER_NAME, _SDK_VERSION)
    return _state.global_tracer


def capture_content() -> bool:
    """Whether spans may hold message content (``init(capture_content=...)``; True before init)."""
    handle = _state.handle
    return True if handle is None else handle.settings.capture_content


def resolve_endpoint(endpoint: str | None) -> str:
    """The server base URL: argument, else ``$TRUECOURSE_ENDPOINT``, else the default."""
    raw = endpoint if endpoint is not None else (_env(ENV_ENDPOINT) or DEFAULT_ENDPOINT)
    url = raw.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidInput(f"endpoint {raw!r} is not an http(s) URL",
                           hint="e.g. http://127.0.0.1:4318")
    if parts.path.endswith(("/v1/traces", "/api/v1/events")):
        raise InvalidInput(f"endpoint {raw!r} names a route, not the server",
                           hint="pass the base URL, e.g. http://127.0.0.1:4318")
    return url


def resolve_api_key(api_key: str | None) -> str | None:
    """The API key: argument, else ``$TRUECOURSE_API_KEY``, else None."""
    return api_key if api_key is not None else _env(ENV_API_KEY)


def auth_headers(api_key: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key}"} if api_key else {}


def _resolve(service: str, endpoint: str | None, env: str | None, version: str | None,
             api_key: str | None, resource_attributes: Mapping[str, Any] | None,
             batch: bool, capture_content: bool, guard: Any = None) -> Settings:
    if not isinstance(service, str) or not service.strip():
        raise InvalidInput("init() needs a service name", hint='e.g. init("support-bot")')
    return Settings(
        service=service.strip(),
        endpoint=resolve_endpoint(endpoint),
        env=env if env is not None else _env(ENV_ENV),
        version=version if version is not None else _env(ENV_VERSION),
        api_key=resolve_api_key(api_key),
        resource_attributes=tuple(sorted((resource_attributes or {}).items())),
        batch=bool(batch),
        capture_content=bool(capture_content),
        guard=_guard_settings(guard),
    )


def _guard_settings(guard: Any) -> Any:
    if guard is None and not _env(ENV_GUARD):
        return None  # keep `import truecourse` light when masking is off
    from truecourse.sdk.guard import guard_config

    return guard_config(guard, _env(ENV_GUARD))


def _env(name: str) -> str | None:
    value = os.environ.get(name, "").strip()
    return value or None


def _provider_for(settings: Settings, explicit: Any) -> tuple[Any, bool]:
    """The provider to add the relay to, and whether it was joined (True) or is ours (False)."""
    if explicit is not None:
        return _join(explicit, settings), True
    provider = otel_trace.get_tracer_provider()
    if provider is _state.owned_provider:
        if settings.resource_key() != _state.owned_resource_key:
            raise InvalidInput(
                "init() was already called with a different service, env, version or "
                "resource_attributes; the tracer provider it created cannot change its resource",
                hint="call init() once at startup, or pass tracer_provider=",
            )
        return provider, False
    if isinstance(provider, otel_trace.ProxyTracerProvider):
        created = TracerProvider(resource=Resource.create(settings.resource()))
        otel_trace.set_tracer_provider(created)
        if otel_trace.get_tracer_provider() is created:
            _state.owned_provider = created
            _state.owned_resource_key = settings.resource_key()
            return created, False
        created.shutdown()  # another thread set a provider first: join that one
        provider = otel_trace.get_tracer_provider()
    return _join(provider, settings), True


def _join(provider: Any, settings: Settings) -> Any:
    if not callable(getattr(provider, "add_span_processor", None)):
        raise InvalidInput(
            f"the tracer provider is a {type(provider).__qualname__}, which cannot take span "
            "processors",
            hint="use an opentelemetry.sdk.trace.TracerProvider, or call truecourse.init() "
                 "before other tracing setup",
        )
    resource = getattr(provider, "resource", None)
    theirs = getattr(resource, "attributes", {}).get("service.name")
    if theirs != settings.service and provider not in _state.warned:
        _state.warned.add(provider)
        warnings.warn(
            f"truecourse.init(service={settings.service!r}) joined an existing tracer provider "
            f"whose service.name is {theirs!r}; its spans are stored under {theirs!r}",
            UserWarning, stacklevel=4,
        )
    return provider


def _exporting_processor(settings: Settings, exporter: SpanExporter | None) -> SpanProcessor:
    if exporter is None:
        # Imported here: the exporter pulls in requests and protobuf, which `import truecourse`
        # should not pay for.
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter(endpoint=f"{settings.endpoint}/v1/traces",
                                    headers=auth_headers(settings.api_key))
    if settings.guard is not None:
        from truecourse.sdk.guard import GuardingSpanExporter

        exporter = GuardingSpanExporter(exporter, settings.guard)
    return BatchSpanProcessor(exporter) if settings.batch else SimpleSpanProcessor(exporter)


def _detach(handle: TrueCourseHandle) -> None:
    """Unhook ``handle``'s processor from its relay, then flush and shut it down."""
    relay = _state.relays.get(handle.tracer_provider)
    if relay is not None and relay.target is handle.processor:
        relay.target = None
    try:
        handle.processor.force_flush()
    finally:
        handle.processor.shutdown()
