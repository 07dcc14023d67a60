"""MLflow's scoring protocol: a request body to the contract's columns, checked before any
model sees it.

The four JSON shapes of ``mlflow models serve`` (``dataframe_split``, ``dataframe_records``,
``instances``, ``inputs``) and CSV are read into columns (one Python list per column), so the
server can join concurrent requests into one frame without a ``pd.concat`` per request. Every
problem with a request is a :class:`RequestRejected` carrying its HTTP status (4xx) and a
fixed error kind for metrics; the model never sees a request that failed here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlops_guard.errors import DataError

if TYPE_CHECKING:
    from mlops_guard.contract import ModelContract

__all__ = ["FORMATS", "Inputs", "RequestRejected", "parse_request"]

#: The payload keys of MLflow's JSON scoring protocol.
FORMATS = ("dataframe_split", "dataframe_records", "instances", "inputs")
_SHOWN_VALUE_CHARS = 60


class RequestRejected(DataError):
    """A scoring request the server refuses: ``status`` is its 4xx answer, ``kind`` one of a
    fixed set (``malformed``, ``unsupported_media_type``, ``missing_columns``, ``wrong_type``,
    ``empty``, ``too_large``, ``too_many_rows``, ``unauthorized``, ``rate_limited``)."""

    def __init__(
        self,
        message: str,
        *,
        status: int,
        kind: str,
        hint: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.status = status
        self.kind = kind
        self.retry_after = retry_after


@dataclass
class Inputs:
    """One request's rows: the contract's features (and id column) as one list a column."""

    columns: dict[str, list[Any]]
    rows: int
    ids: list[Any] | None = None

    def frame(self) -> Any:
        import pandas as pd

        return pd.DataFrame(self.columns)


def _bad(message: str, hint: str, kind: str = "malformed", status: int = 400) -> RequestRejected:
    return RequestRejected(message, status=status, kind=kind, hint=hint)


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= _SHOWN_VALUE_CHARS else text[: _SHOWN_VALUE_CHARS - 3] + "..."


def _records(records: Any, where: str) -> dict[str, list[Any]]:
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise _bad(
            f"{where} must be a list of objects, one per row",
            'send e.g. {"dataframe_records": [{"age": 40, "plan": "basic"}]}',
        )
    names: dict[str, None] = {}
    for record in records:
        names.update(dict.fromkeys(record))
    return {name: [record.get(name) for record in records] for name in names}


def _split(value: Any) -> dict[str, list[Any]]:
    if not isinstance(value, dict) or "columns" not in value or "data" not in value:
        raise _bad(
            "dataframe_split needs 'columns' and 'data'",
            'send {"dataframe_split": {"columns": ["a", "b"], "data": [[1, 2]]}}',
        )
    columns, data = value["columns"], value["data"]
    if not isinstance(columns, list) or not isinstance(data, list):
        raise _bad(
            "dataframe_split 'columns' and 'data' must be lists",
            "send the columns' names and one list of values per row",
        )
    width = len(columns)
    for number, row in enumerate(data):
        if not isinstance(row, list) or len(row) != width:
            raise _bad(
                f"dataframe_split row {number} has {len(row) if isinstance(row, list) else 0} "
                f"values for {width} columns",
                "send one value per column in every row",
            )
    return {str(name): [row[i] for row in data] for i, name in enumerate(columns)}


def _tensor(value: Any, key: str, contract: ModelContract) -> dict[str, list[Any]]:
    """``instances`` / ``inputs``: rows as objects, columns as an object of lists, or rows as
    lists in the contract's feature order."""
    if isinstance(value, dict):
        lists = {str(k): v if isinstance(v, list) else [v] for k, v in value.items()}
        lengths = {len(v) for v in lists.values()}
        if len(lengths) > 1:
            raise _bad(
                f"the columns of {key!r} have different lengths {sorted(lengths)}",
                "send the same number of values for every column",
            )
        return lists
    if isinstance(value, list) and value and all(isinstance(r, dict) for r in value):
        return _records(value, key)
    if isinstance(value, list) and all(isinstance(r, list) for r in value):
        names = contract.feature_names
        for number, row in enumerate(value):
            if len(row) != len(names):
                raise _bad(
                    f"{key!r} row {number} has {len(row)} values; the model takes "
                    f"{len(names)} features",
                    f"send the values in the order {', '.join(names)} or send objects",
                    kind="missing_columns",
                )
        return {name: [row[i] for row in value] for i, name in enumerate(names)}
    if isinstance(value, list) and not value:
        return {}
    raise _bad(
        f"{key!r} must hold rows (objects or lists) or columns (an object of lists)",
        f'send e.g. {{"{key}": [{{"age": 40}}]}}',
    )


