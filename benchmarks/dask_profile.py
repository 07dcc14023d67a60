"""A reference profile of a partitioned Parquet data set on ``dask.distributed`` worker
processes against the single-process path over the same files, in one run.

    .venv/bin/python benchmarks/dask_profile.py [--rows N] [--partitions P] [--workers W]

The data set (default 50,000,000 rows in 200 partition files: three numeric columns and two
string categories) is generated here, one partition at a time, into a temporary directory, so
the generator never holds more than one partition. Then, each on fresh processes:

- single process: a spawned child profiles every file and merges the partial profiles (the
  same exact merge as a chunked build), as ``build_profile`` would on one machine;
- Dask: ``LocalCluster(processes=True)`` with ``--workers`` single-threaded workers runs
  ``build_profile_distributed`` (groups of files profiled and merged on the workers, the
  partial profiles merged there too).

Wall time is the profiling alone (the cluster's start and the child's imports are reported
apart), CPU time is each process's user + system time over it (pyarrow decodes on threads, so
the single process uses more than one core), and peak memory is each process's peak RSS
(``ru_maxrss``: the child, every worker, and the client). The two profiles must be equal:
counts, values and categories exactly, floats to 1e-12 relative (the running moments, and
statistics derived from them, are summed in another order).

Figures go to ``benchmarks/results/dask_profile.json``.
"""

from __future__ import annotations

import argparse
import functools
import math
import multiprocessing as mp
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import save

CATEGORIES = {
    "plan": ["basic", "standard", "premium", "enterprise", "trial"],
    "region": [f"region-{i:02d}" for i in range(40)],
}


