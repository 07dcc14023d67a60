"""Reading MLflow's scoring payloads into the contract's columns, and the settings' checks."""

from __future__ import annotations

import json

import pytest

from mlops_guard.contract import FeatureSpec, ModelContract
from mlops_guard.errors import ConfigError
from mlops_guard.serving import RequestRejected, ServingSettings, parse_request

CONTRACT = ModelContract(
    features=(
        FeatureSpec(name="age", kind="numerical"),
        FeatureSpec(name="plan", kind="categorical"),
    ),
    label="churned",
    task="binary",
    classes=(0, 1),
    id_column="customer_id",
)


def _parse(document: object, content_type: str = "application/json", max_rows: int = 10) -> object:
    body = document if isinstance(document, bytes) else json.dumps(document).encode()
    return parse_request(body, content_type, CONTRACT, max_rows=max_rows)


def test_every_shape_gives_the_same_columns() -> None:
    expected = {"age": [40, 31.5], "plan": ["basic", "pro"], "customer_id": ["a", "b"]}
    records = [
        {"customer_id": "a", "age": 40, "plan": "basic", "extra": 1},
        {"customer_id": "b", "age": 31.5, "plan": "pro", "extra": 2},
    ]
    shapes = [
        {
            "dataframe_split": {
                "columns": ["customer_id", "age", "plan", "extra"],
                "data": [["a", 40, "basic", 1], ["b", 31.5, "pro", 2]],
            }
        },
        {"dataframe_records": records},
        {"instances": records},
        {"inputs": {"customer_id": ["a", "b"], "age": [40, 31.5], "plan": ["basic", "pro"]}},
    ]
    for shape in shapes:
        parsed = _parse(shape)
        assert parsed.columns == expected, shape
        assert parsed.ids == ["a", "b"]
    csv = _parse(b"customer_id,age,plan\na,40,basic\nb,31.5,pro\n", "text/csv")
    assert csv.columns == {"age": [40.0, 31.5], "plan": ["basic", "pro"], "customer_id": ["a", "b"]}
    # Rows as lists follow the contract's feature order.
    assert _parse({"inputs": [[40, "basic"]]}).columns == {"age": [40], "plan": ["basic"]}


def test_numbers_as_strings_and_nulls_are_numbers_or_nan() -> None:
    parsed = _parse({"dataframe_records": [{"age": "41", "plan": "x"}, {"age": None, "plan": "y"}]})
    assert parsed.columns["age"][0] == 41.0
    assert parsed.columns["age"][1] != parsed.columns["age"][1]  # NaN


@pytest.mark.parametrize(
    ("document", "status", "kind", "named"),
    [
        ({"dataframe_records": [{"plan": "x"}]}, 400, "missing_columns", "'age'"),
        ({"dataframe_records": [{"age": "old", "plan": "x"}]}, 400, "wrong_type", "'age'"),
        ({"dataframe_records": [{"age": 1, "plan": {"a": 1}}]}, 400, "wrong_type", "'plan'"),
        ({"dataframe_split": {"columns": ["age"], "data": [[1, 2]]}}, 400, "malformed", "row 0"),
        ({"inputs": [[1, "x", 3]]}, 400, "missing_columns", "2 features"),
        ({"instances": []}, 400, "empty", "no rows"),
        ({"dataframe_records": [{"age": 1, "plan": "x"}] * 11}, 413, "too_many_rows", "11 rows"),
    ],
)
def test_bad_payloads_are_4xx_naming_the_problem(
    document: object, status: int, kind: str, named: str
) -> None:
    with pytest.raises(RequestRejected) as caught:
        _parse(document)
    assert (caught.value.status, caught.value.kind) == (status, kind)
    assert named in caught.value.message
    assert caught.value.hint


def test_bad_serving_settings_are_one_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLOPS_GUARD_SERVING_CANARY_SHARE", "1.5")
    with pytest.raises(ConfigError) as caught:
        ServingSettings()
    assert "MLOPS_GUARD_SERVING_CANARY_SHARE" in str(caught.value)
    monkeypatch.delenv("MLOPS_GUARD_SERVING_CANARY_SHARE")
    monkeypatch.setenv("MLOPS_GUARD_SERVING_LOG_EXCLUDE_COLUMNS", "email, phone")
    assert ServingSettings().log_exclude_columns == ["email", "phone"]
