from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from mlops_guard.demo import (
    CATEGORIES,
    FEATURES,
    LABEL,
    NUMERICAL_FEATURES,
    Corruption,
    SyntheticSpec,
    make_dataset,
)
from mlops_guard.errors import UsageError


def test_seeded_and_shaped_like_tabular_ml_data() -> None:
    a = make_dataset(SyntheticSpec(rows=2_000, seed=9))
    assert a.equals(make_dataset(SyntheticSpec(rows=2_000, seed=9)))
    assert not a.equals(make_dataset(SyntheticSpec(rows=2_000, seed=10)))
    assert set(FEATURES) | {"customer_id", "event_time", LABEL} == set(a.columns)
    assert str(a["event_time"].dtype).startswith("datetime64")
    assert a["event_time"].is_monotonic_increasing
    assert a["customer_id"].is_unique
    for column, values in CATEGORIES.items():
        assert set(a[column]) == set(values)
    assert 0.15 < a[LABEL].mean() < 0.45
    assert a[list(NUMERICAL_FEATURES)].notna().all().all()


def _encode(df):  # type: ignore[no-untyped-def]
    import pandas as pd

    return pd.get_dummies(df[list(FEATURES)], dtype=float)


def test_label_depends_on_features_and_concept_drift_breaks_it() -> None:
    train = make_dataset(rows=20_000, seed=1)
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(_encode(train), train[LABEL])
    fresh = make_dataset(rows=5_000, seed=2)
    drifted = make_dataset(rows=5_000, seed=2, concept_drift=1.0)
    auc_fresh = roc_auc_score(fresh[LABEL], model.predict_proba(_encode(fresh))[:, 1])
    auc_drift = roc_auc_score(drifted[LABEL], model.predict_proba(_encode(drifted))[:, 1])
    assert auc_fresh > 0.75
    assert auc_drift < auc_fresh - 0.2


def test_covariate_drift_moves_only_the_named_columns() -> None:
    base = make_dataset(rows=20_000, seed=4)
    moved = make_dataset(rows=20_000, seed=4, drift={"monthly_charges": 1.0, "contract": 0.3})
    shift = (moved["monthly_charges"].mean() - base["monthly_charges"].mean()) / base[
        "monthly_charges"
    ].std()
    assert shift == pytest.approx(1.0, abs=0.05)
    assert moved["age"].equals(base["age"])
    rare = "two-year"
    assert moved["contract"].eq(rare).mean() > base["contract"].eq(rare).mean() + 0.2
    # Covariate drift leaves the labels alone: the truth did not change.
    assert moved[LABEL].equals(base[LABEL])


def test_corruption_knobs() -> None:
    spec = SyntheticSpec(
        rows=10_000,
        seed=3,
        corruption=Corruption(
            null_rate=0.1,
            null_columns=("age", "region"),
            out_of_range_rate=0.02,
            out_of_range_columns=("tenure_months",),
            unseen_category_rate=0.05,
            unseen_category_columns=("contract",),
            wrong_type_rate=0.01,
            wrong_type_columns=("logins_30d",),
        ),
    )
    df = make_dataset(spec)
    assert df["age"].isna().mean() == pytest.approx(0.1, abs=0.02)
    assert df["region"].isna().mean() == pytest.approx(0.1, abs=0.02)
    assert ((df["tenure_months"] < 0) | (df["tenure_months"] > 1_000)).mean() == pytest.approx(
        0.02, abs=0.01
    )
    assert df["contract"].eq("unseen-contract").mean() == pytest.approx(0.05, abs=0.01)
    assert df["logins_30d"].dtype == object
    assert df["logins_30d"].eq("n/a?").mean() == pytest.approx(0.01, abs=0.005)
    assert np.isfinite(df["monthly_charges"]).all()


@pytest.mark.parametrize(
    "kwargs", [{"rows": 0}, {"concept_drift": 1.5}, {"drift": {"no_such_column": 1.0}}]
)
def test_bad_specs_are_usage_errors(kwargs: dict[str, object]) -> None:
    with pytest.raises(UsageError):
        SyntheticSpec(**kwargs)  # type: ignore[arg-type]
