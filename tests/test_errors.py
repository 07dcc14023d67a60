from __future__ import annotations

import inspect

import pytest

from mlops_guard import errors
from mlops_guard.errors import CheckFailed, GuardError, RegistryUnavailable, SchemaError


def _classes() -> list[type[GuardError]]:
    return [
        obj
        for _, obj in inspect.getmembers(errors, inspect.isclass)
        if issubclass(obj, GuardError) and obj.__module__ == errors.__name__
    ]


def test_every_error_is_exported_and_drawn_in_the_docstring() -> None:
    doc = errors.__doc__ or ""
    for cls in _classes():
        assert cls.__name__ in errors.__all__
        assert cls.__name__ in doc, f"{cls.__name__} missing from the tree in errors.py"


def test_exit_codes_follow_the_cli_contract() -> None:
    assert GuardError.exit_code == 2
    assert SchemaError.exit_code == 2
    assert RegistryUnavailable.exit_code == 3
    for cls in _classes():
        if issubclass(cls, CheckFailed):
            assert cls.exit_code == 1, cls


def test_message_is_one_line_with_the_hint() -> None:
    err = SchemaError("column 'age'\nis missing", hint="add it   to the batch", column="age")
    assert str(err) == "column 'age' is missing; add it to the batch"
    assert err.context == {"column": "age"}
    assert "\n" not in str(err)


def test_foreign_errors_keep_their_cause() -> None:
    def call_mlflow() -> None:
        try:
            raise ConnectionError("refused")
        except ConnectionError as exc:
            raise RegistryUnavailable("MLflow down", hint="retry") from exc

    with pytest.raises(RegistryUnavailable) as caught:
        call_mlflow()
    assert isinstance(caught.value.__cause__, ConnectionError)
