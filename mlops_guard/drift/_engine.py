"""The drift engine: decides column kinds and tests like Evidently 0.7, runs the tests, decides.

Defaults reproduce ``DataDriftPreset`` run without a data definition. Kinds are decided on the
current data (:mod:`mlops_guard.drift._kinds`); with at most 1,000 non-null reference values a
column gets KS (numerical, more than 5 distinct values), chi-square (more than 2 values) or a
Z-test (2 values); above 1,000 values, Wasserstein distance normed by the reference standard
deviation (numerical, more than 5 values) or Jensen-Shannon distance; text columns get the
domain classifier (:mod:`mlops_guard.drift._text`). The data set drifts when at least half the
tested columns drift.

Nothing is excluded by name by default (Evidently excludes nothing either). Columns named in
``DriftConfig.exclude`` are not checked; columns named in ``DriftConfig.outputs`` (model
outputs) are tested but reported apart, in :attr:`DriftReport.outputs` (prediction drift), and
never count in the data set's drift share. The scheduled check names the columns the pipelines
add to a scored batch there.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar, cast

from mlops_guard.drift._kinds import ColumnKind, ColumnView, conflicting_families
from mlops_guard.drift._settings import Correction, DriftSettings
from mlops_guard.drift._stats import (
    NUMERIC_ONLY_TESTS,
    P_VALUE_TESTS,
    CategoricalSummary,
    NumericSummary,
    TestName,
    TestOutcome,
    run_test,
)
from mlops_guard.errors import ConfigError, DataError, EmptyData, ProfileError, SchemaError

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    import pandas as pd
    import pyarrow as pa

    from mlops_guard.drift._profile import ReferenceProfile

__all__ = [
    "ColumnDrift",
    "DriftConfig",
    "DriftReport",
    "SchemaChanges",
    "SkippedColumn",
    "detect_drift",
]

_T = TypeVar("_T")
_ALL_TESTS: frozenset[str] = frozenset(
    {"ks", "chisquare", "z", "wasserstein", "jensenshannon", "psi", "hellinger"}
)


@dataclass(frozen=True)
class DriftConfig:
    """How to check: thresholds from ``settings``, plus per-column overrides.

    >>> DriftConfig(column_tests={"age": "psi"}, column_thresholds={"age": 0.2})
    ... # doctest: +ELLIPSIS
    DriftConfig(...)
    """

    settings: DriftSettings = field(default_factory=DriftSettings)
    column_tests: Mapping[str, TestName] = field(default_factory=dict)
    column_thresholds: Mapping[str, float] = field(default_factory=dict)
    columns: Sequence[str] | None = None
    exclude: Sequence[str] | None = None
    correction: Correction | None = None
    outputs: Sequence[str] | None = None

    def __post_init__(self) -> None:
        for column, test in self.column_tests.items():
            if test not in _ALL_TESTS:
                raise ConfigError(
                    f"unknown drift test {test!r} for column {column!r}",
                    hint=f"choose one of {', '.join(sorted(_ALL_TESTS))}",
                )
        for column, threshold in self.column_thresholds.items():
            if not threshold > 0:
                raise ConfigError(
                    f"drift threshold for column {column!r} must be positive, got {threshold}",
                    hint="p-value tests take a significance level, distances a cut-off",
                )

    @classmethod
    def for_scored_batches(
        cls, settings: DriftSettings | None = None, *, exclude: Sequence[str] = ()
    ) -> DriftConfig:
        """The configuration of the scheduled check: the columns the pipelines add to a scored
        batch (who scored it and when) and ``exclude`` (the contract's id and timestamp) are
        not checked; the model outputs are checked as prediction drift, outside the share."""
        from mlops_guard.data._scored import BOOKKEEPING_COLUMNS, OUTPUT_COLUMNS

        settings = settings or DriftSettings()
        return cls(
            settings=settings,
            exclude=(*settings.exclude_columns, *BOOKKEEPING_COLUMNS, *exclude),
            outputs=OUTPUT_COLUMNS,
        )

    @property
    def excluded(self) -> frozenset[str]:
        """Columns never checked: ``exclude`` (default the settings' ``exclude_columns``,
        empty unless configured) and the settings' ``bookkeeping_columns``."""
        chosen = self.settings.exclude_columns if self.exclude is None else self.exclude
        return frozenset(chosen) | frozenset(self.settings.bookkeeping_columns)

    @property
    def output_names(self) -> frozenset[str]:
        """Model outputs: checked for prediction drift, outside the data set's drift share."""
        chosen = self.settings.output_columns if self.outputs is None else self.outputs
        return frozenset(chosen)

    @property
    def correction_in_force(self) -> Correction:
        return self.settings.correction if self.correction is None else self.correction


@dataclass(frozen=True)
class ColumnDrift:
    """The verdict on one column. ``statistic`` is a p-value for KS, chi-square and Z (drift
    when below the threshold), a distance otherwise (drift when at or above it)."""

    column: str
    kind: ColumnKind
    test: str
    statistic: float
    threshold: float
    drifted: bool
    p_value: bool
    exact: bool
    error_bound: float | None
    reference_values: int
    current_values: int
    note: str | None = None

    def to_json(self) -> dict[str, Any]:
        import math

        return {
            "kind": self.kind,
            "test": self.test,
            # JSON has no NaN or infinity: a degenerate test (NaN) prints as null.
            "statistic": self.statistic if math.isfinite(self.statistic) else None,
            "threshold": self.threshold if math.isfinite(self.threshold) else None,
            "drifted": self.drifted,
            "stat_type": "p_value" if self.p_value else "distance",
            "exact": self.exact,
            "error_bound": self.error_bound,
            "reference_values": self.reference_values,
            "current_values": self.current_values,
            "note": self.note,
        }


@dataclass(frozen=True)
class SkippedColumn:
    """A column that was not tested, and why (``kind`` as far as it is known)."""

    column: str
    kind: str
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "test": None,
            "statistic": None,
            "threshold": None,
            "drifted": None,
            "skipped": self.reason,
        }


