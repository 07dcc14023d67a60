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


@dataclass
class SpanTable:
    """The spans of some OTLP JSON files, one row per span, in reading order."""

    trace_ids: list[str] = field(default_factory=list)
    span_ids: list[str] = field(default_factory=list)
    parent_ids: list[str] = field(default_factory=list)
    host_names: list[str] = field(default_factory=list)  # index -> host key ("" unknown)
    hosts: np.ndarray[Any, np.dtype[np.int32]] = field(
        default_factory=lambda: np.zeros(0, np.int32)
    )
    kinds: np.ndarray[Any, np.dtype[np.int8]] = field(default_factory=lambda: np.zeros(0, np.int8))
    start: np.ndarray[Any, np.dtype[np.int64]] = field(
        default_factory=lambda: np.zeros(0, np.int64)
    )
    end: np.ndarray[Any, np.dtype[np.int64]] = field(default_factory=lambda: np.zeros(0, np.int64))
    # (row of a span, trace id, span id) for each link a span carries (messaging consumers).
    links: list[tuple[int, str, str]] = field(default_factory=list)
    # The ids as numbers: a code per distinct trace id, span and parent ids as 64-bit
    # integers (0: no parent), so pairs are found by sorting instead of by dictionary.
    trace_codes: np.ndarray[Any, np.dtype[np.int64]] = field(
        default_factory=lambda: np.zeros(0, np.int64)
    )
    span_numbers: np.ndarray[Any, np.dtype[np.uint64]] = field(
        default_factory=lambda: np.zeros(0, np.uint64)
    )
    parent_numbers: np.ndarray[Any, np.dtype[np.uint64]] = field(
        default_factory=lambda: np.zeros(0, np.uint64)
    )
    trace_count: int = 0
    trace_code_of: dict[str, int] = field(default_factory=dict)
    # The span objects themselves, only when read for rewriting.
    objects: list[dict[str, Any]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.span_ids)

    def since(self, unix_nano: int) -> SpanTable:
        """The spans that ended at or after ``unix_nano`` (a scheduled check's window)."""
        keep = np.flatnonzero(self.end >= unix_nano)
        if len(keep) == len(self):
            return self
        rows = keep.tolist()
        position = {row: k for k, row in enumerate(rows)}
        codes, count = _trace_codes([self.trace_ids[r] for r in rows])
        return SpanTable(
            trace_ids=[self.trace_ids[r] for r in rows],
            span_ids=[self.span_ids[r] for r in rows],
            parent_ids=[self.parent_ids[r] for r in rows],
            host_names=self.host_names,
            hosts=self.hosts[keep],
            kinds=self.kinds[keep],
            start=self.start[keep],
            end=self.end[keep],
            links=[(position[r], t, s) for r, t, s in self.links if r in position],
            trace_codes=codes,
            span_numbers=self.span_numbers[keep],
            parent_numbers=self.parent_numbers[keep],
            trace_count=count,
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


def _hex_numbers(ids: list[str], what: str) -> np.ndarray[Any, np.dtype[np.uint64]]:
    """64-bit span ids as integers; ``""`` is 0 (no parent)."""
    filled = [i or "0000000000000000" for i in ids]
    joined = "".join(filled)
    if len(joined) == 16 * len(filled):
        try:
            return np.frombuffer(bytes.fromhex(joined), dtype=">u8").astype(np.uint64)
        except ValueError:
            pass
    for value in filled:
        if len(value) != 16:
            raise SchemaError(
                f"{what} {value!r} is not 16 hex digits", hint="span ids are 8 bytes in hex"
            )
        try:
            bytes.fromhex(value)
        except ValueError:
            raise SchemaError(
                f"{what} {value!r} is not hex", hint="span ids are 8 bytes in hex"
            ) from None
    raise AssertionError("unreachable")  # pragma: no cover


def _trace_codes(trace_ids: list[str]) -> tuple[np.ndarray[Any, np.dtype[np.int64]], int]:
    """A code per distinct trace id (0, 1, ...) for each row, and how many there are."""
    joined = "".join(trace_ids)
    if len(joined) == 32 * len(trace_ids):
        try:
            halves = np.frombuffer(bytes.fromhex(joined), dtype=">u8").reshape(-1, 2)
        except ValueError:
            halves = None
        if halves is not None:
            high, low = halves[:, 0].astype(np.uint64), halves[:, 1].astype(np.uint64)
            order = np.lexsort((low, high))
            new = np.ones(len(order), dtype=np.bool_)
            new[1:] = (high[order][1:] != high[order][:-1]) | (low[order][1:] != low[order][:-1])
            codes = np.empty(len(order), dtype=np.int64)
            codes[order] = np.cumsum(new) - 1
            return codes, int(new.sum())
    # Ids of another length (not 16 bytes of hex): by dictionary, slower but exact.
    index: dict[str, int] = {}
    setdefault = index.setdefault
    codes = np.fromiter(
        (setdefault(t, len(index)) for t in trace_ids), dtype=np.int64, count=len(trace_ids)
    )
    return codes, len(index)


def _number_ids(table: SpanTable) -> None:
    table.trace_codes, table.trace_count = _trace_codes(table.trace_ids)
    table.span_numbers = _hex_numbers(table.span_ids, "span id")
    table.parent_numbers = _hex_numbers(table.parent_ids, "parent span id")


def trace_code_of(table: SpanTable) -> dict[str, int]:
    """Trace id -> its code (built on demand: only links need it)."""
    if not table.trace_code_of:
        table.trace_code_of = dict(zip(table.trace_ids, table.trace_codes.tolist(), strict=True))
    return table.trace_code_of


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


def read_spans(paths: Iterable[str | Path]) -> SpanTable:
    """The spans of OTLP JSON files as columns (bad input raises a :class:`DataError`)."""
    table = SpanTable()
    host_index: dict[str, int] = {}
    hosts: list[np.ndarray[Any, np.dtype[np.int32]]] = []
    kinds: list[int | str] = []
    starts: list[int] = []
    ends: list[int] = []
    trace_ids, span_ids, parent_ids, links = (
        table.trace_ids,
        table.span_ids,
        table.parent_ids,
        table.links,
    )
    for raw_path in paths:
        path = Path(raw_path)
        for line, document in _documents(path, _decode):
            for resource in document.resourceSpans:
                attributes = (
                    [{"key": a.key, "value": a.value} for a in resource.resource.attributes]
                    if resource.resource is not None
                    else []
                )
                host = host_index.setdefault(host_key({"attributes": attributes}), len(host_index))
                for scope in resource.scopeSpans:
                    spans = scope.spans
                    if not spans:
                        continue
                    first = len(span_ids)
                    batch_traces = [s.traceId for s in spans]
                    batch_spans = [s.spanId for s in spans]
                    if not all(batch_traces) or not all(batch_spans):
                        raise SchemaError(
                            f"{path} line {line}: a span has an empty traceId or spanId",
                            hint="export spans with their ids (hex strings)",
                        )
                    trace_ids += batch_traces
                    span_ids += batch_spans
                    parent_ids += [s.parentSpanId for s in spans]
                    kinds += [s.kind for s in spans]
                    starts += [s.startTimeUnixNano for s in spans]
                    ends += [s.endTimeUnixNano for s in spans]
                    hosts.append(np.full(len(spans), host, dtype=np.int32))
                    for offset, s in enumerate(spans):
                        if s.links:
                            links.extend(
                                (first + offset, k.traceId, k.spanId)
                                for k in s.links
                                if k.traceId and k.spanId
                            )
    if not span_ids:
        raise EmptyData("no spans in the given files", hint=_FIX)
    _number_ids(table)
    table.host_names = list(host_index)
    table.hosts = np.concatenate(hosts)
    try:
        numbers = np.asarray(kinds, dtype=np.int64)
        numbers[(numbers < 0) | (numbers > KIND_CONSUMER)] = KIND_UNSPECIFIED
        table.kinds = numbers.astype(np.int8)
    except (ValueError, TypeError):  # kinds by name ("SPAN_KIND_SERVER")
        table.kinds = np.asarray([_kind(k) for k in kinds], dtype=np.int8)
    table.start = np.asarray(starts, dtype=np.int64)
    table.end = np.asarray(ends, dtype=np.int64)
    return table


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
