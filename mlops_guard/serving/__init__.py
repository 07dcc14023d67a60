"""The scoring server: MLflow's scoring protocol in front of the registry's champion.

``mlops-guard serve MODEL`` answers ``POST /invocations`` as ``mlflow models serve`` does, for
``models:/MODEL@champion`` of any model with a contract, and follows the registry: a moved
alias is loaded, warmed and switched to without a restart and without a failed request. A
challenger with a canary share (``mlops-guard canary start``) answers a stable share of
entities, or shadows the champion; the live judge promotes or removes it by the batch
canary's rules. Every request is logged (inputs hashed), counted per version and traced; a
sampled window of live inputs is checked for drift against the version's reference profile.

>>> from mlops_guard.serving import create_server, start_in_thread  # doctest: +SKIP
>>> running = start_in_thread(create_server("churn"))  # doctest: +SKIP
>>> running.url  # doctest: +SKIP
'http://127.0.0.1:40123'
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlops_guard._lazy import lazy_exports

if TYPE_CHECKING:
    from mlops_guard.serving._app import ScoringServer, create_server
    from mlops_guard.serving._keys import KeyRing, hash_secret
    from mlops_guard.serving._payload import RequestRejected, parse_request
    from mlops_guard.serving._run import RunningServer, serve, start_in_thread
    from mlops_guard.serving._settings import CanaryMode, ServingSettings
    from mlops_guard.serving._watch import (
        CANARY_MODE_TAG,
        CANARY_SHARE_TAG,
        RegistryWatch,
        Routing,
        Switch,
    )

__all__ = [
    "CANARY_MODE_TAG",
    "CANARY_SHARE_TAG",
    "CanaryMode",
    "KeyRing",
    "RegistryWatch",
    "RequestRejected",
    "Routing",
    "RunningServer",
    "ScoringServer",
    "ServingSettings",
    "Switch",
    "create_server",
    "hash_secret",
    "parse_request",
    "serve",
    "start_in_thread",
]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "ScoringServer": "_app",
        "create_server": "_app",
        "KeyRing": "_keys",
        "hash_secret": "_keys",
        "RequestRejected": "_payload",
        "parse_request": "_payload",
        "RunningServer": "_run",
        "serve": "_run",
        "start_in_thread": "_run",
        "CanaryMode": "_settings",
        "ServingSettings": "_settings",
        "CANARY_MODE_TAG": "_watch",
        "CANARY_SHARE_TAG": "_watch",
        "RegistryWatch": "_watch",
        "Routing": "_watch",
        "Switch": "_watch",
    },
)
