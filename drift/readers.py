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

Input is bounded as it streams, so no file (gzip or not) can make a read allocate more than a few
batches: a CSV or JSON Lines line (one record) is at most ``MAX_RECORD`` bytes (1 MiB; also a
quoted CSV record spanning lines), a capture line (one request) at most ``MAX_REQUEST`` bytes
(16 MiB), a value at most ``MAX_FIELD`` characters (64 KiB), a file at most ``MAX_COLUMNS``
columns; a line is read with that limit, so a longer one is refused after reading the limit, not
after reading the line. Rows are batched by count (4,096), values (2^20) and text (4 MiB). Text is
UTF-8 (a byte-order mark is accepted); CSV rows must have the header's number of values; JSON
records must be flat objects. Anything else is a ``DriftError`` naming the file and line.
"""

from __future__ import annotations

import base64
import binascii
import csv
import gzip
import io
import json
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import chain, islice, repeat
from pathlib import Path
from typing import IO, Any

from mlops_iac.drift.profile import CHUNK as BATCH
from mlops_iac.drift.profile import (
    INFER_ROWS,
    MAX_FEATURES,
    Columns,
    DriftError,
    names_list,
    no_common_columns,
    printable,
)

FORMATS = ("auto", "csv", "jsonl", "sagemaker-capture", "azure-capture")

MAX_RECORD = 1 << 20
"""Bytes of one CSV or JSON Lines line (one record), and characters of one quoted CSV record."""
MAX_REQUEST = 16 << 20
"""Bytes of one capture line (one request with any number of rows; SageMaker's real-time
payload limit is 6 MB, base64 adds a third, and the line holds the response too)."""
MAX_FIELD = 64 << 10
"""Characters of one value (a CSV field, a JSON string)."""
MAX_COLUMNS = MAX_FEATURES
"""Columns of one file (CSV header, keys discovered in JSON records)."""
BLOCK_CHARS = 4 << 20
"""Text of one batch: a batch ends at ``BATCH`` rows, ``BLOCK_CELLS`` values or this."""
BLOCK_CELLS = 1 << 20
_BOM = b"\xef\xbb\xbf"
_NESTED = frozenset({dict, list})


@dataclass(frozen=True)
class Source:
    """A named stream of text lines (a file, an S3/Blob/GCS object).

    ``bounded(limit, cut)`` (the sources made here have it) reads lines of at most ``limit``
    bytes without ever holding a longer one (``cut``: stop at one, cut); without it, ``lines()``
    is read and checked line by line.
    """

    name: str
    lines: Callable[[], Iterable[str]]
    bounded: Callable[[int, bool], Iterable[str]] | None = None


def _binary_lines(stream: IO[bytes], name: str, limit: int, cut: bool = False) -> Iterator[str]:
    """UTF-8 lines of a binary stream (a first-line BOM dropped), each read with ``limit``;
    ``cut``: a longer line ends the lines, cut to ``limit`` (what format detection looks at)."""
    readline = stream.readline
    number = 0
    try:
        while line := readline(limit + 2):
            number += 1
            if len(line) > limit and len(line.rstrip(b"\r\n")) > limit:
                if cut:
                    yield line[:limit].decode("utf-8", "ignore")
                    return
                raise DriftError(f"{name}:{number}: a line longer than {limit} bytes")
            if number == 1 and line.startswith(_BOM):
                line = line[len(_BOM) :]
            try:
                yield line.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise DriftError(
                    f"{name}:{number}: not UTF-8 text (byte {exc.start + 1} of the line)"
                ) from None
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise DriftError(
            f"{name}:{number + 1}: not a readable gzip file ({printable(exc, 80)})"
        ) from None


def file_source(path: str | Path) -> Source:
    """A local file as a source; ``.gz`` files are decompressed while reading."""
    path = Path(path)

    def bounded(limit: int, cut: bool = False) -> Iterator[str]:
        try:
            handle = path.open("rb")
        except FileNotFoundError:
            raise DriftError(f"{printable(path)}: no such file") from None
        except IsADirectoryError:
            raise DriftError(f"{printable(path)}: is a directory, not a data file") from None
        except OSError as exc:
            raise DriftError(f"{printable(path)}: cannot read it ({exc.strerror})") from None
        with handle:
            if path.is_dir():  # some platforms open directories
                raise DriftError(f"{printable(path)}: is a directory, not a data file")
            stream: IO[bytes] = gzip.GzipFile(fileobj=handle) if path.suffix == ".gz" else handle  # type: ignore[assignment]
            try:
                yield from _binary_lines(stream, printable(path), limit, cut)
            except IsADirectoryError:
                raise DriftError(f"{printable(path)}: is a directory, not a data file") from None
            except OSError as exc:
                raise DriftError(f"{printable(path)}: cannot read it ({exc})") from None

    return Source(str(path), lambda: bounded(MAX_REQUEST), bounded)


def bytes_source(name: str, chunks: Iterable[bytes]) -> Source:
    """A byte stream (e.g. an S3 body) as a source; gzip is detected by ``name``."""

    def bounded(limit: int, cut: bool = False) -> Iterator[str]:
        raw = io.BufferedReader(_ChunkReader(iter(chunks)), 1 << 16)
        stream: IO[bytes] = gzip.GzipFile(fileobj=raw) if name.endswith(".gz") else raw  # type: ignore[assignment]
        yield from _binary_lines(stream, printable(name), limit, cut)

    return Source(name, lambda: bounded(MAX_REQUEST), bounded)


class _ChunkReader(io.RawIOBase):
    """A read-only file object over an iterator of byte chunks (bounded buffering)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._buffer = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, target: Any) -> int:
        while not self._buffer:
            try:
                self._buffer = memoryview(next(self._chunks))
            except StopIteration:
                return 0
        size = min(len(target), len(self._buffer))
        target[:size] = self._buffer[:size]
        self._buffer = self._buffer[size:]
        return size