@dataclass(frozen=True)
class SchemaChanges:
    """Columns in one data set and not the other, and columns whose type changed."""

    missing: tuple[str, ...] = ()
    extra: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.missing or self.extra or self.changed)

    def to_json(self) -> dict[str, list[str]]:
        return {
            "missing": list(self.missing),
            "extra": list(self.extra),
            "changed": list(self.changed),
        }


@dataclass(frozen=True)
class DriftReport:
    """The result of :func:`detect_drift`; ``to_json()`` is the ``drift --json`` document.

    ``columns`` are the tested columns of the data set (the drift share is over them);
    ``outputs`` the model outputs present on both sides (prediction drift), judged on their
    own; ``skipped`` every other column, with the reason; ``schema`` the columns in one data set
    only and those whose type changed. ``to_json()["columns"]`` holds all of them.
    """

    dataset_drift: bool
    drift_share: float
    share_threshold: float
    reference_rows: int
    current_rows: int
    columns: dict[str, ColumnDrift]
    skipped: dict[str, SkippedColumn] = field(default_factory=dict)
    correction: Correction = "none"
    outputs: dict[str, ColumnDrift] = field(default_factory=dict)
    schema: SchemaChanges = field(default_factory=SchemaChanges)
    order: tuple[str, ...] = ()

    @property
    def drifted_columns(self) -> list[str]:
        return [name for name, column in self.columns.items() if column.drifted]

    @property
    def drifted_outputs(self) -> list[str]:
        return [name for name, column in self.outputs.items() if column.drifted]

    @property
    def prediction_drift(self) -> bool | None:
        """True when a model output drifted; None when no output was checked."""
        return bool(self.drifted_outputs) if self.outputs else None

    def to_json(self) -> dict[str, Any]:
        every: dict[str, Any] = {}
        names = self.order or (*self.columns, *self.skipped)
        for name in names:
            if name in self.columns:
                every[name] = self.columns[name].to_json()
            elif name in self.skipped:
                every[name] = self.skipped[name].to_json()
        return {
            "dataset_drift": self.dataset_drift,
            "drift_share": self.drift_share,
            "share_threshold": self.share_threshold,
            "rows": {"reference": self.reference_rows, "current": self.current_rows},
            "columns": every,
            "tested": len(self.columns),
            "drifted": len(self.drifted_columns),
            "schema": self.schema.to_json(),
            "prediction_drift": self.prediction_drift,
            "outputs": {name: column.to_json() for name, column in self.outputs.items()},
        }


