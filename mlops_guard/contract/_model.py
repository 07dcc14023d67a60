"""The model contract: what every stage downstream of training needs to know about a model.

Scoring needs the features; quality and the canary need the label, the task and the classes;
routing needs an id; drift needs the feature kinds; the prediction files name the columns the
model writes. The contract says all of it once, is stored with the model version in MLflow
(:mod:`mlops_guard.contract._store`), and is read back from the registry by every stage, so a
stage never guesses from column names.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from mlops_guard.errors import ContractError, SchemaError

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "CONTRACT_VERSION",
    "FeatureKind",
    "FeatureSpec",
    "ModelContract",
    "Task",
    "infer_contract",
]

CONTRACT_VERSION = 1
Task = Literal["binary", "multiclass", "regression"]
FeatureKind = Literal["numerical", "categorical"]
TASKS: tuple[str, ...] = ("binary", "multiclass", "regression")

#: Columns every prediction file carries whatever the task.
PREDICTION_COLUMN = "prediction"
#: P(positive class) of a binary classifier.
SCORE_COLUMN = "score"
#: Prefix of the per-class probability columns of a multiclass classifier.
PROBABILITY_PREFIX = "proba_"
# Above this many distinct labels a "classification" label is almost surely a continuous
# target read as classes (a regression label given with --task multiclass).
_MAX_CLASSES = 1_000


class FeatureSpec(BaseModel):
    """One input feature: its name and whether drift treats it as numbers or categories."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1)
    kind: FeatureKind


Label = str | int | float | bool


class ModelContract(BaseModel):
    """Features, label, optional id and timestamp columns, task and classes of a model.

    >>> c = ModelContract(features=[FeatureSpec(name="x", kind="numerical")], label="y",
    ...                   task="binary", classes=[0, 1])
    >>> c.positive_class, c.prediction_columns
    (1, ['prediction', 'score'])
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: int = CONTRACT_VERSION
    features: tuple[FeatureSpec, ...] = Field(min_length=1)
    label: str = Field(min_length=1)
    task: Task
    id_column: str | None = None
    timestamp_column: str | None = None
    classes: tuple[Label, ...] | None = None
    positive_class: Label | None = None

    @model_validator(mode="after")
    def _consistent(self) -> ModelContract:
        names = [f.name for f in self.features]
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise ValueError(f"feature(s) listed twice: {', '.join(duplicated)}")
        for role, column in (
            ("label", self.label),
            ("id column", self.id_column),
            ("timestamp column", self.timestamp_column),
        ):
            if column is not None and column in names:
                raise ValueError(f"the {role} {column!r} is also listed as a feature")
        if self.task == "regression":
            if self.classes is not None or self.positive_class is not None:
                raise ValueError("a regression contract has no classes or positive class")
            return self
        if not self.classes or len(self.classes) < 2:
            raise ValueError(f"a {self.task} contract needs at least two classes")
        if self.task == "binary":
            if len(self.classes) != 2:
                raise ValueError(
                    f"a binary contract has exactly two classes, got {list(self.classes)}"
                )
            positive = self.positive_class
            if positive is None:
                object.__setattr__(self, "positive_class", _default_positive(self.classes))
            elif positive not in self.classes:
                raise ValueError(
                    f"positive class {positive!r} is not one of the classes {list(self.classes)}"
                )
        elif self.positive_class is not None:
            raise ValueError("a multiclass contract has no positive class")
        return self

    @property
    def feature_names(self) -> list[str]:
        return [f.name for f in self.features]

    @property
    def numerical(self) -> list[str]:
        return [f.name for f in self.features if f.kind == "numerical"]

    @property
    def categorical(self) -> list[str]:
        return [f.name for f in self.features if f.kind == "categorical"]

    @property
    def is_classifier(self) -> bool:
        return self.task != "regression"

    @property
    def probability_columns(self) -> list[str]:
        """Per-class probability columns of a multiclass model (empty otherwise)."""
        if self.task != "multiclass" or self.classes is None:
            return []
        return [f"{PROBABILITY_PREFIX}{c}" for c in self.classes]

    @property
    def prediction_columns(self) -> list[str]:
        """The columns the model's scoring adds to a batch."""
        if self.task == "binary":
            return [PREDICTION_COLUMN, SCORE_COLUMN]
        return [PREDICTION_COLUMN, *self.probability_columns]

    @property
    def passthrough_columns(self) -> list[str]:
        """Id and timestamp columns, carried into prediction files when present."""
        return [c for c in (self.id_column, self.timestamp_column) if c is not None]

    def require_columns(self, frame: pd.DataFrame, *, source: str, label: bool) -> None:
        """:class:`SchemaError` naming every column of the contract ``frame`` lacks."""
        needed = [*self.feature_names, *([self.label] if label else [])]
        if self.id_column is not None:
            needed.append(self.id_column)
        missing = [c for c in needed if c not in frame.columns]
        if missing:
            what = ", ".join(map(repr, missing))
            raise SchemaError(
                f"{source!r} lacks column(s) {what} of the model's contract",
                hint="pass data with every feature"
                + (f" and the label {self.label!r}" if label else "")
                + (f" and the id {self.id_column!r}" if self.id_column else "")
                + ", or register the model with the columns it really has",
            )

    def check_labels(self, values: Any, *, source: str) -> None:
        """:class:`ContractError` when the labels do not fit the task and classes."""
        import pandas as pd

        series = pd.Series(values).dropna()
        if self.task == "regression":
            if not pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
                raise ContractError(
                    f"label {self.label!r} in {source!r} is not numeric "
                    f"(dtype {series.dtype}), but the task is regression",
                    hint="pass a numeric label, or register the model with --task binary "
                    "or --task multiclass",
                )
            return
        assert self.classes is not None
        unknown = sorted({_plain(v) for v in series.unique()} - set(self.classes), key=str)
        if unknown:
            raise ContractError(
                f"label {self.label!r} in {source!r} has value(s) {unknown[:5]} outside the "
                f"model's classes {list(self.classes)}",
                hint="pass labels the model was trained on, or register a version that "
                "knows these classes",
            )

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = self.model_dump(mode="json")
        return data

    @classmethod
    def from_json(cls, data: Any, *, source: str = "the stored contract") -> ModelContract:
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "contract"
            detail = str(first["msg"]).removeprefix("Value error, ")
            raise ContractError(
                f"{source} is invalid at {where}: {detail}",
                hint="register the model again with mlops-guard register",
            ) from exc


