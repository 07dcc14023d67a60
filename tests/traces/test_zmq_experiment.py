"""The ZeroMQ experiment end to end (benchmarks/traces_zmq.py): three real stage processes
over loopback, each with its own skewed clock. Violations show only past the one-way delay,
the offsets are found before that, and ``trace adjust`` leaves none."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("zmq", reason="pyzmq is the bench extra: pip install 'mlops-guard[bench]'")

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_skew_below_and_above_the_one_way_delay(tmp_path: Path) -> None:
    out = tmp_path / "rows.json"
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "traces_zmq.py"),
            "--skews",
            "1,6",
            "--delay-ms",
            "4",
            "--messages",
            "80",
            "--drift-messages",
            "0",
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    below, above = json.loads(out.read_text())
    assert below["violating_share_before"] == 0  # 1 ms under a 4 ms delay: nothing visible
    assert above["violating_share_before"] > 0.2  # 6 ms: B's and C's inbound hops break
    for row, skew in ((below, 1.0), (above, 6.0)):
        assert row["violating_share_after"] == 0
        b, c = row["hosts"]["stage-b"], row["hosts"]["stage-c"]
        assert abs(b["offset_ms"] + skew) < 0.5, b
        assert abs(c["offset_ms"] - skew) < 0.5, c
        assert b["lower_ms"] <= -skew <= b["upper_ms"]
    assert set(above["early_warnings"]) == {"stage-b", "stage-c"}