class _Lines:
    """The lines of one source, read with a length limit, counted (for messages) and measured
    (for batch bounds). ``record_start`` marks where the current CSV record began."""

    def __init__(self, source: Source, limit: int, cut: bool = False) -> None:
        self.name = printable(source.name)
        self.limit = limit
        self.number = 0
        self.chars = 0
        self.record_start = -1  # >= 0: a CSV record may not grow past MAX_RECORD from here
        if source.bounded is not None:
            self._lines: Iterator[str] = iter(source.bounded(limit, cut))
            self._checked = True
        else:
            self._lines = iter(source.lines())
            self._checked = False

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        line = next(self._lines)
        self.number += 1
        self.chars += len(line)
        if not self._checked and len(line.rstrip("\r\n")) > self.limit:
            raise DriftError(f"{self.name}:{self.number}: a line longer than {self.limit} bytes")
        if self.record_start >= 0 and self.chars - self.record_start > MAX_RECORD:
            raise DriftError(
                f"{self.name}:{self.number}: a CSV record longer than {MAX_RECORD} characters"
            )
        return line

    def where(self, number: int | None = None) -> str:
        return f"{self.name}:{self.number if number is None else number}"


def detect(source: Source) -> str:
    """The format of one source, from its name or its first non-empty line."""
    name = source.name.lower().removesuffix(".gz")
    if name.endswith((".csv", ".tsv")):
        return "csv"
    # The first line, cut at MAX_RECORD: a capture line can be longer, and detection must not
    # hold a 16 MiB line (then the keys that name a capture format are looked for as text).
    lines = _Lines(source, MAX_RECORD, cut=True)
    for line in lines:
        if not line.strip():
            continue
        try:
            first = json.loads(line)
        except (ValueError, RecursionError):
            if len(line) < MAX_RECORD or not line.lstrip().startswith("{"):
                return "csv"
            if '"captureData"' in line:
                return "sagemaker-capture"
            if '"specversion"' in line and '"data"' in line:
                return "azure-capture"
            return "jsonl"
        if isinstance(first, dict) and "captureData" in first:
            return "sagemaker-capture"
        if isinstance(first, dict) and "data" in first and "specversion" in first:
            return "azure-capture"
        return "jsonl"
    return "jsonl"