def _value_counts(series: pd.Series) -> CategoricalSummary:
    import numpy as np

    counts = series.value_counts(dropna=True, sort=False)
    # A pandas Categorical reports its unused categories with count 0; Evidently's keys are the
    # values present.
    counts = counts[counts > 0]
    return CategoricalSummary(
        keys=counts.index.tolist(),
        counts=np.asarray(counts.to_numpy(), dtype=np.int64),
        count=int(counts.sum()),
    )


def _arrow_value_counts(array: pa.ChunkedArray) -> CategoricalSummary:
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_dictionary(array.type):
        # Counts of the codes, chunk by chunk (each chunk may have its own dictionary): no
        # string is decoded.
        totals: dict[Any, int] = {}
        for chunk in array.chunks:
            codes = chunk.indices.drop_null() if chunk.null_count else chunk.indices
            if len(codes) == 0:
                continue
            wide = codes.cast(pa.int64())
            as_numpy = np.frombuffer(
                wide.buffers()[1], dtype=np.int64, count=len(wide), offset=wide.offset * 8
            )
            per_code = np.bincount(as_numpy, minlength=len(chunk.dictionary))
            for key, count in zip(chunk.dictionary.to_pylist(), per_code.tolist(), strict=True):
                if count and key is not None:
                    totals[key] = totals.get(key, 0) + count
        keys = list(totals)
        counts = np.fromiter(totals.values(), dtype=np.int64, count=len(keys))
        return CategoricalSummary(keys=keys, counts=counts, count=int(counts.sum()))
    counted = pc.value_counts(array.drop_null())
    keys = counted.field("values").to_pylist()
    counts = np.asarray(counted.field("counts").to_pylist(), dtype=np.int64)
    return CategoricalSummary(keys=keys, counts=counts, count=int(counts.sum()))


def _float_values(column: pd.Series | pa.ChunkedArray) -> npt.NDArray[np.float64]:
    import numpy as np
    import pyarrow as pa

    if isinstance(column, pa.ChunkedArray):
        import pyarrow.compute as pc

        if column.type != pa.float64():
            column = column.cast(pa.float64())
        if column.null_count:
            column = pc.fill_null(column, math.nan)
        # Views of Arrow's value buffers: Array.to_numpy imports pandas (a third of a second).
        chunks = [
            np.frombuffer(
                chunk.buffers()[1], dtype=np.float64, count=len(chunk), offset=chunk.offset * 8
            )
            for chunk in column.chunks
        ]
        if not chunks:
            return np.empty(0, dtype=np.float64)
        return chunks[0] if len(chunks) == 1 else np.concatenate(chunks)
    return column.to_numpy(dtype=np.float64, na_value=np.nan)


def _numeric(column: pd.Series | pa.ChunkedArray) -> NumericSummary:
    from mlops_guard.drift._stats import summarise_numeric

    return summarise_numeric(_float_values(column))


def _counts(column: pd.Series | pa.ChunkedArray) -> CategoricalSummary:
    import pyarrow as pa

    if isinstance(column, pa.ChunkedArray):
        return _arrow_value_counts(column)
    return _value_counts(column)


