"""Text drift: Evidently 0.7's domain classifier, reproduced call for call.

Evidently (``evidently/legacy/utils/data_drift_utils.py``, ``calculate_text_drift_score``)
labels the reference texts 0 and the current ones 1, splits them in halves
(``train_test_split(test_size=0.5, random_state=42, shuffle=True)``), fits TF-IDF
(``sublinear_tf=True, max_df=0.5, stop_words="english"``) and an L1 ``SGDClassifier``
(``alpha=0.0001, max_iter=50, loss="modified_huber", random_state=42``) on one half and scores
the other: the statistic is that half's ROC AUC. With more than 1,000 reference texts the column
drifts when the AUC exceeds 0.55 (``abs_text_content_drift``); with fewer, when it exceeds the
95th percentile of the AUCs of 1,000 random classifiers on the same labels
(``perc_text_content_drift``, threshold 0.95 meaning that percentile).

The same scikit-learn estimators are used here, so the AUC is Evidently's. The random
classifiers are drawn from a private ``RandomState`` seeded as Evidently seeds numpy's global
one (the same numbers; Evidently changes the process's global seed, this does not), and their
AUC is computed from ranks (equal to ``roc_auc_score`` for scores without ties).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mlops_guard.errors import DataError

__all__ = ["ABS_TEXT_TEST", "PERC_TEXT_TEST", "TextOutcome", "text_drift"]

ABS_TEXT_TEST = "abs_text_content_drift"
PERC_TEXT_TEST = "perc_text_content_drift"
#: Evidently's StatTest default thresholds for the two text tests.
ABS_TEXT_THRESHOLD = 0.55
PERC_TEXT_THRESHOLD = 0.95
_SEED = 42
_RANDOM_CLASSIFIERS = 1000


@dataclass(frozen=True)
class TextOutcome:
    test: str
    statistic: float
    threshold: float
    drifted: bool
    cutoff: float


def _random_auc_percentile(labels: Any, p_value: float) -> float:
    """Evidently's roc_auc_random_classifier_percentile, without touching numpy's global seed."""
    import numpy as np

    y = np.asarray(labels)
    positives = int(y.sum())
    negatives = y.size - positives
    seeds = np.random.RandomState(_SEED).randint(
        0, _RANDOM_CLASSIFIERS * 10, size=_RANDOM_CLASSIFIERS
    )
    aucs = np.empty(_RANDOM_CLASSIFIERS)
    for i, seed in enumerate(seeds):
        scores = np.random.RandomState(seed).rand(y.size)
        ranks = np.empty(y.size)
        ranks[np.argsort(scores, kind="mergesort")] = np.arange(1, y.size + 1)
        aucs[i] = (ranks[y == 1].sum() - positives * (positives + 1) / 2) / (positives * negatives)
    return float(np.percentile(aucs, 100 * (1 - p_value)))


def text_drift(
    name: str,
    reference: Sequence[str],
    current: Sequence[str],
    *,
    threshold: float | None = None,
    small_reference_rows: int = 1000,
) -> TextOutcome:
    """The domain-classifier test on the non-null texts of both sides."""
    import warnings

    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import SGDClassifier
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import Pipeline

    texts = [*reference, *current]
    labels = [0] * len(reference) + [1] * len(current)
    x_train, x_test, y_train, y_test = train_test_split(
        texts, labels, test_size=0.5, random_state=_SEED, shuffle=True
    )
    pipeline = Pipeline(
        [
            ("vectorization", TfidfVectorizer(sublinear_tf=True, max_df=0.5, stop_words="english")),
            (
                "classification",
                SGDClassifier(
                    alpha=0.0001,
                    max_iter=50,
                    penalty="l1",
                    loss="modified_huber",
                    random_state=_SEED,
                ),
            ),
        ]
    )
    try:
        with warnings.catch_warnings():
            # max_iter=50 is Evidently's; scikit-learn warns that it did not converge.
            warnings.simplefilter("ignore")
            pipeline.fit(x_train, y_train)
            proba = pipeline.predict_proba(x_test)[:, 1]
            auc = float(roc_auc_score(y_test, proba))
    except (ValueError, AttributeError, TypeError) as exc:
        # An empty vocabulary (texts of one-letter tokens or stop words only), one class in a
        # half, or non-string values: Evidently's report fails on the whole data set here.
        raise DataError(
            f"text column {name!r} cannot be tested with the domain classifier "
            f"({str(exc).splitlines()[0]})",
            hint=f"give the column a type (numbers or categories), or exclude it ({name!r})",
        ) from exc
    if len(reference) > small_reference_rows:
        cut = ABS_TEXT_THRESHOLD if threshold is None else threshold
        return TextOutcome(ABS_TEXT_TEST, auc, cut, auc > cut, cut)
    level = PERC_TEXT_THRESHOLD if threshold is None else threshold
    cutoff = _random_auc_percentile(y_test, 1 - level)
    return TextOutcome(PERC_TEXT_TEST, auc, level, auc > cutoff, cutoff)
