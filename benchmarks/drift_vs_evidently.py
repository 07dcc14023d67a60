"""mlops-guard's drift engine against Evidently 0.7's DataDriftPreset, on the same data.

    /tmp/venv/bin/python benchmarks/drift_vs_evidently.py [--rows N] [--big-rows N] [--only-whole]

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

Case 3, whole processes: what a user waits for. ``mlops-guard drift REF CUR --json`` against a
script that reads the same files with pandas and runs Evidently's ``DataDriftPreset`` (no data
definition), each a fresh process, start-up, imports and reading included, in the same run:
``--rows`` rows x 13 from Parquet with plain string categories (what most exports hold; median
of 3 runs for mlops-guard, 1 for Evidently), and a 10,000-row CSV pair (median of 5 each). Wall
time and peak RSS come from ``wait4`` on each process. Verdicts per column must agree.

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
WHOLE_SPEED_GOAL = 40.0
SMALL_CSV_GOAL_SECONDS = 0.5
SMALL_ROWS = 10_000
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


_EVIDENTLY_SCRIPT = """
import json, os, sys
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("EVIDENTLY_DISABLE_TELEMETRY", "1")
import pandas as pd
from evidently import Report
from evidently.presets import DataDriftPreset

read = pd.read_parquet if sys.argv[1].endswith(".parquet") else pd.read_csv
reference, current = read(sys.argv[1]), read(sys.argv[2])
snapshot = Report([DataDriftPreset()], include_tests=True).run(current, reference)
document = snapshot.dict()
verdicts = {}
for test in document["tests"]:
    name = test["name"]
    if name.startswith("Value Drift for column "):
        column = name.removeprefix("Value Drift for column ")
        verdicts[column] = str(test["status"]).endswith("FAIL")
    elif name.startswith("Share of Drifted Columns"):
        dataset = str(test["status"]).endswith("FAIL")
