"""What scoring through mlops-guard costs against the bare MLflow scoring a user would write.

    python benchmarks/score_vs_pyfunc.py [--rows 1000000] [--repeats 3] [--subprocess-repeats 1]

The demo churn model (scikit-learn) is trained and registered with the shipped training flow on
20,000 rows, in a fresh workdir and Prefect home; a batch of ``--rows`` rows (without the label)
is written as Parquet. All of that is untimed. Then, in one process, alternating, ``--repeats``
times each (median reported):

* mlops-guard: ``inference_flow(batch)``, the flow behind ``mlops-guard score DATA --model
  churn``: resolve the champion, load it with its contract, read, validate, score (failed rows
  isolated), write the predictions, metrics and run log. Its stages' own times come from the
  run log's ``stage.completed`` events. The model cache is cleared before each run, so every
  run loads the model as the command does in a fresh process.
* pyfunc: ``pandas.read_parquet``, ``mlflow.pyfunc.load_model("models:/churn/<v>")``,
  ``predict(frame)`` (labels), the labels added to the frame, ``DataFrame.to_parquet``.
* sklearn: the same with ``mlflow.sklearn.load_model(...).predict_proba`` (what mlops-guard
  calls), the positive score and the thresholded label added to the frame.

Both sides run once on a 1,000-row batch first (imports, first API round trips). A Prefect test
server is started for the flows (tens of seconds on a cold machine, untimed). Then the
``mlops-guard score`` command, pointed at that server, and the pyfunc side as a script are
timed each in a fresh process (interpreter start-up, imports and the model's first load
included in both). When the ratio to the pyfunc side is above the goal (1.5x), one more flow
run is profiled with cProfile and its top functions are saved with the figures.

Figures go to benchmarks/results/score_vs_pyfunc.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import save

REPO = str(Path(__file__).resolve().parents[1])
GOAL_RATIO = 1.5
TRAIN_ROWS = 20_000
WARM_ROWS = 1_000
MODEL = "churn"
# The guarded run's stages in the order they run, each with the bare side's counterpart.
STAGES = {
    "resolve_model": None,
    "load_model": "load_model",
    "load": "load",
    "validate": None,
    "score": "score",
    "quarantine_unscored": None,
    "write_predictions": "write",
    "compare_previous": None,
}


def _isolate(root: Path) -> None:
    """Point Prefect, MLflow and mlops-guard at ``root`` before any of them is imported."""
    os.environ["PREFECT_HOME"] = str(root / "prefect-home")
    os.environ["MLOPS_GUARD_WORKDIR"] = str(root / "guard")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    # A store named by the environment would be scored instead of the fresh one in the workdir.
    for name in ("MLOPS_GUARD_TRACKING_URI", "MLFLOW_TRACKING_URI", "PREFECT_API_URL"):
        os.environ.pop(name, None)


def _stage_times(runlog: Path, offset: int) -> dict[str, float]:
    """Seconds per stage of the ``stage.completed`` lines written after byte ``offset``."""
    times: dict[str, float] = {}
    with runlog.open("rb") as fh:
        fh.seek(offset)
        for line in fh:
            event = json.loads(line)
            if event.get("event") == "stage.completed":
                stage = str(event["stage"])
                times[stage] = times.get(stage, 0.0) + float(event["duration_seconds"])
    return times


def _size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


class Guarded:
    """One run of the inference flow, timed whole and split by the run log."""

    def __init__(self, settings: Any) -> None:
        self.settings = settings
        self.runs = 0

    def __call__(self, data: Path) -> dict[str, Any]:
        from mlops_guard.contract._predictor import _load
        from mlops_guard.pipelines import inference_flow

        _load.cache_clear()  # a fresh process (the CLI) loads the model once per batch
        self.runs += 1
        offset = _size(self.settings.runlog_path)
        started = time.perf_counter()
        result = inference_flow(
            str(data), model=MODEL, batch_id=f"bench-{self.runs}", settings=self.settings
        )
        seconds = time.perf_counter() - started
        stages = _stage_times(self.settings.runlog_path, offset)
        assert result.predictions_path is not None
        path = Path(result.predictions_path)
        figures = {
            "seconds": seconds,
            "stages": stages,
            "outside_stages": seconds - sum(stages.values()),
            "rows_scored": result.rows_scored,
            "rows_quarantined": result.rows_quarantined,
            "rows_failed": result.rows_failed,
            "output_bytes": _size(path),
        }
        path.unlink()  # the next run must not find the disk fuller
        return figures


class Bare:
    """What a user writes with MLflow alone: read, load, predict, add the columns, write."""

    def __init__(self, uri: str, version: str, out_dir: Path, flavour: str) -> None:
        self.uri, self.version, self.out_dir, self.flavour = uri, version, out_dir, flavour

    def __call__(self, data: Path) -> dict[str, Any]:
        import mlflow
        import numpy as np
        import pandas as pd

        mlflow.set_tracking_uri(self.uri)
        mlflow.set_registry_uri(self.uri)
        model_uri = f"models:/{MODEL}/{self.version}"
        out = self.out_dir / f"{self.flavour}.parquet"
        t0 = time.perf_counter()
        frame = pd.read_parquet(data)
        t1 = time.perf_counter()
        if self.flavour == "pyfunc":
            model = mlflow.pyfunc.load_model(model_uri)
        else:
            model = mlflow.sklearn.load_model(model_uri)
        t2 = time.perf_counter()
        if self.flavour == "pyfunc":
            frame["prediction"] = model.predict(frame)
        else:
            score = model.predict_proba(frame)[:, 1]
            frame["score"] = score
            frame["prediction"] = (score >= 0.5).astype(np.int64)
        t3 = time.perf_counter()
        frame.to_parquet(out, index=False)
        t4 = time.perf_counter()
        figures = {
            "seconds": t4 - t0,
            "stages": {"load": t1 - t0, "load_model": t2 - t1, "score": t3 - t2, "write": t4 - t3},
            "output_bytes": _size(out),
        }
        out.unlink()
        return figures


def _median(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Median total and median of each stage over the runs (stage medians need not add up)."""
    names = sorted({name for run in runs for name in run["stages"]})
    figures: dict[str, Any] = {
        "seconds": statistics.median(r["seconds"] for r in runs),
        "seconds_all_runs": [round(r["seconds"], 4) for r in runs],
        "stages": {
            name: statistics.median(r["stages"].get(name, 0.0) for r in runs) for name in names
        },
        "output_bytes": runs[-1]["output_bytes"],
    }
    if "outside_stages" in runs[0]:
        figures["outside_stages"] = statistics.median(r["outside_stages"] for r in runs)
        for key in ("rows_scored", "rows_quarantined", "rows_failed"):
            figures[key] = runs[-1][key]
    return figures


