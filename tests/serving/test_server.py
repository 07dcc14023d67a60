"""The scoring server against a real MLflow store, on loopback: MLflow's protocol (with MLflow's
own scoring server as the oracle), telemetry, bad requests, following the registry under load,
the live canary's routing and live drift.

One server for the module (see ``served`` in conftest); tests that move aliases say so and
read the champion they start from.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import pandas as pd

from mlops_guard.demo import ID_COLUMN, SyntheticSpec, make_dataset
from mlops_guard.registry import get_champion, promote, remove_challenger, rollback
from tests.serving import _load as load
from tests.serving.conftest import FEATURES, MODEL, Served

TOKEN = {"Authorization": "Bearer reload-secret"}


def _rows(n: int, seed: int = 50, **drift: float) -> pd.DataFrame:
    frame = make_dataset(SyntheticSpec(rows=n, seed=seed, drift=drift))
    return frame[[ID_COLUMN, *FEATURES]]


def _split(frame: pd.DataFrame) -> dict[str, Any]:
    return {"dataframe_split": json.loads(frame.to_json(orient="split", index=False))}


def _payloads(frame: pd.DataFrame) -> dict[str, tuple[bytes, str]]:
    records = json.loads(frame.to_json(orient="records"))
    as_json = "application/json"
    return {
        "dataframe_split": (json.dumps(_split(frame)).encode(), as_json),
        "dataframe_records": (json.dumps({"dataframe_records": records}).encode(), as_json),
        "instances": (json.dumps({"instances": records}).encode(), as_json),
        "inputs": (
            json.dumps({"inputs": {c: frame[c].tolist() for c in frame.columns}}).encode(),
            as_json,
        ),
        "csv": (frame.to_csv(index=False).encode(), "text/csv"),
    }


def _reload(served: Served) -> dict[str, Any]:
    answer = httpx.post(f"{served.url}/-/reload", headers=TOKEN, timeout=30)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def _predict(served: Served, frame: pd.DataFrame, **headers: str) -> httpx.Response:
    return httpx.post(f"{served.url}/invocations", json=_split(frame), headers=headers, timeout=30)


def test_the_four_mlflow_payloads_and_csv_answer_as_mlflows_own_server(served: Served) -> None:
    """MLflow's scoring server (``mlflow.pyfunc.scoring_server.init``, the app ``mlflow models
    serve`` runs) on the same payloads and the same version is the oracle."""
    import mlflow.pyfunc
    from mlflow.pyfunc import scoring_server
    from starlette.testclient import TestClient

    from mlops_guard._mlflow_uri import point_fluent_mlflow

    champion = get_champion(MODEL, served.settings)
    point_fluent_mlflow(served.settings.mlflow_tracking_uri)
    pyfunc = mlflow.pyfunc.load_model(f"models:/{MODEL}/{champion}")
    frame = _rows(40)
    with TestClient(scoring_server.init(pyfunc)) as mlflow_server:
        for name, (body, content_type) in _payloads(frame).items():
            theirs = mlflow_server.post(
                "/invocations", content=body, headers={"Content-Type": content_type}
            )
            ours = httpx.post(
                f"{served.url}/invocations",
                content=body,
                headers={"Content-Type": content_type},
                timeout=30,
            )
            assert theirs.status_code == 200, (name, theirs.text)
            assert ours.status_code == 200, (name, ours.text)
            assert ours.json() == theirs.json(), name
            assert ours.headers["X-Model-Version"] == champion
    # Both classes occur: the comparison is not one of constant answers.
    assert len(set(ours.json()["predictions"])) == 2


def test_health_version_and_metrics_endpoints(served: Served) -> None:
    for path in ("/ping", "/health"):
        assert httpx.get(served.url + path).status_code == 200
    version = httpx.get(served.url + "/version").json()
    assert version["model"] == MODEL
    assert version["champion"] == get_champion(MODEL, served.settings)
    _predict(served, _rows(3))
    text = httpx.get(served.url + "/metrics").text
    assert "mlops_guard_serving_requests_total{" in text
    assert "mlops_guard_serving_request_seconds_bucket{" in text
    assert "mlops_guard_serving_in_flight{" in text


def test_every_answer_carries_version_request_id_and_the_callers_trace(served: Served) -> None:
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    parent = f"00-{trace_id}-00f067aa0ba902b7-01"
    served.spans.clear()
    answer = _predict(served, _rows(2), traceparent=parent, **{"X-Request-Id": "req-42"})
    assert answer.status_code == 200
    assert answer.headers["X-Request-Id"] == "req-42"
    assert answer.headers["X-Model-Version"] == get_champion(MODEL, served.settings)
    version, got_trace, span_id, _flags = answer.headers["traceparent"].split("-")
    assert (version, got_trace) == ("00", trace_id)
    assert span_id != "00f067aa0ba902b7"
    (span,) = served.spans.get_finished_spans()
    assert format(span.parent.span_id, "016x") == "00f067aa0ba902b7"
    assert format(span.context.span_id, "016x") == span_id
    assert span.attributes["http.response.status_code"] == 200
    # Without a caller's trace, a new one, and a request id of the server's own.
    fresh = _predict(served, _rows(1))
    assert fresh.headers["X-Request-Id"]
    assert fresh.headers["traceparent"].split("-")[1] != trace_id


def test_request_log_hashes_inputs_and_never_logs_them_raw(served: Served) -> None:
    served.server.request_log.close()  # flushes; a new writer takes over below
    from mlops_guard.serving._telemetry import RequestLog

    frame = _rows(2)
    frame["contract_type"] = "secret-marker-value"
    path = served.settings.workdir / "logs" / "requests.jsonl"
    served.server.request_log = RequestLog(path, served.server.metrics)
    answer = _predict(served, frame, **{"X-Request-Id": "logged-1"})
    served.server.request_log.close()
    served.server.request_log = RequestLog(path, served.server.metrics)
    text = path.read_text()
    assert "secret-marker-value" not in text
    (line,) = [json.loads(raw) for raw in text.splitlines() if "logged-1" in raw]
    assert line["status"] == answer.status_code == 200
    assert line["rows"] == 2
    assert line["model_version"] == answer.headers["X-Model-Version"]
    assert line["trace_id"] == answer.headers["traceparent"].split("-")[1]
    assert len(line["inputs_sha256"]) == 64
    assert line["latency_ms"] > 0


def _bad_requests() -> list[tuple[str, bytes, str, int, str]]:
    good = _rows(3)
    no_column = good.drop(columns=["age"])
    wrong_type = good.astype({"age": object})
    wrong_type.loc[0, "age"] = "forty"
    big = _rows(501)
    return [
        ("malformed JSON", b'{"dataframe_split": {', "application/json", 400, "malformed"),
        ("a JSON list", b"[1, 2]", "application/json", 400, "malformed"),
        ("no payload key", b'{"rows": []}', "application/json", 400, "malformed"),
        (
            "two payload keys",
            json.dumps({**_split(good), "instances": []}).encode(),
            "application/json",
            400,
            "malformed",
        ),
        (
            "missing column",
            json.dumps(_split(no_column)).encode(),
            "application/json",
            400,
            "missing_columns",
        ),
        (
            "wrong type",
            json.dumps(_split(wrong_type)).encode(),
            "application/json",
            400,
            "wrong_type",
        ),
        (
            "empty",
            json.dumps({"dataframe_records": []}).encode(),
            "application/json",
            400,
            "empty",
        ),
        ("empty CSV", b"", "text/csv", 400, "empty"),
        ("bad CSV", b'a,b\n1,"2\n', "text/csv", 400, "malformed"),
        ("media type", b"<xml/>", "application/xml", 415, "unsupported_media_type"),
        ("body too large", b" " * (256 * 1024 + 1), "application/json", 413, "too_large"),
        (
            "too many rows",
            json.dumps(_split(big)).encode(),
            "application/json",
            413,
            "too_many_rows",
        ),
    ]


def test_bad_requests_get_4xx_naming_the_problem_and_the_server_keeps_serving(
    served: Served,
) -> None:
    metrics = served.server.metrics
    version = get_champion(MODEL, served.settings)
    labels = {"model": MODEL, "model_version": version}
    errors_before = metrics.sample(
        "mlops_guard_serving_errors_total", {**labels, "kind": "model_error"}
    )
    for name, body, content_type, status, kind in _bad_requests():
        answer = httpx.post(
            f"{served.url}/invocations",
            content=body,
            headers={"Content-Type": content_type},
            timeout=30,
        )
        assert answer.status_code == status, (name, answer.text)
        document = answer.json()
        assert document["kind"] == kind, name
        assert document["message"], name
        assert document["hint"], name
        assert document["error_code"], name
        assert _predict(served, _rows(1)).status_code == 200, name
    assert (
        metrics.sample("mlops_guard_serving_errors_total", {**labels, "kind": "missing_columns"})
        >= 1
    )
    assert metrics.sample(
        "mlops_guard_serving_errors_total", {**labels, "kind": "model_error"}
    ) == (errors_before)
    for status in ("500", "503"):
        assert (
            metrics.sample("mlops_guard_serving_requests_total", {**labels, "status": status})
            is None
        )


def test_reload_needs_the_token_and_switches_at_once(served: Served) -> None:
    """Moves aliases: v2 becomes champion, then is rolled back."""
    assert httpx.post(f"{served.url}/-/reload").status_code == 401
    wrong = httpx.post(f"{served.url}/-/reload", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    before = get_champion(MODEL, served.settings)
    target = "2" if before != "2" else "1"
    promote(MODEL, target, reason="test", actor="test", settings=served.settings)
    # The answer of the reload is the state after it: no waiting for the next poll.
    assert _reload(served)["champion"] == target
    assert _predict(served, _rows(1)).headers["X-Model-Version"] == target
    rollback(MODEL, reason="test", actor="test", settings=served.settings)
    assert _reload(served)["champion"] == before


def test_rollback_under_load_fails_no_request_and_switches_within_two_seconds(
    served: Served, tmp_path: Path
) -> None:
    """5,000 requests from 16 concurrent clients (another process); after the 1,000th answer
    the champion is rolled back from v2 to v1. Moves aliases (ends with v1 champion)."""
    if get_champion(MODEL, served.settings) != "2":
        promote(MODEL, "2", reason="before the load", actor="test", settings=served.settings)
    assert _reload(served)["champion"] == "2"
    rows = _rows(50, seed=1000)
    bodies = [json.dumps(_split(rows.iloc[[i % 50]])) for i in range(5000)]
    process, out = load.start(served.url, bodies, tmp_path, concurrency=16, trigger=1000)
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "reached"
    before = time.time()
    rollback(MODEL, reason="bad version under load", actor="test", settings=served.settings)
    after = time.time()
    results = load.finish(process, out)
    assert len(results) == 5000
    assert [r for r in results if r["status"] != 200] == []
    assert {r["version"] for r in results} == {"1", "2"}
    switch = next(
        s
        for s in reversed(served.server.watch.switches)
        if s.alias == "champion" and s.to_version == "1"
    )
    assert switch.switched_at - after < 2.0
    # The champion of the moment: v2 until the switch, v1 for every request sent after it.
    assert all(r["version"] == "2" for r in results if r["answered"] < before)
    assert all(r["version"] == "1" for r in results if r["sent"] > switch.switched_at)
    assert sum(1 for r in results if r["version"] == "1") > 100  # switched under load


def test_canary_share_routes_ten_percent_of_ids_stably(served: Served, tmp_path: Path) -> None:
    """`mlops-guard canary start --share 0.1` through the CLI; v2 is the challenger of v1."""
    from mlops_guard.cli import main
    from mlops_guard.registry import set_challenger

    settings = served.settings
    if get_champion(MODEL, settings) != "1":
        promote(MODEL, "1", reason="canary base", actor="test", settings=settings)
    set_challenger(MODEL, "2", reason="canary", actor="test", settings=settings)
    uri = settings.mlflow_tracking_uri
    assert main(["canary", "start", MODEL, "--share", "0.1", "--tracking-uri", uri]) == 0
    try:
        state = _reload(served)
        assert state["challenger"] == "2"
        base = _rows(1)
        bodies = []
        for i in range(2000):
            row = base.copy()
            row[ID_COLUMN] = f"customer-{i}"
            bodies.append(json.dumps(_split(row)))
        versions: list[dict[int, str]] = []
        # All ids, then the first 500 again (in another order of arrival).
        for attempt, sent in enumerate((bodies, bodies[:500])):
            directory = tmp_path / str(attempt)
            directory.mkdir()
            process, out = load.start(served.url, sent, directory, concurrency=8)
            results = load.finish(process, out)
            assert all(r["status"] == 200 for r in results)
            versions.append({r["line"]: r["version"] for r in results})
        share = sum(1 for v in versions[0].values() if v == "2") / len(bodies)
        assert 0.08 <= share <= 0.12, share
        # The same ids again: each met the version it met the first time.
        assert versions[1] == {line: versions[0][line] for line in range(500)}
        assert "2" in versions[1].values()
        # Without an id column, the entity header routes, as stably.
        row = base.drop(columns=[ID_COLUMN])
        for entity in ("customer-7", "customer-8", "customer-9"):
            met = {
                _predict(served, row, **{"X-Entity-Id": entity}).headers["X-Model-Version"]
                for _ in range(10)
            }
            assert len(met) == 1
    finally:
        assert main(["canary", "stop", MODEL, "--tracking-uri", uri]) == 0
        remove_challenger(MODEL, reason="test over", actor="test", settings=settings)
        _reload(served)


def test_shadow_mode_scores_both_and_answers_with_the_champion(served: Served) -> None:
    from mlops_guard.cli import main
    from mlops_guard.registry import set_challenger

    settings = served.settings
    champion = get_champion(MODEL, settings)
    challenger = "3" if champion != "3" else "2"
    set_challenger(MODEL, challenger, reason="shadow", actor="test", settings=settings)
    uri = settings.mlflow_tracking_uri
    assert main(["canary", "start", MODEL, "--share", "1", "--shadow", "--tracking-uri", uri]) == 0
    try:
        assert _reload(served)["challenger"] == challenger
        for i in range(20):
            answer = _predict(served, _rows(2, seed=300 + i))
            assert answer.headers["X-Model-Version"] == champion
        canary = served.server.canary
        assert canary is not None
        assert canary.challenger == challenger
        assert canary.sides[challenger].requests >= 20
        assert canary.sides[champion].requests >= 20
    finally:
        assert main(["canary", "stop", MODEL, "--tracking-uri", uri]) == 0
        remove_challenger(MODEL, reason="test over", actor="test", settings=settings)
        _reload(served)


def test_live_drift_in_the_inputs_raises_the_drift_metric(served: Served) -> None:
    server = served.server
    version = get_champion(MODEL, served.settings)
    _predict(served, _rows(5))  # the first request loads the version's profile
    server.settle()
    drift = server.drift[version]
    assert drift is not None

    def send(frame: pd.DataFrame) -> None:
        for start in range(0, len(frame), 100):
            assert _predict(served, frame.iloc[start : start + 100]).status_code == 200
        server.settle()

    # Each phase sends twice the window (1,000 rows), so the last check of a phase, which
    # starts at most a few requests before its end, sees that phase's rows only.
    checks = drift.checks
    send(_rows(2000, seed=700))
    assert drift.checks > checks
    metrics = server.metrics
    assert metrics.sample("mlops_guard_dataset_drift", {"model": MODEL}) == 0.0
    shifted = dict.fromkeys(FEATURES, 1.5)
    send(_rows(2000, seed=701, **shifted))
    assert metrics.sample("mlops_guard_dataset_drift", {"model": MODEL}) == 1.0
    assert metrics.sample("mlops_guard_drift_share", {"model": MODEL}) >= 0.5
    # The model's output is prediction drift, reported apart and outside the share.
    report = drift.last_report
    assert report is not None
    assert "score" in report.outputs
    assert "score" not in report.columns
    assert (
        metrics.sample(
            "mlops_guard_drift_column_statistic",
            {"model": MODEL, "column": "age", "test": "wasserstein"},
        )
        > 0.1
    )
