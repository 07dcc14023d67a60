"""The Alertmanager webhook receiver: an ASGI app (FastAPI) served by uvicorn.

``POST /alertmanager`` checks, in this order, the bearer token (401), the content type (415:
JSON, or none declared), the body size (413), the JSON (400: UTF-8, standard JSON, nested at
most :data:`MAX_JSON_DEPTH` deep) and the schema, version "4" included (422); then it stores
every alert of the payload in the durable inbox and answers 202 only after the commit. Every
refusal is a JSON ``{"error": ...}``, whatever the body was. Acting happens on the
processor's thread, never in the request: Alertmanager's webhook timeout cannot cut a rollback in
half. ``GET /healthz`` answers 200 while the processor runs (503 otherwise); ``GET /metrics``
exposes the process's metrics.

Start-up warms the receiver before it serves (bounded by ``warmup_timeout_seconds``): it imports
what the rollback will import, builds the MLflow client and reads the registry once, so the
first alert after a start is as fast as the others. A failed warm-up (MLflow down) is logged
and counted in ``mlops_guard_sink_failures_total{sink="warmup"}``; the receiver starts anyway.

With ``MLOPS_GUARD_SERVING_URL`` set, every rollback the receiver confirmed is followed by
``POST <url>/-/reload`` (bearer ``MLOPS_GUARD_SERVING_RELOAD_TOKEN``), so the scoring server
switches at once instead of at its next poll (:mod:`mlops_guard.alerts._reload`).

>>> from mlops_guard.settings import GuardSettings
>>> import tempfile
>>> app = create_app(guard_settings=GuardSettings(workdir=tempfile.mkdtemp()),
...                  handler=lambda alert: None)  # doctest: +SKIP
"""

from __future__ import annotations

import hmac
import importlib
import ipaddress
import json
import logging
import re
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from mlops_guard.alerts._payload import WebhookPayload
from mlops_guard.errors import AlertError, ConfigError, GuardError
from mlops_guard.settings import resolve_settings

if TYPE_CHECKING:
    from fastapi import FastAPI, Request, Response

    from mlops_guard.alerts._processor import ActionHandler, AlertProcessor, Warmup
    from mlops_guard.alerts._settings import AlertsSettings
    from mlops_guard.alerts._store import AlertStore
    from mlops_guard.metrics import GuardMetrics
    from mlops_guard.serving._settings import ServingSettings
    from mlops_guard.settings import GuardSettings

__all__ = [
    "RegistryWarmup",
    "create_app",
    "default_handler",
    "is_loopback",
    "serve",
    "webhook_token",
]

WEBHOOK_PATH = "/alertmanager"

#: Deepest nesting of arrays and objects a webhook body may have. Alertmanager's payload is
#: four levels deep; Python's parser would recurse until RecursionError on a hostile body.
MAX_JSON_DEPTH = 32

_log = logging.getLogger("mlops_guard.alerts")


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and ``localhost``."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def webhook_token(guard_settings: GuardSettings) -> str | None:
    """The bearer token in force; an empty or blank ``MLOPS_GUARD_WEBHOOK_TOKEN`` is no token."""
    secret = guard_settings.webhook_token
    if secret is None or not secret.get_secret_value().strip():
        return None
    return secret.get_secret_value().strip()


def default_handler(guard_settings: GuardSettings, settings: AlertsSettings) -> ActionHandler:
    """The rollback handler of the mode the settings ask for: ``in_process`` here, or a mode an
    integration provides (Prefect's ``deployment`` and ``event``, Airflow's ``airflow``)."""
    from mlops_guard.alerts._modes import rollback_mode

    return rollback_mode(settings.rollback_mode).build(guard_settings, settings)


