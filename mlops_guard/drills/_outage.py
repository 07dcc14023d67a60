"""A registry that can go away: an MLflow tracking server on loopback, reached through a TCP
proxy the drill can cut (every connection dropped, new ones refused, as a partition or a dead
server looks to a client) and restore."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

__all__ = ["MlflowServer", "TcpProxy"]

_ACCEPT_POLL_SECONDS = 0.1
_START_TIMEOUT_SECONDS = 180.0


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class MlflowServer:
    """``mlflow server`` on a SQLite store, in its own process group."""

    def __init__(self, database: Path, log: Path) -> None:
        self.database = database
        self.log = log
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._proc: subprocess.Popen[bytes] | None = None
        self._ready = threading.Event()
        self.error: str | None = None

    def start(self) -> MlflowServer:
        """Start the server; :meth:`wait` blocks until it answers."""
        env = {**os.environ, "MLFLOW_LOGGING_LEVEL": "WARNING"}
        handle = self.log.open("wb")
        self._proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "mlflow",
                "server",
                "--backend-store-uri",
                f"sqlite:///{self.database}",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--workers",
                "1",
            ],
            stdout=handle,
            stderr=handle,
            env=env,
            start_new_session=True,
        )
        handle.close()
        threading.Thread(target=self._watch_start, daemon=True).start()
        return self

    def _watch_start(self) -> None:
        import httpx

        deadline = time.monotonic() + _START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self._proc is None or self._proc.poll() is not None:
                self.error = f"mlflow server exited ({self._proc and self._proc.returncode})"
                break
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    self._ready.set()
                    return
            time.sleep(0.2)
        self.error = self.error or "mlflow server did not answer in time"
        self._ready.set()

    def wait(self) -> None:
        self._ready.wait(_START_TIMEOUT_SECONDS + 5)
        if self.error:
            raise RuntimeError(f"{self.error}; see {self.log}")

    def stop(self) -> None:
        proc = self._proc
        if proc is None or proc.poll() is not None:
            return
        # The server forks its workers into the group started for it: end the group.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=15)


class TcpProxy:
    """Forwards 127.0.0.1:``port`` to ``upstream``; :meth:`cut` and :meth:`restore`.

    The listening socket is bound once and kept for the proxy's life: while cut, every open
    connection is dropped and every new one is reset at once. Closing the listener instead
    would free the port, and any outgoing connection of this host (a scrape, a retry) may get
    it as its ephemeral source port, after which the restore cannot bind it again.
    """

    def __init__(self, upstream: int) -> None:
        self.upstream = upstream
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._listener: socket.socket | None = None
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._up = False

    def start(self) -> TcpProxy:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        sock.listen(64)
        sock.settimeout(_ACCEPT_POLL_SECONDS)
        with self._lock:
            self._listener = sock
            self._up = True
        threading.Thread(target=self._accept, args=(sock,), daemon=True).start()
        return self

    def restore(self) -> None:
        """Forward connections again (nothing to do when already up)."""
        with self._lock:
            self._up = True

    def cut(self) -> None:
        """Drop every open connection and reset every new one until :meth:`restore`."""
        with self._lock:
            self._up = False
            conns, self._open = self._open, set()
        for conn in conns:
            _drop(conn)

    def stop(self) -> None:
        self.cut()
        with self._lock:
            listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            with self._lock:
                if self._listener is not listener:
                    return
                up = self._up
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if not up:
                _drop(client)
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.upstream), timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            client.settimeout(None)
            with self._lock:
                if not self._up:
                    _drop(client)
                    upstream.close()
                    continue
                self._open.update((client, upstream))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                target.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, target):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
            with self._lock:
                self._open.discard(source)
                self._open.discard(target)


def _drop(conn: socket.socket) -> None:
    """Close with a reset (linger 0), as a partitioned peer's connection ends for the client."""
    import struct

    with contextlib.suppress(OSError):
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        conn.shutdown(socket.SHUT_RDWR)
    conn.close()
