"""mlops-guard's drift engine against Evidently 0.7's DataDriftPreset, on the same data.

    /tmp/venv/bin/python benchmarks/drift_vs_evidently.py [--rows N] [--big-rows N]

Case 1: reference and current of ``--rows`` rows (default 1,000,000) x 13 features (10
numerical, 3 categorical) of the synthetic churn data, the current one drifted in some columns,
both read from Parquet (categories as pandas categoricals). Each tool runs in its own fresh
child process (spawned, so peak RSS figures do not mix); the wall time is the check alone
(imports and loading excluded for both; mlops-guard: median of 5 runs, Evidently: 1 run of about
a minute), the peak RSS is the child's whole life (imports and data included). The verdicts
per column and for the data set must agree.

Case 2: a ``--big-rows`` (default 10,000,000) reference written to Parquet in chunks, profiled
in chunks (bounded memory), then the current batch checked against the profile. Evidently is
not run on it (it would need the 10,000,000 rows in memory).

Figures go to ``benchmarks/results/drift_vs_evidently.json``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

for _name, _value in {
    "DO_NOT_TRACK": "1",
    "EVIDENTLY_DISABLE_TELEMETRY": "1",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
}.items():
    os.environ.setdefault(_name, _value)

RESULTS = Path(__file__).resolve().parent / "results" / "drift_vs_evidently.json"
DRIFT = {
    "age": 0.3,
    "tenure_months": 0.2,
    "monthly_charges": 0.25,
    "support_calls": 0.3,
    "logins_30d": 0.3,
    "late_payments": 0.4,
    "contract": 0.2,
    "region": 0.25,
}
SPEED_GOAL = 40.0
REPEATS = 5
RSS_GOAL_MB = 600.0
BIG_RSS_GOAL_MB = 2048.0


def _peak_rss_mb() -> float:
    # Linux reports ru_maxrss in KiB.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _features() -> list[str]:
    from mlops_guard.demo import FEATURES

    return list(FEATURES)


def _write_case(rows: int, seed: int, path: Path, drift: dict[str, float] | None = None) -> None:
    from mlops_guard.data import write_table
    from mlops_guard.demo import make_dataset

    write_table(make_dataset(rows=rows, seed=seed, drift=drift or {})[_features()], path)


def _write_big(rows: int, path: Path, chunk: int = 1_000_000) -> None:
    """Write ``rows`` reference rows to Parquet one chunk at a time (bounded memory)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from mlops_guard.demo import make_dataset

    writer = None
    written = 0
    seed = 1000
    while written < rows:
        n = min(chunk, rows - written)
        table = pa.Table.from_pandas(
            make_dataset(rows=n, seed=seed)[_features()], preserve_index=False
        )
        if writer is None:
            writer = pq.ParquetWriter(str(path), table.schema)
        writer.write_table(table)
        written += n
        seed += 1
    assert writer is not None
    writer.close()


def _read(path: str) -> Any:
    import pyarrow.parquet as pq

    from mlops_guard.demo import CATEGORICAL_FEATURES

    table = pq.read_table(path, read_dictionary=list(CATEGORICAL_FEATURES))
    # Arrow buffers are released column by column as pandas takes them: the load does not
    # hold the data twice (the same loading for both tools).
    return table.to_pandas(split_blocks=True, self_destruct=True)


def _warm_up() -> None:
    """Import what the first check imports lazily (scipy.stats, scipy.spatial), as Evidently
    imports it at ``from evidently import Report``: imports are outside both timings."""
    from mlops_guard.demo import make_dataset
    from mlops_guard.drift import detect_drift

    tiny = make_dataset(rows=50, seed=0)[_features()]
    detect_drift(tiny, tiny)