def _texts(column: pd.Series | pa.ChunkedArray) -> list[Any]:
    import pyarrow as pa

    if isinstance(column, pa.ChunkedArray):
        if pa.types.is_dictionary(column.type):
            column = column.cast(column.type.value_type)
        return list(column.drop_null().to_pylist())
    return list(column.dropna().tolist())


@dataclass(frozen=True)
class _Side:
    """One data set as the engine reads it: a DataFrame, an Arrow table or a profile."""

    data: pd.DataFrame | pa.Table | ReferenceProfile

    def _table(self) -> pa.Table | None:
        return cast("pa.Table", self.data) if _is_arrow(self.data) else None

    def _frame(self) -> pd.DataFrame:
        return cast("pd.DataFrame", self.data)

    @property
    def rows(self) -> int:
        from mlops_guard.drift._profile import ReferenceProfile

        if isinstance(self.data, ReferenceProfile):
            return self.data.rows
        table = self._table()
        return table.num_rows if table is not None else len(self._frame().index)

    def names(self) -> list[str]:
        from mlops_guard.drift._profile import ReferenceProfile

        if isinstance(self.data, ReferenceProfile):
            return list(self.data.columns)
        table = self._table()
        if table is not None:
            return list(table.column_names)
        return [str(c) for c in self._frame().columns]

    def column(self, name: str) -> pd.Series | pa.ChunkedArray:
        table = self._table()
        if table is not None:
            return table.column(name)
        return self._frame()[name]

    def view(self, name: str) -> ColumnView:
        from mlops_guard.drift._kinds import arrow_view, pandas_view
        from mlops_guard.drift._profile import ReferenceProfile

        if isinstance(self.data, ReferenceProfile):
            return self.data.view(name)
        table = self._table()
        if table is not None:
            from mlops_guard.data._io import PLAIN_STRING_KEY

            metadata = table.schema.field(name).metadata or {}
            return arrow_view(table.column(name), plain_string=PLAIN_STRING_KEY in metadata)
        return pandas_view(self._frame()[name])

    def numeric(self, name: str) -> NumericSummary:
        from mlops_guard.drift._profile import ReferenceProfile

        if isinstance(self.data, ReferenceProfile):
            return self.data.numeric_summary(name)
        return _numeric(self.column(name))

    def categorical(self, name: str, view: ColumnView, *, integer: bool) -> CategoricalSummary:
        from mlops_guard.drift._profile import ReferenceProfile
        from mlops_guard.drift._stats import categorical_from_numeric

        if isinstance(self.data, ReferenceProfile):
            return self.data.categorical_summary(name, integer=integer)
        if view.family in ("float", "int"):
            return categorical_from_numeric(self.numeric(name), integer=integer)
        return _counts(self.column(name))

    def texts(self, name: str) -> tuple[list[Any], bool]:
        """The non-null values in row order, and whether they are exactly the rows'."""
        from mlops_guard.drift._profile import ReferenceProfile

        if isinstance(self.data, ReferenceProfile):
            return self.data.texts(name), False
        return _texts(self.column(name)), True


def _is_arrow(data: object) -> bool:
    # Without importing pyarrow: a DataFrame caller need not pay for it.
    return type(data).__module__.startswith("pyarrow")


def _workers(settings: DriftSettings) -> int:
    import os

    return settings.workers or min(os.cpu_count() or 1, 8)


def _map(func: Callable[[str], _T], names: list[str], settings: DriftSettings) -> list[_T]:
    """Map over columns, on threads when more than one worker is allowed."""
    workers = _workers(settings)
    if workers == 1 or len(names) < 2:
        return [func(name) for name in names]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(func, names))


