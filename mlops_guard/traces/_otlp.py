"""OTLP JSON spans in and out, as the OpenTelemetry collector's file exporter writes them.

A file holds one ``{"resourceSpans": [...]}`` document, or one per line (JSON lines), optionally
gzip-compressed (``.gz``). Reading keeps only the columns the checks need (ids, host, kind,
times), so a million spans cost a few hundred megabytes, not the gigabytes the parsed documents
would; :func:`read_documents` keeps the documents too, for ``trace adjust`` to rewrite them.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import msgspec
import numpy as np
import orjson

from mlops_guard.errors import DataNotFound, EmptyData, SchemaError, UnreadableData

__all__ = [
    "KIND_CLIENT",
    "KIND_CONSUMER",
    "KIND_INTERNAL",
    "KIND_PRODUCER",
    "KIND_SERVER",
    "SpanTable",
    "host_key",
    "read_documents",
    "read_spans",
    "trace_code_of",
    "write_documents",
]

# SpanKind numbers of opentelemetry-proto's trace.proto.
KIND_UNSPECIFIED, KIND_INTERNAL, KIND_SERVER, KIND_CLIENT, KIND_PRODUCER, KIND_CONSUMER = range(6)
_KIND_NAMES = {
    "SPAN_KIND_UNSPECIFIED": KIND_UNSPECIFIED,
    "SPAN_KIND_INTERNAL": KIND_INTERNAL,
    "SPAN_KIND_SERVER": KIND_SERVER,
    "SPAN_KIND_CLIENT": KIND_CLIENT,
    "SPAN_KIND_PRODUCER": KIND_PRODUCER,
    "SPAN_KIND_CONSUMER": KIND_CONSUMER,
}
_FIX = "give OTLP JSON as the collector's file exporter writes it"


_U64 = np.ndarray[Any, np.dtype[np.uint64]]
_I64 = np.ndarray[Any, np.dtype[np.int64]]


def _u64() -> _U64:
    return np.zeros(0, np.uint64)


def _i64() -> _I64:
    return np.zeros(0, np.int64)


@dataclass
class SpanTable:
    """The spans of some OTLP JSON files, one row per span, in reading order.

    Ids are kept as numbers, never as strings: a trace id as its two 64-bit halves and a code
    per distinct trace (0, 1, ...), span and parent ids as 64-bit integers (0: no parent). A
    million spans then cost tens of megabytes, and pairs are found by sorting.
    """

    host_names: list[str] = field(default_factory=list)  # index -> host key ("" unknown)
    hosts: np.ndarray[Any, np.dtype[np.int32]] = field(
        default_factory=lambda: np.zeros(0, np.int32)
    )
    kinds: np.ndarray[Any, np.dtype[np.int8]] = field(default_factory=lambda: np.zeros(0, np.int8))
    start: _I64 = field(default_factory=_i64)
    end: _I64 = field(default_factory=_i64)
    trace_high: _U64 = field(default_factory=_u64)
    trace_low: _U64 = field(default_factory=_u64)
    trace_codes: _I64 = field(default_factory=_i64)
    trace_count: int = 0
    span_numbers: _U64 = field(default_factory=_u64)
    parent_numbers: _U64 = field(default_factory=_u64)
    # (row of a span, trace high, trace low, span number) for each link a span carries.
    links: list[tuple[int, int, int, int]] = field(default_factory=list)
    # The span objects themselves, only when read for rewriting.
    objects: list[dict[str, Any]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.span_numbers)

    def span_hex(self, row: int) -> str:
        return f"{int(self.span_numbers[row]):016x}"

    def parent_hex(self, row: int) -> str:
        parent = int(self.parent_numbers[row])
        return f"{parent:016x}" if parent else ""

    def since(self, unix_nano: int) -> SpanTable:
        """The spans that ended at or after ``unix_nano`` (a scheduled check's window)."""
        keep = np.flatnonzero(self.end >= unix_nano)
        if len(keep) == len(self):
            return self
        position = np.full(len(self), -1, dtype=np.int64)
        position[keep] = np.arange(len(keep))
        codes, inverse = np.unique(self.trace_codes[keep], return_inverse=True)
        return SpanTable(
            host_names=self.host_names,
            hosts=self.hosts[keep],
            kinds=self.kinds[keep],
            start=self.start[keep],
            end=self.end[keep],
            trace_high=self.trace_high[keep],
            trace_low=self.trace_low[keep],
            trace_codes=inverse.astype(np.int64).ravel(),
            trace_count=len(codes),
            span_numbers=self.span_numbers[keep],
            parent_numbers=self.parent_numbers[keep],
            links=[
                (int(position[r]), h, lo, sp) for r, h, lo, sp in self.links if position[r] >= 0
            ],
        )


def host_key(resource: Any) -> str:
    """The host of a resource: the first of ``host.id``, ``host.ip``, ``host.name`` (Jaeger's
    rule; a ``host.ip`` list gives its first address), ``""`` when none is set."""
    attributes = resource.get("attributes") if isinstance(resource, dict) else None
    if not attributes:
        return ""
    found: dict[str, Any] = {}
    for attribute in attributes:
        if isinstance(attribute, dict):
            key = attribute.get("key")
            if key in ("host.id", "host.ip", "host.name"):
                found[key] = attribute.get("value") or {}
    if "host.id" in found:
        return _string(found["host.id"])
    if "host.ip" in found:
        value = found["host.ip"]
        if "stringValue" in value:
            return _string(value)
        values = (value.get("arrayValue") or {}).get("values") or []
        if values:
            return _any_string(values[0])
    if "host.name" in found:
        return _string(found["host.name"])
    return ""


def _string(value: Any) -> str:
    text = value.get("stringValue", "") if isinstance(value, dict) else ""
    return text if isinstance(text, str) else ""


def _any_string(value: Any) -> str:
    if not isinstance(value, dict) or not value:
        return ""
    kind, inner = next(iter(value.items()))
    return str(inner) if kind != "stringValue" else _string(value)


def _open(path: Path) -> IO[bytes]:
    if not path.exists():
        raise DataNotFound(f"span file {path} does not exist", hint="check the path")
    if path.is_dir():
        raise DataNotFound(f"{path} is a directory", hint="pass the span files inside it")
    raw = path.open("rb")
    if path.suffix == ".gz":
        return gzip.GzipFile(fileobj=raw)  # type: ignore[return-value]
    return raw


def _documents(path: Path, decode: Any = None) -> Iterator[tuple[int, Any]]:
    """(line number, parsed document) for each document of a file."""
    decode = decode or _loads
    try:
        with _open(path) as stream:
            first = stream.readline()
            while first and not first.strip():
                first = stream.readline()
            if not first:
                raise EmptyData(f"{path} holds no spans", hint=_FIX)
            try:
                document = decode(first, path, 1, last=False)
            except UnreadableData:
                # Not one document per line: a pretty-printed document, or a cut-off line.
                rest = stream.read()
                yield 1, decode(first + rest, path, 1, last=True)
                return
            yield 1, document
            number = 1
            pending: bytes | None = None
            pending_number = 0
            for line in stream:
                number += 1
                if not line.strip():
                    continue
                if pending is not None:
                    yield pending_number, decode(pending, path, pending_number, last=False)
                pending, pending_number = line, number
            if pending is not None:
                yield pending_number, decode(pending, path, pending_number, last=True)
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise UnreadableData(
            f"{path} is not complete gzip ({exc})", hint="the file was cut off; copy it again"
        ) from exc
    except OSError as exc:
        raise UnreadableData(f"{path} cannot be read ({exc})", hint="check the file") from exc


def _loads(data: bytes, path: Path, line: int, *, last: bool) -> Any:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        stripped = data.strip()
        if last and stripped.startswith((b"{", b"[")):
            raise UnreadableData(
                f"{path} line {line} ends inside a JSON document ({exc})",
                hint="the file was cut off; export it again",
            ) from exc
        raise UnreadableData(f"{path} line {line} is not JSON ({exc})", hint=_FIX) from exc


def _kind(value: Any) -> int:
    if isinstance(value, int):
        return value if 0 <= value <= KIND_CONSUMER else KIND_UNSPECIFIED
    if isinstance(value, str):
        return _KIND_NAMES.get(value, KIND_UNSPECIFIED)
    return KIND_UNSPECIFIED


def _resource_spans(document: Any, path: Path, line: int) -> list[Any]:
    if not isinstance(document, dict) or not isinstance(document.get("resourceSpans"), list):
        raise SchemaError(
            f"{path} line {line} is JSON but not OTLP spans (no resourceSpans list)", hint=_FIX
        )
    spans: list[Any] = document["resourceSpans"]
    return spans


_NO_PARENT = "0000000000000000"


def _numbers(ids: list[str], digits: int, what: str, path: Path, line: int) -> _U64:
    """Hex ids (``digits`` long) as big-endian 64-bit words, two per trace id."""
    joined = "".join(ids)
    if len(joined) == digits * len(ids):
        try:
            return np.frombuffer(bytes.fromhex(joined), dtype=">u8").astype(np.uint64)
        except ValueError:
            pass
    for value in ids:
        bad = len(value) != digits
        if not bad:
            try:
                bytes.fromhex(value)
            except ValueError:
                bad = True
        if bad:
            raise SchemaError(
                f"{path} line {line}: {what} {value!r} is not {digits} hex digits",
                hint=f"OTLP JSON writes a {what} as {digits // 2} bytes in hex",
            )
    raise AssertionError("unreachable")  # pragma: no cover


def _trace_codes(high: _U64, low: _U64) -> tuple[_I64, int]:
    """A code per distinct trace id (0, 1, ...) for each row, and how many there are."""
    if not len(high):
        return np.zeros(0, np.int64), 0
    order = np.lexsort((low, high))
    sorted_high, sorted_low = high[order], low[order]
    new = np.ones(len(order), dtype=np.bool_)
    new[1:] = (sorted_high[1:] != sorted_high[:-1]) | (sorted_low[1:] != sorted_low[:-1])
    codes = np.empty(len(order), dtype=np.int64)
    codes[order] = np.cumsum(new) - 1
    return codes, int(new.sum())


def trace_code_of(table: SpanTable) -> dict[tuple[int, int], int]:
    """(trace high, trace low) -> its code (only links need it)."""
    return dict(
        zip(
            zip(table.trace_high.tolist(), table.trace_low.tolist(), strict=True),
            table.trace_codes.tolist(),
            strict=True,
        )
    )


class _Attribute(msgspec.Struct):
    key: str = ""
    value: dict[str, Any] = msgspec.field(default_factory=dict)


class _Resource(msgspec.Struct):
    attributes: list[_Attribute] = msgspec.field(default_factory=list)


class _Link(msgspec.Struct):
    traceId: str = ""  # noqa: N815
    spanId: str = ""  # noqa: N815


class _Span(msgspec.Struct):
    traceId: str  # noqa: N815
    spanId: str  # noqa: N815
    startTimeUnixNano: int  # noqa: N815
    endTimeUnixNano: int  # noqa: N815
    parentSpanId: str = ""  # noqa: N815
    kind: int | str = 0
    links: list[_Link] | None = None


class _Scope(msgspec.Struct):
    spans: list[_Span] = msgspec.field(default_factory=list)


class _ResourceSpans(msgspec.Struct):
    resource: _Resource | None = None
    scopeSpans: list[_Scope] = msgspec.field(default_factory=list)  # noqa: N815


class _Document(msgspec.Struct):
    resourceSpans: list[_ResourceSpans]  # noqa: N815


_DECODER = msgspec.json.Decoder(_Document, strict=False)


def _decode(data: bytes, path: Path, line: int, *, last: bool) -> _Document:
    try:
        return _DECODER.decode(data)
    except msgspec.ValidationError as exc:
        text = str(exc)
        if "resourceSpans" in text and "$.resourceSpans[" not in text:
            message = f"{path} line {line} is JSON but not OTLP spans (no resourceSpans list)"
        elif "traceId" in text or "spanId" in text:
            message = f"{path} line {line}: a span has no traceId or spanId ({text})"
            raise SchemaError(message, hint="export spans with their ids (hex strings)") from exc
        else:
            message = f"{path} line {line} is not OTLP spans ({text})"
        raise SchemaError(message, hint=_FIX) from exc
    except msgspec.DecodeError:
        # orjson names where the JSON breaks; msgspec says only that it does.
        return _loads(data, path, line, last=last)  # type: ignore[no-any-return]


class _Columns:
    """Columns being filled, one scope's spans at a time."""

    def __init__(self) -> None:
        self.hosts: list[np.ndarray[Any, np.dtype[np.int32]]] = []
        self.traces: list[_U64] = []
        self.spans: list[_U64] = []
        self.parents: list[_U64] = []
        self.kinds: list[int | str] = []
        self.starts: list[int] = []
        self.ends: list[int] = []
        self.links: list[tuple[int, int, int, int]] = []
        self.rows = 0

    def add(self, spans: list[_Span], host: int, path: Path, line: int) -> None:
        traces = [s.traceId for s in spans]
        ids = [s.spanId for s in spans]
        if not all(traces) or not all(ids):
            raise SchemaError(
                f"{path} line {line}: a span has an empty traceId or spanId",
                hint="export spans with their ids (hex strings)",
            )
        self.traces.append(_numbers(traces, 32, "traceId", path, line))
        self.spans.append(_numbers(ids, 16, "spanId", path, line))
        parents = [s.parentSpanId or _NO_PARENT for s in spans]
        self.parents.append(_numbers(parents, 16, "parentSpanId", path, line))
        self.kinds += [s.kind for s in spans]
        self.starts += [s.startTimeUnixNano for s in spans]
        self.ends += [s.endTimeUnixNano for s in spans]
        self.hosts.append(np.full(len(spans), host, dtype=np.int32))
        for offset, span in enumerate(spans):
            for link in span.links or ():
                if len(link.traceId) == 32 and len(link.spanId) == 16:
                    try:
                        high, low = int(link.traceId[:16], 16), int(link.traceId[16:], 16)
                        number = int(link.spanId, 16)
                    except ValueError:
                        continue
                    self.links.append((self.rows + offset, high, low, number))
        self.rows += len(spans)

    def table(self, host_names: list[str]) -> SpanTable:
        words = np.concatenate(self.traces).reshape(-1, 2)
        high, low = words[:, 0].copy(), words[:, 1].copy()
        codes, count = _trace_codes(high, low)
        try:
            numbers = np.asarray(self.kinds, dtype=np.int64)
            numbers[(numbers < 0) | (numbers > KIND_CONSUMER)] = KIND_UNSPECIFIED
            kinds = numbers.astype(np.int8)
        except (ValueError, TypeError):  # kinds by name ("SPAN_KIND_SERVER")
            kinds = np.asarray([_kind(k) for k in self.kinds], dtype=np.int8)
        return SpanTable(
            host_names=host_names,
            hosts=np.concatenate(self.hosts),
            kinds=kinds,
            start=np.asarray(self.starts, dtype=np.int64),
            end=np.asarray(self.ends, dtype=np.int64),
            trace_high=high,
            trace_low=low,
            trace_codes=codes,
            trace_count=count,
            span_numbers=np.concatenate(self.spans),
            parent_numbers=np.concatenate(self.parents),
            links=self.links,
        )


def read_spans(paths: Iterable[str | Path]) -> SpanTable:
    """The spans of OTLP JSON files as columns (bad input raises a :class:`DataError`)."""
    columns = _Columns()
    host_index: dict[str, int] = {}
    for raw_path in paths:
        path = Path(raw_path)
        for line, document in _documents(path, _decode):
            for resource in document.resourceSpans:
                attributes = (
                    [{"key": a.key, "value": a.value} for a in resource.resource.attributes]
                    if resource.resource is not None
                    else []
                )
                key = host_key({"attributes": attributes})
                host = host_index.setdefault(key, len(host_index))
                for scope in resource.scopeSpans:
                    if scope.spans:
                        columns.add(scope.spans, host, path, line)
    if not columns.rows:
        raise EmptyData("no spans in the given files", hint=_FIX)
    return columns.table(list(host_index))


def read_documents(paths: Iterable[str | Path]) -> tuple[SpanTable, list[Any]]:
    """The spans as columns plus the parsed documents; ``table.objects[row]`` is the span
    object of each row, to rewrite in place."""
    files = [Path(p) for p in paths]
    table = read_spans(files)
    documents: list[Any] = []
    objects = table.objects
    for path in files:
        for line, document in _documents(path):
            documents.append(document)
            for resource in _resource_spans(document, path, line):
                for scope in resource.get("scopeSpans") or ():
                    objects.extend(scope.get("spans") or ())
    return table, documents


def write_documents(documents: Iterable[Any], out: str | Path) -> int:
    """Write documents as OTLP JSON lines (gzip when ``out`` ends in ``.gz``); returns how
    many were written. The file appears complete or not at all."""
    import os
    import uuid

    target = Path(out)
    target.parent.mkdir(parents=True, exist_ok=True)
    # A name of its own per writer: two adjusts writing the same output never share it.
    temporary = target.with_name(f".{target.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    count = 0
    try:
        with temporary.open("wb") as raw:
            stream: IO[bytes] = (
                gzip.GzipFile(fileobj=raw, mode="wb") if target.suffix == ".gz" else raw  # type: ignore[assignment]
            )
            for document in documents:
                stream.write(orjson.dumps(document))
                stream.write(b"\n")
                count += 1
            if stream is not raw:
                stream.close()
        temporary.replace(target)
    finally:
        temporary.unlink(missing_ok=True)
    return count
