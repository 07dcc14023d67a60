"""Model versions on the MLflow Model Registry: champion and challenger aliases, an audit
trail of every alias move, and rollback in one step.

Aliases ``champion`` and ``challenger`` point at versions of a registered model. Promotions form a
stack; :func:`rollback` pops it (a rollback is never itself rolled back to) or goes ``to_version``.
Every move is a compare-and-set under a cross-process lock (a PostgreSQL advisory lock when the
tracking store is PostgreSQL, else a Prefect global concurrency limit when ``PREFECT_API_URL`` is
set, else a file lock in the working directory) and is recorded in MLflow
itself, as registered-model tags ``mlops_guard.alias_history.<seq>`` (one JSON event each; they
survive restarts and show on the model's page in the MLflow UI).

>>> from mlops_guard.registry import promote, rollback, history  # doctest: +SKIP
>>> promote("churn", "2", reason="canary passed", actor="ci")  # doctest: +SKIP
>>> rollback("churn", reason="error rate", actor="oncall").to_version  # doctest: +SKIP
'1'

:func:`register_model` registers a model trained anywhere (any MLflow model URI) with its
contract, drift reference, inferred validation suite and reference quality.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlops_guard._lazy import lazy_exports

if TYPE_CHECKING:
    from mlops_guard.registry._aliases import (
        CHALLENGER,
        CHAMPION,
        aliases,
        get_challenger,
        get_champion,
        history,
        promote,
        remove_challenger,
        rollback,
        set_challenger,
    )
    from mlops_guard.registry._history import AliasAction, AliasEvent, promotion_stack
    from mlops_guard.registry._register import (
        SUITE_ARTIFACT,
        SUITE_TAG,
        Registration,
        register_model,
    )
    from mlops_guard.registry._settings import RegistrySettings

__all__ = [
    "CHALLENGER",
    "CHAMPION",
    "AliasAction",
    "AliasEvent",
    "RegistrySettings",
    "aliases",
    "get_challenger",
    "get_champion",
    "history",
    "promote",
    "promotion_stack",
    "remove_challenger",
    "rollback",
    "set_challenger",
    # Registering a model trained anywhere
    "SUITE_ARTIFACT",
    "SUITE_TAG",
    "Registration",
    "register_model",
]

# Every name loads its module on first use: `mlops-guard --help` imports this package.
__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "CHALLENGER": "_aliases",
        "CHAMPION": "_aliases",
        "aliases": "_aliases",
        "get_challenger": "_aliases",
        "get_champion": "_aliases",
        "history": "_aliases",
        "promote": "_aliases",
        "remove_challenger": "_aliases",
        "rollback": "_aliases",
        "set_challenger": "_aliases",
        "AliasAction": "_history",
        "AliasEvent": "_history",
        "promotion_stack": "_history",
        "RegistrySettings": "_settings",
        "SUITE_ARTIFACT": "_register",
        "SUITE_TAG": "_register",
        "Registration": "_register",
        "register_model": "_register",
    },
)
