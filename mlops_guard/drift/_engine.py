"""The drift engine: picks a test per column like Evidently 0.7, runs it, and decides.

Defaults reproduce ``DataDriftPreset``: with at most 1,000 non-null reference values a column
gets KS (numerical, more than 5 distinct values), chi-square (more than 2 values) or a Z-test
(2 values); above 1,000 values, Wasserstein distance normed by the reference standard deviation
(numerical, more than 5 values) or Jensen-Shannon distance; the data set drifts when at least
half the checked columns drift.

Model outputs (``score``, ``prediction``: :attr:`DriftSettings.output_columns`) are tested like
any column but reported apart, in :attr:`DriftReport.outputs` (prediction drift), and never
count in the data set's drift share; the columns that say who scored a row and when
(``model_version``, ``batch_id``, ``scored_at``) are not checked at all.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from mlops_guard.drift._kinds import ColumnKind, Family, conflicting_families, infer_kind
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
from mlops_guard.errors import ConfigError, EmptyData, ProfileError, SchemaError

if TYPE_CHECKING:
    import pandas as pd

    from mlops_guard.drift._profile import ReferenceProfile

__all__ = [
    "ColumnDrift",
    "DriftConfig",
    "DriftReport",
    "ReferenceColumn",
    "detect_drift",
    "summarise_frame_column",
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

    @property
    def excluded(self) -> frozenset[str]:
        """Columns never checked: ids and timestamps (``exclude``, default the settings'),
        and the bookkeeping columns of scored batches."""
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

    def to_json(self) -> dict[str, Any]:
        import math

        return {
            "kind": self.kind,
            "test": self.test,
            # JSON has no NaN or infinity: a degenerate test (NaN) prints as null.
            "statistic": self.statistic if math.isfinite(self.statistic) else None,
            "threshold": self.threshold,
            "drifted": self.drifted,
            "stat_type": "p_value" if self.p_value else "distance",
            "exact": self.exact,
            "error_bound": self.error_bound,
            "reference_values": self.reference_values,
            "current_values": self.current_values,
        }


@dataclass(frozen=True)
class DriftReport:
    """The result of :func:`detect_drift`; ``to_json()`` is the ``drift --json`` document.

    ``columns`` are the data set's columns (the drift share is over them); ``outputs`` the
    model outputs present on both sides (prediction drift), judged on their own.
    """

    dataset_drift: bool
    drift_share: float
    share_threshold: float
    reference_rows: int
    current_rows: int
    columns: dict[str, ColumnDrift]
    skipped: dict[str, str] = field(default_factory=dict)
    correction: Correction = "none"
    outputs: dict[str, ColumnDrift] = field(default_factory=dict)

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
        return {
            "dataset_drift": self.dataset_drift,
            "drift_share": self.drift_share,
            "share_threshold": self.share_threshold,
            "rows": {"reference": self.reference_rows, "current": self.current_rows},
            "columns": {name: column.to_json() for name, column in self.columns.items()},
            "prediction_drift": self.prediction_drift,
            "outputs": {name: column.to_json() for name, column in self.outputs.items()},
        }


@dataclass(frozen=True)
class ReferenceColumn:
    """What the engine needs to know about one reference column."""

    name: str
    family: Family
    kind: ColumnKind
    summary: NumericSummary | CategoricalSummary | None
    integer: bool = False


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


def _numeric_summary(series: pd.Series) -> NumericSummary:
    import numpy as np

    from mlops_guard.drift._stats import summarise_numeric

    values = series.to_numpy(dtype=np.float64, na_value=np.nan)
    return summarise_numeric(values)


def summarise_frame_column(
    series: pd.Series, settings: DriftSettings, *, kind: ColumnKind | None = None
) -> ReferenceColumn:
    """Summarise a DataFrame column; with ``kind`` given (from the reference), summarise the
    current column to match it."""
    from mlops_guard.drift._kinds import pandas_family
    from mlops_guard.drift._stats import categorical_from_numeric

    name = str(series.name)
    family = pandas_family(series)
    summary: NumericSummary | CategoricalSummary | None = None
    # numpy int columns cannot hold nulls; pandas' nullable Int64 can.
    integer = family == "int" and not series.hasnans
    if kind is None:
        if family in ("float", "int"):
            numeric = _numeric_summary(series)
            nulls = len(series) - numeric.count
            kind = infer_kind(
                family, nunique=numeric.nunique, count=numeric.count, nulls=nulls, settings=settings
            )
            summary = (
                numeric
                if kind == "numerical"
                else categorical_from_numeric(numeric, integer=integer)
            )
        elif family in ("string", "bool"):
            cat = _value_counts(series)
            nulls = len(series) - cat.count
            kind = infer_kind(
                family, nunique=cat.nunique, count=cat.count, nulls=nulls, settings=settings
            )
            summary = cat
        else:
            kind = infer_kind(family, nunique=None, count=len(series), nulls=0, settings=settings)
        return ReferenceColumn(name, family, kind, summary, integer)
    if kind == "numerical":
        summary = _numeric_summary(series)
    elif kind == "categorical":
        summary = _value_counts(series)
    return ReferenceColumn(name, family, kind, summary, integer)


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

    if isinstance(ref, NumericSummary) and isinstance(cur, NumericSummary):
        if max(ref.nunique, cur.nunique) > settings.few_values:
            # The union has more than `few_values` values whatever it holds: no need to
            # build it (a sort of up to two million values on continuous columns).
            n_values = max(ref.nunique, cur.nunique)
        else:
            n_values = int(np.union1d(ref.values, cur.values).size)
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


def _common_columns(
    ref_names: list[str], cur_names: list[str], config: DriftConfig, *, is_profile: bool
) -> list[str]:
    """The columns to check: in both, not excluded, and among ``config.columns`` if given."""
    excluded = config.excluded
    wanted = set(config.columns) if config.columns is not None else None
    current = set(cur_names)
    common = [
        name
        for name in ref_names
        if name in current and name not in excluded and (wanted is None or name in wanted)
    ]
    if wanted is not None:
        missing = sorted(wanted - set(common) - excluded)
        if missing:
            raise SchemaError(
                f"column(s) {', '.join(map(repr, missing))} are not in both data sets",
                hint="check the column names, or drop them from the columns to check",
            )
    if not common:
        error = ProfileError if is_profile else SchemaError
        raise error(
            "the reference and the current data have no column in common "
            f"(reference: {', '.join(ref_names[:5])}...; current: {', '.join(cur_names[:5])}...)",
            hint="compare data with the schema the reference was built from",
        )
    return common


def _check_column(
    name: str, ref_col: ReferenceColumn, series: pd.Series, config: DriftConfig
) -> tuple[TestOutcome, ColumnKind, tuple[int, int]]:
    """Summarise the current column like the reference one, pick the test, run it."""
    settings = config.settings
    cur_col = summarise_frame_column(series, settings, kind=ref_col.kind)
    ref_summary, cur_summary = ref_col.summary, cur_col.summary
    assert ref_summary is not None
    assert cur_summary is not None
    for side, summary in (("reference", ref_summary), ("current", cur_summary)):
        if summary.count == 0:
            raise EmptyData(
                f"column {name!r} has only null values in the {side} data",
                hint=f"fix the column, or exclude it from the drift check ({name!r})",
            )
    test = config.column_tests.get(name) or _pick_default_test(
        ref_col.kind, ref_summary, cur_summary, settings
    )
    if test in NUMERIC_ONLY_TESTS and ref_col.kind != "numerical":
        raise ConfigError(
            f"test {test!r} needs a numerical column, but {name!r} is {ref_col.kind}",
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
        integer=ref_col.integer and cur_col.integer,
    )
    return outcome, ref_col.kind, (ref_summary.count, cur_summary.count)


def detect_drift(
    reference: pd.DataFrame | ReferenceProfile,
    current: pd.DataFrame,
    *,
    config: DriftConfig | None = None,
) -> DriftReport:
    """Compare ``current`` with ``reference`` (a DataFrame or a :class:`ReferenceProfile`).

    Columns present in both are checked, except id and timestamp columns
    (``config.exclude``, default ``customer_id`` and ``event_time``), the bookkeeping columns
    of scored batches, text and datetime columns. Model outputs (``config.outputs``, default
    ``score`` and ``prediction``) go to ``outputs``, outside the drift share; a multiple-testing
    correction applies to the data set's columns only. Raises :class:`SchemaError` (no common
    columns, a column numerical on one side and text on the other), :class:`EmptyData` (no
    current rows, an all-null column) or :class:`ProfileError` (a profile of another schema).

    >>> from mlops_guard.demo import make_dataset
    >>> ref = make_dataset(rows=2000, seed=1)
    >>> cur = make_dataset(rows=2000, seed=2, drift={"age": 1.0, "tenure_months": 1.0,
    ...     "monthly_charges": 1.0, "support_calls": 1.0, "logins_30d": 1.0,
    ...     "data_usage_gb": 1.0, "total_charges": 1.0, "late_payments": 1.0})
    >>> report = detect_drift(ref, cur)
    >>> report.dataset_drift, report.columns["age"].test
    (True, 'wasserstein')
    """
    from mlops_guard.drift._kinds import pandas_family
    from mlops_guard.drift._profile import ReferenceProfile

    config = config or DriftConfig()
    settings = config.settings
    is_profile = isinstance(reference, ReferenceProfile)
    ref_names = list(reference.columns) if is_profile else [str(c) for c in reference.columns]
    cur_names = [str(c) for c in current.columns]
    common = _common_columns(ref_names, cur_names, config, is_profile=is_profile)
    if len(current) == 0:
        raise EmptyData("the current batch has no rows", hint="pass a batch with rows")

    reference_rows = (
        reference.rows if isinstance(reference, ReferenceProfile) else len(reference.index)
    )
    for name in common:
        ref_family = (
            reference.columns[name].family
            if isinstance(reference, ReferenceProfile)
            else pandas_family(reference[name])
        )
        cur_family = pandas_family(current[name])
        if conflicting_families(ref_family, cur_family) and not current[name].isna().all():
            error = ProfileError if is_profile else SchemaError
            raise error(
                f"column {name!r} holds {ref_family} values in the reference but "
                f"{cur_family} values in the current data",
                hint="fix the upstream export so the column keeps one type",
            )

    def job(name: str) -> tuple[TestOutcome, ColumnKind, tuple[int, int]] | str:
        # One column at a time, reference and current together: memory holds the summaries
        # of the columns in flight only, not of the whole reference.
        ref_col = (
            reference.reference_column(name, settings)
            if isinstance(reference, ReferenceProfile)
            else summarise_frame_column(reference[name], settings)
        )
        if ref_col.kind not in ("numerical", "categorical"):
            return f"{ref_col.kind} column"
        return _check_column(name, ref_col, current[name], config)

    skipped: dict[str, str] = {}
    results: dict[str, tuple[TestOutcome, ColumnKind, tuple[int, int]]] = {}
    for name, done in zip(common, _map(job, common, settings), strict=True):
        if isinstance(done, str):
            skipped[name] = done
        else:
            results[name] = done
    output_names = config.output_names
    outcomes = {name: r[0] for name, r in results.items() if name not in output_names}
    output_outcomes = {name: r[0] for name, r in results.items() if name in output_names}
    kinds = {name: result[1] for name, result in results.items()}
    counts = {name: result[2] for name, result in results.items()}
    if not outcomes:
        raise SchemaError(
            "no data column can be drift-checked (the common columns are ids, timestamps, text "
            f"or model outputs: {', '.join(common)})",
            hint="pass data with numerical or categorical features",
        )

    correction = config.correction_in_force
    outcomes = _apply_correction(outcomes, correction)

    def verdict(name: str, o: TestOutcome) -> ColumnDrift:
        return ColumnDrift(
            column=name,
            kind=kinds[name],
            test=o.test,
            statistic=o.statistic,
            threshold=o.threshold,
            drifted=o.drifted,
            p_value=o.p_value,
            exact=o.exact,
            error_bound=o.error_bound,
            reference_values=counts[name][0],
            current_values=counts[name][1],
        )

    columns = {name: verdict(name, o) for name, o in outcomes.items()}
    outputs = {name: verdict(name, o) for name, o in output_outcomes.items()}
    share = sum(c.drifted for c in columns.values()) / len(columns)
    return DriftReport(
        dataset_drift=share >= settings.drift_share,
        drift_share=share,
        share_threshold=settings.drift_share,
        reference_rows=reference_rows,
        current_rows=len(current),
        columns=columns,
        skipped=skipped,
        correction=correction,
        outputs=outputs,
    )
