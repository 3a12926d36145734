"""Streaming readers: CSV, JSON Lines, SageMaker data capture, Azure ML data collector files.

Every reader turns text lines into rows aligned with a feature list, one line at a time, so
memory does not grow with the input. A *source* is anything with a name and a way to produce
text lines: a local file (``.gz`` is decompressed on the fly) or a cloud object stream.

Formats:

- ``csv``: a header row, then values. Later files may order columns differently (matched by
  name).
- ``jsonl``: one flat JSON object per line.
- ``sagemaker-capture``: SageMaker real-time endpoint data capture: one JSON object per line with
  ``captureData.endpointInput`` carrying ``data``, ``encoding`` (``CSV``, ``JSON`` or ``BASE64``)
  and ``observedContentType``
  (https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-data-capture.html). CSV payloads
  have no header: values map to the baseline's features by position (profile the training data
  with the label excluded). A payload may hold several rows (one per line); JSON payloads may be
  an object, a list of objects or rows, or ``{"instances": […]}``.
- ``azure-capture``: Azure ML online-endpoint data collector files: one JSON object per line
  whose ``data`` is a list of records (a logged DataFrame) or a JSON string of them
  (https://learn.microsoft.com/en-us/azure/machine-learning/how-to-collect-production-data).
- ``auto``: by extension (``.csv``) or by the first JSON line's shape.
"""

from __future__ import annotations

import base64
import csv
import gzip
import io
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import chain, islice, repeat
from pathlib import Path
from typing import Any

from mlops_iac.drift.profile import CHUNK as BATCH
from mlops_iac.drift.profile import INFER_ROWS, DriftError

FORMATS = ("auto", "csv", "jsonl", "sagemaker-capture", "azure-capture")


@dataclass(frozen=True)
class Source:
    """A named stream of text lines (a file, an S3/Blob/GCS object)."""

    name: str
    lines: Callable[[], Iterable[str]]


def file_source(path: str | Path) -> Source:
    """A local file as a source; ``.gz`` files are decompressed while reading."""
    path = Path(path)

    def lines() -> Iterator[str]:
        try:
            if path.suffix == ".gz":
                with gzip.open(path, "rt", encoding="utf-8", newline="") as handle:
                    yield from handle
            else:
                with path.open(encoding="utf-8", newline="") as handle:
                    yield from handle
        except FileNotFoundError:
            raise DriftError(f"{path}: no such file") from None
        except IsADirectoryError:
            raise DriftError(f"{path}: is a directory, not a data file") from None
        except (UnicodeDecodeError, gzip.BadGzipFile, EOFError) as exc:
            raise DriftError(f"{path}: not readable text ({exc.__class__.__name__})") from None

    return Source(str(path), lines)


def bytes_source(name: str, chunks: Iterable[bytes]) -> Source:
    """A byte stream (e.g. an S3 body) as a source; gzip is detected by ``name``."""

    def lines() -> Iterator[str]:
        raw = _ChunkReader(iter(chunks))
        stream: io.BufferedIOBase = gzip.GzipFile(fileobj=raw) if name.endswith(".gz") else raw  # type: ignore[assignment]
        try:
            yield from io.TextIOWrapper(stream, encoding="utf-8", newline="")
        except (UnicodeDecodeError, gzip.BadGzipFile, EOFError) as exc:
            raise DriftError(f"{name}: not readable text ({exc.__class__.__name__})") from None

    return Source(name, lines)