def _pick_default_test(
    kind: ColumnKind,
    ref: NumericSummary | CategoricalSummary,
    cur: NumericSummary | CategoricalSummary,
    settings: DriftSettings,
) -> TestName:
    """Evidently's _get_default_stattest, on summaries."""
    import numpy as np

    from mlops_guard.drift._stats import sorted_unique

    if isinstance(ref, NumericSummary) and isinstance(cur, NumericSummary):
        if max(ref.nunique, cur.nunique) > settings.few_values:
            # The union has more than `few_values` values whatever it holds: no need to
            # build it (a sort of up to two million values on continuous columns).
            n_values = max(ref.nunique, cur.nunique)
        else:
            n_values = int(sorted_unique(np.concatenate((ref.values, cur.values))).size)
    else:
        assert isinstance(ref, CategoricalSummary)
        assert isinstance(cur, CategoricalSummary)
        n_values = len(set(ref.keys) | set(cur.keys))
    small = ref.count <= settings.small_reference_rows
    if kind == "numerical" and n_values > settings.few_values:
        return "ks" if small else "wasserstein"
    if small:
        return "chisquare" if n_values > 2 else "z"
    return "jensenshannon"


def _default_threshold(test: str, settings: DriftSettings) -> float:
    return settings.p_value_threshold if test in P_VALUE_TESTS else settings.distance_threshold


def _apply_correction(
    outcomes: dict[str, TestOutcome], correction: Correction
) -> dict[str, TestOutcome]:
    """Bonferroni or Benjamini-Hochberg over the p-value tests; distances are untouched."""
    import math
    from dataclasses import replace

    tested = {name: o for name, o in outcomes.items() if o.p_value and not math.isnan(o.statistic)}
    m = len(tested)
    if correction == "none" or m < 2:
        return outcomes
    adjusted = dict(outcomes)
    if correction == "bonferroni":
        for name, outcome in tested.items():
            threshold = outcome.threshold / m
            drifted = (
                outcome.statistic <= threshold
                if outcome.test == "ks"
                else outcome.statistic < threshold
            )
            adjusted[name] = replace(outcome, threshold=threshold, drifted=drifted)
        return adjusted
    # Benjamini-Hochberg step-up: reject the k smallest p-values, k the largest rank with
    # p_(k) <= k/m * alpha (alpha per column: each column's own threshold).
    ranked = sorted(tested.items(), key=lambda item: item[1].statistic)
    cutoff_rank = 0
    for rank, (_name, outcome) in enumerate(ranked, start=1):
        if outcome.statistic <= rank / m * outcome.threshold:
            cutoff_rank = rank
    for rank, (name, outcome) in enumerate(ranked, start=1):
        adjusted[name] = replace(
            outcome, threshold=rank / m * outcome.threshold, drifted=rank <= cutoff_rank
        )
    return adjusted


def _unknown_names(config: DriftConfig, ref_names: list[str], cur_names: list[str]) -> None:
    """Column names given in the configuration that neither data set has: a typo, not a wish."""
    known = set(ref_names) | set(cur_names)
    named = [*config.column_tests, *config.column_thresholds, *(config.columns or ())]
    unknown = sorted({name for name in named if name not in known})
    if unknown:
        raise ConfigError(
            f"column(s) {', '.join(map(repr, unknown))} named in the drift configuration are in "
            "neither data set",
            hint=f"check the spelling; the current data has {', '.join(cur_names[:8])}"
            + ("..." if len(cur_names) > 8 else ""),
        )


@dataclass(frozen=True)
class _Tested:
    outcome: TestOutcome
    kind: ColumnKind
    counts: tuple[int, int]
    note: str | None
    changed: bool = False


_SKIP_REASONS = {
    "datetime": "datetime column: not drift-tested (Evidently tests no datetime column)",
    "unknown": "values of type {dtype}: not drift-tested (neither numbers, categories nor text)",
}


