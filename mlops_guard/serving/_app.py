"""The scoring server: MLflow's scoring protocol in front of the registry's champion.

``POST /invocations`` answers ``{"predictions": [...]}`` for the four JSON payloads of
``mlflow models serve`` and CSV; ``GET /ping`` and ``/health`` say whether a version is
loaded, ``/version`` which versions answer, ``/metrics`` the Prometheus metrics;
``POST /-/reload`` (token-checked, off without a token) reads the registry at once. Every
answer carries ``X-Model-Version`` (the version, or versions in request order, that
answered), ``X-Request-Id`` (the caller's, or a new one) and ``traceparent`` (the server's
span, in the caller's trace when it sent one).

A bad request is a 4xx naming the problem, in MLflow's error shape
(``{"error_code": "BAD_REQUEST", "message": ...}``) plus ``kind`` and ``hint``; a version
that fails on a request that passed its contract answers 500 (``kind: model_error``), the
signal the error-rate alert rolls back on. Neither ever stops the server.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import logging
import random
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from mlops_guard.serving._batcher import Batcher, Scored
from mlops_guard.serving._payload import Inputs, RequestRejected, parse_request
from mlops_guard.serving._watch import RegistryWatch, Routing

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

    from opentelemetry.sdk.trace import SpanProcessor
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response

    from mlops_guard.contract import Predictor
    from mlops_guard.metrics import GuardMetrics
    from mlops_guard.serving._keys import KeyRing
    from mlops_guard.serving._live import LiveCanary, LiveDrift
    from mlops_guard.serving._settings import ServingSettings
    from mlops_guard.serving._telemetry import RequestLog, Tracing
    from mlops_guard.settings import GuardSettings

__all__ = ["ScoringServer", "create_server"]

_log = logging.getLogger("mlops_guard.serving")
_ERROR_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "RESOURCE_DOES_NOT_EXIST",
    413: "REQUEST_LIMIT_EXCEEDED",
    415: "BAD_REQUEST",
    429: "REQUEST_LIMIT_EXCEEDED",
    500: "INTERNAL_ERROR",
    503: "TEMPORARILY_UNAVAILABLE",
}


def _error(
    status: int, kind: str, message: str, hint: str | None, retry_after: float | None = None
) -> Response:
    from starlette.responses import Response

    body = {
        "error_code": _ERROR_CODES.get(status, "BAD_REQUEST"),
        "message": message,
        "kind": kind,
        "hint": hint,
    }
    headers = {} if retry_after is None else {"Retry-After": f"{retry_after:.0f}"}
    return Response(
        orjson.dumps(body), status_code=status, media_type="application/json", headers=headers
    )


@dataclass
class _Outcome:
    """What one request did, for its metrics, log line and span."""

    status: int = 200
    kind: str | None = None
    rows: int = 0
    key: str | None = None
    versions: tuple[str, ...] = ()
    digest: str | None = None
    sample: dict[str, list[Any]] | None = None


class ScoringServer:
    """The app and everything it holds: the registry watch, the batcher, telemetry, the live
    canary and drift. Build it with :func:`create_server`; serve ``server.app`` with any ASGI
    server (``mlops-guard serve`` uses uvicorn)."""

    def __init__(
        self,
        model: str,
        settings: GuardSettings,
        config: ServingSettings,
        metrics: GuardMetrics,
        *,
        span_processors: list[SpanProcessor] | None = None,
        keys: KeyRing | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.model = model
        self.settings = settings
        self.config = config
        self.metrics = metrics
        self.keys = keys
        self.clock = clock
        self.batcher = Batcher(config.batch_max_rows)
        self._last_row: dict[str, list[Any]] | None = None
        self.watch = RegistryWatch(model, settings, config, metrics, warm_row=self._warm_row)
        self._span_processors = span_processors
        self.tracing: Tracing | None = None
        self.request_log: RequestLog | None = None
        self.canary: LiveCanary | None = None
        self.drift: dict[str, LiveDrift | None] = {}
        self._background = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mlops-guard-bg")
        self._busy: set[str] = set()
        self._drift_lock = threading.Lock()
        self._drift_state = "idle"  # or "running", or "again" (one more check to run)
        self._random = random.Random()
        # Request ids: a random prefix per process and a counter, unique without the cost of
        # a uuid4 (an urandom call) per request.
        self._id_prefix = uuid.uuid4().hex[:16]
        self._ids = itertools.count()
        self.app = self._build()

    # -- lifecycle -------------------------------------------------------------------------

    def _warm_row(self) -> Any:
        if self._last_row is None:
            return None
        import pandas as pd

        return pd.DataFrame(self._last_row)

    def start(self) -> None:
        """Load the champion (raises when there is none) and start following the registry."""
        from mlops_guard.serving._telemetry import RequestLog, Tracing

        if self.config.telemetry:
            self.tracing = Tracing(f"mlops-guard-serve-{self.model}", self._span_processors)
            path = None if self.config.json_logs else self.settings.workdir / "logs"
            self.request_log = RequestLog(
                None if path is None else path / "requests.jsonl", self.metrics
            )
        self.watch.start()

    def settle(self) -> None:
        """Wait until the background work submitted so far (drift checks, canary
        judgements, profile loads) is done: it runs in order on one thread."""
        self._background.submit(lambda: None).result()

    def stop(self) -> None:
        self.watch.stop()
        self.batcher.close()
        self._background.shutdown(wait=True, cancel_futures=False)
        if self.request_log is not None:
            self.request_log.close()
        if self.tracing is not None:
            self.tracing.shutdown()

    def _build(self) -> Starlette:
        from starlette.applications import Starlette
        from starlette.routing import Route

        @asynccontextmanager
        async def lifespan(_app: Starlette) -> AsyncIterator[None]:
            if not self.watch.started:
                await asyncio.to_thread(self.start)
            try:
                yield
            finally:
                await asyncio.to_thread(self.stop)

        return Starlette(
            routes=[
                Route("/invocations", self.invocations, methods=["POST"]),
                Route("/ping", self.ping, methods=["GET"]),
                Route("/health", self.ping, methods=["GET"]),
                Route("/version", self.version, methods=["GET"]),
                Route("/metrics", self.metrics_endpoint, methods=["GET"]),
                Route("/-/reload", self.reload, methods=["POST"]),
            ],
            lifespan=lifespan,
        )

    # -- small endpoints -------------------------------------------------------------------

    async def ping(self, request: Request) -> Response:
        from starlette.responses import Response

        healthy = self.watch.routing is not None
        return Response("\n", status_code=200 if healthy else 503, media_type="application/json")

    async def version(self, request: Request) -> Response:
        from importlib.metadata import version

        from starlette.responses import Response

        routing = self.watch.routing
        body = {
            "model": self.model,
            "champion": None if routing is None else routing.champion.version,
            "challenger": None
            if routing is None or routing.challenger is None
            else routing.challenger.version,
            "canary_share": 0.0 if routing is None else routing.share,
            "canary_mode": "split" if routing is None else routing.mode,
            "mlflow": version("mlflow"),
        }
        return Response(orjson.dumps(body), media_type="application/json")

    async def metrics_endpoint(self, request: Request) -> Response:
        from prometheus_client import CONTENT_TYPE_LATEST
        from starlette.responses import Response

        return Response(self.metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    async def reload(self, request: Request) -> Response:
        """Read the registry now; answers the versions in force afterwards."""
        import hmac

        from starlette.responses import Response

        token = self.config.reload_token
        if token is None:
            return _error(
                404,
                "disabled",
                "reload is off",
                "set MLOPS_GUARD_SERVING_RELOAD_TOKEN to enable POST /-/reload",
            )
        given = request.headers.get("authorization", "")
        expected = f"Bearer {token.get_secret_value()}"
        if not hmac.compare_digest(given.encode(), expected.encode()):
            return _error(401, "unauthorized", "wrong or missing bearer token", "send the token")
        try:
            switched = await asyncio.to_thread(self.watch.poll_once)
        except Exception as exc:  # noqa: BLE001 - the server keeps its versions
            return _error(503, "registry_unavailable", f"reading the registry failed: {exc}", None)
        routing = self.watch.routing
        body = {
            "switched": switched,
            "champion": None if routing is None else routing.champion.version,
            "challenger": None
            if routing is None or routing.challenger is None
            else routing.challenger.version,
        }
        return Response(orjson.dumps(body), media_type="application/json")

    # -- scoring ---------------------------------------------------------------------------

    async def _body(self, request: Request) -> bytes:
        limit = self.config.max_body_bytes
        declared = request.headers.get("content-length")
        too_large = RequestRejected(
            f"the body is larger than the limit of {limit} bytes",
            status=413,
            kind="too_large",
            hint="split the rows into smaller requests (or raise "
            "MLOPS_GUARD_SERVING_MAX_BODY_BYTES)",
        )
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise too_large
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise too_large
            chunks.append(chunk)
        return b"".join(chunks)

    async def _timed(self, predictor: Predictor, inputs: Inputs) -> tuple[Scored, float]:
        began = time.perf_counter()
        scored = await self.batcher.score(predictor, inputs)
        return scored, time.perf_counter() - began

    def _canary_for(self, routing: Routing) -> LiveCanary | None:
        if routing.challenger is None or not routing.canary_active:
            return None
        current = self.canary
        if (
            current is None
            or current.champion != routing.champion.version
            or current.challenger != routing.challenger.version
        ):
            from mlops_guard.serving._live import LiveCanary

            current = self.canary = LiveCanary(
                self.model, routing.champion.version, routing.challenger.version, self.config
            )
        return current

    def _record_canary(
        self,
        canary: LiveCanary | None,
        predictor: Predictor,
        inputs: Inputs,
        result: Scored | BaseException,
        seconds: float,
    ) -> None:
        if canary is None:
            return
        failed = isinstance(result, BaseException)
        due = canary.record(
            predictor,
            seconds=seconds,
            rows=inputs.rows,
            failed=failed,
            numbers=[] if isinstance(result, BaseException) else result.numbers,
            predictions=[] if isinstance(result, BaseException) else result.predictions,
        )
        if due and self.config.canary_judge and "canary" not in self._busy:
            self._busy.add("canary")
            self._background.submit(self._judge, canary)

    def _judge(self, canary: LiveCanary) -> None:
        try:
            verdict = canary.judge()
            if canary.act(verdict, self.settings, self.metrics) != "continued":
                self.watch.refresh()
        except Exception as exc:  # noqa: BLE001 - a judgement that fails is retried later
            _log.warning("live canary judgement failed (%s); serving goes on", exc)
        finally:
            self._busy.discard("canary")

    def _routes(self, routing: Routing, inputs: Inputs, request: Request) -> Any:
        """True per row for the rows the challenger answers (split mode)."""
        import numpy as np

        from mlops_guard.canary import route_to_challenger

        assert routing.challenger is not None
        ids: Any = inputs.ids
        if ids is None:
            entity = request.headers.get(self.config.entity_header)
            if entity is None:
                # No id at all: a random share of requests, as a load balancer would send.
                chosen = self._random.random() < routing.share
                return np.full(inputs.rows, chosen)
            ids = [entity] * inputs.rows
        return route_to_challenger(
            ids, routing.share, salt=f"{self.model}:{routing.challenger.version}"
        )

    async def _score(
        self, routing: Routing, inputs: Inputs, request: Request
    ) -> tuple[list[Any], tuple[str, ...], Scored]:
        """The answer, the versions that gave it, and the champion-served part (for drift)."""
        champion, challenger = routing.champion, routing.challenger
        canary = self._canary_for(routing)
        if canary is None or challenger is None:
            scored, _ = await self._timed(champion, inputs)
            return scored.predictions, (champion.version,), scored
        if routing.mode == "shadow":
            return await self._shadow(canary, champion, challenger, inputs)
        routed = self._routes(routing, inputs, request)
        if not routed.any() or routed.all():
            predictor = challenger if routed.all() else champion
            try:
                scored, seconds = await self._timed(predictor, inputs)
            except Exception as exc:
                self._record_canary(canary, predictor, inputs, exc, 0.0)
                raise
            self._record_canary(canary, predictor, inputs, scored, seconds)
            return scored.predictions, (predictor.version,), scored
        parts = {False: _subset(inputs, ~routed), True: _subset(inputs, routed)}
        results = await asyncio.gather(
            self._timed(champion, parts[False]),
            self._timed(challenger, parts[True]),
            return_exceptions=True,
        )
        for predictor, part, result in zip(
            (champion, challenger), (parts[False], parts[True]), results, strict=True
        ):
            if isinstance(result, BaseException):
                self._record_canary(canary, predictor, part, result, 0.0)
            else:
                self._record_canary(canary, predictor, part, result[0], result[1])
        for result in results:
            if isinstance(result, BaseException):
                raise result
        (kept, _), (sent, _) = results  # type: ignore[misc]
        answer: list[Any] = []
        kept_values, sent_values = iter(kept.predictions), iter(sent.predictions)
        for to_challenger in routed.tolist():
            answer.append(next(sent_values) if to_challenger else next(kept_values))
        first = challenger if routed[0] else champion
        second = champion if first is challenger else challenger
        return answer, (first.version, second.version), kept

    async def _shadow(
        self, canary: LiveCanary, champion: Predictor, challenger: Predictor, inputs: Inputs
    ) -> tuple[list[Any], tuple[str, ...], Scored]:
        """Both versions score the request; the champion answers."""
        main, shadow = await asyncio.gather(
            self._timed(champion, inputs),
            self._timed(challenger, inputs),
            return_exceptions=True,
        )
        if not isinstance(shadow, BaseException):
            self._record_canary(canary, challenger, inputs, shadow[0], shadow[1])
        else:
            self._record_canary(canary, challenger, inputs, shadow, 0.0)
        if isinstance(main, BaseException):
            self._record_canary(canary, champion, inputs, main, 0.0)
            raise main
        self._record_canary(canary, champion, inputs, main[0], main[1])
        return main[0].predictions, (champion.version,), main[0]

    def _observe_drift(self, routing: Routing, inputs: Inputs, scored: Scored) -> None:
        from mlops_guard.serving._live import LiveDrift, _metric_name, load_version_profile

        version = routing.champion.version
        if scored.version != version or not scored.numbers:
            return
        if version not in self.drift:
            self.drift[version] = None
            predictor = routing.champion

            def load() -> None:
                profile = load_version_profile(self.model, version, self.settings)
                if profile is None:
                    return
                contract = predictor.contract
                output = "score" if _metric_name(predictor) == "score" else "prediction"
                exclude = tuple(
                    c for c in (contract.id_column, contract.timestamp_column) if c is not None
                )
                self.drift[version] = LiveDrift(
                    self.model, version, profile, output, self.config, exclude
                )

            self._background.submit(_logged, load, "loading the drift profile")
            return
        drift = self.drift[version]
        if drift is None:
            return
        now = self.clock()
        if not drift.add(inputs.columns, scored.numbers, now):
            return
        with self._drift_lock:
            if self._drift_state != "idle":
                # A check is running: one more runs after it, on the rows that arrived since,
                # so the last rows of a burst are never left unchecked.
                self._drift_state = "again"
                return
            self._drift_state = "running"

        def check() -> None:
            while True:
                try:
                    drift.check(self.metrics, self.clock())
                    self._drop_replaced_verdict(drift.version)
                except Exception:
                    with self._drift_lock:
                        self._drift_state = "idle"
                    raise
                with self._drift_lock:
                    again = self._drift_state == "again"
                    self._drift_state = "running" if again else "idle"
                if not again:
                    return

        self._background.submit(_logged, check, "the live drift check")

    def _drop_replaced_verdict(self, version: str) -> None:
        """Remove ``version``'s prediction-drift gauge when it is no longer served. The watch
        removes it at the switch; a check that was queued before the switch and ran after it
        must not bring it back (the verdict is set before the routing is read here, and the
        routing is replaced before the watch removes it, so one of the two always removes)."""
        import contextlib

        routing = self.watch.routing
        served = set()
        if routing is not None:
            served.add(routing.champion.version)
            if routing.challenger is not None:
                served.add(routing.challenger.version)
        if version not in served:
            with contextlib.suppress(KeyError):
                self.metrics.serving_prediction_drift.remove(self.model, version)

    async def invocations(self, request: Request) -> Response:
        from starlette.responses import Response

        started = time.perf_counter()
        request_id = (
            request.headers.get("x-request-id") or f"{self._id_prefix}{next(self._ids):08x}"
        )
        routing = self.watch.routing
        if routing is None:
            return _error(503, "not_ready", "no model version is loaded yet", "retry shortly")
        tracing = self.tracing
        span = None
        if tracing is not None:
            from opentelemetry.trace import SpanKind

            parent = tracing.propagator.extract(dict(request.headers))
            span = tracing.tracer.start_span(
                "POST /invocations", context=parent, kind=SpanKind.SERVER
            )
        outcome = _Outcome()
        gauge = self.metrics.serving_in_flight.labels(model=self.model)
        gauge.inc()
        try:
            response = await self._invoke(request, routing, outcome)
        finally:
            gauge.dec()
        elapsed = time.perf_counter() - started
        versions = outcome.versions or (routing.champion.version,)
        response.headers["X-Model-Version"] = ",".join(versions)
        response.headers["X-Request-Id"] = request_id
        trace_id = None
        if span is not None and tracing is not None:
            from opentelemetry.trace import Status, StatusCode, set_span_in_context

            span.set_attribute("http.request.method", "POST")
            span.set_attribute("http.route", "/invocations")
            span.set_attribute("http.response.status_code", outcome.status)
            span.set_attribute("mlops_guard.model", self.model)
            span.set_attribute("mlops_guard.model_version", ",".join(versions))
            span.set_attribute("mlops_guard.rows", outcome.rows)
            if outcome.kind is not None:
                span.set_attribute("error.type", outcome.kind)
            if outcome.status >= 500:
                span.set_status(Status(StatusCode.ERROR))
            carrier: dict[str, str] = {}
            tracing.propagator.inject(carrier, context=set_span_in_context(span))
            if "traceparent" in carrier:
                response.headers["traceparent"] = carrier["traceparent"]
            trace_id = format(span.get_span_context().trace_id, "032x")
            span.end()
        if self.config.telemetry:
            self._telemetry(outcome, versions, elapsed, request_id, trace_id)
        assert isinstance(response, Response)
        return response

    async def _invoke(self, request: Request, routing: Routing, outcome: _Outcome) -> Response:
        from starlette.responses import Response

        try:
            if self.keys is not None:
                outcome.key = self.keys.identify(
                    request.headers.get("authorization"), request.headers.get("x-api-key")
                )
            body = await self._body(request)
            if self.config.telemetry:
                outcome.digest = hashlib.sha256(body).hexdigest()
            inputs = parse_request(
                body,
                request.headers.get("content-type"),
                routing.champion.contract,
                max_rows=self.config.max_rows,
            )
            outcome.rows = inputs.rows
            if self.keys is not None and outcome.key is not None:
                self.keys.admit(outcome.key, inputs.rows)
            if self._last_row is None or self._random.random() < 0.01:
                self._last_row = {name: values[:1] for name, values in inputs.columns.items()}
            if (
                self.config.telemetry
                and self.config.log_sample_inputs
                and self._random.random() < self.config.log_sample_inputs
            ):
                excluded = set(self.config.log_exclude_columns)
                outcome.sample = {k: v for k, v in inputs.columns.items() if k not in excluded}
            answer, versions, served = await self._score(routing, inputs, request)
            outcome.versions = versions
            if self.config.telemetry:
                self._observe_drift(routing, inputs, served)
                self._observe_predictions(served)
            return Response(orjson.dumps({"predictions": answer}), media_type="application/json")
        except RequestRejected as exc:
            outcome.status, outcome.kind = exc.status, exc.kind
            return _error(exc.status, exc.kind, exc.message, exc.hint, exc.retry_after)
        except Exception as exc:  # noqa: BLE001 - the model failed; the server goes on
            outcome.status, outcome.kind = 500, "model_error"
            reason = f"{type(exc).__name__}: {' '.join(str(exc).split())}"[:300]
            return _error(
                500,
                "model_error",
                f"the model failed on the request ({reason})",
                "the request passed the model's contract; the version is at fault",
            )

    def _observe_predictions(self, scored: Scored) -> None:
        histogram = self.metrics.serving_prediction.labels(
            model=self.model, model_version=scored.version
        )
        for value in scored.numbers[:100]:  # a sample of a big request is enough for shape
            histogram.observe(value)

    def _telemetry(
        self,
        outcome: _Outcome,
        versions: tuple[str, ...],
        elapsed: float,
        request_id: str,
        trace_id: str | None,
    ) -> None:
        m = self.metrics
        status = str(outcome.status)
        for version in versions:
            m.serving_requests_total.labels(
                model=self.model, model_version=version, status=status
            ).inc()
            m.serving_request_seconds.labels(model=self.model, model_version=version).observe(
                elapsed
            )
            if outcome.kind is not None:
                m.serving_errors_total.labels(
                    model=self.model, model_version=version, kind=outcome.kind
                ).inc()
        if outcome.status == 200:
            m.serving_rows_total.labels(model=self.model, model_version=versions[0]).inc(
                outcome.rows
            )
        if outcome.key is not None:
            m.serving_key_requests_total.labels(key=outcome.key, status=status).inc()
            m.serving_key_rows_total.labels(key=outcome.key).inc(outcome.rows)
        if self.request_log is not None:
            from mlops_guard.runlog import rfc3339_now

            record: dict[str, Any] = {
                "ts": rfc3339_now(),
                "level": "INFO" if outcome.status < 400 else "WARNING",
                "event": "serving.request",
                "request_id": request_id,
                "trace_id": trace_id,
                "model": self.model,
                "model_version": ",".join(versions),
                "rows": outcome.rows,
                "latency_ms": round(elapsed * 1000, 3),
                "status": outcome.status,
                "error_kind": outcome.kind,
                "key": outcome.key,
                "inputs_sha256": outcome.digest,
            }
            if outcome.sample is not None:
                record["inputs"] = outcome.sample
            self.request_log.write(record)


def _subset(inputs: Inputs, mask: Any) -> Inputs:
    import numpy as np

    rows = np.flatnonzero(mask).tolist()
    columns = {name: [values[i] for i in rows] for name, values in inputs.columns.items()}
    ids = None if inputs.ids is None else [inputs.ids[i] for i in rows]
    return Inputs(columns, len(rows), ids)


def _logged(job: Callable[[], None], what: str) -> None:
    try:
        job()
    except Exception as exc:  # noqa: BLE001 - background work never breaks serving
        _log.warning("%s failed (%s); serving goes on", what, exc)


def create_server(
    model: str | None = None,
    *,
    settings: GuardSettings | None = None,
    config: ServingSettings | None = None,
    metrics: GuardMetrics | None = None,
    span_processors: list[SpanProcessor] | None = None,
    clock: Callable[[], float] | None = None,
) -> ScoringServer:
    """A :class:`ScoringServer` for ``model`` (default: the settings' model). Its champion is
    loaded when the app starts (its lifespan), so a missing champion fails at start, not at
    the first request."""
    from mlops_guard.metrics import get_metrics
    from mlops_guard.serving._keys import KeyRing
    from mlops_guard.serving._settings import ServingSettings
    from mlops_guard.settings import check_model_name, resolve_settings

    settings = resolve_settings(settings)
    config = config or ServingSettings()
    model = check_model_name(model or settings.model_name)
    keys = None
    if config.api_keys_file is not None:
        keys = KeyRing.from_file(
            config.api_keys_file,
            limit_requests=config.rate_limit_requests,
            limit_rows=config.rate_limit_rows,
            window_seconds=config.rate_window_seconds,
            clock=clock or time.monotonic,
        )
    return ScoringServer(
        model,
        settings,
        config,
        metrics or get_metrics(),
        span_processors=span_processors,
        keys=keys,
        clock=clock or time.monotonic,
    )
