"""The README's "Bring your own model" walk, as a user runs it: their own training script
(examples/byom_train.py: scikit-learn and plain MLflow), then the mlops-guard command in fresh
processes: register, score, quality, a second version, a canary that catches a worse one,
promote and rollback. Real MLflow SQLite store, Prefect's local server for the flows.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def test_bring_your_own_model_from_training_script_to_rollback(
    tmp_path: Path, prefect_server: str
) -> None:
    workdir = tmp_path / "guard"
    workdir.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLOPS_GUARD_", "MLFLOW_"))}
    env.update(MLOPS_GUARD_WORKDIR=str(workdir), PREFECT_API_URL=prefect_server)
    store = f"sqlite:///{workdir / 'mlflow.db'}"
    data = tmp_path / "data"

    def run(*args: str, code: int = 0) -> str:
        done = subprocess.run(
            list(args), env=env, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False
        )
        assert done.returncode == code, f"{args}:\n{done.stdout}\n{done.stderr[-3000:]}"
        return done.stdout

    def guard(*args: str, code: int = 0) -> dict[str, object]:
        out: dict[str, object] = json.loads(
            run(str(BIN / "mlops-guard"), *args, "--json", code=code)
        )
        return out

    train = [str(BIN / "python"), "examples/byom_train.py", store, str(data)]
    first = run(*train).strip().splitlines()[-1]
    register = ["--name", "cancer", "--label", "target", "--task", "binary", "--id", "sample_id"]
    reference = ["--reference", str(data / "reference.csv")]
    registered = guard("register", first, *register, *reference)
    assert (registered["version"], registered["alias"]) == ("1", "champion")

    scored = guard("score", str(data / "batch.csv"), "--model", "cancer")
    assert scored["model_version"] == "1"
    rows = len((data / "batch.csv").read_text().splitlines()) - 1
    assert scored["rows_scored"] + scored["rows_quarantined"] == rows

    quality = guard("quality", "cancer", str(data / "batch.csv"))
    assert quality["degraded"] is False
    assert {"accuracy", "roc_auc", "log_loss"} <= set(quality["metrics"])  # type: ignore[arg-type]

    weak = run(*train, "--weak", "--seed", "2").strip().splitlines()[-1]
    assert guard("register", weak, *register, *reference)["alias"] == "challenger"
    canary = guard("canary", "run", "cancer", str(data / "batch.csv"), code=1)
    assert canary["verdict"] in {"failed", "inconclusive"}
    # The champion never moved to the worse model.
    assert canary["champion"] == {"before": "1", "after": "1"}

    again = run(*train, "--seed", "3").strip().splitlines()[-1]
    version = guard("register", again, *register, *reference)["version"]
    run(str(BIN / "mlops-guard"), "promote", "cancer", str(version), "--reason", "retrained")
    rolled = guard("rollback", "cancer", "--reason", "drill")
    assert (rolled["from_version"], rolled["to_version"]) == (str(version), "1")