def _changed(
    name: str, kind: ColumnKind, ref_family: str, cur_family: str, counts: tuple[int, int]
) -> _Tested:
    import math

    note = (
        f"{ref_family} values in the reference, {cur_family} values in the current data: "
        "counted as drifted (the type changed; Evidently would compare the values as "
        f"{kind} and most likely fail or report drift)"
    )
    outcome = TestOutcome(
        test="type_change",
        statistic=math.nan,
        threshold=math.nan,
        drifted=True,
        p_value=False,
        exact=True,
        error_bound=None,
    )
    return _Tested(outcome, kind, counts, note, changed=True)


def _text_column(
    name: str, note: str | None, ref: _Side, cur: _Side, config: DriftConfig
) -> _Tested | SkippedColumn:
    """Evidently's domain classifier on a text column."""
    kind: ColumnKind = "text"
    if not config.settings.text_drift:
        return SkippedColumn(name, kind, "text column: text drift is off (text_drift setting)")
    from mlops_guard.drift._text import text_drift

    if name in config.column_tests:
        raise ConfigError(
            f"column {name!r} is text; test {config.column_tests[name]!r} cannot test it",
            hint="text columns take Evidently's domain classifier: drop the --test for it",
        )
    ref_texts, exact = ref.texts(name)
    if not ref_texts:
        return SkippedColumn(
            name,
            kind,
            "the reference profile keeps no values of this text column (too many distinct values)",
        )
    cur_texts, _ = cur.texts(name)
    try:
        text = text_drift(
            name,
            ref_texts,
            cur_texts,
            threshold=config.column_thresholds.get(name),
            small_reference_rows=config.settings.small_reference_rows,
        )
    except DataError as exc:
        return SkippedColumn(name, kind, exc.message)
    if text.cutoff != text.threshold:
        extra = (
            f"drifts when the ROC AUC exceeds {text.cutoff:.4f}, the "
            f"{text.threshold:.0%} percentile of random classifiers (Evidently's rule)"
        )
        note = f"{note}; {extra}" if note else extra
    if not exact:
        extra = "reference texts rebuilt from the profile's counts: approximate"
        note = f"{note}; {extra}" if note else extra
    outcome = TestOutcome(
        test=text.test,
        statistic=text.statistic,
        threshold=text.threshold,
        drifted=text.drifted,
        p_value=False,
        exact=exact,
        error_bound=None,
    )
    return _Tested(outcome, kind, (len(ref_texts), len(cur_texts)), note)