# The bare side's script, run as a fresh process too: what a user's scoring job would be.
BARE_SCRIPT = """
import json, sys, time
t0 = time.perf_counter()
import mlflow
import mlflow.pyfunc
import pandas as pd
data, uri, model_uri, out = sys.argv[1:]
mlflow.set_tracking_uri(uri)
mlflow.set_registry_uri(uri)
t1 = time.perf_counter()
frame = pd.read_parquet(data)
t2 = time.perf_counter()
model = mlflow.pyfunc.load_model(model_uri)
t3 = time.perf_counter()
frame["prediction"] = model.predict(frame)
t4 = time.perf_counter()
frame.to_parquet(out, index=False)
t5 = time.perf_counter()
stages = {"imports": t1 - t0, "load": t2 - t1, "load_model": t3 - t2, "score": t4 - t3}
print(json.dumps({**stages, "write": t5 - t4}))
"""


def _subprocesses(
    data: Path, api_url: str, bare: Bare, repeats: int, runlog: Path
) -> dict[str, Any]:
    """``mlops-guard score DATA --model churn`` as a user runs it, and the bare pyfunc script,
    each in a fresh process (interpreter start-up, imports and the model's first load
    included), alternating; the command's stages from the run log, the script's from itself."""
    command = [str(Path(sys.executable).with_name("mlops-guard")), "score", str(data)]
    command += ["--model", MODEL, "--json"]
    out = bare.out_dir / "bare-subprocess.parquet"
    script = [sys.executable, "-c", BARE_SCRIPT, str(data), bare.uri]
    script += [f"models:/{MODEL}/{bare.version}", str(out)]
    env = {**os.environ, "PREFECT_API_URL": api_url}
    times: dict[str, list[float]] = {"mlops_guard_score": [], "bare_pyfunc_script": []}
    stages: dict[str, list[dict[str, float]]] = {name: [] for name in times}
    for i in range(repeats):
        for name, argv in (
            ("mlops_guard_score", [*command, "--batch-id", f"bench-cli-{i}"]),
            ("bare_pyfunc_script", script),
        ):
            offset = _size(runlog)
            started = time.perf_counter()
            done = subprocess.run(argv, check=False, env=env, capture_output=True, text=True)
            times[name].append(time.perf_counter() - started)
            if done.returncode != 0:
                raise SystemExit(f"{name} failed ({done.returncode}):\n{done.stderr}")
            if name == "mlops_guard_score":
                Path(json.loads(done.stdout)["predictions_path"]).unlink()
                stages[name].append(_stage_times(runlog, offset))
            else:
                out.unlink()
                stages[name].append(json.loads(done.stdout.splitlines()[-1]))
    # The imports alone, to tell start-up from the run.
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", "import prefect, mlflow.sklearn, mlops_guard.pipelines._inference"],
        env=env,
        check=True,
    )
    imports = time.perf_counter() - started
    figures: dict[str, Any] = {
        name: {
            "seconds": statistics.median(t),
            "seconds_all_runs": [round(x, 3) for x in t],
            "stages": {
                stage: statistics.median(run.get(stage, 0.0) for run in stages[name])
                for stage in sorted({key for run in stages[name] for key in run})
            },
        }
        for name, t in times.items()
    }
    figures["ratio"] = (
        figures["mlops_guard_score"]["seconds"] / figures["bare_pyfunc_script"]["seconds"]
    )
    figures["imports_seconds"] = imports
    return figures