def _child_ours(reference: str, current: str, queue: Any) -> None:
    from mlops_guard.drift import detect_drift

    _warm_up()
    ref, cur = _read(reference), _read(current)
    loaded = _peak_rss_mb()
    # Five runs, median reported: one run of about a second is at the mercy of the other jobs
    # on a shared machine (Evidently's single run lasts a minute, which averages that out).
    timings = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        report = detect_drift(ref, cur)
        timings.append(time.perf_counter() - start)
    queue.put(
        {
            "seconds": statistics.median(timings),
            "seconds_all_runs": timings,
            "peak_rss_mb": _peak_rss_mb(),
            "rss_after_load_mb": loaded,
            "dataset_drift": report.dataset_drift,
            "drift_share": report.drift_share,
            "columns": {n: [c.test, c.statistic, c.drifted] for n, c in report.columns.items()},
        }
    )


_EVIDENTLY_NAMES = {
    "K-S p_value": "ks",
    "chi-square p_value": "chisquare",
    "Z-test p_value": "z",
    "Wasserstein distance (normed)": "wasserstein",
    "Jensen-Shannon distance": "jensenshannon",
}


def _child_evidently(reference: str, current: str, queue: Any) -> None:
    from evidently import Report
    from evidently.presets import DataDriftPreset

    ref, cur = _read(reference), _read(current)
    loaded = _peak_rss_mb()
    start = time.perf_counter()
    snapshot = Report([DataDriftPreset()]).run(cur, ref)
    result = snapshot.dict()
    seconds = time.perf_counter() - start
    columns: dict[str, list[Any]] = {}
    share = float("nan")
    for metric in result["metrics"]:
        config = metric["config"]
        if config["type"].endswith("ValueDrift"):
            test = _EVIDENTLY_NAMES.get(config["method"], config["method"])
            score = float(metric["value"])
            p_value = test in ("ks", "chisquare", "z")
            drifted = score < config["threshold"] if p_value else score >= config["threshold"]
            columns[config["column"]] = [test, score, bool(drifted)]
        elif config["type"].endswith("DriftedColumnsCount"):
            share = float(metric["value"]["share"])
    queue.put(
        {
            "seconds": seconds,
            "peak_rss_mb": _peak_rss_mb(),
            "rss_after_load_mb": loaded,
            "dataset_drift": share >= 0.5,
            "drift_share": share,
            "columns": columns,
        }
    )


def _child_big(reference: str, current: str, queue: Any) -> None:
    from mlops_guard.drift import build_profile, detect_drift

    _warm_up()
    start = time.perf_counter()
    profile = build_profile(reference, chunk_rows=1_000_000)
    profile_seconds = time.perf_counter() - start
    profile_path = Path(reference).with_suffix(".profile.json")
    profile.save(profile_path)
    after_profile = _peak_rss_mb()
    cur = _read(current)
    start = time.perf_counter()
    report = detect_drift(profile, cur)
    seconds = time.perf_counter() - start
    queue.put(
        {
            "profile_seconds": profile_seconds,
            "check_seconds": seconds,
            "profile_bytes": profile_path.stat().st_size,
            "profile_exact": profile.exact,
            "peak_rss_after_profile_mb": after_profile,
            "peak_rss_mb": _peak_rss_mb(),
            "dataset_drift": report.dataset_drift,
            "drift_share": report.drift_share,
            "max_error_bound": max((c.error_bound or 0.0) for c in report.columns.values()),
        }
    )


def _child_write(
    reference: str, current: str, big: str, big_rows: str, rows: str, queue: Any
) -> None:
    """Write the data files. In a child of its own: Linux carries a process's peak RSS over
    fork and exec into its children's ru_maxrss, so the parent must stay small."""
    _write_case(int(rows), 1, Path(reference))
    _write_case(int(rows), 2, Path(current), DRIFT)
    if int(big_rows):
        _write_big(int(big_rows), Path(big))
    queue.put({"peak_rss_mb": _peak_rss_mb()})


