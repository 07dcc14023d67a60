"""The durable inbox: de-duplication, triage, crash recovery, ownership, durability."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from mlops_guard.alerts import Alert, AlertStore, WebhookPayload
from mlops_guard.errors import AlertError
from tests.alerts._helpers import alert, payload


def _alerts(*raw: dict[str, object]) -> list[Alert]:
    return list(WebhookPayload.model_validate(payload(*raw)).alerts)


def test_redelivery_is_one_row_with_a_delivery_count(tmp_path: Path) -> None:
    with AlertStore(tmp_path / "inbox.sqlite") as store:
        first = store.add(_alerts(alert()), receiver="r")
        again = store.add(_alerts(alert(), alert()), receiver="r")
        assert [r.duplicate for r in first] == [False]
        assert [r.duplicate for r in again] == [True, True]
        assert {r.id for r in first + again} == {first[0].id}
        (row,) = store.list()
        assert row.deliveries == 3
        assert row.state == "pending"


def test_same_fingerprint_new_start_is_a_new_incident(tmp_path: Path) -> None:
    with AlertStore(tmp_path / "inbox.sqlite") as store:
        store.add(_alerts(alert(starts_at="2026-11-23T16:00:00Z")), receiver="r")
        result = store.add(_alerts(alert(starts_at="2026-11-23T18:00:00Z")), receiver="r")
        assert not result[0].duplicate
        assert len(store.list(state="pending")) == 2


def test_start_time_is_normalised_before_deduplication(tmp_path: Path) -> None:
    with AlertStore(tmp_path / "inbox.sqlite") as store:
        store.add(_alerts(alert(starts_at="2026-11-23T16:00:00Z")), receiver="r")
        result = store.add(_alerts(alert(starts_at="2026-11-23T17:00:00+01:00")), receiver="r")
        assert result[0].duplicate


@pytest.mark.parametrize(
    ("raw", "note_part"),
    [
        (alert(status="resolved"), "resolved"),
        (alert(action=None), "no action label"),
        (alert(action="retrain"), "for a human"),
        (alert(model=None), "without a model label"),
    ],
)
def test_alerts_that_must_not_act_are_recorded(
    tmp_path: Path, raw: dict[str, object], note_part: str
) -> None:
    with AlertStore(tmp_path / "inbox.sqlite") as store:
        (result,) = store.add(_alerts(raw), receiver="r")
        assert result.state == "recorded"
        assert note_part in (result.note or "")
        assert store.claim_next() is None


def test_resolved_after_firing_is_stored_separately(tmp_path: Path) -> None:
    with AlertStore(tmp_path / "inbox.sqlite") as store:
        store.add(_alerts(alert()), receiver="r")
        (resolved,) = store.add(_alerts(alert(status="resolved")), receiver="r")
        assert not resolved.duplicate
        assert store.counts() == {"pending": 1, "recorded": 1}


def test_in_flight_rows_go_back_to_pending(tmp_path: Path) -> None:
    with AlertStore(tmp_path / "inbox.sqlite") as store:
        store.add(_alerts(alert()), receiver="r")
        claimed = store.claim_next()
        assert claimed is not None
        assert claimed.state == "processing"
        assert claimed.attempts == 1
        assert store.claim_next() is None
    with AlertStore(tmp_path / "inbox.sqlite") as store:
        assert store.requeue_in_flight() == 1
        again = store.claim_next()
        assert again is not None
        assert again.id == claimed.id
        assert again.attempts == 2


def test_retry_waits_for_its_time(tmp_path: Path) -> None:
    with AlertStore(tmp_path / "inbox.sqlite") as store:
        store.add(_alerts(alert()), receiver="r")
        claimed = store.claim_next()
        assert claimed is not None
        later = time.time() + 60
        store.mark_retry(claimed.id, "RegistryUnavailable: down", later)
        assert store.claim_next() is None
        assert store.next_due() == pytest.approx(later)
        assert store.claim_next(now=later + 1) is not None


def test_second_receiver_on_the_same_inbox_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "inbox.sqlite"
    with AlertStore(path, exclusive=True):
        with pytest.raises(AlertError, match="in use by another receiver"):
            AlertStore(path, exclusive=True)
        # Readers (the inbox command) are still welcome.
        with AlertStore(path) as reader:
            assert reader.list() == []
    with AlertStore(path, exclusive=True):
        pass


def test_a_stored_alert_survives_the_process(tmp_path: Path) -> None:
    """The row is committed when add() returns: a process killed right after still left it."""
    path = tmp_path / "inbox.sqlite"
    code = (
        "import os, sys\n"
        "from mlops_guard.alerts import AlertStore, WebhookPayload\n"
        "from tests.alerts._helpers import payload\n"
        f"store = AlertStore({str(path)!r}, exclusive=True)\n"
        "store.add(WebhookPayload.model_validate(payload()).alerts, receiver='r')\n"
        "os._exit(9)  # no close, no cleanup: as if killed\n"
    )
    done = subprocess.run([sys.executable, "-c", code], check=False, cwd=Path.cwd())
    assert done.returncode == 9
    with AlertStore(path, exclusive=True) as store:
        (row,) = store.list()
        assert row.state == "pending"
        assert row.model == "churn"


def test_unusable_file_is_an_alert_error(tmp_path: Path) -> None:
    path = tmp_path / "inbox.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(AlertError, match="unusable"):
        AlertStore(path)
