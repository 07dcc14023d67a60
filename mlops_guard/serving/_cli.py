"""The ``serve`` command (registered by :mod:`mlops_guard.cli`)."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import Any


def register(commands: argparse._SubParsersAction[Any]) -> None:
    """Add ``serve``. Import nothing heavy here: --help must stay fast."""
    serve = commands.add_parser(
        "serve",
        help="serve MODEL@champion over MLflow's scoring protocol, following the registry",
        description="POST /invocations (dataframe_split, dataframe_records, instances, inputs, "
        'CSV) answers {"predictions": [...]}; GET /ping, /health, /version, /metrics. The '
        "server switches to a moved champion alias without a restart and runs the live "
        "canary set by 'mlops-guard canary start'. Settings: MLOPS_GUARD_SERVING_*.",
    )
    serve.add_argument("model", metavar="MODEL", help="registered model name")
    serve.add_argument("--host", default=None, help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=None, help="port (default 8080)")
    serve.add_argument("--workers", type=int, default=None, help="server processes (default 1)")
    serve.add_argument(
        "--json-logs",
        action="store_true",
        default=None,
        help="request logs as JSON lines on stdout (default: <workdir>/logs/requests.jsonl)",
    )
    serve.add_argument("--tracking-uri", default=None, help="MLflow tracking URI")
    serve.set_defaults(handler=_serve, services=("mlflow",))


def _serve(args: argparse.Namespace) -> int:
    from mlops_guard.serving._run import serve
    from mlops_guard.serving._settings import ServingSettings
    from mlops_guard.settings import check_model_name, load_settings

    overrides = {
        name: value
        for name, value in (
            ("host", args.host),
            ("port", args.port),
            ("workers", args.workers),
            ("json_logs", args.json_logs),
        )
        if value is not None
    }
    # A progress bar per artifact download (the drift profile of each served version) is
    # noise in a server's log.
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    config = ServingSettings(**overrides)
    settings = load_settings(tracking_uri=args.tracking_uri)
    model = check_model_name(args.model)
    logger = logging.getLogger("mlops_guard.serving")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s mlops-guard %(levelname)s %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
    serve(model, settings=settings, config=config)
    return 0
