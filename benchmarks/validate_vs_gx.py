"""Benchmark: ``mlops_guard.validation.validate`` against a plain Great Expectations checkpoint.

Both validate the same in-memory DataFrame (1,000,000 rows of the synthetic churn data, with a
little corruption so that failures and unexpected-value lists are computed) against the same
20 expectations taken from the shipped ``churn`` suite. The GX side is what a user would write:
an ephemeral context, a pandas dataframe asset, a ValidationDefinition and a Checkpoint run
with GX's default result format. Each side runs once on a small batch first (imports, context
set-up), then ``--repeat`` times; the best and median wall times are reported, with their ratio.

    /tmp/venv/bin/python benchmarks/validate_vs_gx.py [--rows N] [--repeat N]

Writes ``benchmarks/results/validate_vs_gx.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path
from typing import Any

for _name, _value in {
    "DO_NOT_TRACK": "1",
    "GX_ANALYTICS_ENABLED": "false",
    "EVIDENTLY_DISABLE_TELEMETRY": "1",
}.items():
    os.environ.setdefault(_name, _value)

RESULTS = Path(__file__).resolve().parent / "results" / "validate_vs_gx.json"

# 20 expectations of the churn suite: the column set, types, nulls, ranges, sets, uniqueness.
PICK = [
    ("expect_table_columns_to_match_set", None),
    ("expect_column_values_to_be_in_type_list", "customer_id"),
    ("expect_column_values_to_be_in_type_list", "age"),
    ("expect_column_values_to_be_unique", "customer_id"),
    *[
        ("expect_column_values_to_not_be_null", c)
        for c in ("age", "tenure_months", "monthly_charges", "contract", "region", "churned")
    ],
    *[
        ("expect_column_values_to_be_between", c)
        for c in (
            "age",
            "tenure_months",
            "monthly_charges",
            "total_charges",
            "data_usage_gb",
            "support_calls",
        )
    ],
    *[
        ("expect_column_values_to_be_in_set", c)
        for c in ("contract", "payment_method", "region", "churned")
    ],
]


# The id column's text-type and uniqueness checks are the costliest for GX (value-by-value
# isinstance, duplicated() on a million strings); this variant leaves them out so the ratio is
# also known for a suite of cheap column checks only.
WITHOUT_ID = [key for key in PICK if key[1] != "customer_id"]


def _suite(keys: list[tuple[str, str | None]], name: str) -> Any:
    from mlops_guard.validation import Suite, load_suite

    churn = load_suite(Path(__file__).resolve().parents[1] / "expectations" / "churn.json")
    by_key = {(s.type, s.column): s for s in churn.expectations}
    return Suite(name, tuple(by_key[key] for key in keys))


def _data(rows: int) -> Any:
    from mlops_guard.demo import Corruption, SyntheticSpec, make_dataset

    corruption = Corruption(
        null_rate=0.001,
        null_columns=("age",),
        out_of_range_rate=0.001,
        out_of_range_columns=("tenure_months",),
        unseen_category_rate=0.001,
        unseen_category_columns=("region",),
    )
    return make_dataset(SyntheticSpec(rows=rows, seed=7, corruption=corruption))


class PlainGX:
    """What a user writes with GX 1.x: context, asset, suite, ValidationDefinition, Checkpoint."""

    def __init__(self, suite: Any) -> None:
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

        self.context = gx.get_context(mode="ephemeral")
        # Progress bars off: drawing them is not validation work, and it would flatter us.
        self.context.variables.progress_bars = ProgressBarsConfig(globally=False)
        batch_definition = (
            self.context.data_sources.add_pandas(f"bench-{suite.name}")
            .add_dataframe_asset("batch")
            .add_batch_definition_whole_dataframe("whole")
        )
        gx_suite = self.context.suites.add(suite.to_gx())
        definition = self.context.validation_definitions.add(
            gx.ValidationDefinition(name=suite.name, data=batch_definition, suite=gx_suite)
        )
        self.checkpoint = self.context.checkpoints.add(
            gx.Checkpoint(name=suite.name, validation_definitions=[definition])
        )

    def run(self, df: Any) -> dict[tuple[str, str | None], bool]:
        result = self.checkpoint.run(batch_parameters={"dataframe": df})
        [run_result] = result.run_results.values()
        outcomes: dict[tuple[str, str | None], bool] = {}
        for item in run_result.results:
            config = item.expectation_config
            assert config is not None
            outcomes[(config.type, config.kwargs.get("column"))] = bool(item.success)
        return outcomes


def _time(fn: Any, repeat: int) -> tuple[list[float], Any]:
    times, out = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - started)
    return times, out


def _compare(suite: Any, df: Any, warm: Any, repeat: int) -> dict[str, Any]:
    from mlops_guard.validation import validate

    gx_runner = PlainGX(suite)
    gx_runner.run(warm)
    validate(warm, suite)
    gx_times, gx_success = _time(lambda: gx_runner.run(df), repeat)
    ours_times, ours_result = _time(lambda: validate(df, suite), repeat)
    ours_success = {(o.expectation, o.column): o.success for o in ours_result.outcomes}
    return {
        "expectations": len(suite.expectations),
        "failed_expectations": sorted(
            f"{t}({c})" if c else t for (t, c), ok in ours_success.items() if not ok
        ),
        "outcomes_agree_with_gx": ours_success == gx_success,
        "gx_checkpoint_seconds": {"best": min(gx_times), "median": statistics.median(gx_times)},
        "mlops_guard_validate_seconds": {
            "best": min(ours_times),
            "median": statistics.median(ours_times),
        },
        "ratio_best": min(ours_times) / min(gx_times),
        "ratio_median": statistics.median(ours_times) / statistics.median(gx_times),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    df = _data(args.rows)
    warm = _data(1_000)
    figures: dict[str, Any] = {
        "benchmark": "validate_vs_gx",
        "rows": args.rows,
        "repeat": args.repeat,
        "goal": "ratio <= 1.2",
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "suites": {},
    }
    all_agree = True
    for name, keys in (("churn-20", PICK), ("churn-without-id-18", WITHOUT_ID)):
        entry = _compare(_suite(keys, name.replace("-", "_")), df, warm, args.repeat)
        figures["suites"][name] = entry
        all_agree = all_agree and entry["outcomes_agree_with_gx"]
        print(
            f"{name}: {args.rows:,} rows x {entry['expectations']} expectations: "
            f"GX checkpoint {entry['gx_checkpoint_seconds']['median']:.3f} s, "
            f"mlops-guard validate {entry['mlops_guard_validate_seconds']['median']:.3f} s "
            f"(median of {args.repeat}); ratio {entry['ratio_median']:.3f}x "
            f"(best {entry['ratio_best']:.3f}x); outcomes agree: "
            f"{entry['outcomes_agree_with_gx']}"
        )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    if not all_agree:
        raise SystemExit("outcomes differ from Great Expectations: the comparison is invalid")


if __name__ == "__main__":
    main()