Batch = tuple[int, list[Sequence[Any]]]
"""``(rows, columns)``: a block of rows as columns aligned with the feature names."""


class Rows:
    """The rows of a read (sequences aligned with the feature names). Underneath they come in
    batches bounded by count, values and text; ``chunks()`` hands those batches over as they
    are (what ``build_baseline`` and ``Comparison.add`` consume)."""

    def __init__(self, batches: Iterator[Batch]) -> None:
        self._batches = batches

    def chunks(self) -> Iterator[list[Sequence[Any]]]:
        for count, columns in self._batches:
            yield list(zip(*columns, strict=True)) if columns else [()] * count

    def __iter__(self) -> Iterator[Sequence[Any]]:
        return chain.from_iterable(self.chunks())


def read(
    sources: Sequence[Source],
    fmt: str = "auto",
    features: Sequence[str] | None = None,
    columns: Columns | None = None,
) -> tuple[list[str], Rows]:
    """Feature names and the rows of all sources.

    ``features`` fixes the columns (the baseline's); without it they come from the CSV header
    or the keys of the first records. ``columns`` notes which of them the data had.
    """
    names, batches = read_batches(sources, fmt, features, columns)
    return names, Rows(batches)


def read_batches(
    sources: Sequence[Source],
    fmt: str = "auto",
    features: Sequence[str] | None = None,
    columns: Columns | None = None,
) -> tuple[list[str], Iterator[Batch]]:
    """Like ``read``, but blocks of rows as columns (what a check consumes).

    CSV blocks without quotes are split with ``str.split`` and sliced into columns, so no
    Python code runs per value; a block with quotes, blank lines or ``\r`` line ends goes
    through the ``csv`` module (from the first quote on, for the rest of its file, since a
    quoted value may span lines). Other formats are parsed record by record and batched.
    """
    if fmt not in FORMATS:
        raise DriftError(f"--format: must be one of {', '.join(FORMATS)}, got {printable(fmt)!r}")
    if not sources:
        raise DriftError("no data files given")
    formats = [detect(source) if fmt == "auto" else fmt for source in sources]
    if len(set(formats)) > 1:
        mixed = ", ".join(f"{printable(s.name)}={f}" for s, f in zip(sources, formats, strict=True))
        raise DriftError(f"data files mix formats ({mixed}); pass one --format")
    kind = formats[0]
    if features is not None and len(features) > MAX_COLUMNS:
        raise DriftError(f"{len(features)} features, more than {MAX_COLUMNS}")
    if kind == "csv":
        first = _first_header(sources[0])  # an empty first file is an error, as it always was
        names = list(features) if features is not None else first
        batches = chain.from_iterable(_csv_batches(source, names, columns) for source in sources)
        return names, batches
    return _json_batches(sources, kind, features, columns)


def row_batches(rows: Iterable[Sequence[Any]], width: int, size: int = BATCH) -> Iterator[Batch]:
    """Rows (each of exactly ``width`` values) in blocks of at most ``size`` rows and
    ``BLOCK_CELLS`` values, transposed into columns."""
    iterator = iter(rows)
    size = _rows_per_batch(width, size)
    while chunk := list(islice(iterator, size)):
        yield len(chunk), list(zip(*chunk, strict=True))