def _json_columns(body: bytes, contract: ModelContract) -> dict[str, list[Any]]:
    import orjson

    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise _bad(
            f"the body is not valid JSON ({exc})",
            "send a JSON object with one of " + ", ".join(FORMATS),
        ) from None
    if not isinstance(document, dict):
        raise _bad(
            f"the body is a JSON {type(document).__name__}, not an object",
            "send a JSON object with one of " + ", ".join(FORMATS),
        )
    keys = [key for key in FORMATS if key in document]
    if len(keys) != 1:
        found = ", ".join(map(repr, document)) or "none"
        raise _bad(
            f"the body needs exactly one of {', '.join(FORMATS)}; keys found: {found}",
            'send e.g. {"dataframe_split": {"columns": [...], "data": [[...]]}}',
        )
    key = keys[0]
    value = document[key]
    if key == "dataframe_split":
        return _split(value)
    if key == "dataframe_records":
        return _records(value, key)
    return _tensor(value, key, contract)


def _csv_columns(body: bytes) -> dict[str, list[Any]]:
    import io

    import pandas as pd

    try:
        frame = pd.read_csv(io.BytesIO(body))
    except pd.errors.EmptyDataError:
        return {}
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise _bad(
            f"the body is not readable CSV ({' '.join(str(exc).split())[:200]})",
            "send a header line and one line per row (DataFrame.to_csv(index=False))",
        ) from None
    return {str(name): frame[name].tolist() for name in frame.columns}


def _number(value: Any) -> float | int | None:
    """A JSON or CSV value as a number, or None for a null; ValueError for anything else."""
    if value is None or isinstance(value, bool):
        return None if value is None else int(value)
    if isinstance(value, (int, float)):
        return None if isinstance(value, float) and math.isnan(value) else value
    if isinstance(value, str):
        stripped = value.strip()
        if stripped == "":
            return None
        return float(stripped)
    raise ValueError(value)


def _check(columns: dict[str, list[Any]], contract: ModelContract) -> dict[str, list[Any]]:
    """The contract's features (numbers where the contract says numerical) and its id column;
    other columns are dropped, as MLflow's schema enforcement ignores them."""
    missing = [name for name in contract.feature_names if name not in columns]
    if missing:
        raise _bad(
            f"missing column(s) {', '.join(map(repr, missing))} of the model's contract",
            f"send every feature: {', '.join(contract.feature_names)}",
            kind="missing_columns",
        )
    kept: dict[str, list[Any]] = {}
    for feature in contract.features:
        values = columns[feature.name]
        if feature.kind == "numerical":
            converted: list[Any] = []
            for row, value in enumerate(values):
                try:
                    number = _number(value)
                except (TypeError, ValueError):
                    raise _bad(
                        f"column {feature.name!r} is numerical but row {row} holds {_shown(value)}",
                        f"send a number (or null) for {feature.name!r}",
                        kind="wrong_type",
                    ) from None
                converted.append(float("nan") if number is None else number)
            kept[feature.name] = converted
        else:
            for row, value in enumerate(values):
                if isinstance(value, (dict, list)):
                    raise _bad(
                        f"column {feature.name!r} is categorical but row {row} holds "
                        f"{_shown(value)}",
                        f"send a string or number for {feature.name!r}",
                        kind="wrong_type",
                    )
            kept[feature.name] = values
    if contract.id_column and contract.id_column in columns:
        kept[contract.id_column] = columns[contract.id_column]
    return kept


def parse_request(
    body: bytes, content_type: str | None, contract: ModelContract, *, max_rows: int
) -> Inputs:
    """The request's rows checked against ``contract``; :class:`RequestRejected` (4xx) for a
    malformed body, a media type other than JSON or CSV, missing or mistyped columns, no rows
    or more than ``max_rows``."""
    mime = (content_type or "application/json").split(";", 1)[0].strip().lower()
    if mime in ("application/json", ""):
        columns = _json_columns(body, contract)
    elif mime in ("text/csv", "application/csv"):
        columns = _csv_columns(body)
    else:
        raise _bad(
            f"content type {mime!r} is not supported",
            "send application/json or text/csv",
            kind="unsupported_media_type",
            status=415,
        )
    rows = len(next(iter(columns.values()))) if columns else 0
    if rows == 0:
        raise _bad("the request holds no rows", "send at least one row", kind="empty")
    if rows > max_rows:
        raise _bad(
            f"the request holds {rows} rows, more than the limit of {max_rows}",
            "split it into smaller requests (or raise MLOPS_GUARD_SERVING_MAX_ROWS)",
            kind="too_many_rows",
            status=413,
        )
    kept = _check(columns, contract)
    ids = kept.get(contract.id_column) if contract.id_column else None
    return Inputs(kept, rows, ids)
