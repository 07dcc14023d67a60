"""API keys, rate limits and per-key usage on a real server: one key over its quota gets 429
with Retry-After while another is served; secrets never reach the logs or the metrics.

The rate window's clock is injected (fixed), so the window cannot roll over mid-test.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mlops_guard.demo import ID_COLUMN, make_dataset
from mlops_guard.errors import ConfigError
from mlops_guard.serving import KeyRing, hash_secret
from tests.serving.conftest import FEATURES, Served, start_served

SECRETS = {"team-a": "a-secret-value-1234", "team-b": "b-secret-value-5678"}


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory, trained_store: Path) -> Iterator[Served]:
    directory = tmp_path_factory.mktemp("keyed")
    keys = directory / "keys.txt"
    keys.write_text(
        "# key_id:sha256\n"
        f"team-a:{hash_secret(SECRETS['team-a'])}\n"
        f"TEAM_B={hash_secret(SECRETS['team-b'])}\n"
    )
    found, running = start_served(
        directory / "served",
        trained_store,
        clock=lambda: 1_000.0,
        api_keys_file=keys,
        rate_limit_requests=5,
        rate_limit_rows=40,
        rate_window_seconds=60,
    )
    yield found
    running.stop()


def _body(rows: int = 1) -> dict[str, object]:
    frame = make_dataset(rows=rows, seed=3)[[ID_COLUMN, *FEATURES]]
    return {"dataframe_split": json.loads(frame.to_json(orient="split", index=False))}


def _post(served: Served, secret: str | None, rows: int = 1) -> httpx.Response:
    headers = {} if secret is None else {"Authorization": f"Bearer {secret}"}
    return httpx.post(f"{served.url}/invocations", json=_body(rows), headers=headers)


def test_a_key_over_its_quota_gets_429_while_another_is_served(keyed: Served) -> None:
    for _ in range(5):
        assert _post(keyed, SECRETS["team-a"]).status_code == 200
    refused = _post(keyed, SECRETS["team-a"])
    assert refused.status_code == 429
    assert refused.json()["kind"] == "rate_limited"
    # The fixed clock sits 40 s into a 60 s window.
    assert refused.headers["Retry-After"] == "20"
    for _ in range(3):
        assert _post(keyed, SECRETS["team-b"]).status_code == 200
    # Rows count too: 37 more rows fit team-b's 40, 38 do not.
    assert _post(keyed, SECRETS["team-b"], rows=38).status_code == 429
    assert _post(keyed, SECRETS["team-b"], rows=37).status_code == 200
    metrics = keyed.server.metrics
    assert (
        metrics.sample("mlops_guard_serving_key_requests_total", {"key": "team-a", "status": "200"})
        == 5
    )
    assert (
        metrics.sample("mlops_guard_serving_key_requests_total", {"key": "team-a", "status": "429"})
        == 1
    )
    assert (
        metrics.sample("mlops_guard_serving_key_requests_total", {"key": "TEAM_B", "status": "200"})
        == 4
    )
    exposition = httpx.get(f"{keyed.url}/metrics").text
    log = keyed.settings.workdir / "logs" / "requests.jsonl"
    keyed.server.request_log.close()
    for secret in SECRETS.values():
        assert secret not in exposition
        assert hash_secret(secret) not in exposition
        assert secret not in log.read_text()


def test_requests_without_a_known_key_get_401(keyed: Served) -> None:
    assert _post(keyed, None).status_code == 401
    unknown = _post(keyed, "not-a-key")
    assert unknown.status_code == 401
    assert unknown.json()["kind"] == "unauthorized"
    header = httpx.post(
        f"{keyed.url}/invocations", json=_body(), headers={"X-API-Key": SECRETS["team-b"]}
    )
    assert header.status_code in (200, 429)  # team-b's quota may be spent by the test above


def test_a_bad_keys_file_is_one_config_error_without_the_line(tmp_path: Path) -> None:
    path = tmp_path / "keys.txt"
    path.write_text("team-a:plain-secret-pasted-by-mistake\n")
    with pytest.raises(ConfigError) as caught:
        KeyRing.from_file(path, limit_requests=None, limit_rows=None, window_seconds=60)
    assert "line 1" in str(caught.value)
    assert "plain-secret" not in str(caught.value)
    with pytest.raises(ConfigError):
        KeyRing.from_file(
            tmp_path / "missing", limit_requests=None, limit_rows=None, window_seconds=60
        )