class _ChunkReader(io.RawIOBase):
    """A read-only file object over an iterator of byte chunks (bounded buffering)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._buffer = b""

    def readable(self) -> bool:
        return True

    def readinto(self, target: Any) -> int:
        while not self._buffer:
            try:
                self._buffer = next(self._chunks)
            except StopIteration:
                return 0
        size = min(len(target), len(self._buffer))
        target[:size] = self._buffer[:size]
        self._buffer = self._buffer[size:]
        return size


def detect(source: Source) -> str:
    """The format of one source, from its name or its first non-empty line."""
    name = source.name.lower().removesuffix(".gz")
    if name.endswith((".csv", ".tsv")):
        return "csv"
    for line in source.lines():
        if not line.strip():
            continue
        try:
            first = json.loads(line)
        except ValueError:
            return "csv"
        if isinstance(first, dict) and "captureData" in first:
            return "sagemaker-capture"
        if isinstance(first, dict) and "data" in first and "specversion" in first:
            return "azure-capture"
        return "jsonl"
    return "jsonl"


def read(
    sources: Sequence[Source], fmt: str = "auto", features: Sequence[str] | None = None
) -> tuple[list[str], Iterator[Sequence[Any]]]:
    """Feature names and a row iterator over all sources.

    ``features`` fixes the columns (the baseline's); without it they come from the CSV header
    or the keys of the first records.
    """
    if fmt not in FORMATS:
        raise DriftError(f"--format: must be one of {', '.join(FORMATS)}, got {fmt!r}")
    if not sources:
        raise DriftError("no data files given")
    formats = [detect(source) if fmt == "auto" else fmt for source in sources]
    if len(set(formats)) > 1:
        mixed = ", ".join(f"{s.name}={f}" for s, f in zip(sources, formats, strict=True))
        raise DriftError(f"data files mix formats ({mixed}); pass one --format")
    kind = formats[0]
    if kind == "csv":
        return _read_csv(sources, features)
    records = _records(sources, kind)
    if features is None:
        head = [record for _, record in zip(range(INFER_ROWS), records, strict=False)]
        features = _discover(head)
        records = chain(head, records)
    names = list(features)
    return names, (_align(record, names) for record in records)


Batch = tuple[int, list[Sequence[Any]]]
"""``(rows, columns)``: a block of rows as columns aligned with the feature names."""


def read_batches(
    sources: Sequence[Source], fmt: str = "auto", features: Sequence[str] | None = None
) -> tuple[list[str], Iterator[Batch]]:
    """Like ``read``, but blocks of rows as columns (what a check consumes).

    CSV blocks without quotes are split with ``str.split`` and sliced into columns, so no
    Python code runs per row or per value; a block with quotes, ragged rows or ``\r`` line ends
    goes through the ``csv`` module (from the first quote on, for the rest of its file, since a
    quoted value may span lines). Other formats are parsed record by record and batched.
    """
    if fmt not in FORMATS:
        raise DriftError(f"--format: must be one of {', '.join(FORMATS)}, got {fmt!r}")
    if sources and (detect(sources[0]) if fmt == "auto" else fmt) == "csv":
        names, _ = read(sources, fmt, features)  # validates formats and the first header
        return names, chain.from_iterable(_csv_batches(source, names) for source in sources)
    names, rows = read(sources, fmt, features)
    return names, row_batches(rows, len(names))


def row_batches(rows: Iterable[Sequence[Any]], width: int, size: int = BATCH) -> Iterator[Batch]:
    """Rows in blocks of ``size``, transposed into ``width`` columns."""
    iterator = iter(rows)
    while chunk := list(islice(iterator, size)):
        if set(map(len, chunk)) != {width}:  # pad short rows with missing, cut long ones
            chunk = [(list(row) + [None] * width)[:width] for row in chunk]
        yield len(chunk), list(zip(*chunk, strict=True))


def _csv_batches(source: Source, names: Sequence[str]) -> Iterator[Batch]:
    lines = iter(source.lines())
    header = next(csv.reader(lines), None)  # consumes exactly the header's line(s)
    if header is None:
        return
    header = [column.strip() for column in header]
    width = len(header)
    where = {column: i for i, column in enumerate(header)}
    picks = [where.get(name) for name in names]

    def remap(rows: Iterable[list[str]]) -> Iterator[Sequence[Any]]:
        for row in rows:
            yield [row[i] if i is not None and i < len(row) else None for i in picks]

    while block := list(islice(lines, BATCH)):
        text = "".join(block)
        if '"' in text:  # quoted values may span lines: the csv module for the rest
            yield from row_batches(remap(csv.reader(chain(block, lines))), len(names))
            return
        flat = _split(text, block, width)
        if flat is None:
            yield from row_batches(remap(csv.reader(block)), len(names))
            continue
        count = len(block)
        yield count, [flat[i::width] if i is not None else [None] * count for i in picks]


def _split(text: str, block: list[str], width: int) -> list[str] | None:
    """All values of a block of quote-free CSV lines, row after row; None unless every line
    has exactly ``width`` values and ends in ``\n`` (the last may have no line end)."""
    if "\r" in text or set(map(str.count, block, repeat(","))) != {width - 1}:
        return None
    body = text[:-1] if text.endswith("\n") else text
    flat = body.replace("\n", ",").split(",")
    return flat if len(flat) == len(block) * width else None


def _discover(records: Sequence[Any]) -> list[str]:
    names: dict[str, None] = {}
    width = 0
    for record in records:
        if isinstance(record, dict):
            names.update(dict.fromkeys(record))
        else:
            width = max(width, len(record))
    if not names and not width:
        raise DriftError("the data has no records")
    return list(names) or [f"f{i}" for i in range(width)]


def _align(record: Any, features: Sequence[str]) -> Sequence[Any]:
    if isinstance(record, dict):
        return [record.get(name) for name in features]
    return record  # positional (headerless CSV capture): already in feature order


def _read_csv(
    sources: Sequence[Source], features: Sequence[str] | None
) -> tuple[list[str], Iterator[Sequence[Any]]]:
    first = _csv_header(sources[0])
    names = list(features) if features is not None else first
    if len(set(first)) != len(first):
        raise DriftError(f"{sources[0].name}:1: the CSV header repeats a column name")

    def source_rows(source: Source) -> Iterator[Sequence[Any]]:
        reader = csv.reader(source.lines())
        header = next(reader, None)
        if header is None:
            return iter(())
        header = [column.strip() for column in header]
        if header == names:
            return reader  # rows straight from the C parser: no Python work per row
        where = {column: i for i, column in enumerate(header)}
        picks = [where.get(name) for name in names]
        return (
            [row[i] if i is not None and i < len(row) else None for i in picks] for row in reader
        )

    return names, chain.from_iterable(map(source_rows, sources))


def _csv_header(source: Source) -> list[str]:
    for row in csv.reader(source.lines()):
        header = [column.strip() for column in row]
        if not any(header):
            raise DriftError(f"{source.name}:1: the CSV header is empty")
        return header
    raise DriftError(f"{source.name}: empty file (a CSV needs a header row)")


def _json_lines(source: Source) -> Iterator[tuple[int, Any]]:
    for number, line in enumerate(source.lines(), 1):
        if not line.strip():
            continue
        try:
            yield number, json.loads(line)
        except ValueError as exc:
            raise DriftError(f"{source.name}:{number}: not valid JSON ({exc.msg})") from None


def _records(sources: Sequence[Source], kind: str) -> Iterator[Any]:
    for source in sources:
        for number, item in _json_lines(source):
            where = f"{source.name}:{number}"
            if kind == "jsonl":
                if not isinstance(item, dict):
                    raise DriftError(f"{where}: expected a JSON object per line")
                yield item
            elif kind == "sagemaker-capture":
                yield from _sagemaker(item, where)
            else:
                yield from _azure(item, where)


def _sagemaker(item: Any, where: str) -> Iterator[Any]:
    try:
        payload = item["captureData"]["endpointInput"]
        data, encoding = payload["data"], payload.get("encoding", "CSV").upper()
        content_type = payload.get("observedContentType", "")
    except (TypeError, KeyError):
        raise DriftError(
            f"{where}: not a SageMaker capture record (captureData.endpointInput)"
        ) from None
    if encoding == "BASE64":
        try:
            data = base64.b64decode(data).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            raise DriftError(f"{where}: endpointInput.data is not base64 UTF-8 text") from None
        encoding = "JSON" if "json" in content_type else "CSV"
    if encoding == "CSV":
        yield from (row for row in csv.reader(io.StringIO(data)) if row)
        return
    try:
        parsed = json.loads(data)
    except ValueError:
        raise DriftError(f"{where}: endpointInput.data is not JSON") from None
    yield from _payload_records(parsed, where)


def _payload_records(parsed: Any, where: str) -> Iterator[Any]:
    if isinstance(parsed, dict):
        for key in ("instances", "inputs", "data", "dataframe_records"):
            if isinstance(parsed.get(key), list):
                yield from _payload_records(parsed[key], where)
                return
        yield parsed
    elif isinstance(parsed, list):
        for entry in parsed:
            if isinstance(entry, dict | list):
                yield entry
            else:  # one flat row of values
                yield parsed
                return
    else:
        raise DriftError(f"{where}: payload is neither an object nor a list")


def _azure(item: Any, where: str) -> Iterator[Any]:
    if not isinstance(item, dict) or "data" not in item:
        raise DriftError(f"{where}: not an Azure ML data collector record (no data)")
    data = item["data"]
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except ValueError:
            raise DriftError(f"{where}: data is not JSON") from None
    yield from _payload_records(data, where)
