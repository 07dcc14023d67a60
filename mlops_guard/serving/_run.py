"""Running the scoring server with uvicorn: in the foreground (the CLI) or on a thread (tests,
benchmarks, a process that embeds it)."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlops_guard.serving._app import ScoringServer
    from mlops_guard.serving._settings import ServingSettings
    from mlops_guard.settings import GuardSettings

__all__ = ["RunningServer", "serve", "start_in_thread"]

_log = logging.getLogger("mlops_guard.serving")
#: The model a worker process serves (``--workers`` above 1 starts workers by import path).
MODEL_VARIABLE = "MLOPS_GUARD_SERVING_MODEL"


def _bind(host: str, port: int) -> socket.socket:
    from mlops_guard._net import bind_listener

    # A deep backlog: bursts of clients connect at once and the batcher drains them fast.
    return bind_listener(
        host, port, backlog=2048, hint="pick another --port, or stop what is using it"
    )


def _uvicorn_config(app: Any, config: ServingSettings) -> Any:
    import uvicorn

    return uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,  # the request log is ours (JSON lines, hashed inputs)
        lifespan="on",
        loop="auto",
        http="h11" if _no_httptools() else "auto",
        timeout_keep_alive=30,
    )


def _no_httptools() -> bool:
    try:
        import httptools  # noqa: F401
    except ImportError:
        return True
    return False


def worker_app() -> Any:
    """The app of one worker process (uvicorn's factory under ``--workers``)."""
    from mlops_guard.serving._app import create_server

    return create_server(os.environ.get(MODEL_VARIABLE)).app


def serve(
    model: str, *, settings: GuardSettings | None = None, config: ServingSettings | None = None
) -> None:
    """Serve ``model`` until SIGINT/SIGTERM (blocking)."""
    import uvicorn

    from mlops_guard.serving._app import create_server
    from mlops_guard.serving._settings import ServingSettings

    config = config or ServingSettings()
    sock = _bind(config.host, config.port)
    try:
        host, port = sock.getsockname()[:2]
        _log.info("serving %s@champion on http://%s:%s/invocations", model, host, port)
        if config.workers > 1:
            # Workers import the app by name and read their settings from the environment.
            sock.close()
            os.environ[MODEL_VARIABLE] = model
            if settings is not None:
                os.environ["MLOPS_GUARD_TRACKING_URI"] = settings.mlflow_tracking_uri
                os.environ["MLOPS_GUARD_WORKDIR"] = str(settings.workdir)
            os.environ["MLOPS_GUARD_SERVING_JSON_LOGS"] = str(config.json_logs).lower()
            uvicorn.run(
                "mlops_guard.serving._run:worker_app",
                factory=True,
                host=config.host,
                port=config.port,
                workers=config.workers,
                log_level="warning",
                access_log=False,
            )
            return
        server = create_server(model, settings=settings, config=config)
        # Started before uvicorn: a model without a champion is one clear error, not a
        # traceback from the ASGI lifespan.
        server.start()
        import gc

        # Everything loaded so far (MLflow, pandas, the model) lives as long as the process:
        # kept out of the collector's full passes, which otherwise stall requests for tens
        # of milliseconds now and then.
        gc.freeze()
        uvicorn.Server(_uvicorn_config(server.app, config)).run(sockets=[sock])
    finally:
        sock.close()


@dataclass
class RunningServer:
    """A server on a background thread: its URL, the :class:`ScoringServer`, and ``stop()``."""

    url: str
    server: ScoringServer
    _uvicorn: Any
    _thread: threading.Thread

    def stop(self) -> None:
        self._uvicorn.should_exit = True
        self._thread.join(timeout=30)


def start_in_thread(
    server: ScoringServer, *, host: str = "127.0.0.1", port: int = 0
) -> RunningServer:
    """Serve ``server.app`` on a daemon thread; returns once it accepts requests (its
    champion loaded), or raises what its start-up raised."""
    import uvicorn

    server.start()
    sock = _bind(host, port)
    bound_host, bound_port = sock.getsockname()[:2]
    uv = uvicorn.Server(_uvicorn_config(server.app, server.config))
    failure: list[BaseException] = []

    def run() -> None:
        try:
            asyncio.run(uv.serve(sockets=[sock]))
        except BaseException as exc:  # noqa: BLE001 - reported to the caller below
            failure.append(exc)
        finally:
            sock.close()

    thread = threading.Thread(target=run, name="mlops-guard-serve", daemon=True)
    thread.start()
    while not uv.started and thread.is_alive():
        thread.join(timeout=0.05)
    if not uv.started:
        if failure:
            raise failure[0]
        from mlops_guard.errors import ServiceUnavailable

        raise ServiceUnavailable(
            "the scoring server did not start", hint="see the log above for the cause"
        )
    return RunningServer(f"http://{bound_host}:{bound_port}", server, uv, thread)