def _rows_per_batch(width: int, size: int = BATCH) -> int:
    return max(1, min(size, BLOCK_CELLS // max(width, 1)))


# ---------------------------------------------------------------------------------------------
# CSV


def _header(reader: Any, lines: _Lines) -> list[str] | None:
    """The header row of a CSV (None for an empty file), checked."""
    try:
        row = next(reader, None)
    except csv.Error as exc:
        raise _csv_error(exc, lines) from None
    if row is None:
        return None
    header = [column.strip() for column in row]
    where = lines.where(1)
    if not any(header):
        raise DriftError(f"{where}: the CSV header is empty")
    if len(header) > MAX_COLUMNS:
        raise DriftError(f"{where}: {len(header)} columns, more than {MAX_COLUMNS}")
    if max(map(len, header)) > MAX_FIELD:
        raise DriftError(f"{where}: a column name longer than {MAX_FIELD} characters")
    if len(set(header)) != len(header):
        repeated = sorted({name for name in header if header.count(name) > 1})
        raise DriftError(f"{where}: the CSV header repeats a column name ({names_list(repeated)})")
    return header


def _first_header(source: Source) -> list[str]:
    lines = _Lines(source, MAX_RECORD)
    header = _header(csv.reader(lines), lines)
    if header is None:
        raise DriftError(f"{lines.name}: empty file (a CSV needs a header row)")
    return header


def _csv_error(exc: csv.Error, lines: _Lines) -> DriftError:
    if "field larger than field limit" in str(exc):
        return DriftError(f"{lines.where()}: a value longer than {MAX_FIELD} characters")
    return DriftError(f"{lines.where()}: not valid CSV ({printable(exc, 80)})")


def _csv_batches(source: Source, names: Sequence[str], columns: Columns | None) -> Iterator[Batch]:
    lines = _Lines(source, MAX_RECORD)
    header = _header(csv.reader(lines), lines)  # consumes exactly the header's line(s)
    if header is None:  # an empty file: no rows (the first file's header is checked first)
        return
    if not set(header) & set(names):
        raise no_common_columns(names, header, lines.name)
    if columns is not None:
        columns.see(header)
    width = len(header)
    where = {column: i for i, column in enumerate(header)}
    picks = [where.get(name) for name in names]
    out_width = len(names)

    def remap(rows: Iterable[list[str]], first_line: int, reader: Any) -> Iterator[list[Any]]:
        for row in rows:
            lines.record_start = lines.chars
            if not row:  # a blank line
                continue
            if len(row) != width:
                number = first_line + reader.line_num
                raise DriftError(
                    f"{lines.where(number)}: {len(row)} values, the header has {width} "
                    "(rows must not be ragged)"
                )
            if max(map(len, row)) > MAX_FIELD:
                number = first_line + reader.line_num
                raise DriftError(
                    f"{lines.where(number)}: a value longer than {MAX_FIELD} characters"
                )
            yield [row[i] if i is not None else None for i in picks]

    def parsed(block: Iterable[str], first_line: int) -> Iterator[Batch]:
        reader = csv.reader(block)
        try:
            yield from row_batches(remap(reader, first_line, reader), out_width)
        except csv.Error as exc:
            raise _csv_error(exc, lines) from None
        finally:
            lines.record_start = -1

    rows_max = _rows_per_batch(width)
    while True:
        before = lines.number
        block: list[str] = []
        start = lines.chars
        for line in lines:
            block.append(line)
            if len(block) >= rows_max or lines.chars - start >= BLOCK_CHARS:
                break
        if not block:
            return
        text = "".join(block)
        if '"' in text:  # quoted values may span lines: the csv module for the rest
            lines.record_start = lines.chars - len(block[-1])
            yield from parsed(chain(block, lines), before)
            return
        flat = _split(text, block, width)
        if flat is None:
            yield from parsed(block, before)
            continue
        if max(map(len, block)) > MAX_FIELD and max(map(len, flat)) > MAX_FIELD:
            index = next(i for i, value in enumerate(flat) if len(value) > MAX_FIELD)
            raise DriftError(
                f"{lines.where(before + 1 + index // width)}: a value longer than "
                f"{MAX_FIELD} characters"
            )
        count = len(block)
        yield count, [flat[i::width] if i is not None else [None] * count for i in picks]


def _split(text: str, block: list[str], width: int) -> list[str] | None:
    """All values of a block of quote-free CSV lines, row after row; None unless every line
    has exactly ``width`` values and ends in ``\n`` (the last may have no line end)."""
    if width < 2 or "\r" in text or set(map(str.count, block, repeat(","))) != {width - 1}:
        return None  # (one column: a blank line would pass for a missing value)
    body = text[:-1] if text.endswith("\n") else text
    flat = body.replace("\n", ",").split(",")
    return flat if len(flat) == len(block) * width else None


# ---------------------------------------------------------------------------------------------
# JSON Lines and capture formats


class _Reading:
    """Where a JSON read is (for messages and batch bounds), and the width of positional rows."""

    def __init__(self, width: int | None) -> None:
        self.lines: _Lines | None = None
        self.chars = 0
        self.width = width

    def where(self) -> str:
        return self.lines.where() if self.lines is not None else "?"


def _json_batches(
    sources: Sequence[Source],
    kind: str,
    features: Sequence[str] | None,
    columns: Columns | None,
) -> tuple[list[str], Iterator[Batch]]:
    state = _Reading(len(features) if features is not None else None)
    records = _records(sources, kind, state, columns)
    blocks = _blocks(records, state)
    if features is None:
        first = next(blocks, [])
        names = _discover(first[:INFER_ROWS])
        blocks = chain([first], blocks)
    else:
        names = list(features)
    width = len(names)
    rows_max = _rows_per_batch(width)

    def batches() -> Iterator[Batch]:
        for block in blocks:
            for start in range(0, len(block), rows_max):
                part = block[start : start + rows_max]
                rows = [_align(record, names) for record in part]
                yield len(rows), list(zip(*rows, strict=True))

    return names, batches()


def _blocks(records: Iterator[Any], state: _Reading) -> Iterator[list[Any]]:
    """Records in lists of at most ``BATCH`` records and about ``BLOCK_CHARS`` of text."""
    while True:
        start = state.chars
        block: list[Any] = []
        for record in records:
            block.append(record)
            if len(block) >= BATCH or state.chars - start >= BLOCK_CHARS:
                break
        if not block:
            return
        yield block


def _discover(records: Sequence[Any]) -> list[str]:
    names: dict[str, None] = {}
    width = 0
    for record in records:
        if isinstance(record, dict):
            names.update(dict.fromkeys(record))
            if len(names) > MAX_COLUMNS:
                raise DriftError(f"the records have more than {MAX_COLUMNS} distinct keys")
        else:
            width = max(width, len(record))
    if not names and not width:
        raise DriftError("the data has no records")
    return list(names) or [f"f{i}" for i in range(width)]


def _align(record: Any, features: Sequence[str]) -> Sequence[Any]:
    if isinstance(record, dict):
        return [record.get(name) for name in features]
    return record  # positional (headerless CSV capture): already in feature order


def _json_lines(source: Source, state: _Reading, limit: int) -> Iterator[Any]:
    lines = _Lines(source, limit)
    state.lines = lines
    for line in lines:
        state.chars += len(line)
        if not line.strip():
            continue
        try:
            yield json.loads(line)
        except RecursionError:
            raise DriftError(f"{lines.where()}: not valid JSON (nested too deeply)") from None
        except ValueError as exc:
            message = getattr(exc, "msg", None) or str(exc)
            raise DriftError(
                f"{lines.where()}: not valid JSON ({printable(message, 80)})"
            ) from None


def _records(
    sources: Sequence[Source], kind: str, state: _Reading, columns: Columns | None
) -> Iterator[Any]:
    limit = MAX_RECORD if kind == "jsonl" else MAX_REQUEST
    for source in sources:
        for item in _json_lines(source, state, limit):
            if kind == "jsonl":
                if not isinstance(item, dict):
                    raise DriftError(f"{state.where()}: expected a JSON object per line")
                records: Iterable[Any] = (item,)
            elif kind == "sagemaker-capture":
                records = _sagemaker(item, state)
            else:
                records = _azure(item, state)
            for record in records:
                _check(record, state, columns)
                yield record


def _check(record: Any, state: _Reading, columns: Columns | None) -> None:
    """A record is flat (no object or list values), within the value bound, and a positional
    row has as many values as there are features."""
    if isinstance(record, dict):
        values: Iterable[Any] = record.values()
        if columns is not None:
            columns.see(record.keys())
    else:
        values = record
        if state.width is None:
            state.width = len(record)
        if len(record) != state.width:
            raise DriftError(
                f"{state.where()}: a row of {len(record)} values, expected {state.width} "
                "(positional rows map to the features by position)"
            )
        if columns is not None:
            columns.see_all()
    types = set(map(type, values))
    if types & _NESTED:
        raise DriftError(f"{state.where()}: a nested value (object or list): records must be flat")
    if str in types and max(len(v) for v in values if isinstance(v, str)) > MAX_FIELD:
        raise DriftError(f"{state.where()}: a value longer than {MAX_FIELD} characters")


def _sagemaker(item: Any, state: _Reading) -> Iterator[Any]:
    payload = item.get("captureData") if isinstance(item, dict) else None
    payload = payload.get("endpointInput") if isinstance(payload, dict) else None
    if not isinstance(payload, dict) or not isinstance(payload.get("data"), str):
        raise DriftError(
            f"{state.where()}: not a SageMaker capture record (captureData.endpointInput)"
        )
    data = payload["data"]
    encoding = payload.get("encoding", "CSV")
    content_type = payload.get("observedContentType", "")
    if not isinstance(encoding, str) or not isinstance(content_type, str):
        raise DriftError(
            f"{state.where()}: endpointInput.encoding/observedContentType must be text"
        )
    encoding = encoding.upper()
    if encoding == "BASE64":
        try:
            data = base64.b64decode(data).decode("utf-8")
        except (ValueError, binascii.Error, UnicodeDecodeError):
            raise DriftError(
                f"{state.where()}: endpointInput.data is not base64 UTF-8 text"
            ) from None
        encoding = "JSON" if "json" in content_type else "CSV"
    if encoding == "CSV":
        try:
            yield from (row for row in csv.reader(io.StringIO(data)) if row)
        except csv.Error as exc:
            raise DriftError(
                f"{state.where()}: endpointInput.data is not valid CSV ({exc})"
            ) from None
        return
    if encoding != "JSON":
        raise DriftError(
            f"{state.where()}: endpointInput.encoding {printable(encoding, 20)!r} is not CSV, JSON "
            "or BASE64"
        )
    try:
        parsed = json.loads(data)
    except (ValueError, RecursionError):
        raise DriftError(f"{state.where()}: endpointInput.data is not JSON") from None
    yield from _payload_records(parsed, state)


def _payload_records(parsed: Any, state: _Reading) -> Iterator[Any]:
    if isinstance(parsed, dict):
        for key in ("instances", "inputs", "data", "dataframe_records"):
            if isinstance(parsed.get(key), list):
                yield from _payload_records(parsed[key], state)
                return
        yield parsed
    elif isinstance(parsed, list):
        nested = [isinstance(entry, dict | list) for entry in parsed]
        if all(nested):
            yield from parsed
        elif not any(nested):  # one flat row of values
            yield parsed
        else:
            raise DriftError(f"{state.where()}: payload mixes records with plain values")
    else:
        raise DriftError(f"{state.where()}: payload is neither an object nor a list")


def _azure(item: Any, state: _Reading) -> Iterator[Any]:
    if not isinstance(item, dict) or "data" not in item:
        raise DriftError(f"{state.where()}: not an Azure ML data collector record (no data)")
    data = item["data"]
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except (ValueError, RecursionError):
            raise DriftError(f"{state.where()}: data is not JSON") from None
    yield from _payload_records(data, state)