def _run(target: Any, *args: str) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    process = ctx.Process(target=target, args=(*args, queue))
    process.start()
    result = queue.get()
    process.join()
    if process.exitcode != 0:
        raise SystemExit(f"{target.__name__} failed with exit code {process.exitcode}")
    return dict(result)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--big-rows", type=int, default=10_000_000, help="0 skips case 2")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="drift-bench-") as tmp:
        ref_path, cur_path = Path(tmp) / "reference.parquet", Path(tmp) / "current.parquet"
        big_path = Path(tmp) / "big-reference.parquet"
        print(f"writing the data ({args.rows:,} rows x 2, {args.big_rows:,} rows)", flush=True)
        _run(
            _child_write,
            str(ref_path),
            str(cur_path),
            str(big_path),
            str(args.big_rows),
            str(args.rows),
        )
        parent_rss = _peak_rss_mb()
        print(f"case 1: {args.rows:,} rows x 13 columns, reference and current", flush=True)
        ours = _run(_child_ours, str(ref_path), str(cur_path))
        print(f"  mlops-guard: {ours['seconds']:.2f} s, peak RSS {ours['peak_rss_mb']:.0f} MB")
        theirs = _run(_child_evidently, str(ref_path), str(cur_path))
        print(f"  evidently:   {theirs['seconds']:.2f} s, peak RSS {theirs['peak_rss_mb']:.0f} MB")
        same_columns = {n: c[2] for n, c in ours["columns"].items()} == {
            n: c[2] for n, c in theirs["columns"].items()
        }
        same_tests = {n: c[0] for n, c in ours["columns"].items()} == {
            n: c[0] for n, c in theirs["columns"].items()
        }
        max_diff = max(
            abs(ours["columns"][n][1] - theirs["columns"][n][1]) for n in theirs["columns"]
        )
        ratio = theirs["seconds"] / ours["seconds"]
        print(
            f"  speed-up {ratio:.1f}x (goal {SPEED_GOAL:.0f}x); same verdicts: "
            f"{same_columns and ours['dataset_drift'] == theirs['dataset_drift']}; "
            f"same tests: {same_tests}; max |statistic difference| {max_diff:.2e}"
        )
        figures: dict[str, Any] = {
            "machine": {
                "python": sys.version.split()[0],
                "platform": platform.platform(),
                "cpus": os.cpu_count(),
                "load_average_at_start": os.getloadavg(),
                # Children inherit the parent's peak in ru_maxrss: this is the floor of theirs.
                "parent_peak_rss_mb": parent_rss,
            },
            "case_1": {
                "rows": args.rows,
                "columns": 13,
                "mlops_guard": ours,
                "evidently": theirs,
                "speedup": ratio,
                "same_column_verdicts": same_columns,
                "same_dataset_verdict": ours["dataset_drift"] == theirs["dataset_drift"],
                "same_tests": same_tests,
                "max_abs_statistic_difference": max_diff,
                "goal": {"speedup": SPEED_GOAL, "peak_rss_mb": RSS_GOAL_MB},
                "speed_goal_met": ratio >= SPEED_GOAL,
                "rss_goal_met": ours["peak_rss_mb"] <= RSS_GOAL_MB,
            },
        }
        if args.big_rows:
            print(f"case 2: {args.big_rows:,} reference rows from Parquet", flush=True)
            big = _run(_child_big, str(big_path), str(cur_path))
            print(
                f"  profile {big['profile_seconds']:.1f} s ({big['profile_bytes']:,} bytes), "
                f"check {big['check_seconds']:.2f} s, peak RSS {big['peak_rss_mb']:.0f} MB "
                f"(goal < {BIG_RSS_GOAL_MB:.0f}), drift {big['dataset_drift']}"
            )
            figures["case_2"] = {
                "rows": args.big_rows,
                **big,
                "rss_goal_met": big["peak_rss_mb"] < BIG_RSS_GOAL_MB,
                "same_dataset_verdict_as_case_1": big["dataset_drift"] == ours["dataset_drift"],
            }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(figures, indent=2) + "\n")
    print(f"figures written to {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