class RegistryWarmup:
    """The receiver's warm-up: import what the handler imports, build the MLflow client, read
    the registry once (``search_registered_models(max_results=1)``, one try).

    Called by the processor's thread at start and, as a keep-alive, after quiet spells. Never
    raises: a failure is logged and counted in ``mlops_guard_sink_failures_total{sink="warmup"}``
    and the first alert then pays for the connection itself. ``runs`` and ``last_ok`` say what
    happened.
    """

    def __init__(
        self, guard_settings: GuardSettings, settings: AlertsSettings, metrics: GuardMetrics
    ) -> None:
        self.guard_settings = guard_settings
        self.settings = settings
        self.metrics = metrics
        self.runs = 0
        self.last_ok: bool | None = None

    def __call__(self) -> bool:
        started = time.perf_counter()
        first = self.runs == 0
        self.runs += 1
        try:
            modules = self._modules()
            for name in modules:
                importlib.import_module(name)
            self._read_registry()
        except Exception as exc:  # noqa: BLE001 - a cold receiver is slower, not broken
            self.last_ok = False
            self.metrics.sink_failures_total.labels(sink="warmup").inc()
            _log.warning(
                "%s failed, alerts are still received and acted on: %s",
                "warm-up" if first else "keep-alive registry read",
                _one_line(exc),
            )
            return False
        self.last_ok = True
        _log.log(
            logging.INFO if first else logging.DEBUG,
            "%s in %.2f s: imported %s, MLflow client built, registry read",
            "warmed up" if first else "keep-alive",
            time.perf_counter() - started,
            ", ".join(modules),
        )
        return True

    def _modules(self) -> tuple[str, ...]:
        from mlops_guard.alerts._modes import rollback_mode
        from mlops_guard.registry._lock import lock_backend
        from mlops_guard.registry._settings import RegistrySettings

        # What the mode's first alert imports (measured: mlflow alone is ~2 s of a cold start).
        modules = rollback_mode(self.settings.rollback_mode).warm_modules
        if lock_backend(RegistrySettings()) == "prefect":
            # The alias lock is then a Prefect concurrency limit, taken by every move.
            modules += ("prefect.client.orchestration", "prefect.concurrency.sync")
        return modules

    def _read_registry(self) -> None:
        from mlops_guard.registry._client import RegistryClient
        from mlops_guard.registry._settings import RegistrySettings

        # One try: a tracking server that is down must not hold the start-up back; the first
        # alert has the full retry budget.
        config = RegistrySettings().model_copy(update={"attempts": 1})
        client = RegistryClient(self.guard_settings, config)
        client.call(
            "warm up the registry client",
            lambda: client.mlflow.search_registered_models(max_results=1),
        )


def _one_line(exc: BaseException) -> str:
    text = str(exc) if isinstance(exc, GuardError) else f"{type(exc).__name__}: {exc}"
    return " ".join(text.split())[:500]