def _plain(value: Any) -> Any:
    """A label as a plain Python value (numpy scalars compare unequal to JSON numbers)."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _default_positive(classes: tuple[Label, ...]) -> Label:
    """1 or True when among the classes, else the last of the two sorted labels."""
    for candidate in (1, True):
        for c in classes:
            if c == candidate and type(c) is type(candidate):
                return c
    return sorted(classes, key=str)[-1]


def _kinds_from_frame(frame: pd.DataFrame, names: list[str]) -> list[FeatureSpec]:
    import pandas as pd

    specs = []
    for name in names:
        column = frame[name]
        numerical = pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)
        specs.append(FeatureSpec(name=name, kind="numerical" if numerical else "categorical"))
    return specs


def _classes(values: Any, task: Task, label: str, source: str) -> list[Label]:
    import pandas as pd

    series = pd.Series(values).dropna()
    if series.empty:
        raise ContractError(
            f"label {label!r} in {source!r} has no values", hint="pass labelled reference data"
        )
    found = sorted({_plain(v) for v in series.unique()}, key=lambda v: (str(type(v)), v))
    if task == "binary" and len(found) != 2:
        raise ContractError(
            f"label {label!r} in {source!r} has {len(found)} distinct value(s) "
            f"({found[:5]}{', ...' if len(found) > 5 else ''}), but --task binary needs two",
            hint="use --task multiclass or --task regression, or fix the label column",
        )
    if task == "multiclass" and not 2 <= len(found) <= _MAX_CLASSES:
        raise ContractError(
            f"label {label!r} in {source!r} has {len(found)} distinct values, which is not a "
            "set of classes",
            hint="use --task regression for a continuous target",
        )
    if any(isinstance(v, float) and not math.isfinite(v) for v in found):
        raise ContractError(
            f"label {label!r} in {source!r} holds infinity", hint="fix the label column"
        )
    return found


def _feature_names(
    roles: set[str],
    reference: pd.DataFrame | None,
    features: list[str] | None,
    signature_features: list[tuple[str, FeatureKind | None]] | None,
) -> list[str]:
    if signature_features:
        return [name for name, _ in signature_features if name not in roles]
    if features:
        return list(features)
    if reference is not None:
        return [str(c) for c in reference.columns if c not in roles]
    raise ContractError(
        "no features: the model has no signature and neither --features nor --reference was given",
        hint="pass --features A,B,... or --reference DATA",
    )


def _contract_classes(
    task: Task, label: str, reference: pd.DataFrame | None, classes: list[Any] | None, source: str
) -> list[Any] | None:
    import pandas as pd

    if task == "regression":
        if reference is not None:
            column = reference[label]
            if not pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
                raise ContractError(
                    f"label {label!r} in {source!r} is not numeric (dtype {column.dtype}), "
                    "but the task is regression",
                    hint="pass --task binary or --task multiclass for a class label",
                )
        return None
    if classes is not None:
        return [_plain(c) for c in classes]
    if reference is not None:
        return _classes(reference[label], task, label, source)
    raise ContractError(
        f"a {task} model needs its classes: pass --reference DATA with the label",
        hint="labelled reference data gives the classes (and the drift profile)",
    )


def infer_contract(
    *,
    label: str,
    task: Task,
    reference: pd.DataFrame | None = None,
    features: list[str] | None = None,
    signature_features: list[tuple[str, FeatureKind | None]] | None = None,
    id_column: str | None = None,
    timestamp_column: str | None = None,
    positive_class: Any | None = None,
    classes: list[Any] | None = None,
    source: str = "the reference data",
) -> ModelContract:
    """Build a contract the way ``mlops-guard register`` does.

    Features come from the model's signature when it has one (``signature_features``), else
    ``features``, else the reference's columns minus label, id and timestamp. Kinds come from
    the signature's types, else the reference's dtypes. Classes come from ``classes``, else the
    reference's labels; the positive class of a binary model defaults to 1, True, or the last
    of the two sorted labels. Raises :class:`ContractError` (labels that do not fit the task, a
    positive class that is not a label) or :class:`SchemaError` (a feature missing from the
    reference).
    """
    if task not in TASKS:
        raise ContractError(
            f"task {task!r} is not one of {', '.join(TASKS)}",
            hint="pass --task binary, multiclass or regression",
        )
    roles = {c for c in (label, id_column, timestamp_column) if c}
    names = _feature_names(roles, reference, features, signature_features)
    kinds: dict[str, FeatureKind | None] = dict(signature_features or [])
    if reference is not None:
        missing = [c for c in [*names, *sorted(roles)] if c not in reference.columns]
        if missing:
            raise SchemaError(
                f"{source!r} lacks column(s) {', '.join(map(repr, missing))} of the model",
                hint="pass reference data with every feature, the label and the id column, "
                "or fix --features / --label / --id",
            )
        specs = [
            FeatureSpec(name=s.name, kind=kinds.get(s.name) or s.kind)
            for s in _kinds_from_frame(reference, names)
        ]
    else:
        specs = [FeatureSpec(name=n, kind=kinds.get(n) or "numerical") for n in names]
    found_classes = _contract_classes(task, label, reference, classes, source)
    if positive_class is not None and found_classes is not None:
        positive_class = _match_class(positive_class, found_classes)
    try:
        return ModelContract(
            features=tuple(specs),
            label=label,
            task=task,
            id_column=id_column,
            timestamp_column=timestamp_column,
            classes=None if found_classes is None else tuple(found_classes),
            positive_class=positive_class,
        )
    except ValidationError as exc:
        detail = str(exc.errors()[0]["msg"]).removeprefix("Value error, ")
        raise ContractError(
            f"the model contract does not hold: {detail}",
            hint="check --label, --id, --timestamp, --features, --task and --positive-class",
        ) from exc


def _match_class(given: Any, classes: list[Any]) -> Any:
    """``--positive-class`` arrives as text; match it to the label's own type."""
    for c in classes:
        if (
            c == given
            or str(c) == str(given)
            or (isinstance(c, bool) and str(c).lower() == str(given).lower())
        ):
            return c
    raise ContractError(
        f"positive class {given!r} is not one of the labels {classes}",
        hint="pass --positive-class as one of the label's values",
    )
