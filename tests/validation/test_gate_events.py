"""A gated batch that fails validation reaches Prefect's event feed (a real server)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from typing import Any

import numpy as np
import pandas as pd
import pytest

from mlops_guard.demo import make_dataset
from mlops_guard.metrics import GuardMetrics
from mlops_guard.settings import GuardSettings
from mlops_guard.validation import BatchRejected, gate
from mlops_guard.validation._gate import MAX_EVENT_FAILURES, VALIDATION_FAILED_EVENT
from tests._prefect import read_events, wait_for


def _bad(rows: int = 1_000) -> pd.DataFrame:
    df = make_dataset(rows=rows, seed=21)
    df.loc[df.index[[1, 2, 3]], "contract"] = "lifetime"
    df.loc[df.index[7], "age"] = np.inf
    return df


def _source() -> str:
    # The server is shared by the session: each test finds its events by a source of its own.
    return f"batch-{uuid.uuid4().hex[:8]}"


def _event_of(source: str) -> Any:
    (event,) = wait_for(
        lambda: [e for e in read_events(VALIDATION_FAILED_EVENT) if e.payload["source"] == source]
    )
    return event


@pytest.mark.slow  # shares the session's Prefect server
def test_a_rejected_batch_is_a_prefect_event(
    prefect_server: str, settings: GuardSettings, metrics: GuardMetrics
) -> None:
    source = _source()
    with pytest.raises(BatchRejected) as info:
        gate(
            _bad(),
            suite="churn",
            policy="fail",
            flow="training",
            source=source,
            settings=settings,
        )
    result = info.value.result

    event = _event_of(source)
    assert event.resource.id == "mlops_guard.suite.churn"
    payload = event.payload
    assert payload["suite"] == "churn"
    assert payload["flow"] == "training"
    assert payload["policy"] == "fail"
    assert (payload["rows"], payload["rows_passed"], payload["rows_quarantined"]) == (1000, 0, 1000)
    assert payload["quarantined"] == str(info.value.quarantined)
    assert payload["failed_expectations"] == len(result.failed) == 2
    assert payload["failed"] == [
        {"expectation": o.expectation, "column": o.column, "unexpected_count": o.unexpected_count}
        for o in result.failed
    ]
    assert {f["column"] for f in payload["failed"]} == {"contract", "age"}
    assert metrics.sample("mlops_guard_sink_failures_total", {"sink": "prefect_events"}) is None


@pytest.mark.slow  # shares the session's Prefect server
def test_quarantined_rows_are_an_event_and_a_clean_batch_is_none(
    prefect_server: str, settings: GuardSettings
) -> None:
    clean, failing = _source(), _source()
    gate(
        make_dataset(rows=500, seed=3),
        suite="churn",
        policy="quarantine_rows",
        flow="inference",
        source=clean,
        settings=settings,
    )
    out = gate(
        _bad(),
        suite="churn",
        policy="quarantine_rows",
        flow="inference",
        source=failing,
        settings=settings,
    )
    payload = _event_of(failing).payload
    assert payload["policy"] == "quarantine_rows"
    assert (payload["rows_passed"], payload["rows_quarantined"]) == (996, 4)
    assert payload["quarantined"] == str(out.quarantined)
    # One events worker sends in order: the clean batch's event would have arrived first.
    sources = {e.payload["source"] for e in read_events(VALIDATION_FAILED_EVENT)}
    assert clean not in sources


@pytest.mark.slow  # shares the session's Prefect server
def test_the_event_lists_a_bounded_number_of_failures(
    prefect_server: str, settings: GuardSettings
) -> None:
    source = _source()
    # Only the label column: every expectation about another column fails.
    batch = make_dataset(rows=200, seed=4)[["churned"]]
    with pytest.raises(BatchRejected) as info:
        gate(batch, suite="churn", policy="fail", flow="training", source=source, settings=settings)
    failed = info.value.result.failed
    assert len(failed) > MAX_EVENT_FAILURES
    payload = _event_of(source).payload
    assert payload["failed_expectations"] == len(failed)
    assert len(payload["failed"]) == MAX_EVENT_FAILURES
    assert payload["failed"][0]["expectation"] == failed[0].expectation


_GATE_WITHOUT_PREFECT = """
import json, sys
import numpy as np
from mlops_guard.demo import make_dataset
from mlops_guard.settings import GuardSettings
from mlops_guard.validation import gate

df = make_dataset(rows=300, seed=21)
df.loc[df.index[7], "age"] = np.inf
out = gate(df, suite="churn", policy="quarantine_rows", flow="inference", source="b",
           settings=GuardSettings())
print(json.dumps({"quarantined": out.rows_quarantined, "prefect_loaded": "prefect" in sys.modules}))
"""


def test_without_a_prefect_api_a_failed_batch_sends_nothing_and_starts_no_server(
    settings: GuardSettings,
) -> None:
    """Prefect's emit_event would start an ephemeral server (tens of seconds) to send to."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API")}
    env["MLOPS_GUARD_WORKDIR"] = str(settings.workdir)
    done = subprocess.run(
        [sys.executable, "-c", _GATE_WITHOUT_PREFECT],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {
        "quarantined": 1,
        "prefect_loaded": False,
    }
