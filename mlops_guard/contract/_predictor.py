"""Score any registered model through its contract: one frame in, the contract's prediction
columns out, whatever the flavour.

Probabilities come from the flavour's ``predict_proba`` where the model has one (a
scikit-learn-compatible estimator: scikit-learn, XGBoost's and LightGBM's sklearn API), and
from ``pyfunc.predict`` otherwise: a 2-D output with one column per class is read as
probabilities, a 1-D output as labels (such a classifier still gets every label metric, and
no ``score``). Rows the model fails on are isolated (:func:`score_rows`) and reported with
their reasons, never dropped.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlops_guard.contract._model import PREDICTION_COLUMN, SCORE_COLUMN, ModelContract

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    import pandas as pd

    from mlops_guard.settings import GuardSettings

__all__ = ["DECISION_THRESHOLD", "Predictor", "load_predictor", "score_rows"]

#: A binary classifier predicts the positive class at or above this probability.
DECISION_THRESHOLD = 0.5
# When a whole batch fails to score, the failing rows are found by splitting it: first into
# this many chunks, then by halves. A model that fails on one row in a million costs about
# 2 * log2(rows) extra calls; one that fails on every row is stopped by the budget below.
_FIRST_SPLIT = 16
# Calls spent isolating failures per batch; beyond it, a failing chunk is reported whole with
# its error (every row is still accounted for). 512 calls of a scikit-learn pipeline on small
# frames cost about half a second.
_ISOLATION_BUDGET = 512
_REASON_CHARS = 300


def score_rows(
    predict: Callable[[pd.DataFrame], Any], frame: pd.DataFrame
) -> tuple[npt.NDArray[np.float64], dict[int, str]]:
    """Scores of every row of ``frame`` and the reasons of the rows that could not be scored.

    ``predict`` maps a frame to one number a row. A call that raises is retried on parts of
    the frame until the rows that fail are isolated, so one bad row does not sink the batch;
    a result that is not finite fails its row too. Failed rows have NaN in the returned array
    and their position (0-based) in the reasons.
    """
    import numpy as np

    n = len(frame)
    scores = np.full(n, np.nan)
    reasons: dict[int, str] = {}
    budget = _ISOLATION_BUDGET

    def attempt(start: int, stop: int) -> str | None:
        try:
            got = np.asarray(predict(frame.iloc[start:stop]), dtype=np.float64).ravel()
        except Exception as exc:  # noqa: BLE001 - a model's failure is data about the model
            return f"{type(exc).__name__}: {' '.join(str(exc).split())}"[:_REASON_CHARS]
        if got.size != stop - start:
            return f"the model returned {got.size} values for {stop - start} rows"
        scores[start:stop] = got
        return None

    def parts(start: int, stop: int) -> list[tuple[int, int]]:
        pieces = _FIRST_SPLIT if (start, stop) == (0, n) else 2
        step = -(-(stop - start) // pieces)
        return [(lo, min(stop, lo + step)) for lo in range(start, stop, step)]

    first = attempt(0, n) if n else None
    pending = [] if first is None else [(0, n, first)]
    while pending:
        start, stop, error = pending.pop()
        if stop - start == 1:
            reasons[start] = error
            continue
        for lo, hi in parts(start, stop):
            if budget <= 0:
                reasons.update(dict.fromkeys(range(lo, hi), error))
                continue
            budget -= 1
            failure = attempt(lo, hi)
            if failure is not None:
                pending.append((lo, hi, failure))
    for row in np.flatnonzero(~np.isfinite(scores)):
        reasons.setdefault(int(row), f"the model gave {scores[row]!r}, not a number")
        scores[row] = np.nan
    return scores, reasons


@dataclass(frozen=True)
class Predictor:
    """One model version, loaded, with its contract."""

    model: str
    version: str
    contract: ModelContract
    raw: Any
    proba: Callable[[pd.DataFrame], Any] | None
    predict_fn: Callable[[pd.DataFrame], Any]
    model_classes: tuple[Any, ...] | None = None
    #: True when the model never writes to the frame it is given (a scikit-learn estimator:
    #: its API forbids changing X), so the features are passed without a copy.
    reads_inputs_only: bool = False

    @property
    def has_scores(self) -> bool:
        """True when the model gives class probabilities (always for a regressor's values)."""
        return self.proba is not None or not self.contract.is_classifier

    def _inputs(self, frame: pd.DataFrame) -> pd.DataFrame:
        features = self.contract.feature_names
        if not self.reads_inputs_only:
            # A pyfunc model's code may change its input in place; the batch must not change.
            return frame[features]
        import pandas as pd

        # The same columns, shared rather than copied: a copy of a million rows is fresh memory
        # the system must hand over, which on some machines costs more than the copy itself.
        return pd.DataFrame({name: frame[name] for name in features}, copy=False)

    def _class_order(self, width: int) -> list[Any]:
        """The class of each probability column the model returns."""
        assert self.contract.classes is not None
        if self.model_classes is not None and len(self.model_classes) == width:
            from mlops_guard.contract._model import _plain

            return [_plain(c) for c in self.model_classes]
        return list(self.contract.classes)

    def probabilities(self, frame: pd.DataFrame) -> pd.DataFrame | None:
        """One column per class (named by the class), or None for a labels-only classifier."""
        import numpy as np
        import pandas as pd

        if not self.contract.is_classifier:
            return None
        if self.proba is not None:
            matrix = np.asarray(self.proba(self._inputs(frame)), dtype=np.float64)
        else:
            out = self.predict_fn(self._inputs(frame))
            matrix = np.asarray(out)
            assert self.contract.classes is not None
            if matrix.ndim != 2 or matrix.shape[1] != len(self.contract.classes):
                return None
            matrix = matrix.astype(np.float64)
        if matrix.ndim == 1 and self.contract.task == "binary":
            matrix = np.column_stack([1 - matrix, matrix])
        order = self._class_order(matrix.shape[1])
        return pd.DataFrame(matrix, columns=pd.Index(order, dtype=object), index=frame.index)

    def labels(self, frame: pd.DataFrame) -> pd.Series:
        """The predicted label (or value) of every row."""
        import numpy as np
        import pandas as pd

        from mlops_guard.contract._model import _plain

        probabilities = self.probabilities(frame)
        if probabilities is not None:
            return self.labels_from(probabilities)
        out = np.asarray(self.predict_fn(self._inputs(frame)))
        if out.ndim == 2 and out.shape[1] == 1:
            out = out[:, 0]
        values = [_plain(v) for v in out.ravel()]
        return pd.Series(
            values, index=frame.index, dtype=object if self.contract.is_classifier else "float64"
        )

    def labels_from(self, probabilities: pd.DataFrame) -> pd.Series:
        """Labels from class probabilities: the positive class at or above the threshold for a
        binary model, the most probable class otherwise."""
        import numpy as np
        import pandas as pd

        contract = self.contract
        if contract.task == "binary":
            assert contract.classes is not None
            positive = contract.positive_class
            assert positive is not None  # a binary contract always names it
            negative = next(c for c in contract.classes if c != positive)
            chosen = probabilities[positive].to_numpy() >= DECISION_THRESHOLD
            # One vectorised pick in the labels' own dtype (int64 for 0/1): an object column
            # costs a Python loop here and again when the predictions are written.
            values = np.where(chosen, positive, negative)
        else:
            columns = np.asarray(list(probabilities.columns))
            values = columns[np.argmax(probabilities.to_numpy(), axis=1)]
        return pd.Series(values, index=probabilities.index)

    def predict(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The contract's prediction columns for ``frame`` (raises if the model does)."""
        import pandas as pd

        contract = self.contract
        out = pd.DataFrame(index=frame.index)
        if not contract.is_classifier:
            out[PREDICTION_COLUMN] = pd.to_numeric(self.labels(frame)).astype("float64")
            return out
        probabilities = self.probabilities(frame)
        if probabilities is None:
            out[PREDICTION_COLUMN] = self.labels(frame)
            if contract.task == "binary":
                out[SCORE_COLUMN] = float("nan")
            return out
        out[PREDICTION_COLUMN] = self.labels_from(probabilities)
        if contract.task == "binary":
            out[SCORE_COLUMN] = probabilities[contract.positive_class].to_numpy()
        else:
            for name, cls in zip(contract.probability_columns, contract.classes or (), strict=True):
                out[name] = probabilities[cls].to_numpy() if cls in probabilities else float("nan")
        return out

    def score(self, frame: pd.DataFrame) -> tuple[pd.DataFrame, dict[int, str]]:
        """Predictions of the rows that scored, and the reasons of those that did not.

        The failure of a row is found on a single number per row (the positive score, the
        most probable class's probability, or the value), then the passing rows are predicted
        in one call.
        """
        import numpy as np

        whole: dict[str, pd.DataFrame] = {}

        def one_number(part: pd.DataFrame) -> Any:
            predicted = self.predict(part)
            if len(part) == len(frame):
                whole["predictions"] = predicted  # the batch scored in one call: reused below
            if self.contract.task == "binary" and self.proba is not None:
                return predicted[SCORE_COLUMN].to_numpy()
            if self.contract.is_classifier:
                return predicted[PREDICTION_COLUMN].isna().map({True: np.nan, False: 0.0})
            return predicted[PREDICTION_COLUMN].to_numpy()

        values, reasons = score_rows(one_number, frame)
        ok = np.isfinite(values)
        if self.contract.task == "binary" and self.proba is not None:
            bad = ok & ((values < 0) | (values > 1))
            for row in np.flatnonzero(bad):
                reasons[int(row)] = f"score {values[row]!r} is not a probability in [0, 1]"
            ok &= ~bad
        if not reasons and "predictions" in whole:
            return whole["predictions"], reasons
        kept = frame[ok]
        if not len(kept):
            # Models refuse an empty frame: no row scored is an empty table, not an error.
            import pandas as pd

            empty = pd.DataFrame(index=kept.index, columns=self.contract.prediction_columns)
            return empty, reasons
        return self.predict(kept), reasons


@functools.lru_cache(maxsize=8)
def _load(uri: str, model: str, version: str) -> tuple[Any, Any, Any, Any, bool]:
    """(raw model, predict_proba or None, pyfunc predict, model classes, whether the model
    only reads its input); versions are immutable, so a process loads each once."""
    import mlflow.pyfunc
    from mlflow.models import Model

    from mlops_guard._mlflow_uri import point_fluent_mlflow

    model_uri = f"models:/{model}/{version}"
    point_fluent_mlflow(uri)
    flavors = Model.load(model_uri).flavors
    if "sklearn" in flavors:
        import mlflow.sklearn

        estimator = mlflow.sklearn.load_model(model_uri)
        proba = getattr(estimator, "predict_proba", None)
        classes = getattr(estimator, "classes_", None)
        model_classes = None if classes is None else tuple(classes)
        return estimator, proba, estimator.predict, model_classes, True
    loaded = mlflow.pyfunc.load_model(model_uri)
    return loaded, None, loaded.predict, None, False


def load_predictor(
    settings: GuardSettings, model: str, version: str, contract: ModelContract | None = None
) -> Predictor:
    """Load version ``version`` of ``model`` with its contract (read from the registry unless
    given). Raises :class:`~mlops_guard.errors.ContractError` for a version without one."""
    from mlops_guard.contract._store import load_contract
    from mlops_guard.errors import RegistryUnavailable

    contract = contract or load_contract(model, version, settings)
    try:
        raw, proba, predict, classes, reads_only = _load(
            settings.mlflow_tracking_uri, model, str(version)
        )
    except OSError as exc:
        raise RegistryUnavailable(
            f"model {model!r} v{version} could not be loaded from MLflow ({exc})",
            hint="check MLOPS_GUARD_TRACKING_URI and the artifact store",
        ) from exc
    return Predictor(model, str(version), contract, raw, proba, predict, classes, reads_only)