def _check_column(  # noqa: PLR0912 - one branch per outcome Evidently would give
    name: str, ref: _Side, cur: _Side, config: DriftConfig
) -> _Tested | SkippedColumn:
    """Decide the kind on the current column (as Evidently does), summarise both sides like
    that, pick the test, run it."""
    from mlops_guard.drift._kinds import decide_kind
    from mlops_guard.drift._stats import categorical_from_numeric

    settings = config.settings
    cur_view = cur.view(name)
    ref_view = ref.view(name)
    for side, view in (("reference", ref_view), ("current", cur_view)):
        if view.all_null:
            return SkippedColumn(name, "unknown", f"only null values in the {side} data")
    numeric: NumericSummary | None = None
    counted: CategoricalSummary | None = None
    if cur_view.family in ("float", "int"):
        numeric = cur.numeric(name)
        nunique, count = numeric.nunique, numeric.count
    elif cur_view.family in ("string", "bool"):
        counted = cur.categorical(name, cur_view, integer=False)
        nunique, count = counted.nunique, counted.count
    else:
        nunique, count = 0, 0
    decision = decide_kind(cur_view, nunique=nunique, count=count, settings=settings)
    kind = decision.kind
    ref_family, cur_family = ref_view.family, cur_view.family
    if (
        conflicting_families(ref_family, cur_family)
        or (kind == "numerical" and ref_family not in ("float", "int"))
        or (kind == "text" and ref_family != "string")
        or (ref_family != cur_family and "datetime" in (ref_family, cur_family))
    ):
        return _changed(name, kind, ref_family, cur_family, (0, count))
    if kind in _SKIP_REASONS:
        return SkippedColumn(name, kind, _SKIP_REASONS[kind].format(dtype=cur_view.dtype))

    note = decision.note
    if kind == "text":
        return _text_column(name, note, ref, cur, config)

    ref_integer = ref_family == "int" and not ref_view.has_nulls
    cur_integer = cur_family == "int" and not cur_view.has_nulls
    ref_summary: NumericSummary | CategoricalSummary
    cur_summary: NumericSummary | CategoricalSummary
    if kind == "numerical":
        assert numeric is not None
        ref_summary, cur_summary = ref.numeric(name), numeric
    else:
        if numeric is not None:
            cur_summary = categorical_from_numeric(numeric, integer=cur_integer)
        else:
            assert counted is not None
            cur_summary = counted
        ref_summary = ref.categorical(name, ref_view, integer=ref_integer)
    for side, summary in (("reference", ref_summary), ("current", cur_summary)):
        if summary.count == 0:
            return SkippedColumn(name, kind, f"no finite values in the {side} data")
    test = config.column_tests.get(name) or _pick_default_test(
        kind, ref_summary, cur_summary, settings
    )
    if test in NUMERIC_ONLY_TESTS and kind != "numerical":
        raise ConfigError(
            f"test {test!r} needs a numerical column, but {name!r} is {kind}",
            hint="use chisquare, z, jensenshannon, psi or hellinger for it",
        )
    threshold = config.column_thresholds.get(name) or _default_threshold(test, settings)
    outcome = run_test(
        test,
        ref_summary,
        cur_summary,
        threshold,
        min_std=settings.wasserstein_min_std,
        binned_min_values=settings.binned_min_values,
        integer=ref_integer and cur_integer,
    )
    return _Tested(outcome, kind, (ref_summary.count, cur_summary.count), note)