def create_app(
    *,
    guard_settings: GuardSettings | None = None,
    settings: AlertsSettings | None = None,
    handler: ActionHandler | None = None,
    metrics: GuardMetrics | None = None,
    store: AlertStore | None = None,
    warmup: Warmup | None = None,
    serving: ServingSettings | None = None,
) -> FastAPI:
    """Build the receiver. The inbox is opened (and locked) now, so a second receiver on the
    same inbox fails here with :class:`~mlops_guard.errors.AlertError`, before it listens.

    ``handler`` defaults to :func:`default_handler`, ``warmup`` to :class:`RegistryWarmup`;
    tests inject their own. ``serving`` (default: ``MLOPS_GUARD_SERVING_*``) names the scoring
    server told to reload after each rollback (``url`` and ``reload_token``; no URL, no call).
    ``app.state`` holds ``store``, ``processor``, ``warmup`` and ``reload`` (or None).
    """
    from fastapi import FastAPI

    from mlops_guard.alerts._processor import AlertProcessor
    from mlops_guard.alerts._reload import serving_reload
    from mlops_guard.alerts._settings import AlertsSettings
    from mlops_guard.alerts._store import AlertStore
    from mlops_guard.metrics import get_metrics

    guard_settings = resolve_settings(guard_settings)
    settings = settings or AlertsSettings()
    metrics = metrics or get_metrics()
    handler = handler or default_handler(guard_settings, settings)
    inbox = store or AlertStore(settings.store_path(guard_settings.workdir), exclusive=True)
    warm = warmup or RegistryWarmup(guard_settings, settings, metrics)
    reload = serving_reload(metrics, serving)
    processor = AlertProcessor(
        inbox,
        handler,
        settings=settings,
        guard_settings=guard_settings,
        metrics=metrics,
        warmup=warm,
        after_action=reload,
    )
    token = webhook_token(guard_settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        from starlette.concurrency import run_in_threadpool

        processor.start()
        # Serve only once warm (or after the bound): a 200 from /healthz then means the first
        # alert costs what any other does. Alerts that come meanwhile wait in the socket backlog.
        if not await run_in_threadpool(processor.wait_warm, settings.warmup_timeout_seconds):
            _log.warning(
                "warm-up still running after %g s; serving anyway",
                settings.warmup_timeout_seconds,
            )
        try:
            yield
        finally:
            processor.stop()
            if reload is not None:
                reload.close()
            inbox.close()

    app = FastAPI(
        title="mlops-guard alert receiver",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.store = inbox
    app.state.processor = processor
    app.state.warmup = warm
    app.state.reload = reload

    async def healthz(_request: Request) -> Response:
        from fastapi.responses import JSONResponse
        from starlette.concurrency import run_in_threadpool

        try:
            counts = await run_in_threadpool(inbox.counts)
        except AlertError as exc:
            return JSONResponse({"status": "unhealthy", "error": str(exc)}, status_code=503)
        healthy = processor.running
        return JSONResponse(
            {"status": "ok" if healthy else "processor stopped", "alerts": counts},
            status_code=200 if healthy else 503,
        )

    async def metrics_endpoint(_request: Request) -> Response:
        from fastapi.responses import Response as PlainResponse
        from prometheus_client import CONTENT_TYPE_LATEST

        # The pending count is read from the inbox at scrape time: a scrape right after an
        # alert ends must not see the count of before (one indexed count, well under 1 ms).
        processor.refresh_gauge()
        return PlainResponse(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    webhook = _Webhook(inbox, processor, settings, metrics, token)

    async def receive(request: Request) -> Response:
        return await webhook(request)

    # Plain Starlette routes: the handlers take the raw request (no FastAPI parameter parsing,
    # which would need the annotations at runtime and could not stream the size limit).
    app.router.add_route(WEBHOOK_PATH, receive, methods=["POST"])
    app.router.add_route("/healthz", healthz, methods=["GET"])
    app.router.add_route("/metrics", metrics_endpoint, methods=["GET"])
    return app


def _refuse(
    metrics: GuardMetrics,
    status: int,
    message: str,
    *,
    headers: dict[str, str] | None = None,
    problems: list[dict[str, str]] | None = None,
) -> Response:
    from fastapi.responses import Response as PlainResponse

    metrics.alerts_received_total.labels(status="rejected").inc()
    body: dict[str, Any] = {"error": message}
    if problems is not None:
        body["problems"] = problems
    # ASCII escapes: a message may quote the body (a key with a lone surrogate), which the
    # UTF-8 encoding of a JSONResponse would turn into a 500.
    return PlainResponse(
        json.dumps(body, ensure_ascii=True),
        status_code=status,
        headers=headers,
        media_type="application/json",
    )


def _is_json_type(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media in ("application/json", "*/*") or (
        media.startswith("application/") and media.endswith("+json")
    )


# A string (to its closing quote, or to the end when unterminated, so that the scan stays
# linear on hostile input) or one bracket.
_JSON_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"?|[\[\]{}]')


def _json_depth_ok(text: str, limit: int) -> bool:
    """Whether arrays and objects nest at most ``limit`` deep (a scan, no parse)."""
    if text.count("[") + text.count("{") <= limit:
        return True  # the usual payload: too few brackets to nest that deep
    depth = 0
    for token in _JSON_TOKEN.finditer(text):
        char = text[token.start()]
        if char in "[{":
            depth += 1
            if depth > limit:
                return False
        elif char in "]}":
            depth -= 1
    return True


_JSON_TYPES = {"list": "array", "str": "string", "int": "number", "float": "number"}
_JSON_TYPES.update(bool="boolean", NoneType="null")


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def _parse_json(body: bytes) -> Any:
    """The body as a JSON document; ValueError naming the problem for anything else."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"body is not UTF-8 (byte {exc.start})") from exc
    if not _json_depth_ok(text, MAX_JSON_DEPTH):
        raise ValueError(f"body nests deeper than {MAX_JSON_DEPTH} levels")
    try:
        # NaN and Infinity are Python extensions, not JSON.
        return json.loads(text, parse_constant=_no_constant)
    except RecursionError as exc:  # below the depth limit, but never a 500
        raise ValueError("body nests too deep") from exc
    except ValueError as exc:
        raise ValueError(f"body is not JSON: {exc}") from exc


class _Webhook:
    """``POST /alertmanager``: check, store, answer 202, wake the processor."""

    def __init__(
        self,
        inbox: AlertStore,
        processor: AlertProcessor,
        settings: AlertsSettings,
        metrics: GuardMetrics,
        token: str | None,
    ) -> None:
        self.inbox = inbox
        self.processor = processor
        self.settings = settings
        self.metrics = metrics
        self.token = token

    async def __call__(self, request: Request) -> Response:
        from fastapi.responses import JSONResponse
        from starlette.concurrency import run_in_threadpool

        checked = await self._check(request)
        if not isinstance(checked, WebhookPayload):
            return checked
        try:
            results = await run_in_threadpool(
                self.inbox.add, checked.alerts, receiver=checked.receiver
            )
        except AlertError as exc:
            # 503: Alertmanager retries, so the alert is not lost while the disk is unhappy.
            return JSONResponse({"error": str(exc)}, status_code=503)
        self.processor.wake()  # act first; the bookkeeping below must not delay it
        await run_in_threadpool(self.processor.received, results)
        for result in results:
            if result.duplicate:
                status = "duplicate"
            elif result.state == "pending":
                status = "queued"
            else:
                status = "recorded"
            self.metrics.alerts_received_total.labels(status=status).inc()
        stored = [
            {
                "id": r.id,
                "fingerprint": r.fingerprint,
                "duplicate": r.duplicate,
                "state": r.state,
                "note": r.note,
            }
            for r in results
        ]
        return JSONResponse({"stored": stored}, status_code=202)

    async def _check(self, request: Request) -> WebhookPayload | Response:
        refused = self._check_headers(request)
        if refused is not None:
            return refused
        limit = self.settings.max_body_bytes
        body = bytearray()
        async for chunk in request.stream():  # a chunked body has no Content-Length to trust
            body.extend(chunk)
            if len(body) > limit:
                return _refuse(self.metrics, 413, f"body exceeds the limit of {limit} bytes")
        return self._payload(bytes(body))

    def _check_headers(self, request: Request) -> Response | None:
        if self.token is not None:
            given = request.headers.get("authorization", "")
            scheme, _, credentials = given.partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(
                credentials.strip().encode(), self.token.encode()
            ):
                return _refuse(
                    self.metrics,
                    401,
                    "missing or wrong bearer token",
                    headers={"WWW-Authenticate": "Bearer"},
                )
        content_type = request.headers.get("content-type")
        if content_type is not None and not _is_json_type(content_type):
            return _refuse(
                self.metrics,
                415,
                f"content type {content_type[:100]!r} is not JSON; send application/json",
            )
        limit = self.settings.max_body_bytes
        declared = request.headers.get("content-length", "")
        # isascii: "²".isdigit() is true, and int() refuses it.
        if declared.isascii() and declared.isdigit() and int(declared) > limit:
            return _refuse(self.metrics, 413, f"body of {declared} bytes exceeds {limit}")
        return None

    def _payload(self, body: bytes) -> WebhookPayload | Response:
        from pydantic import ValidationError

        try:
            document = _parse_json(body)
        except ValueError as exc:
            return _refuse(self.metrics, 400, str(exc))
        if not isinstance(document, dict):
            return _refuse(
                self.metrics,
                422,
                "not an Alertmanager webhook payload: the body is a JSON "
                f"{_JSON_TYPES.get(type(document).__name__, 'value')}, not an object",
            )
        try:
            return WebhookPayload.model_validate(document)
        except ValidationError as exc:
            problems = [
                {"loc": ".".join(str(part) for part in err["loc"])[:200], "msg": err["msg"]}
                for err in exc.errors()[:20]
            ]
            return _refuse(
                self.metrics,
                422,
                "not an Alertmanager webhook payload (version 4)",
                problems=problems,
            )


def _bind(host: str, port: int) -> socket.socket:
    from mlops_guard._net import bind_listener

    return bind_listener(
        host,
        port,
        backlog=128,
        hint="pick another --port (or MLOPS_GUARD_ALERTS_PORT), or stop what uses it",
    )


def serve(
    host: str | None = None,
    port: int | None = None,
    *,
    guard_settings: GuardSettings | None = None,
    settings: AlertsSettings | None = None,
) -> None:
    """Run the receiver until SIGINT/SIGTERM (blocking).

    Refuses to listen beyond loopback without ``MLOPS_GUARD_WEBHOOK_TOKEN``: an open rollback
    trigger on the network is a denial-of-service button. Where it listens, the warm-up and
    every alert's outcome are logged at INFO on the ``mlops_guard.alerts`` logger (the CLI
    prints them on stderr).
    """
    from mlops_guard.alerts._settings import AlertsSettings

    guard_settings = resolve_settings(guard_settings)
    settings = settings or AlertsSettings()
    host = host or settings.host
    port = settings.port if port is None else port
    if not is_loopback(host) and webhook_token(guard_settings) is None:
        raise ConfigError(
            f"refusing to listen on {host} without a webhook token",
            hint="set MLOPS_GUARD_WEBHOOK_TOKEN (and Alertmanager's bearer token), "
            "or listen on 127.0.0.1",
        )
    import uvicorn

    sock = _bind(host, port)
    try:
        app = create_app(guard_settings=guard_settings, settings=settings)
        bound_host, bound_port = sock.getsockname()[:2]
        _log.info(
            "alert receiver on http://%s:%s%s, inbox %s, rollback mode %s",
            bound_host,
            bound_port,
            WEBHOOK_PATH,
            settings.store_path(guard_settings.workdir),
            settings.rollback_mode,
        )
        if app.state.reload is not None:
            _log.info("after each rollback: POST %s/-/reload", app.state.reload.url)
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        sock.close()
