"""Property tests of the webhook receiver: whatever the body, a 4xx (or 202) with JSON, never 5xx.

The real receiver app runs in process through Starlette's TestClient, with the real bearer
token and its real inbox; a recording handler stands in for the registry. After every body,
``/healthz`` must still answer 200.
"""

from __future__ import annotations

import copy
import json
import warnings
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

with warnings.catch_warnings():
    # Starlette's notice that a future TestClient prefers another HTTP library.
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from mlops_guard.alerts import AlertsSettings, create_app
from mlops_guard.metrics import GuardMetrics
from mlops_guard.settings import GuardSettings
from tests.alerts._helpers import RecordingHandler, payload

TOKEN = "fuzz-s3cret"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
LIMIT = 64 * 1024

# One app for all the examples of a test: building it (inbox, processor thread) per example
# would cost more than the requests themselves.
FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture
def client(tmp_path: Path, settings: GuardSettings, metrics: GuardMetrics) -> Iterator[TestClient]:
    guard = settings.model_copy(update={"webhook_token": SecretStr(TOKEN)})
    alerts = AlertsSettings(store=tmp_path / "inbox.sqlite", max_body_bytes=LIMIT)  # type: ignore[call-arg]
    app = create_app(
        guard_settings=guard, settings=alerts, handler=RecordingHandler(), metrics=metrics
    )
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def _post(client: TestClient, body: bytes, headers: dict[str, str]) -> None:
    response = client.post("/alertmanager", content=body, headers=headers)
    assert response.status_code < 500, response.text
    document = response.json()
    assert isinstance(document, dict)
    if response.status_code >= 400:
        assert isinstance(document.get("error"), str), document
    else:
        assert response.status_code == 202, response.text
    health = client.get("/healthz")
    assert health.status_code == 200, health.text


CONTENT_TYPES = st.sampled_from(
    [
        None,
        "application/json",
        "application/json; charset=utf-8",
        "application/json; charset=utf-16",
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/problem+json",
        "",
        ";;;",
    ]
)


def _headers(content_type: str | None) -> dict[str, str]:
    headers = dict(AUTH)
    if content_type is not None:
        headers["Content-Type"] = content_type
    return headers


# JSON values as Python builds them, NaN and infinities, huge integers and lone surrogates
# included: json.dumps writes all of them.
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=10**300, max_value=10**1000)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=30)
    | st.text(alphabet=st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), max_size=3)
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=20,
)
ENCODINGS = st.sampled_from(["utf-8", "utf-16", "utf-32", "latin-1", "cp1252", "utf-8-sig"])


def _encode(text: str, encoding: str) -> bytes:
    return text.encode(
        encoding, errors="surrogatepass" if encoding.startswith("utf") else "replace"
    )


@FUZZ
@given(body=st.binary(max_size=2048), content_type=CONTENT_TYPES)
def test_random_bytes_are_refused_with_json(
    client: TestClient, body: bytes, content_type: str | None
) -> None:
    _post(client, body, _headers(content_type))


@FUZZ
@given(
    value=JSON_VALUES,
    encoding=ENCODINGS,
    ascii_only=st.booleans(),
    content_type=CONTENT_TYPES,
)
def test_random_json_documents_get_a_4xx(
    client: TestClient, value: Any, encoding: str, ascii_only: bool, content_type: str | None
) -> None:
    text = json.dumps(value, ensure_ascii=ascii_only)
    _post(client, _encode(text, encoding), _headers(content_type))


def _paths(document: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(document, dict):
        for key, value in document.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(document, list):
        for index, value in enumerate(document):
            found += _paths(value, (*prefix, index))
    return found


PAYLOAD_PATHS = _paths(payload())
TIME_FIELDS = [p for p in PAYLOAD_PATHS if p and p[-1] in ("startsAt", "endsAt")]


@st.composite
def _times(draw: st.DrawFn) -> Any:
    """Times as text with any offset (the edges of datetime's range included), or numbers."""
    stamp = draw(st.datetimes() | st.sampled_from([datetime.min, datetime.max]))
    hours = draw(st.integers(min_value=-24, max_value=24))
    minutes = draw(st.integers(min_value=0, max_value=59))
    sign = "-" if hours < 0 else "+"
    text = f"{stamp.isoformat()}{sign}{abs(hours):02d}:{minutes:02d}"
    return draw(st.sampled_from([text, stamp.isoformat(), f"{stamp.isoformat()}Z"]))


TIMES = _times() | st.integers() | st.floats()


@FUZZ
@given(edits=st.lists(st.tuples(st.sampled_from(TIME_FIELDS), TIMES), min_size=1, max_size=2))
def test_alert_times_of_any_range_and_offset_never_give_5xx(
    client: TestClient, edits: list[tuple[tuple[Any, ...], Any]]
) -> None:
    document: Any = copy.deepcopy(payload())
    for (*parents, key), value in edits:
        holder = document
        for part in parents:
            holder = holder[part]
        holder[key] = value
    _post(client, json.dumps(document).encode(), _headers("application/json"))


@FUZZ
@given(
    edits=st.lists(st.tuples(st.sampled_from(PAYLOAD_PATHS), JSON_VALUES), min_size=1, max_size=3)
)
def test_valid_payloads_with_hostile_fields_never_give_5xx(
    client: TestClient, edits: list[tuple[tuple[Any, ...], Any]]
) -> None:
    document: Any = copy.deepcopy(payload())
    for path, value in edits:
        if not path:
            document = value
            continue
        holder = document
        try:
            for part in path[:-1]:
                holder = holder[part]
            holder[path[-1]] = value
        except (KeyError, IndexError, TypeError):
            continue  # an earlier edit replaced the container this path went through
    body = json.dumps(document).encode("utf-8", errors="surrogatepass")
    _post(client, body, _headers("application/json"))


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    depth=st.integers(min_value=1, max_value=20_000),
    opener=st.sampled_from(["[", '{"a":', '{"alerts":[']),
    closed=st.booleans(),
)
def test_any_nesting_depth_gets_a_4xx(
    client: TestClient, depth: int, opener: str, closed: bool
) -> None:
    closer = {"[": "]", '{"a":': "}", '{"alerts":[': "]}"}[opener]
    text = opener * depth + "1" + (closer * depth if closed else "")
    _post(client, text.encode()[:LIMIT], _headers("application/json"))
