"""A bounded load generator, run as its own process so that the client's work does not share
the server's interpreter lock: ``python -m tests.serving._load URL BODIES CONCURRENCY TRIGGER
OUT [HEADER=VALUE...]``.

Sends every body of the JSON-lines file BODIES once, CONCURRENCY at a time; prints ``reached``
on stdout when the TRIGGER-th answer arrived (0: never); writes one JSON line per answer to
OUT: the body's line number, when it was sent and answered (Unix seconds), the status and
the ``X-Model-Version`` header.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 request on a kept-alive connection: (status, headers, body)."""
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return status, headers, body


async def _run(
    url: str, bodies: list[bytes], concurrency: int, trigger: int, headers: dict[str, str]
) -> list[dict[str, Any]]:
    """A minimal keep-alive HTTP/1.1 client: a general-purpose one (httpx) spends more CPU
    per request than the server under test, and would measure itself."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    results: list[dict[str, Any]] = []
    pending = list(enumerate(bodies))
    pending.reverse()

    async def worker() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while pending:
                line, body = pending.pop()
                request = (
                    f"POST /invocations HTTP/1.1\r\nHost: {host}:{port}\r\n"
                    f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
                    f"{extra}\r\n"
                ).encode() + body
                sent = time.time()
                try:
                    status, answer, _ = await _exchange(reader, writer, request)
                    version = answer.get("x-model-version")
                except (OSError, asyncio.IncompleteReadError) as exc:
                    status, version = -1, type(exc).__name__
                    writer.close()
                    reader, writer = await asyncio.open_connection(host, port)
                results.append(
                    {
                        "line": line,
                        "sent": sent,
                        "answered": time.time(),
                        "status": status,
                        "version": version,
                    }
                )
                if len(results) == trigger:
                    print("reached", flush=True)
        finally:
            writer.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return results


def main(argv: list[str]) -> int:
    url, bodies_path, concurrency, trigger, out = argv[:5]
    headers = dict(item.split("=", 1) for item in argv[5:])
    bodies = [line.encode() for line in Path(bodies_path).read_text().splitlines()]
    results = asyncio.run(_run(url, bodies, int(concurrency), int(trigger), headers))
    Path(out).write_text("".join(json.dumps(r) + "\n" for r in results))
    print("done", flush=True)
    return 0


def start(
    url: str,
    bodies: list[str],
    directory: Path,
    *,
    concurrency: int,
    trigger: int = 0,
    headers: dict[str, str] | None = None,
) -> tuple[subprocess.Popen[str], Path]:
    """Start the generator on ``bodies``; returns the process and where its results go."""
    source = directory / "bodies.jsonl"
    source.write_text("".join(body + "\n" for body in bodies))
    out = directory / "results.jsonl"
    command = [
        sys.executable,
        "-m",
        "tests.serving._load",
        url,
        str(source),
        str(concurrency),
        str(trigger),
        str(out),
    ]
    command += [f"{k}={v}" for k, v in (headers or {}).items()]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    return process, out


def finish(process: subprocess.Popen[str], out: Path) -> list[dict[str, Any]]:
    """Wait for the generator; its results in the order of the answers."""
    remaining, _ = process.communicate(timeout=600)
    assert process.returncode == 0, remaining
    return [json.loads(line) for line in out.read_text().splitlines()]


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
