"""A seeded synthetic churn data set that looks like real tabular ML data.

Ten numerical features, three categorical ones, an id, a timestamp and a binary label that depends
on the features through a fixed logistic model. Knobs inject the failures mlops-guard exists to
catch: covariate drift in chosen columns, concept drift (the label relationship changes), and
corruption (nulls, out-of-range values, unseen categories, wrong types).

Everything is vectorised numpy: a million rows take about a second.

>>> df = make_dataset(SyntheticSpec(rows=1000, seed=7))
>>> df.shape
(1000, 16)
>>> make_dataset(SyntheticSpec(rows=5, seed=7)).equals(make_dataset(SyntheticSpec(rows=5, seed=7)))
True
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from mlops_guard.errors import UsageError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from mlops_guard.contract import ModelContract

__all__ = [
    "churn_contract",
    "CATEGORICAL_FEATURES",
    "CATEGORIES",
    "FEATURES",
    "ID_COLUMN",
    "LABEL",
    "NUMERICAL_FEATURES",
    "TIMESTAMP_COLUMN",
    "Corruption",
    "SyntheticSpec",
    "make_dataset",
]

ID_COLUMN = "customer_id"
TIMESTAMP_COLUMN = "event_time"
LABEL = "churned"

NUMERICAL_FEATURES: tuple[str, ...] = (
    "age",
    "tenure_months",
    "monthly_charges",
    "total_charges",
    "support_calls",
    "data_usage_gb",
    "logins_30d",
    "avg_session_minutes",
    "late_payments",
    "discount_pct",
)
CATEGORIES: Mapping[str, tuple[str, ...]] = {
    "contract": ("month-to-month", "one-year", "two-year"),
    "payment_method": ("card", "bank-transfer", "e-check", "mailed-check"),
    "region": ("north", "south", "east", "west", "central"),
}
CATEGORICAL_FEATURES: tuple[str, ...] = tuple(CATEGORIES)
FEATURES: tuple[str, ...] = NUMERICAL_FEATURES + CATEGORICAL_FEATURES

# Category probabilities: skewed the way real customer bases are.
_CATEGORY_P: Mapping[str, tuple[float, ...]] = {
    "contract": (0.55, 0.25, 0.20),
    "payment_method": (0.40, 0.25, 0.25, 0.10),
    "region": (0.25, 0.20, 0.20, 0.20, 0.15),
}
# Logistic-model weights on standardised features; chosen so churn is about 25% and a linear
# model reaches a ROC AUC near 0.8, like public churn data sets.
_WEIGHTS: Mapping[str, float] = {
    "tenure_months": -1.1,
    "monthly_charges": 0.7,
    "support_calls": 0.6,
    "logins_30d": -0.5,
    "late_payments": 0.5,
    "discount_pct": -0.3,
    "age": -0.15,
}
_CONTRACT_EFFECT = {"month-to-month": 0.9, "one-year": -0.4, "two-year": -1.2}
_PAYMENT_EFFECT = {"card": -0.1, "bank-transfer": -0.2, "e-check": 0.5, "mailed-check": 0.1}
_INTERCEPT = -1.45


@dataclass(frozen=True)
class Corruption:
    """Corruption to inject. Rates are shares of rows (0 to 1) in the named columns.

    ``wrong_type_columns`` get the text ``"n/a?"`` in some numeric cells, so the column no longer
    parses as a number, as happens when an upstream export changes.
    """

    null_rate: float = 0.0
    null_columns: tuple[str, ...] = ()
    out_of_range_rate: float = 0.0
    out_of_range_columns: tuple[str, ...] = ()
    unseen_category_rate: float = 0.0
    unseen_category_columns: tuple[str, ...] = ()
    wrong_type_rate: float = 0.0
    wrong_type_columns: tuple[str, ...] = ()

    @property
    def any(self) -> bool:
        return any(
            rate > 0
            for rate in (
                self.null_rate,
                self.out_of_range_rate,
                self.unseen_category_rate,
                self.wrong_type_rate,
            )
        )


@dataclass(frozen=True)
class SyntheticSpec:
    """What to generate.

    ``drift`` maps a column to a shift: for a numerical column, in units of that column's
    standard deviation (0.5 is a clearly visible drift); for a categorical column, the share of
    rows moved to its least common category. ``concept_drift`` (0 to 1) blends the label model
    toward one with the tenure and contract effects reversed.
    """

    rows: int = 10_000
    seed: int = 0
    start: str = "2026-01-01"
    drift: Mapping[str, float] = field(default_factory=dict)
    concept_drift: float = 0.0
    corruption: Corruption = field(default_factory=Corruption)

    def __post_init__(self) -> None:
        if self.rows <= 0:
            raise UsageError(f"rows must be positive, got {self.rows}", hint="pass rows >= 1")
        if not 0.0 <= self.concept_drift <= 1.0:
            raise UsageError(
                f"concept_drift must be in [0, 1], got {self.concept_drift}",
                hint="0 keeps the label model, 1 fully reverses it",
            )
        unknown = sorted(set(self.drift) - set(FEATURES))
        if unknown:
            raise UsageError(
                f"cannot drift unknown column(s) {', '.join(map(repr, unknown))}",
                hint=f"choose from {', '.join(FEATURES)}",
            )


def _numerical(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    import numpy as np

    tenure = np.clip(rng.gamma(1.6, 18.0, n), 0, 120).round()
    monthly = np.clip(rng.normal(70.0, 25.0, n), 18.0, 160.0).round(2)
    return {
        "age": np.clip(rng.normal(44.0, 14.0, n), 18, 90).round(),
        "tenure_months": tenure,
        "monthly_charges": monthly,
        "total_charges": (monthly * tenure * rng.uniform(0.9, 1.1, n)).round(2),
        "support_calls": rng.poisson(1.3, n).astype("float64"),
        "data_usage_gb": rng.lognormal(2.3, 0.8, n).round(3),
        "logins_30d": rng.poisson(12.0, n).astype("float64"),
        "avg_session_minutes": np.clip(rng.normal(22.0, 9.0, n), 0.5, None).round(2),
        "late_payments": rng.poisson(0.4, n).astype("float64"),
        "discount_pct": rng.choice([0.0, 5.0, 10.0, 15.0, 20.0], n, p=[0.5, 0.2, 0.15, 0.1, 0.05]),
    }


def _standardise(values: np.ndarray) -> np.ndarray:
    import numpy as np

    std = float(values.std())
    return np.asarray((values - values.mean()) / (std if std > 0 else 1.0), dtype="float64")


def _logit(num: dict[str, np.ndarray], cat: dict[str, np.ndarray], reverse: float) -> np.ndarray:
    """The label model; ``reverse`` in [0, 1] blends toward reversed tenure and contract effects."""
    import numpy as np

    z = np.full(len(num["age"]), _INTERCEPT)
    for column, weight in _WEIGHTS.items():
        sign = 1.0 - 2.0 * reverse if column == "tenure_months" else 1.0
        z += sign * weight * _standardise(num[column])
    contract = np.vectorize(_CONTRACT_EFFECT.__getitem__, otypes=[float])(cat["contract"])
    payment = np.vectorize(_PAYMENT_EFFECT.__getitem__, otypes=[float])(cat["payment_method"])
    z += (1.0 - 2.0 * reverse) * contract + payment
    return z


def churn_contract() -> ModelContract:
    """The contract of a model of this data set: the features with their kinds, the label
    ``churned`` (classes 0 and 1, positive 1), the id and the timestamp."""
    from mlops_guard.contract import FeatureSpec, ModelContract

    return ModelContract(
        features=tuple(
            [FeatureSpec(name=n, kind="numerical") for n in NUMERICAL_FEATURES]
            + [FeatureSpec(name=n, kind="categorical") for n in CATEGORICAL_FEATURES]
        ),
        label=LABEL,
        task="binary",
        id_column=ID_COLUMN,
        timestamp_column=TIMESTAMP_COLUMN,
        classes=(0, 1),
        positive_class=1,
    )


def make_dataset(spec: SyntheticSpec | None = None, **kwargs: object) -> pd.DataFrame:
    """Generate a data set. Same spec and seed, same rows, byte for byte.

    Keyword arguments build a :class:`SyntheticSpec` when ``spec`` is not given:
    ``make_dataset(rows=500, seed=1, drift={"age": 0.5})``.
    """
    import numpy as np
    import pandas as pd

    if spec is None:
        spec = SyntheticSpec(**kwargs)  # type: ignore[arg-type]
    n = spec.rows
    rng = np.random.default_rng(spec.seed)

    num = _numerical(rng, n)
    cat = {
        column: rng.choice(np.array(values, dtype=object), n, p=_CATEGORY_P[column])
        for column, values in CATEGORIES.items()
    }
    # The label is drawn before covariate drift is applied: drift moves the inputs a model sees
    # in production, not the truth it learned (that is concept drift, a separate knob).
    z = _logit(num, cat, spec.concept_drift)
    label = (rng.random(n) < 1.0 / (1.0 + np.exp(-z))).astype("int64")

    for column, shift in spec.drift.items():
        if column in num:
            values = num[column]
            num[column] = values + shift * (values.std() or 1.0)
        else:
            rare = CATEGORIES[column][int(np.argmin(_CATEGORY_P[column]))]
            moved = rng.random(n) < shift
            cat[column] = np.where(moved, rare, cat[column])

    start = pd.Timestamp(spec.start).to_datetime64().astype("datetime64[s]")
    offsets = np.sort(rng.integers(0, 30 * 24 * 3600, n)).astype("timedelta64[s]")
    frame = pd.DataFrame(
        {
            ID_COLUMN: np.char.add("C", np.char.zfill(np.arange(n).astype(str), 8)).astype(object),
            TIMESTAMP_COLUMN: pd.to_datetime(start + offsets, utc=True),
            **num,
            **cat,
            LABEL: label,
        }
    )
    if spec.corruption.any:
        frame = _corrupt(frame, spec.corruption, rng)
    return frame


def _rows(rng: np.random.Generator, n: int, rate: float) -> np.ndarray:
    return rng.random(n) < rate


def _corrupt(frame: pd.DataFrame, c: Corruption, rng: np.random.Generator) -> pd.DataFrame:
    import numpy as np

    frame = frame.copy()
    n = len(frame)
    for column in c.null_columns:
        mask = _rows(rng, n, c.null_rate)
        frame[column] = frame[column].astype("float64" if column in NUMERICAL_FEATURES else object)
        frame.loc[mask, column] = np.nan if column in NUMERICAL_FEATURES else None
    for column in c.out_of_range_columns:
        mask = _rows(rng, n, c.out_of_range_rate)
        # Far outside anything the generator makes: negative, or a thousand times the maximum.
        bad = np.where(rng.random(n) < 0.5, -1.0, 1000.0 * (frame[column].abs().max() + 1.0))
        frame.loc[mask, column] = bad[mask]
    for column in c.unseen_category_columns:
        mask = _rows(rng, n, c.unseen_category_rate)
        frame.loc[mask, column] = f"unseen-{column}"
    for column in c.wrong_type_columns:
        mask = _rows(rng, n, c.wrong_type_rate)
        frame[column] = frame[column].astype(object)
        frame.loc[mask, column] = "n/a?"
    return frame