print(json.dumps({"dataset_drift": dataset, "columns": verdicts}))
"""


def _timed_process(argv: list[str]) -> tuple[float, float, str]:
    """Wall seconds, peak RSS (MB) and stdout of one fresh process (``wait4``: its own RSS)."""
    import subprocess

    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    start = time.perf_counter()
    with subprocess.Popen(argv, stdout=subprocess.PIPE, env=env) as process:
        out = process.stdout.read() if process.stdout else b""
        _pid, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode not in (0, 1):
        raise SystemExit(f"{argv[:3]} failed with exit code {process.returncode}")
    return seconds, usage.ru_maxrss / 1024, out.decode()


def _mlops_guard_command() -> list[str]:
    import shutil

    exe = shutil.which("mlops-guard") or str(Path(sys.executable).with_name("mlops-guard"))
    return [exe, "drift"]


def _whole(reference: Path, current: Path, repeats: int, script: Path) -> dict[str, Any]:
    ours_runs = [
        _timed_process([*_mlops_guard_command(), str(reference), str(current), "--json"])
        for _ in range(repeats)
    ]
    evidently_repeats = repeats if "csv" in reference.name else 1
    theirs_runs = [
        _timed_process([sys.executable, str(script), str(reference), str(current)])
        for _ in range(evidently_repeats)
    ]
    ours_doc = json.loads(ours_runs[0][2])
    theirs_doc = json.loads(theirs_runs[0][2])
    ours_verdicts = {n: c["drifted"] for n, c in ours_doc["columns"].items() if "skipped" not in c}
    ours_seconds = statistics.median(r[0] for r in ours_runs)
    theirs_seconds = statistics.median(r[0] for r in theirs_runs)
    return {
        "mlops_guard": {
            "seconds": ours_seconds,
            "seconds_all_runs": [r[0] for r in ours_runs],
            "peak_rss_mb": max(r[1] for r in ours_runs),
            "dataset_drift": ours_doc["dataset_drift"],
        },
        "evidently": {
            "seconds": theirs_seconds,
            "seconds_all_runs": [r[0] for r in theirs_runs],
            "peak_rss_mb": max(r[1] for r in theirs_runs),
            "dataset_drift": theirs_doc["dataset_drift"],
        },
        "speedup": theirs_seconds / ours_seconds,
        # A shared machine: the load says how far both figures are from a quiet one's.
        "load_average_after": os.getloadavg(),
        "same_column_verdicts": ours_verdicts == theirs_doc["columns"],
        "same_dataset_verdict": ours_doc["dataset_drift"] == theirs_doc["dataset_drift"],
    }


def _child_write_strings(reference: str, current: str, rows: str, small: str, queue: Any) -> None:
    """The case-3 files: categories as plain strings (Parquet), and a small CSV pair."""
    from mlops_guard.data import write_table
    from mlops_guard.demo import make_dataset

    def frame(n: int, seed: int, drift: dict[str, float] | None) -> Any:
        data = make_dataset(rows=n, seed=seed, drift=drift or {})[_features()]
        for name in data.columns:
            if str(data[name].dtype) == "category":
                data[name] = data[name].astype(str)
        return data

    write_table(frame(int(rows), 1, None), Path(reference))
    write_table(frame(int(rows), 2, DRIFT), Path(current))
    write_table(frame(SMALL_ROWS, 3, None), Path(small) / "reference.csv")
    write_table(frame(SMALL_ROWS, 4, DRIFT), Path(small) / "current.csv")
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
    parser.add_argument(
        "--only-whole", action="store_true", help="run case 3 (whole processes) only"
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="drift-bench-") as tmp:
        ref_path, cur_path = Path(tmp) / "reference.parquet", Path(tmp) / "current.parquet"
        big_path = Path(tmp) / "big-reference.parquet"
        if not args.only_whole:
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
        figures: dict[str, Any] = {
            "machine": {
                "python": sys.version.split()[0],
                "platform": platform.platform(),
                "cpus": os.cpu_count(),
                "load_average_at_start": os.getloadavg(),
                # Children inherit the parent's peak in ru_maxrss: this is the floor of theirs.
                "parent_peak_rss_mb": parent_rss,
            }
        }
        if RESULTS.exists() and args.only_whole:
            figures = {**json.loads(RESULTS.read_text()), "machine": figures["machine"]}
        if not args.only_whole:
            figures.update(_cases_1_and_2(args, ref_path, cur_path, big_path))
        figures["case_3"] = _case_3(args, Path(tmp))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(figures, indent=2) + "\n")
    print(f"figures written to {RESULTS}")
    return 0


def _case_3(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    strings_ref, strings_cur = tmp / "strings-reference.parquet", tmp / "strings-current.parquet"
    small = tmp / "small"
    small.mkdir()
    _run(_child_write_strings, str(strings_ref), str(strings_cur), str(args.rows), str(small))
    script = tmp / "evidently_drift.py"
    script.write_text(_EVIDENTLY_SCRIPT)
    print(f"case 3: whole processes, {args.rows:,} rows x 13 Parquet (string categories)")
    big = _whole(strings_ref, strings_cur, 3, script)
    print(
        f"  mlops-guard drift: {big['mlops_guard']['seconds']:.2f} s, "
        f"{big['mlops_guard']['peak_rss_mb']:.0f} MB; evidently script: "
        f"{big['evidently']['seconds']:.1f} s, {big['evidently']['peak_rss_mb']:.0f} MB; "
        f"{big['speedup']:.1f}x (goal {WHOLE_SPEED_GOAL:.0f}x), same verdicts: "
        f"{big['same_column_verdicts'] and big['same_dataset_verdict']}",
        flush=True,
    )
    print(f"  {SMALL_ROWS:,}-row CSV pair")
    csv = _whole(small / "reference.csv", small / "current.csv", REPEATS, script)
    print(
        f"  mlops-guard drift: {csv['mlops_guard']['seconds']:.2f} s "
        f"(goal < {SMALL_CSV_GOAL_SECONDS} s); evidently script: "
        f"{csv['evidently']['seconds']:.1f} s; {csv['speedup']:.1f}x, same verdicts: "
        f"{csv['same_column_verdicts'] and csv['same_dataset_verdict']}"
    )
    return {
        "parquet_string_categories": {
            "rows": args.rows,
            **big,
            "goal": {"speedup": WHOLE_SPEED_GOAL},
            "speed_goal_met": big["speedup"] >= WHOLE_SPEED_GOAL,
            "rss_below_evidently": big["mlops_guard"]["peak_rss_mb"]
            < big["evidently"]["peak_rss_mb"],
        },
        "csv_small": {
            "rows": SMALL_ROWS,
            **csv,
            "goal": {"seconds": SMALL_CSV_GOAL_SECONDS},
            "seconds_goal_met": csv["mlops_guard"]["seconds"] < SMALL_CSV_GOAL_SECONDS,
        },
    }


def _cases_1_and_2(
    args: argparse.Namespace, ref_path: Path, cur_path: Path, big_path: Path
) -> dict[str, Any]:
    figures: dict[str, Any] = {}
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
    max_diff = max(abs(ours["columns"][n][1] - theirs["columns"][n][1]) for n in theirs["columns"])
    ratio = theirs["seconds"] / ours["seconds"]
    print(
        f"  speed-up {ratio:.1f}x (goal {SPEED_GOAL:.0f}x); same verdicts: "
        f"{same_columns and ours['dataset_drift'] == theirs['dataset_drift']}; "
        f"same tests: {same_tests}; max |statistic difference| {max_diff:.2e}"
    )
    figures["case_1"] = {
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
    return figures


if __name__ == "__main__":
    sys.exit(main())
