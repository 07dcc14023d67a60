"""The model contract: inference from reference data, its checks, its JSON form."""

from __future__ import annotations

import pandas as pd
import pytest

from mlops_guard.contract import FeatureSpec, ModelContract, infer_contract
from mlops_guard.errors import ContractError, SchemaError


@pytest.fixture
def reference() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": [1, 2, 3, 4],
            "x": [0.5, 1.5, 2.5, 3.5],
            "colour": ["red", "blue", "red", "blue"],
            "flag": [True, False, True, False],
            "y": ["no", "yes", "no", "yes"],
            "value": [1.0, 2.0, 3.0, 4.0],
        }
    )


def test_features_are_the_reference_columns_minus_label_and_id(reference: pd.DataFrame) -> None:
    contract = infer_contract(label="y", task="binary", reference=reference, id_column="id")
    assert contract.feature_names == ["x", "colour", "flag", "value"]
    assert contract.numerical == ["x", "value"]
    assert contract.categorical == ["colour", "flag"]  # bool is a category, not a number
    assert contract.classes == ("no", "yes")
    assert contract.positive_class == "yes"  # the last of the two sorted labels
    assert contract.prediction_columns == ["prediction", "score"]
    assert ModelContract.from_json(contract.to_json()) == contract


def test_positive_class_defaults_to_one_or_true_and_can_be_named(
    reference: pd.DataFrame,
) -> None:
    numeric = reference.assign(y=[1, 0, 1, 0])
    assert infer_contract(label="y", task="binary", reference=numeric).positive_class == 1
    assert infer_contract(label="flag", task="binary", reference=reference).positive_class is True
    named = infer_contract(label="y", task="binary", reference=reference, positive_class="no")
    assert named.positive_class == "no"
    with pytest.raises(ContractError, match="positive class 'maybe'"):
        infer_contract(label="y", task="binary", reference=reference, positive_class="maybe")


def test_labels_that_do_not_fit_the_task_are_refused(reference: pd.DataFrame) -> None:
    with pytest.raises(ContractError, match="4 distinct value"):
        infer_contract(label="value", task="binary", reference=reference)
    with pytest.raises(ContractError, match="not numeric"):
        infer_contract(label="colour", task="regression", reference=reference)
    regression = infer_contract(label="value", task="regression", reference=reference)
    assert regression.classes is None
    assert regression.prediction_columns == ["prediction"]
    with pytest.raises(ContractError, match="outside the model's classes"):
        infer_contract(label="y", task="binary", reference=reference).check_labels(
            ["yes", "perhaps"], source="batch.csv"
        )


def test_a_feature_missing_from_the_reference_is_a_schema_error(reference: pd.DataFrame) -> None:
    with pytest.raises(SchemaError, match="'height'"):
        infer_contract(label="y", task="binary", reference=reference, features=["x", "height"])
    with pytest.raises(ContractError, match="also listed as a feature"):
        infer_contract(label="y", task="binary", reference=reference, features=["x", "y"])


def test_multiclass_probability_columns_follow_the_classes(reference: pd.DataFrame) -> None:
    three = reference.assign(y=["a", "b", "c", "a"])
    contract = infer_contract(label="y", task="multiclass", reference=three)
    assert contract.probability_columns == ["proba_a", "proba_b", "proba_c"]
    assert contract.positive_class is None


def test_require_columns_names_every_missing_one() -> None:
    contract = ModelContract(
        features=(FeatureSpec(name="a", kind="numerical"), FeatureSpec(name="b", kind="numerical")),
        label="y",
        task="regression",
        id_column="key",
    )
    with pytest.raises(SchemaError, match="'b', 'y', 'key'"):
        contract.require_columns(pd.DataFrame({"a": [1]}), source="batch.csv", label=True)
