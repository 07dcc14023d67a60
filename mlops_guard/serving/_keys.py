"""API keys at the edge: who is calling, and how much they may send.

Keys are kept hashed (SHA-256 of the secret) in a file, one ``key_id:hex`` (or env-file style
``KEY_ID=hex``) a line; a request names its key as ``Authorization: Bearer <secret>`` or
``X-API-Key: <secret>``. Only the key's id ever reaches logs and metric labels. Each key has a
fixed window of ``rate_window_seconds`` in which it may send ``rate_limit_requests`` requests
and ``rate_limit_rows`` rows; beyond, the answer is 429 with ``Retry-After`` (seconds until
the window ends).
"""

from __future__ import annotations

import hashlib
import math
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from mlops_guard.errors import ConfigError
from mlops_guard.serving._payload import RequestRejected

__all__ = ["KeyRing", "hash_secret"]

_HEX = re.compile(r"^[0-9a-fA-F]{64}$")
_KEY_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def hash_secret(secret: str) -> str:
    """The SHA-256 (hex) a keys file holds for ``secret``."""
    return hashlib.sha256(secret.encode()).hexdigest()


def _read(path: Path) -> dict[str, str]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"API keys file {str(path)!r} cannot be read ({exc.strerror})",
            hint="point MLOPS_GUARD_SERVING_API_KEYS_FILE at a readable file",
        ) from exc
    hashes: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key_id, sep, digest = line.partition(":")
        if not sep:
            key_id, sep, digest = line.partition("=")
        key_id, digest = key_id.strip().removeprefix("export ").strip(), digest.strip().strip("'\"")
        if not sep or not _KEY_ID.match(key_id) or not _HEX.match(digest):
            # The line is not shown: it may hold a secret pasted by mistake.
            raise ConfigError(
                f"API keys file {str(path)!r} line {number} is not 'key_id:sha256-hex'",
                hint="write one key a line as key_id:<sha256 of the secret>, e.g. from "
                "`printf %s SECRET | sha256sum`",
            )
        hashes[digest.lower()] = key_id
    if not hashes:
        raise ConfigError(
            f"API keys file {str(path)!r} holds no keys",
            hint="add one key a line as key_id:<sha256 of the secret>",
        )
    return hashes


@dataclass
class _Window:
    start: float
    requests: int = 0
    rows: int = 0


@dataclass
class KeyRing:
    """Known keys and their usage windows; ``clock`` is injectable for tests."""

    hashes: dict[str, str]
    limit_requests: int | None
    limit_rows: int | None
    window_seconds: float
    clock: Callable[[], float] = time.monotonic
    _windows: dict[str, _Window] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def from_file(
        cls,
        path: Path,
        *,
        limit_requests: int | None,
        limit_rows: int | None,
        window_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> KeyRing:
        return cls(_read(path), limit_requests, limit_rows, window_seconds, clock)

    def identify(self, authorization: str | None, api_key: str | None) -> str:
        """The key id of the request's secret; 401 without a known key."""
        secret = api_key
        if secret is None and authorization:
            scheme, _, value = authorization.partition(" ")
            if scheme.lower() == "bearer":
                secret = value.strip()
        if not secret:
            raise RequestRejected(
                "the request carries no API key",
                status=401,
                kind="unauthorized",
                hint="send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'",
            )
        key_id = self.hashes.get(hash_secret(secret))
        if key_id is None:
            raise RequestRejected(
                "the API key is not known", status=401, kind="unauthorized", hint="check the key"
            )
        return key_id

    def admit(self, key_id: str, rows: int) -> None:
        """Count one request of ``rows`` rows; 429 (with the seconds to wait) over a limit."""
        now = self.clock()
        start = math.floor(now / self.window_seconds) * self.window_seconds
        with self._lock:
            window = self._windows.get(key_id)
            if window is None or window.start != start:
                window = self._windows[key_id] = _Window(start)
            wait = max(1.0, math.ceil(start + self.window_seconds - now))
            if self.limit_requests is not None and window.requests + 1 > self.limit_requests:
                raise RequestRejected(
                    f"key {key_id!r} sent {window.requests} requests in this "
                    f"{self.window_seconds:g} s window, its limit",
                    status=429,
                    kind="rate_limited",
                    hint=f"retry after {wait:.0f} s",
                    retry_after=wait,
                )
            if self.limit_rows is not None and window.rows + rows > self.limit_rows:
                raise RequestRejected(
                    f"key {key_id!r} would send {window.rows + rows} rows in this "
                    f"{self.window_seconds:g} s window, over its limit of {self.limit_rows}",
                    status=429,
                    kind="rate_limited",
                    hint=f"retry after {wait:.0f} s",
                    retry_after=wait,
                )
            window.requests += 1
            window.rows += rows