def detect_drift(
    reference: pd.DataFrame | pa.Table | ReferenceProfile,
    current: pd.DataFrame | pa.Table,
    *,
    config: DriftConfig | None = None,
) -> DriftReport:
    """Compare ``current`` with ``reference`` (a DataFrame, an Arrow table or a
    :class:`ReferenceProfile`) the way Evidently 0.7's ``DataDriftPreset`` does without a
    data definition.

    Column kinds are decided on the current data (Evidently's rule); numerical and categorical
    columns get Evidently's default test, text columns its domain classifier; the data set
    drifts when at least ``drift_share`` of the tested columns drift. Every column is in the
    report: tested, or in :attr:`DriftReport.skipped` with the reason (datetime, unknown type,
    only nulls on one side, present on one side only). Columns in one data set only and
    columns whose type changed are listed in :attr:`DriftReport.schema`; a changed column
    counts as drifted. Nothing is excluded by name unless ``config`` says so (``exclude``,
    ``outputs``). Raises :class:`ConfigError` (a configured column in neither data set),
    :class:`SchemaError` (no column in common, nothing testable) or :class:`EmptyData` (no
    current rows).

    >>> from mlops_guard.demo import make_dataset
    >>> ref = make_dataset(rows=2000, seed=1)
    >>> cur = make_dataset(rows=2000, seed=2, drift={"age": 1.0, "tenure_months": 1.0,
    ...     "monthly_charges": 1.0, "support_calls": 1.0, "logins_30d": 1.0,
    ...     "data_usage_gb": 1.0, "total_charges": 1.0, "late_payments": 1.0})
    >>> report = detect_drift(ref, cur)
    >>> report.dataset_drift, report.columns["age"].test
    (True, 'wasserstein')
    """
    from mlops_guard.drift._profile import ReferenceProfile

    config = config or DriftConfig()
    settings = config.settings
    is_profile = isinstance(reference, ReferenceProfile)
    ref, cur = _Side(reference), _Side(current)
    ref_names, cur_names = ref.names(), cur.names()
    _unknown_names(config, ref_names, cur_names)
    excluded = config.excluded
    wanted = set(config.columns) if config.columns is not None else None
    ref_set, cur_set = set(ref_names), set(cur_names)

    def considered(name: str) -> bool:
        return name not in excluded and (wanted is None or name in wanted)

    # Evidently takes the columns of the current data, in its order.
    common = [n for n in cur_names if n in ref_set and considered(n)]
    extra = [n for n in cur_names if n not in ref_set and considered(n)]
    missing = [n for n in ref_names if n not in cur_set and considered(n)]
    if wanted is not None and (extra or missing):
        raise SchemaError(
            f"column(s) {', '.join(map(repr, sorted([*extra, *missing])))} are not in both "
            "data sets",
            hint="check the column names, or drop them from the columns to check",
        )
    if not common:
        error = ProfileError if is_profile else SchemaError
        raise error(
            "the reference and the current data have no column in common "
            f"(reference: {', '.join(ref_names[:5])}...; current: {', '.join(cur_names[:5])}...)",
            hint="compare data with the schema the reference was built from",
        )
    if cur.rows == 0:
        raise EmptyData("the current batch has no rows", hint="pass a batch with rows")

    skipped: dict[str, SkippedColumn] = {}
    results: dict[str, _Tested] = {}
    for name, done in zip(
        common, _map(lambda n: _check_column(n, ref, cur, config), common, settings), strict=True
    ):
        if isinstance(done, SkippedColumn):
            skipped[name] = done
        else:
            results[name] = done
    excluded_present = [n for n in cur_names if n in excluded]
    for name in excluded_present:
        skipped[name] = SkippedColumn(name, "unknown", "excluded by the configuration")
    for name in extra:
        skipped[name] = SkippedColumn(name, "unknown", "not in the reference data")
    for name in missing:
        skipped[name] = SkippedColumn(name, "unknown", "not in the current data")
    output_names = config.output_names
    outcomes = {name: r.outcome for name, r in results.items() if name not in output_names}
    output_outcomes = {name: r.outcome for name, r in results.items() if name in output_names}
    if not outcomes:
        reasons = "; ".join(f"{n}: {s.reason}" for n, s in list(skipped.items())[:5])
        raise SchemaError(
            "no data column can be drift-checked (the common columns are model outputs or "
            f"skipped: {reasons or ', '.join(common)})",
            hint="pass data with numerical, categorical or text features",
        )

    correction = config.correction_in_force
    outcomes = _apply_correction(outcomes, correction)

    def verdict(name: str, o: TestOutcome) -> ColumnDrift:
        r = results[name]
        return ColumnDrift(
            column=name,
            kind=r.kind,
            test=o.test,
            statistic=o.statistic,
            threshold=o.threshold,
            drifted=o.drifted,
            p_value=o.p_value,
            exact=o.exact,
            error_bound=o.error_bound,
            reference_values=r.counts[0],
            current_values=r.counts[1],
            note=r.note,
        )

    columns = {name: verdict(name, o) for name, o in outcomes.items()}
    outputs = {name: verdict(name, o) for name, o in output_outcomes.items()}
    share = sum(c.drifted for c in columns.values()) / len(columns)
    schema = SchemaChanges(
        missing=tuple(missing),
        extra=tuple(extra),
        changed=tuple(name for name, r in results.items() if r.changed),
    )
    return DriftReport(
        dataset_drift=share >= settings.drift_share,
        drift_share=share,
        share_threshold=settings.drift_share,
        reference_rows=ref.rows,
        current_rows=cur.rows,
        columns=columns,
        skipped=skipped,
        correction=correction,
        outputs=outputs,
        schema=schema,
        order=tuple(n for n in cur_names if n in skipped or n in columns or n in outputs)
        + tuple(missing),
    )