def _peak_rss_mb() -> float:
    # Linux reports ru_maxrss in KiB.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def generate(root: Path, rows: int, partitions: int, seed: int = 7) -> int:
    """Write ``rows`` rows as ``partitions`` Parquet files (``day=NNN/part-0.parquet``), one
    partition in memory at a time; returns the bytes written."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    vocab = {name: pa.array(values) for name, values in CATEGORIES.items()}
    base, extra = divmod(rows, partitions)
    written = 0
    for i in range(partitions):
        n = base + (1 if i < extra else 0)
        amount = rng.lognormal(3.0, 1.0, n)
        # Some missing values, as real exports have.
        amount[rng.random(n) < 0.01] = np.nan
        table = pa.table(
            {
                "age": rng.normal(45.0, 12.0, n).round(1),
                "amount": amount,
                "visits": rng.poisson(4.0 + i / partitions, n).astype("int64"),
                "plan": pc.take(vocab["plan"], rng.integers(0, len(CATEGORIES["plan"]), n)),
                "region": pc.take(vocab["region"], rng.zipf(1.6, n) % len(CATEGORIES["region"])),
            }
        )
        part = root / f"day={i:03d}"
        part.mkdir(parents=True)
        pq.write_table(table, part / "part-0.parquet")
        written += (part / "part-0.parquet").stat().st_size
    return written


def _single(root: str) -> dict[str, Any]:
    """In a fresh child: profile every partition file in this one process."""
    start = time.perf_counter()
    from mlops_guard.drift import build_profile, merge
    from mlops_guard.integrations.dask import partition_files

    imported = time.perf_counter()
    cpu = _cpu_seconds()
    profile = functools.reduce(merge, (build_profile(f) for f in partition_files(root)))
    done = time.perf_counter()
    return {
        "profile": profile.to_dict(),
        "imports_seconds": imported - start,
        "wall_seconds": done - imported,
        "cpu_seconds": _cpu_seconds() - cpu,
        "peak_rss_mb": _peak_rss_mb(),
    }


def _dask(root: str, workers: int) -> dict[str, Any]:
    from dask.distributed import Client, LocalCluster

    from mlops_guard.integrations.dask import build_profile_distributed

    start = time.perf_counter()
    with (
        LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        # Imports on the workers before the clock starts, as the single child's are.
        client.run(lambda: __import__("mlops_guard.drift") and None)
        cpu = client.run(_cpu_seconds)
        started = time.perf_counter()
        profile = build_profile_distributed(root, client=client)
        done = time.perf_counter()
        cpu_after = client.run(_cpu_seconds)
        workers_rss = client.run(_peak_rss_mb)
    return {
        "profile": profile.to_dict(),
        "cluster_start_seconds": started - start,
        "wall_seconds": done - started,
        "cpu_seconds_per_worker": sorted(cpu_after[w] - cpu[w] for w in cpu),
        "peak_rss_mb_per_worker": sorted(workers_rss.values()),
        "client_peak_rss_mb": _peak_rss_mb(),
    }


def differences(a: Any, b: Any, path: str = "") -> list[str]:
    """Where two profile dicts differ: everything exactly, except floats, which may differ
    by 1e-12 relative (summed in another order, running moments and the statistics derived
    from them differ in the last bits), category lists compared as maps (first-seen order
    differs between the paths), and the creation time and metadata left out."""
    if isinstance(a, float) and isinstance(b, float):
        same = math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-300) or (
            math.isnan(a) and math.isnan(b)
        )
        return [] if same else [f"{path}: {a!r} != {b!r}"]
    if isinstance(a, dict) and isinstance(b, dict):
        keys = (set(a) | set(b)) - {"created_at", "metadata"}
        found = []
        for key in sorted(keys, key=str):
            if key not in a or key not in b:
                found.append(f"{path}/{key}: only in one")
            elif key == "categories" and isinstance(a[key], list) and isinstance(b[key], list):
                found += differences(dict(a[key]), dict(b[key]), f"{path}/{key}")
            else:
                found += differences(a[key], b[key], f"{path}/{key}")
        return found
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{path}: {len(a)} items != {len(b)}"]
        return [
            d
            for i, (x, y) in enumerate(zip(a, b, strict=True))
            for d in differences(x, y, f"{path}/{i}")
        ]
    return [] if a == b else [f"{path}: {a!r} != {b!r}"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rows", type=int, default=50_000_000)
    parser.add_argument("--partitions", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--tmp", default=None, help="where to write the data set")
    args = parser.parse_args()

    load_at_start = os.getloadavg()
    root = Path(tempfile.mkdtemp(prefix="dask-profile-", dir=args.tmp))
    try:
        t0 = time.perf_counter()
        size = generate(root, args.rows, args.partitions)
        generated = time.perf_counter() - t0
        print(f"{args.rows:,} rows in {args.partitions} files, {size / 1e6:,.0f} MB, "
              f"generated in {generated:.1f} s", flush=True)  # fmt: skip

        with mp.get_context("spawn").Pool(1) as pool:
            single = pool.apply(_single, (str(root),))
        print(f"single process: {single['wall_seconds']:.1f} s "
              f"({single['cpu_seconds']:.1f} s CPU), {single['peak_rss_mb']:.0f} MB peak",
              flush=True)  # fmt: skip
        dask = _dask(str(root), args.workers)
        print(f"dask ({args.workers} workers): {dask['wall_seconds']:.1f} s "
              f"({dask['cpu_seconds_per_worker']} s CPU per worker), "
              f"{dask['peak_rss_mb_per_worker']} MB peak per worker", flush=True)  # fmt: skip
    finally:
        shutil.rmtree(root, ignore_errors=True)

    differ = differences(single.pop("profile"), dask.pop("profile"))
    equal = not differ
    for line in differ[:10]:
        print(f"profiles differ at {line}")
    figures = {
        "rows": args.rows,
        "partitions": args.partitions,
        "workers": args.workers,
        "threads_per_worker": 1,
        "data_mb": round(size / 1e6, 1),
        "generate_seconds": round(generated, 2),
        "single_process": {k: round(v, 2) for k, v in single.items()},
        "dask": {
            k: [round(x, 1) for x in v] if isinstance(v, list) else round(v, 2)
            for k, v in dask.items()
        },
        "speedup": round(single["wall_seconds"] / dask["wall_seconds"], 2),
        "profiles_equal": equal,
        "profile_differences": differ[:10],
        "load_average_at_start": [round(x, 2) for x in load_at_start],
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
    }
    path = save("dask_profile", figures)
    print(f"speed-up {figures['speedup']}x, profiles equal: {equal}; written to {path}")
    return 0 if equal else 1


if __name__ == "__main__":
    raise SystemExit(main())