def _profile(run: Callable[[Path], dict[str, Any]], data: Path, top: int = 20) -> dict[str, Any]:
    """One more guarded run under cProfile: the functions with the most cumulative time, and
    the package's own functions with the most time of their own."""
    import cProfile
    import pstats

    profiler = cProfile.Profile()
    profiler.enable()
    run(data)
    profiler.disable()
    stats = pstats.Stats(profiler)
    rows = []
    for (filename, line, name), (_, calls, own, cumulative, _) in stats.stats.items():
        where = filename
        for prefix in (f"{REPO}/", "site-packages/"):
            if prefix in filename:
                where = filename.split(prefix, 1)[1]
        rows.append(
            {
                "function": f"{where}:{line}({name})",
                "calls": calls,
                "own_seconds": round(own, 4),
                "cumulative_seconds": round(cumulative, 4),
            }
        )
    ours = [r for r in rows if r["function"].startswith("mlops_guard/")]
    return {
        "by_cumulative": sorted(rows, key=lambda r: -r["cumulative_seconds"])[:top],
        "by_own_time": sorted(rows, key=lambda r: -r["own_seconds"])[:top],
        "mlops_guard_by_own_time": sorted(ours, key=lambda r: -r["own_seconds"])[:top],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--subprocess-repeats", type=int, default=1, help="runs of the command (0 skips them)"
    )
    parser.add_argument("--profile", action="store_true", help="profile even under the goal")
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="score-bench-"))
    _isolate(root)
    load_at_start = os.getloadavg()

    import logging

    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    from mlops_guard.data import write_table
    from mlops_guard.demo import make_dataset
    from mlops_guard.pipelines import training_flow
    from mlops_guard.pipelines._cli import _quiet_prefect
    from mlops_guard.settings import GuardSettings

    # The console as the command leaves it: Prefect's console handler off (logs still go to
    # the API and the run log), so both sides pay the same logging cost as a user's run.
    _quiet_prefect(verbose=False)
    logging.getLogger().setLevel(logging.WARNING)
    settings = GuardSettings(workdir=root / "guard")
    train, batch, warm = root / "train.parquet", root / "batch.parquet", root / "warm.parquet"
    out_dir = root / "bare"
    out_dir.mkdir()
    try:
        print(f"set-up: training on {TRAIN_ROWS:,} rows, writing {args.rows:,} rows", flush=True)
        write_table(make_dataset(rows=TRAIN_ROWS, seed=1), train)
        write_table(make_dataset(rows=args.rows, seed=2).drop(columns=["churned"]), batch)
        write_table(make_dataset(rows=WARM_ROWS, seed=3).drop(columns=["churned"]), warm)
        with prefect_test_harness(server_startup_timeout=180):
            api_url = str(PREFECT_API_URL.value())
            trained = training_flow(str(train), model=MODEL, settings=settings)
            uri, version = settings.mlflow_tracking_uri, trained.version
            pyfunc = Bare(uri, version, out_dir, "pyfunc")
            sides: dict[str, Callable[[Path], dict[str, Any]]] = {
                "mlops_guard": Guarded(settings),
                "pyfunc": pyfunc,
                "sklearn": Bare(uri, version, out_dir, "sklearn"),
            }
            for run in sides.values():
                run(warm)
            runs: dict[str, list[dict[str, Any]]] = {name: [] for name in sides}
            order = list(sides)
            for i in range(args.repeats):
                # Each side goes first in turn: the page cache and the machine's other jobs
                # then favour none of them.
                for name in order[i % len(order) :] + order[: i % len(order)]:
                    print(f"  run {i + 1}/{args.repeats}: {name}", flush=True)
                    runs[name].append(sides[name](batch))
            figures = {name: _median(r) for name, r in runs.items()}
            ours = figures["mlops_guard"]["seconds"]
            ratios = {
                f"ratio_vs_{name}": ours / figures[name]["seconds"]
                for name in ("pyfunc", "sklearn")
            }
            cli = None
            if args.subprocess_repeats:
                print("  fresh processes: mlops-guard score, bare pyfunc script", flush=True)
                cli = _subprocesses(
                    batch, api_url, pyfunc, args.subprocess_repeats, settings.runlog_path
                )
            profile = None
            if args.profile or ratios["ratio_vs_pyfunc"] > GOAL_RATIO:
                print("  profiling one more guarded run", flush=True)
                profile = _profile(sides["mlops_guard"], batch)
    finally:
        shutil.rmtree(root, ignore_errors=True)

    guard_fig, pyfunc_fig, sklearn_fig = (figures[n] for n in ("mlops_guard", "pyfunc", "sklearn"))

    def cell(fig: dict[str, Any], name: str | None, width: int) -> str:
        return f"{fig['stages'][name]:>{width}.3f}" if name in fig["stages"] else " " * width

    print()
    print(
        f"{args.rows:,} rows, median of {args.repeats} (seconds); "
        f"load average at start {', '.join(f'{x:.2f}' for x in load_at_start)}"
    )
    print(f"{'stage':22} {'mlops-guard':>12} {'pyfunc':>10} {'sklearn':>10}")
    for ours_name, bare_name in STAGES.items():
        if ours_name in guard_fig["stages"] or bare_name is not None:
            print(
                f"{ours_name:22} {cell(guard_fig, ours_name, 12)} "
                f"{cell(pyfunc_fig, bare_name, 10)} {cell(sklearn_fig, bare_name, 10)}"
            )
    print(f"{'outside the stages':22} {guard_fig['outside_stages']:>12.3f}")
    print(
        f"{'total':22} {guard_fig['seconds']:>12.3f} {pyfunc_fig['seconds']:>10.3f} "
        f"{sklearn_fig['seconds']:>10.3f}"
    )
    print(
        f"ratio vs pyfunc {ratios['ratio_vs_pyfunc']:.2f}x, vs sklearn predict_proba "
        f"{ratios['ratio_vs_sklearn']:.2f}x (goal <= {GOAL_RATIO}x)"
    )
    if cli is not None:
        print(
            f"fresh processes: mlops-guard score {cli['mlops_guard_score']['seconds']:.2f} s, "
            f"bare pyfunc script {cli['bare_pyfunc_script']['seconds']:.2f} s, ratio "
            f"{cli['ratio']:.2f}x (interpreter and imports alone {cli['imports_seconds']:.2f} s)"
        )
        ours_cold, bare_cold = (
            cli[n]["stages"] for n in ("mlops_guard_score", "bare_pyfunc_script")
        )
        print(
            "  of which the first model load: "
            f"mlops-guard {ours_cold.get('load_model', float('nan')):.2f} s, "
            f"bare {bare_cold.get('load_model', float('nan')):.2f} s"
        )
    result = {
        "rows": args.rows,
        "repeats": args.repeats,
        "train_rows": TRAIN_ROWS,
        "load_average_at_start": [round(x, 2) for x in load_at_start],
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        "goal_ratio": GOAL_RATIO,
        **{k: round(v, 3) for k, v in ratios.items()},
        # The goal is against the pyfunc side, the scoring MLflow documents.
        "goal_met": ratios["ratio_vs_pyfunc"] <= GOAL_RATIO,
        "mlops_guard_flow": guard_fig,
        "pyfunc_predict": pyfunc_fig,
        "sklearn_predict_proba": sklearn_fig,
        "fresh_processes": cli,
        "profile": profile,
    }
    path = save("score_vs_pyfunc", result)
    print(f"written to {path}")


if __name__ == "__main__":
    main()
