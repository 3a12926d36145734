"""Baselines, thresholds and the per-feature drift comparison (standard library only).

A baseline is built in one streaming pass over the training data:

- **numeric** features keep a fixed-size reservoir sample (16,384 values per feature, Vitter's
  algorithm L, seeded) plus exact count/missing/min/max/mean. At the end the sample's percentiles
  become up to 99 cut points (ties collapse), and the baseline stores the share of the sample in
  each of those bins. A served value is counted into the same bins with one ``bisect``.
- **categorical** features keep exact counts of up to 10,000 distinct values (later new values
  count as "other", which bounds memory on ID-like columns); the 1,000 most frequent are stored
  (at most 64 KiB of labels), the rest as ``other``.

The comparison then needs only bin counts, so a check is one pass with memory independent of the
data size. Metrics, per feature:

- **PSI** (population stability index) over about ten equal-mass bins of the baseline (groups of
  the fine bins) plus a "missing" bin: ``sum((a - e) * ln(a / e))`` with shares floored at 1e-4.
- **KS** (numeric): the Kolmogorov–Smirnov statistic evaluated at the baseline's cut points. The
  approximation: the true supremum can fall between two cut points, so the reported value is at
  most one fine bin's baseline mass (about 0.01) below the exact two-sample statistic; ties and
  the reservoir (exact below 16,384 rows) add sampling error of the same order.
- **Jensen–Shannon distance** (categorical): the square root of the JS divergence in bits
  (0 = same distribution, 1 = disjoint) over the stored categories, ``other`` and missing.

A feature drifts when its PSI exceeds ``psi`` or its distance exceeds ``ks`` / ``js`` **and**
the shift is significant: its p-value (KS and chi-square over the PSI bins for numeric features,
chi-square over the categories for categorical ones; ``drift.stats``) is below ``significance``
divided by the number of features checked (Bonferroni).
"""

from __future__ import annotations

import bisect
import datetime as dt
import json
import math
import random
import re
from array import array
from collections import Counter
from collections.abc import Iterable, Iterator, KeysView, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import chain, islice
from typing import Any

from mlops_iac.drift import stats, wire

BASELINE_SCHEMA = "mlops-iac/drift-baseline/v1"
REPORT_SCHEMA = "mlops-iac/drift-report/v1"

RESERVOIR = 16_384
FINE_BINS = 100
PSI_BINS = 10
TOP_CATEGORIES = 20
"""Categories a report shows and lists under ``shares`` (the most frequent in the baseline)."""
STORED_CATEGORIES = 1_000
"""Categories a baseline stores (the most frequent; the rest pool as ``other``): shifts among
categories beyond the top 20 are measured, not hidden in ``other``."""
STORED_LABEL_CHARS = 64 << 10
"""Characters of labels a baseline stores at most (bounds its size when labels are long)."""
NEW_CATEGORIES_MAX = 1_000
"""New categories a check counts by name (later ones are only counted)."""
OVERWHELMING = 100
"""Below ``minRows``, a feature is reported when its p-value is this many times below the level
a verdict needs (the asymptotic p-values are rough at small samples)."""
KIND_CHANGED = 0.5
"""Share of served values of the other kind above which a feature's kind has changed."""
MAX_DISTINCT = 10_000
INFER_ROWS = 1_000
CHUNK = 4_096
EPSILON = 1e-4

PSI_MAX = 10
"""The largest ``psi`` threshold (the stack file's limit; PSI over these bins stays below ~19)."""
MIN_ROWS_MAX = 100_000_000
"""The largest ``minRows`` (the stack file's limit): a larger one would never give a verdict."""
MAX_LABEL_CHARS = 16 << 20
"""Characters of distinct categorical labels a baseline keeps counting (later new ones count
as "other", like ``MAX_DISTINCT``): bounds memory when every value is a long unique string."""
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
ECHO_MAX = 120

# Text that means "no value" in CSV exports (pandas/R write NA, Spark writes null).
MISSING = frozenset({"", "NA", "N/A", "NaN", "nan", "null", "NULL", "None", "none"})


class DriftError(ValueError):
    """Bad input to the drift job: the message is one line naming what is wrong."""


def printable(text: object, limit: int = ECHO_MAX) -> str:
    """``text`` safe to print on a terminal or in a log: control, line-break and bidi characters
    escaped (``\\x1b``), length capped (the idea of ``components.stackyaml.printable``; this
    package imports only the standard library). Column names and values come from the data."""
    raw = str(text)
    escaped = _CONTROL.sub(_escape, raw[:limit])
    if len(raw) > limit:
        escaped += f"… ({len(raw) - limit} more characters)"
    return escaped


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _shown(value: object) -> str:
    return printable(repr(value), 40)


def names_list(names: Iterable[str], limit: int = 10) -> str:
    """Up to ``limit`` names, escaped and comma-separated (", … N more" after them)."""
    names = list(names)
    shown = ", ".join(printable(name, 60) for name in names[:limit])
    return shown + (f", … {len(names) - limit} more" if len(names) > limit else "")


@dataclass(frozen=True)
class Thresholds:
    """When a feature counts as drifted, and how much traffic a verdict needs."""

    psi: float = wire.PSI
    """PSI above this is drift. Default 0.2 (the usual "significant shift" level)."""
    ks: float = wire.KS
    """KS statistic above this is drift (numeric). Default 0.1."""
    js: float = wire.JENSEN_SHANNON
    """Jensen–Shannon distance (base 2) above this is drift (categorical). Default 0.1."""
    min_rows: int = wire.MIN_ROWS
    """Fewer served rows than this gives ``insufficient-data``, not a verdict. Default 1000."""
    significance: float = wire.SIGNIFICANCE
    """Significance level of the whole check (Bonferroni-divided among the features): a shift
    beyond a threshold is drift only when this unlikely under no drift. Default 0.05."""
    drift_share: float = wire.DRIFT_SHARE
    """Share of drifted features from which the dataset as a whole has drifted (evidently's
    ``drift_share``). Default 0.5."""
    features: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    """Per-feature thresholds (``psi``, ``ks``, ``jensenShannon``) replacing the defaults."""
    exclude: tuple[str, ...] = ()
    """Features not checked."""

    _KEYS = {
        "psi": "psi",
        "ks": "ks",
        "jensenShannon": "js",
        "js": "js",
        "minRows": "min_rows",
        "significance": "significance",
        "driftShare": "drift_share",
        "features": "features",
        "exclude": "exclude",
    }
    _FEATURE_KEYS = {"psi": ("psi", PSI_MAX), "ks": ("ks", 1), "jensenShannon": ("js", 1)}

    def for_feature(self, name: str) -> tuple[float, float, float]:
        """``(psi, ks, js)`` for one feature: its own thresholds, else the defaults."""
        own = self.features.get(name, {})
        return (own.get("psi", self.psi), own.get("ks", self.ks), own.get("jensenShannon", self.js))

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], where: str = "thresholds") -> Thresholds:
        """Thresholds from camelCase keys (``psi``, ``ks``, ``jensenShannon``, ``minRows``)."""
        values: dict[str, Any] = {}
        for key, value in data.items():
            if key not in cls._KEYS:
                raise DriftError(f"{where}.{key}: unknown key")
            values[cls._KEYS[key]] = (
                tuple(value) if key == "exclude" and isinstance(value, list) else value
            )
        return cls(**values).validated(where)

    def validated(self, where: str = "thresholds") -> Thresholds:
        """Self, after checking every value is finite and in range (raises ``DriftError`` naming
        the key): ``psi`` in (0, 10], ``ks`` and ``jensenShannon`` in (0, 1], ``minRows`` an
        integer in [1, 100,000,000]. The ranges are the stack file's; NaN or infinity would
        switch detection off, so they are refused, never read as "no drift"."""
        for key, name, high in (
            ("psi", "psi", PSI_MAX),
            ("ks", "ks", 1),
            ("js", "jensenShannon", 1),
            ("significance", "significance", 0.5),
            ("drift_share", "driftShare", 1),
        ):
            _in_range(getattr(self, key), f"{where}.{name}", high)
        if not isinstance(self.features, Mapping):
            raise DriftError(f"{where}.features: must be an object of feature names")
        for feature, own in self.features.items():
            at = f"{where}.features.{printable(feature, 60)}"
            if not isinstance(own, Mapping):
                raise DriftError(f"{at}: must be an object (psi, ks, jensenShannon)")
            for key, value in own.items():
                if key not in self._FEATURE_KEYS:
                    raise DriftError(f"{at}.{printable(key, 60)}: unknown key")
                _in_range(value, f"{at}.{key}", self._FEATURE_KEYS[key][1])
        if not isinstance(self.exclude, tuple) or not all(
            isinstance(name, str) for name in self.exclude
        ):
            raise DriftError(f"{where}.exclude: must be a list of feature names")
        if isinstance(self.min_rows, bool) or not isinstance(self.min_rows, int):
            raise DriftError(f"{where}.minRows: must be an integer, got {_shown(self.min_rows)}")
        if not 1 <= self.min_rows <= MIN_ROWS_MAX:
            raise DriftError(
                f"{where}.minRows: must be >= 1 and <= {MIN_ROWS_MAX}, got {self.min_rows}"
            )
        return self

    def as_dict(self) -> dict[str, Any]:
        return {
            "psi": self.psi,
            "ks": self.ks,
            "jensenShannon": self.js,
            "jensenShannonBase": 2,
            "minRows": self.min_rows,
            "significance": self.significance,
            "driftShare": self.drift_share,
            "features": {name: dict(own) for name, own in self.features.items()},
            "exclude": list(self.exclude),
        }


def _in_range(value: Any, where: str, high: float) -> None:
    """Refuse anything but a finite number in (0, ``high``]: NaN or infinity would switch
    detection off, so they are refused, never read as "no drift"."""
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or not 0 < value <= high
    ):
        raise DriftError(f"{where}: must be a number > 0 and <= {high}, got {_shown(value)}")


# ---------------------------------------------------------------------------------------------
# Building a baseline


def _number(value: Any) -> float | None:
    """A finite float, or None for anything missing or not a number."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def numbers_of(column: Sequence[Any]) -> list[float]:
    """The finite numbers of a column, missing and unparsable values dropped (fast path in C)."""
    try:
        numbers = list(map(float, column))
    except (TypeError, ValueError):
        numbers = [n for n in map(_number, column) if n is not None]
    if not all(map(math.isfinite, numbers)):
        numbers = [n for n in numbers if math.isfinite(n)]
    return numbers


def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float):
        return not math.isfinite(value)
    return isinstance(value, str) and value.strip() in MISSING


def category(value: Any) -> str | None:
    """The category label of a raw value (None when missing); JSON and CSV spell them alike."""
    if _is_missing(value):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


class _Reservoir:
    """A uniform sample of at most ``size`` values (Vitter's algorithm L: O(size) memory)."""

    def __init__(self, size: int, rng: random.Random) -> None:
        self.size = size
        self.values = array("d")
        self.seen = 0
        self._rng = rng
        self._w = math.exp(math.log(rng.random() or 1e-12) / size)
        self._next = size + self._skip()

    def _skip(self) -> int:
        return int(math.log(self._rng.random() or 1e-12) / math.log(1 - self._w))

    def extend(self, values: Sequence[float]) -> None:
        """Offer a batch of values; only the replacement events cost Python-level work."""
        room = self.size - len(self.values)
        if room > 0:
            self.values.extend(values[:room])
        end = self.seen + len(values)
        while self._next < end:
            self.values[self._rng.randrange(self.size)] = values[self._next - self.seen]
            self._w *= math.exp(math.log(self._rng.random() or 1e-12) / self.size)
            self._next += self._skip() + 1
        self.seen = end


@dataclass
class _NumericProfile:
    reservoir: _Reservoir
    count: int = 0
    missing: int = 0
    total: float = 0.0
    low: float = math.inf
    high: float = -math.inf

    def add_column(self, column: Sequence[Any]) -> None:
        numbers = numbers_of(column)
        self.count += len(column)
        self.missing += len(column) - len(numbers)
        if not numbers:
            return
        self.reservoir.extend(numbers)
        self.total += math.fsum(numbers)
        self.low = min(self.low, min(numbers))
        self.high = max(self.high, max(numbers))

    def result(self) -> dict[str, Any]:
        sample = sorted(self.reservoir.values)
        present = self.count - self.missing
        if not sample:
            return {"kind": "numeric", "count": self.count, "missing": self.missing, "edges": [],
                    "proportions": [1.0], "min": None, "max": None, "mean": None}  # fmt: skip
        size = len(sample)
        cuts = sorted({sample[min(size - 1, (q * size) // FINE_BINS)] for q in range(1, FINE_BINS)})
        # The top cut point equal to the maximum would leave an always-empty last bin.
        if cuts and cuts[-1] >= sample[-1]:
            cuts.pop()
        counts = [0] * (len(cuts) + 1)
        for value in sample:
            counts[bisect.bisect_left(cuts, value)] += 1
        return {
            "kind": "numeric",
            "count": self.count,
            "missing": self.missing,
            "edges": cuts,
            "proportions": [c / size for c in counts],
            "min": self.low,
            "max": self.high,
            "mean": self.total / present if present else None,
            "sampled": size < present,
        }


@dataclass
class _CategoricalProfile:
    counts: dict[str, int] = field(default_factory=dict)
    count: int = 0
    missing: int = 0
    overflow: int = 0
    label_chars: int = 0

    def add_column(self, column: Sequence[Any]) -> None:
        counts = self.counts
        self.count += len(column)
        for value, seen in Counter(column).items():  # Counter counts in C; labels per distinct
            label = category(value)
            if label is None:
                self.missing += seen
            elif label in counts:
                counts[label] += seen
            elif len(counts) < MAX_DISTINCT and self.label_chars + len(label) <= MAX_LABEL_CHARS:
                counts[label] = seen
                self.label_chars += len(label)
            else:
                self.overflow += seen

    def result(self) -> dict[str, Any]:
        present = self.count - self.missing
        ranked = sorted(self.counts.items(), key=lambda kv: (-kv[1], kv[0]))
        top: list[tuple[str, int]] = []
        chars = 0
        for label, n in ranked[:STORED_CATEGORIES]:
            chars += len(label)
            if chars > STORED_LABEL_CHARS and len(top) >= TOP_CATEGORIES:
                break
            top.append((label, n))
        kept = sum(n for _, n in top)
        return {
            "kind": "categorical",
            "count": self.count,
            "missing": self.missing,
            "categories": {label: n / present for label, n in top} if present else {},
            "other": (present - kept) / present if present else 0.0,
            "distinct": len(self.counts) + (1 if self.overflow else 0),
            "distinctCapped": bool(self.overflow),
        }


def _infer_kinds(
    features: Sequence[str], rows: Sequence[Sequence[Any]], categorical: Iterable[str]
) -> list[str]:
    """``numeric`` when every present value in the first rows parses as a number."""
    forced = set(categorical)
    kinds = []
    for index, name in enumerate(features):
        if name in forced:
            kinds.append("categorical")
            continue
        present = [row[index] for row in rows if not _is_missing(row[index])]
        numeric = bool(present) and all(_number(value) is not None for value in present)
        kinds.append("numeric" if numeric else "categorical")
    return kinds


def _chunks(rows: Iterable[Sequence[Any]], size: int = CHUNK) -> Iterator[list[Sequence[Any]]]:
    """Batches of ``size`` rows; ``islice`` pulls them in C (no Python work per row). Rows from
    the readers come in batches already bounded by size too (their ``chunks()``), kept as they
    are so a few huge records never make one huge batch."""
    chunked = getattr(rows, "chunks", None)
    if chunked is not None:
        yield from chunked()
        return
    iterator = iter(rows)
    while chunk := list(islice(iterator, size)):
        yield chunk


def _columns(chunk: list[Sequence[Any]], width: int) -> list[tuple[Any, ...]]:
    """A batch of rows transposed into ``width`` columns (short rows padded, long ones cut)."""
    if set(map(len, chunk)) != {width}:  # the usual case costs one C pass over the lengths
        chunk = [_fit(row, width) for row in chunk]
    return list(zip(*chunk, strict=True))


def build_baseline(
    features: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    categorical: Iterable[str] = (),
    dataset_version: str | None = None,
    source: Sequence[str] = (),
    seed: int = 0,
) -> dict[str, Any]:
    """Profile rows (sequences aligned with ``features``) into a baseline document."""
    chunks = _chunks(rows)
    first = next(chunks, [])  # its first INFER_ROWS rows infer the kinds (one bounded batch)
    head = first[:INFER_ROWS]
    if not head:
        raise DriftError("the training data has no rows")
    kinds = _infer_kinds(features, [_fit(row, len(features)) for row in head], categorical)
    rng = random.Random(seed)
    profiles: list[_NumericProfile | _CategoricalProfile] = [
        _NumericProfile(_Reservoir(RESERVOIR, rng)) if kind == "numeric" else _CategoricalProfile()
        for kind in kinds
    ]
    total = 0
    width = len(features)
    for chunk in chain([first], chunks):
        total += len(chunk)
        columns = _columns(chunk, width)
        for profile, column in zip(profiles, columns, strict=True):
            profile.add_column(column)
    return {
        "schema": BASELINE_SCHEMA,
        "createdAt": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "datasetVersion": dataset_version,
        "source": list(source),
        "rows": total,
        "features": {
            name: profile.result() for name, profile in zip(features, profiles, strict=True)
        },
    }


def _fit(row: Sequence[Any], width: int) -> Sequence[Any]:
    """A row of exactly ``width`` values (short rows padded with missing, long ones cut)."""
    if len(row) == width:
        return row
    return (list(row) + [None] * width)[:width]


MAX_BASELINE_BYTES = 64 << 20
"""The largest baseline document read (a real one is about 3 KB per feature)."""


def read_limited(read: Any, limit: int = MAX_BASELINE_BYTES) -> bytes:
    """Up to ``limit + 1`` bytes from ``read(n)`` (a file's, an HTTP or S3 body's), in 1 MiB
    reads: one ``read(limit + 1)`` would allocate the whole limit up front."""
    parts: list[bytes] = []
    size = 0
    while size <= limit and (part := read(min(1 << 20, limit + 1 - size))):
        parts.append(part)
        size += len(part)
    return b"".join(parts)


def parse_baseline(raw: bytes, where: str = "baseline") -> dict[str, Any]:
    """A baseline from the bytes of its file or object, checked (``load_baseline``): at most
    ``MAX_BASELINE_BYTES``, UTF-8 (a byte-order mark is accepted), JSON with no key repeated
    in one object (a repeated key would let a reviewer and the job read different values)."""
    if len(raw) > MAX_BASELINE_BYTES:
        raise DriftError(f"{where}: larger than {MAX_BASELINE_BYTES} bytes, not a baseline")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DriftError(f"{where}: not UTF-8 text") from None
    try:
        data = json.loads(text, object_pairs_hook=_unique_keys)
    except _RepeatedKey as exc:
        raise DriftError(f"{where}: the key {exc.args[0]!r} appears twice in one object") from None
    except RecursionError:
        raise DriftError(f"{where}: not valid JSON (nested too deeply)") from None
    except ValueError as exc:
        line = getattr(exc, "lineno", None)
        message = getattr(exc, "msg", None) or str(exc)
        at = f"{where}:{line}" if line else where
        raise DriftError(f"{at}: not valid JSON ({printable(message, 80)})") from None
    return load_baseline(data, where)


class _RepeatedKey(ValueError):
    pass


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _RepeatedKey(printable(key, 60))
            seen.add(key)
    return result


_TOP_KEYS = {"schema", "createdAt", "datasetVersion", "source", "rows", "features"}
_PROFILE_KEYS = {
    "numeric": {
        "kind",
        "count",
        "missing",
        "edges",
        "proportions",
        "min",
        "max",
        "mean",
        "sampled",
    },
    "categorical": {
        "kind",
        "count",
        "missing",
        "categories",
        "other",
        "distinct",
        "distinctCapped",
    },
}
_OPTIONAL = {"sampled", "createdAt", "source", "datasetVersion"}
_SUM_TOLERANCE = 1e-6
MAX_FEATURES = 10_000
"""Features a baseline may have (a check aligns every served row with them)."""


def load_baseline(data: Any, where: str = "baseline") -> dict[str, Any]:
    """Check a parsed baseline document; returns it (raises ``DriftError`` naming the field).

    Everything a check computes with is checked, so a tampered or damaged baseline is an error,
    never a quiet verdict: the schema version, every field's type, counts (integers >= 0,
    ``missing`` <= ``count``), bin edges (finite, strictly increasing, at most 99), shares
    (finite, in [0, 1], summing to 1), statistics (finite or null); no unknown or missing fields.
    """
    if not isinstance(data, dict):
        raise DriftError(
            f"{where}: not a drift baseline (a JSON object with schema {BASELINE_SCHEMA})"
        )
    schema = data.get("schema")
    if schema != BASELINE_SCHEMA:
        raise DriftError(
            f"{where}.schema: unknown version {_shown(schema)} (expected {BASELINE_SCHEMA}): "
            "not a drift baseline"
        )
    _keys(data, _TOP_KEYS, where)
    _count(data, "rows", where)
    if data.get("datasetVersion") is not None and not isinstance(data["datasetVersion"], str):
        raise DriftError(f"{where}.datasetVersion: must be a string or null")
    if data.get("createdAt") is not None and not isinstance(data["createdAt"], str):
        raise DriftError(f"{where}.createdAt: must be a string")
    source = data.get("source", [])
    if not isinstance(source, list) or not all(isinstance(name, str) for name in source):
        raise DriftError(f"{where}.source: must be a list of file names")
    features = data["features"]
    if not isinstance(features, dict) or not features:
        raise DriftError(f"{where}.features: must be a non-empty object")
    if len(features) > MAX_FEATURES:
        raise DriftError(f"{where}.features: {len(features)} features, more than {MAX_FEATURES}")
    for name, profile in features.items():
        at = f"{where}.features.{printable(name, 60)}"
        kind = profile.get("kind") if isinstance(profile, dict) else None
        if kind not in _PROFILE_KEYS:
            raise DriftError(f"{at}.kind: must be numeric or categorical")
        _keys(profile, _PROFILE_KEYS[kind], at)
        count = _count(profile, "count", at)
        missing = _count(profile, "missing", at)
        if missing > count:
            raise DriftError(f"{at}.missing: {missing} is more than count ({count})")
        if kind == "numeric":
            _numeric_profile(profile, at)
        else:
            _categorical_profile(profile, at)
    return data


def _keys(data: Mapping[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise DriftError(f"{where}.{printable(unknown[0], 60)}: unknown field")
    missing = sorted(allowed - _OPTIONAL - set(data))
    if missing:
        raise DriftError(f"{where}.{missing[0]}: missing")


def _count(data: Mapping[str, Any], key: str, where: str) -> int:
    value = data[key]
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 1 << 63:
        raise DriftError(f"{where}.{key}: must be an integer >= 0, got {_shown(value)}")
    return value


def _finite(value: Any, where: str, *, share: bool = False, null: bool = False) -> float | None:
    if value is None and null:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        kind = "a share in [0, 1]" if share else "a finite number" + (" or null" if null else "")
        raise DriftError(f"{where}: must be {kind}, got {_shown(value)}")
    if share and not 0 <= value <= 1:
        raise DriftError(f"{where}: must be a share in [0, 1], got {_shown(value)}")
    return float(value)


def _shares(values: Sequence[Any], where: str) -> float:
    """The sum of a list of shares (each checked)."""
    return math.fsum(_finite(v, f"{where}[{i}]", share=True) or 0.0 for i, v in enumerate(values))


def _numeric_profile(profile: Mapping[str, Any], at: str) -> None:
    edges, proportions = profile["edges"], profile["proportions"]
    if not isinstance(edges, list) or len(edges) > FINE_BINS - 1:
        raise DriftError(f"{at}.edges: must be a list of at most {FINE_BINS - 1} numbers")
    if not isinstance(proportions, list) or len(proportions) != len(edges) + 1:
        raise DriftError(
            f"{at}.proportions: must be a list of len(edges) + 1 = {len(edges) + 1} shares"
        )
    previous = -math.inf
    for index, edge in enumerate(edges):
        value = _finite(edge, f"{at}.edges[{index}]")
        assert value is not None
        if value <= previous:
            raise DriftError(f"{at}.edges[{index}]: the edges must be strictly increasing")
        previous = value
    total = _shares(proportions, f"{at}.proportions")
    if abs(total - 1) > _SUM_TOLERANCE:
        raise DriftError(
            f"{at}.proportions: the shares must add up to 1, they add up to {total:.6g}"
        )
    for key in ("min", "max", "mean"):
        _finite(profile[key], f"{at}.{key}", null=True)
    if "sampled" in profile and not isinstance(profile["sampled"], bool):
        raise DriftError(f"{at}.sampled: must be true or false")


def _categorical_profile(profile: Mapping[str, Any], at: str) -> None:
    categories = profile["categories"]
    if not isinstance(categories, dict) or len(categories) > STORED_CATEGORIES:
        raise DriftError(
            f"{at}.categories: must be an object of at most {STORED_CATEGORIES} shares"
        )
    total = _shares(list(categories.values()), f"{at}.categories") + (
        _finite(profile["other"], f"{at}.other", share=True) or 0.0
    )
    present = profile["count"] - profile["missing"]
    if present and abs(total - 1) > _SUM_TOLERANCE:
        raise DriftError(
            f"{at}.categories: the shares and other must add up to 1, they add up to {total:.6g}"
        )
    if not present and total:
        raise DriftError(
            f"{at}.categories: no value was present (count = missing), yet shares are set"
        )
    _count(profile, "distinct", at)
    if not isinstance(profile["distinctCapped"], bool):
        raise DriftError(f"{at}.distinctCapped: must be true or false")


# ---------------------------------------------------------------------------------------------
# Checking served data against a baseline


class _NumericCheck:
    def __init__(self, profile: Mapping[str, Any]) -> None:
        self.profile = profile
        self.edges: list[float] = list(profile["edges"])
        self.expected: list[float] = list(profile["proportions"])
        count = profile.get("count") or 0
        self.expected_missing = (profile.get("missing") or 0) / count if count else 0.0
        # The bins' shares come from the baseline's sample (at most RESERVOIR values): the
        # tests count the reference as that many values, never more.
        present = count - (profile.get("missing") or 0)
        self.reference_present = min(present, RESERVOIR)
        self.reference_rows = min(count, RESERVOIR)
        self.counts = [0] * (len(self.edges) + 1)
        self.missing = 0
        self.unparsable = 0
        self.sum_parts: list[float] = []
        self.low = math.inf
        self.high = -math.inf
        # Served values outside the baseline's range, for the histogram's outer bars.
        self.below = self.above = 0
        self.range = (profile["min"], profile["max"])

    def add_column(self, column: Sequence[Any]) -> None:
        numbers = numbers_of(column)
        numbers.sort()
        gaps = len(column) - len(numbers)
        self.missing += gaps
        if gaps:  # values that are there but are no numbers: a sign the column changed kind
            self.unparsable += gaps - sum(1 for value in column if _is_missing(value))
        if numbers:
            self._add_sum(math.fsum(numbers), numbers)
            self.low = min(self.low, numbers[0])
            self.high = max(self.high, numbers[-1])
            low, high = self.range
            if low is not None and numbers[0] < low:
                self.below += bisect.bisect_left(numbers, low)
            if high is not None and numbers[-1] > high:
                self.above += len(numbers) - bisect.bisect_right(numbers, high)
        # Sorted batch: one bisect per cut point instead of one per value.
        previous = 0
        counts, where = self.counts, bisect.bisect_right  # bin i holds (edge[i-1], edge[i]]
        for index, edge in enumerate(self.edges):
            position = where(numbers, edge, previous)
            counts[index] += position - previous
            previous = position
        counts[-1] += len(numbers) - previous

    def _add_sum(self, total: float, numbers: Sequence[float] = ()) -> None:
        """Keep the sum as float pairs (value, rounding error) so that counting in parts gives
        the same mean as counting in one pass, to the last digit."""
        parts = self.sum_parts
        parts.append(total)
        if numbers:
            parts.append(math.fsum([*numbers, -total]))
        if len(parts) > 64:
            head = math.fsum(parts)
            self.sum_parts = [head, math.fsum([*parts, -head])]

    @property
    def total(self) -> float:
        return math.fsum(self.sum_parts)

    def extra(self) -> dict[str, Any]:
        low, high = self.low, self.high
        return {
            "unparsable": self.unparsable,
            "below": self.below,
            "above": self.above,
            "sum": self.sum_parts,
            "min": low if math.isfinite(low) else None,
            "max": high if math.isfinite(high) else None,
        }

    def merge_extra(self, extra: Mapping[str, Any]) -> None:
        self.unparsable += int(extra["unparsable"])
        self.below += int(extra["below"])
        self.above += int(extra["above"])
        for part in extra["sum"]:
            self._add_sum(float(part))
        if extra["min"] is not None:
            self.low = min(self.low, float(extra["min"]))
            self.high = max(self.high, float(extra["max"]))

    def result(
        self, thresholds: Thresholds, name: str = "", level: float | None = None
    ) -> dict[str, Any]:
        """The metrics, p-values and verdict of this feature; ``level`` is the p-value below
        which a shift beyond a threshold is drift (default: the check's significance)."""
        psi_t, ks_t, _ = thresholds.for_feature(name)
        level = thresholds.significance if level is None else level
        present = sum(self.counts)
        rows = present + self.missing
        actual = [c / present for c in self.counts] if present else [0.0] * len(self.counts)
        ks = 0.0
        cdf_e = cdf_a = 0.0
        for e, a in zip(self.expected, actual, strict=True):
            cdf_e += e
            cdf_a += a
            ks = max(ks, abs(cdf_e - cdf_a))
        if not present:
            ks = 1.0 if self.expected_missing < 1 else 0.0
        groups = _psi_groups(self.expected)
        exp_bins = [sum(self.expected[i] for i in g) for g in groups]
        act_bins = [sum(actual[i] for i in g) for g in groups]
        expected_all, actual_all = _with_missing(
            exp_bins, act_bins, self.expected_missing, self.missing, rows
        )
        psi = _psi(expected_all, actual_all)
        p_ks = stats.ks_pvalue(ks, self.reference_present, present) if present else 1.0
        _, _, p_chi = stats.chi2_homogeneity(
            [share * self.reference_rows for share in expected_all],
            [*(sum(self.counts[i] for i in g) for g in groups), self.missing],
        )
        p_value = min(1.0, 2 * min(p_ks, p_chi))  # two tests of one feature: Bonferroni
        metrics = {"psi": (psi, psi_t), "ks": (ks, ks_t)}
        result = {
            "kind": "numeric",
            "rows": rows,
            "missing": self.missing,
            "psi": round(psi, 6),
            "ks": round(ks, 6),
            "pValue": _p(p_value),
            "pValues": {"ks": _p(p_ks), "chiSquare": _p(p_chi)},
            **_decide(metrics, p_value, level),
        }
        if self.unparsable:
            result["notNumbers"] = self.unparsable
        return result

    def kind_changed(self) -> bool:
        seen = sum(self.counts) + self.unparsable
        return bool(seen) and self.unparsable > KIND_CHANGED * seen

    def statistics(self) -> dict[str, Any]:
        """Reference and current count, missing share, mean, quantiles, and both histograms
        over equal-width groups of the baseline's bins (the same bins for both)."""
        profile = self.profile
        present = sum(self.counts)
        rows = present + self.missing
        low, high = profile["min"], profile["max"]
        current_low = self.low if present else None
        current_high = self.high if present else None
        reference = {
            "count": profile["count"],
            "missingShare": _share(profile["missing"], profile["count"]),
            "mean": _round(profile["mean"]),
            "min": _round(low),
            "max": _round(high),
            "quantiles": _quantiles(self.expected, self.edges, low, high),
        }
        current = {
            "count": rows,
            "missingShare": _share(self.missing, rows),
            "mean": _round(self.total / present) if present else None,
            "min": _round(current_low),
            "max": _round(current_high),
            "quantiles": _quantiles(
                [c / present for c in self.counts] if present else [],
                self.edges,
                min(low, current_low) if low is not None and current_low is not None else None,
                max(high, current_high) if high is not None and current_high is not None else None,
            ),
        }
        return {"reference": reference, "current": current, "histogram": self._histogram()}

    def _histogram(self) -> dict[str, Any] | None:
        low, high = self.profile["min"], self.profile["max"]
        present = sum(self.counts)
        if low is None or high is None or not high > low:
            return None
        width = (high - low) / HISTOGRAM_BINS
        reference = [0.0] * HISTOGRAM_BINS
        current = [0.0] * HISTOGRAM_BINS
        bounds = [low, *self.edges, high]
        counts = list(self.counts)
        counts[0] -= self.below  # the outer fine bins are open-ended for served values
        counts[-1] -= self.above
        for index, (share, count) in enumerate(zip(self.expected, counts, strict=True)):
            middle = (bounds[index] + max(bounds[index], bounds[index + 1])) / 2
            slot = min(HISTOGRAM_BINS - 1, max(0, int((middle - low) / width)))
            reference[slot] += share
            current[slot] += count / present if present else 0.0
        return {
            "edges": [_round(low + i * width) for i in range(HISTOGRAM_BINS + 1)],
            "reference": [round(v, 6) for v in reference],
            "current": [round(v, 6) for v in current],
            "currentBelow": round(self.below / present, 6) if present else 0.0,
            "currentAbove": round(self.above / present, 6) if present else 0.0,
        }


HISTOGRAM_BINS = 20
"""Bars of a numeric feature's histogram in a report."""
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


def _quantiles(
    shares: Sequence[float], edges: Sequence[float], low: float | None, high: float | None
) -> dict[str, float | None]:
    if low is None or high is None or not shares:
        return {f"{round(q * 100)}%": None for q in QUANTILES}
    return {
        f"{round(q * 100)}%": _round(stats.quantile(shares, edges, low, high, q)) for q in QUANTILES
    }


def _round(value: float | None) -> float | None:
    return None if value is None else float(f"{value:.6g}")


def _share(part: int, whole: int) -> float:
    return round(part / whole, 6) if whole else 0.0


def _p(value: float) -> float:
    return float(f"{value:.4g}")


def _decide(
    metrics: Mapping[str, tuple[float, float]], p_value: float, level: float
) -> dict[str, Any]:
    """Drift when a metric exceeds its threshold and the shift is significant (NaN: drift).
    The deciding metric is the one furthest beyond (or closest to) its threshold."""
    exceeded = [name for name, (value, limit) in metrics.items() if not value <= limit]
    broken = any(not math.isfinite(value) for value, _ in metrics.values())
    significant = broken or not p_value >= level
    decider = max(
        metrics,
        key=lambda name: (
            math.inf if not math.isfinite(metrics[name][0]) else metrics[name][0] / metrics[name][1]
        ),
    )
    if exceeded and not broken:
        decider = max(exceeded, key=lambda name: metrics[name][0] / metrics[name][1])
    value, limit = metrics[decider]
    return {
        "drifted": bool(exceeded) and significant,
        "decidedBy": {
            "metric": decider,
            "value": round(value, 6),
            "threshold": limit,
            "pValue": _p(p_value),
            "significance": float(f"{level:.4g}"),
        },
    }


class _CategoricalCheck:
    def __init__(self, profile: Mapping[str, Any]) -> None:
        self.profile = profile
        self.labels = list(profile["categories"])
        self.index = {label: i for i, label in enumerate(self.labels)}
        self.expected = [float(profile["categories"][label]) for label in self.labels] + [
            float(profile["other"])
        ]
        count = profile.get("count") or 0
        self.reference_rows = count
        self.expected_missing = (profile.get("missing") or 0) / count if count else 0.0
        # Every category of the training data is stored: a label not among them is new.
        self.complete = not profile["distinctCapped"] and profile["distinct"] == len(self.labels)
        # No stored label is a number: served numbers mean the column changed kind.
        self.textual = bool(self.labels) and all(_number(label) is None for label in self.labels)
        self.counts = [0] * (len(self.labels) + 1)
        self.missing = 0
        self.new: dict[str, int] = {}
        self.new_more = 0
        self.numbers_new = 0

    def add_column(self, column: Sequence[Any]) -> None:
        index, counts, other = self.index, self.counts, len(self.labels)
        for value, seen in Counter(column).items():
            label = category(value)
            if label is None:
                self.missing += seen
                continue
            position = index.get(label, other)
            counts[position] += seen
            if position == other:
                self._unknown(label, seen)

    def _unknown(self, label: str, seen: int) -> None:
        if self.textual and _number(label) is not None:
            self.numbers_new += seen
        if not self.complete:
            return
        if label in self.new:
            self.new[label] += seen
        elif len(self.new) < NEW_CATEGORIES_MAX:
            self.new[label] = seen
        else:
            self.new_more += seen

    def extra(self) -> dict[str, Any]:
        return {"new": self.new, "newMore": self.new_more, "numbersNew": self.numbers_new}

    def merge_extra(self, extra: Mapping[str, Any]) -> None:
        for label, seen in extra["new"].items():
            if label in self.new or len(self.new) < NEW_CATEGORIES_MAX:
                self.new[label] = self.new.get(label, 0) + int(seen)
            else:
                self.new_more += int(seen)
        self.new_more += int(extra["newMore"])
        self.numbers_new += int(extra["numbersNew"])

    def result(
        self, thresholds: Thresholds, name: str = "", level: float | None = None
    ) -> dict[str, Any]:
        """The metrics, p-value and verdict of this feature (see ``_NumericCheck.result``)."""
        psi_t, _, js_t = thresholds.for_feature(name)
        level = thresholds.significance if level is None else level
        present = sum(self.counts)
        rows = present + self.missing
        actual = [c / present for c in self.counts] if present else [0.0] * len(self.counts)
        expected, actual_all = _with_missing(
            self.expected, actual, self.expected_missing, self.missing, rows
        )
        psi = _psi(expected, actual_all)
        js = _js_distance(expected, actual_all)
        _, _, p_chi = stats.chi2_homogeneity(
            [share * self.reference_rows for share in expected], [*self.counts, self.missing]
        )
        shares = {
            label: round(actual[i], 6) for i, label in enumerate(self.labels[:TOP_CATEGORIES])
        }
        result = {
            "kind": "categorical",
            "rows": rows,
            "missing": self.missing,
            "psi": round(psi, 6),
            "jensenShannon": round(js, 6),
            "jensenShannonBaseE": round(stats.js_base_e(js), 6),
            "pValue": _p(p_chi),
            "pValues": {"chiSquare": _p(p_chi)},
            **_decide({"psi": (psi, psi_t), "jensenShannon": (js, js_t)}, p_chi, level),
            "shares": shares,
        }
        if self.new or self.new_more:
            ranked = sorted(self.new.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_CATEGORIES]
            result["newCategories"] = {label: _share(seen, present) for label, seen in ranked}
        return result

    def kind_changed(self) -> bool:
        present = sum(self.counts)
        return bool(present) and self.numbers_new > KIND_CHANGED * present

    def statistics(self) -> dict[str, Any]:
        """Reference and current count, missing share and the top categories' shares."""
        profile = self.profile
        present = sum(self.counts)
        rows = present + self.missing
        top = self.labels[: HISTOGRAM_BINS // 2]
        return {
            "reference": {
                "count": profile["count"],
                "missingShare": _share(profile["missing"], profile["count"]),
                "top": {label: round(profile["categories"][label], 6) for label in top},
                "other": round(1 - math.fsum(profile["categories"][label] for label in top), 6)
                if self.labels
                else 0.0,
            },
            "current": {
                "count": rows,
                "missingShare": _share(self.missing, rows),
                "top": {label: _share(self.counts[self.index[label]], present) for label in top},
                "other": _share(
                    present - sum(self.counts[self.index[label]] for label in top), present
                ),
            },
            "histogram": None,
        }


def _psi_groups(expected: Sequence[float]) -> list[list[int]]:
    """Fine bins grouped into about ``PSI_BINS`` runs of roughly equal baseline mass."""
    groups: list[list[int]] = []
    current: list[int] = []
    mass = 0.0
    target = 1.0 / PSI_BINS
    for index, share in enumerate(expected):
        current.append(index)
        mass += share
        if mass >= target * (len(groups) + 1) - 1e-12:
            groups.append(current)
            current = []
    if current:
        if groups:
            groups[-1].extend(current)
        else:
            groups.append(current)
    return groups


def _with_missing(
    expected: Sequence[float],
    actual: Sequence[float],
    expected_missing: float,
    missing: int,
    rows: int,
) -> tuple[list[float], list[float]]:
    """Both distributions over value bins plus one "missing" bin."""
    actual_missing = missing / rows if rows else 0.0
    return (
        [e * (1 - expected_missing) for e in expected] + [expected_missing],
        [a * (1 - actual_missing) for a in actual] + [actual_missing],
    )


def _psi(expected: Sequence[float], actual: Sequence[float]) -> float:
    total = 0.0
    for e, a in zip(expected, actual, strict=True):
        e, a = max(e, EPSILON), max(a, EPSILON)
        total += (a - e) * math.log(a / e)
    return total


def _js_distance(p: Sequence[float], q: Sequence[float]) -> float:
    divergence = 0.0
    for a, b in zip(p, q, strict=True):
        m = (a + b) / 2
        if a > 0:
            divergence += 0.5 * a * math.log2(a / m)
        if b > 0:
            divergence += 0.5 * b * math.log2(b / m)
    return math.sqrt(max(0.0, min(1.0, divergence)))


UNKNOWN_MAX = 100
"""Names of columns the baseline does not have that a report keeps (the rest are counted)."""


class Columns:
    """Which of the baseline's features the served data had (in any CSV header or any record's
    keys), and which columns it had that the baseline does not (the first ``UNKNOWN_MAX``)."""

    def __init__(self, wanted: Iterable[str]) -> None:
        self.wanted = list(wanted)
        self._wanted = frozenset(self.wanted)
        self.found: set[str] = set()
        self.unknown: dict[str, None] = {}
        self.unknown_more = 0
        self._seen: set[str] = set()

    def see(self, names: Iterable[str]) -> None:
        """Note the column names of one header or record (cheap when nothing is new)."""
        new = (names if isinstance(names, KeysView) else set(names)) - self._seen
        if not new:
            return
        for name in [name for name in names if name in new]:  # in the data's order
            if name in self._wanted:
                self.found.add(name)
                self._seen.add(name)
            elif len(self.unknown) < UNKNOWN_MAX:
                self.unknown[name] = None
                self._seen.add(name)
            else:
                self.unknown_more += 1

    def see_all(self) -> None:
        """Positional rows: every feature is there by position."""
        self.see(self.wanted)

    def missing(self) -> list[str]:
        """The wanted features no header or record had, in the baseline's order."""
        return [name for name in self.wanted if name not in self.found]

    def state(self) -> dict[str, Any]:
        return {
            "found": sorted(self.found),
            "unknown": list(self.unknown),
            "unknownMore": self.unknown_more,
        }

    def merge_state(self, state: Mapping[str, Any]) -> None:
        self.see([name for name in state["found"] if name in self._wanted])
        self.see(state["unknown"])
        self.unknown_more += int(state["unknownMore"])

    def none_found(self, rows: int) -> DriftError | None:
        """The error for data with rows but none of the baseline's features (else None)."""
        if self.found or not rows:
            return None
        return no_common_columns(self.wanted, list(self.unknown), "the served data")


def no_common_columns(wanted: Sequence[str], found: Sequence[str], what: str) -> DriftError:
    """The error for data sharing no column with the baseline, naming both sides."""
    return DriftError(
        f"{what} has none of the baseline's columns (expected {names_list(wanted, 5)}; "
        f"found {names_list(found, 5) or 'no columns'})"
    )


class Comparison:
    """Served data counted into a baseline's bins, in any number of parts.

    ``add`` counts rows (``add_batches`` blocks of columns); ``state`` exports the counts and
    ``merge_state`` adds exported counts, so parts of the data can be counted in other processes;
    ``report`` computes the metrics.
    ``compare`` is the one-call form.
    """

    def __init__(self, baseline: Mapping[str, Any], features: Sequence[str]) -> None:
        self.baseline = baseline
        profiles = baseline["features"]
        self.wanted = [name for name in profiles if name in features]
        self.absent = [name for name in profiles if name not in features]
        if not self.wanted:
            raise no_common_columns(list(profiles), list(features), "the served data")
        self.width = len(features)
        self.positions = [list(features).index(name) for name in self.wanted]
        self.checks: list[_NumericCheck | _CategoricalCheck] = [
            _NumericCheck(profiles[name])
            if profiles[name]["kind"] == "numeric"
            else _CategoricalCheck(profiles[name])
            for name in self.wanted
        ]
        self.total = 0

    def add(self, rows: Iterable[Sequence[Any]]) -> Comparison:
        """Count rows (aligned with ``features``); returns self."""
        for chunk in _chunks(rows):
            self.total += len(chunk)
            columns = _columns(chunk, self.width)
            for check, position in zip(self.checks, self.positions, strict=True):
                check.add_column(columns[position])
        return self

    def add_batches(self, batches: Iterable[tuple[int, Sequence[Sequence[Any]]]]) -> Comparison:
        """Count blocks of rows given as columns aligned with ``features``; returns self."""
        for count, columns in batches:
            self.total += count
            for check, position in zip(self.checks, self.positions, strict=True):
                check.add_column(columns[position])
        return self

    def state(self) -> dict[str, Any]:
        """The counts as JSON-ready data (what another process sends back to be merged)."""
        return {
            "rows": self.total,
            "counts": [[c.counts, c.missing, c.extra()] for c in self.checks],
        }

    def merge_state(self, state: Mapping[str, Any]) -> Comparison:
        """Add counts exported by ``state`` of a comparison of the same baseline; returns self."""
        counts = state["counts"]
        if len(counts) != len(self.checks) or any(
            len(entry[0]) != len(check.counts)
            for entry, check in zip(counts, self.checks, strict=True)
        ):
            raise ValueError("cannot merge counts of a different baseline")
        self.total += int(state["rows"])
        for check, (bins, missing, extra) in zip(self.checks, counts, strict=True):
            check.counts = [a + int(b) for a, b in zip(check.counts, bins, strict=True)]
            check.missing += int(missing)
            check.merge_extra(extra)
        return self

    def report(
        self, thresholds: Thresholds | None = None, columns: Columns | None = None
    ) -> dict[str, Any]:
        """The drift report of everything counted so far; ``columns`` (what the readers saw)
        adds the features no file had to ``missingFeatures`` and fills ``unknownFeatures``, and
        makes data with rows but none of the baseline's features an error, not drift.

        Each feature gets a ``status``: ``ok``, ``drift``, ``drift-small-sample`` (fewer rows
        than ``minRows``, yet a shift ``OVERWHELMING`` times beyond the level), ``no-verdict``
        (fewer rows, nothing overwhelming), ``missing`` (the column vanished), ``kind-changed``
        (numeric became text or text became numbers); excluded features are only listed."""
        thresholds = (thresholds or Thresholds()).validated()
        missing, unknown = list(self.absent), []
        if columns is not None:
            error = columns.none_found(self.total)
            if error is not None:
                raise error
            missing += [name for name in columns.missing() if name not in missing]
            unknown = list(columns.unknown)
        excluded = set(thresholds.exclude)
        missing = [name for name in missing if name not in excluded]
        judged = [
            (name, check)
            for name, check in zip(self.wanted, self.checks, strict=True)
            if name not in excluded and name not in missing
        ]
        small = self.total < thresholds.min_rows
        level = thresholds.significance / max(1, len(judged))
        if small:
            level /= OVERWHELMING
        results: dict[str, dict[str, Any]] = {}
        kind_changed: list[str] = []
        for name, check in judged:
            result = check.result(thresholds, name, level)
            result.update(check.statistics())
            result["reasons"] = _reasons(result)
            if check.kind_changed():
                kind_changed.append(name)
                result["status"] = "kind-changed"
                result["drifted"] = not small  # a few rows of text are named, not a verdict
                was, now = (
                    ("numeric", "text")
                    if result["kind"] == "numeric"
                    else ("categorical (text)", "numbers")
                )
                result["reasons"].insert(0, f"kind changed: {was} in the baseline, {now} now")
            elif result["drifted"]:
                result["status"] = "drift-small-sample" if small else "drift"
            else:
                result["status"] = "no-verdict" if small else "ok"
            results[name] = result
        # Below minRows a vanished column or changed kind is named but gives no verdict: JSON
        # Lines may leave out a key whose value is missing, and a few rows are weak evidence.
        for name in missing:
            results[name] = {
                "kind": self.baseline["features"][name]["kind"],
                "status": "missing",
                "drifted": bool(self.total) and not small,
                "reasons": ["column vanished: in the baseline, not in the served data"],
            }
        drifted = sorted(name for name, result in results.items() if result["drifted"])
        distribution = [name for name, _ in judged if results[name]["drifted"]]
        if small:
            verdict = "drift-small-sample" if drifted else "insufficient-data"
        else:
            verdict = "drift" if drifted else "no-drift"
        share = len(distribution) / len(judged) if judged else 0.0
        return {
            "schema": REPORT_SCHEMA,
            "checkedAt": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "verdict": verdict,
            "rows": self.total,
            "datasetVersion": self.baseline.get("datasetVersion"),
            "thresholds": thresholds.as_dict(),
            "significancePerFeature": float(f"{level:.4g}"),
            "drifted": drifted,
            "datasetDrift": {
                "share": round(share, 6),
                "threshold": thresholds.drift_share,
                "drifted": len(distribution),
                "of": len(judged),
                "detected": bool(judged) and share >= thresholds.drift_share,
            },
            "missingFeatures": missing,
            "unknownFeatures": unknown,
            "kindChangedFeatures": kind_changed,
            "excludedFeatures": [name for name in self.baseline["features"] if name in excluded],
            "maxPsi": max(
                (r["psi"] for r in results.values() if r.get("psi") is not None), default=0.0
            ),
            "features": results,
        }


def _reasons(result: Mapping[str, Any]) -> list[str]:
    """Why a feature drifted, in words: the deciding metric, a rise in missing values, new
    categories, values that are not numbers."""
    reasons = []
    decided = result["decidedBy"]
    if result["drifted"]:
        reasons.append(
            f"{decided['metric']} {decided['value']:.4g} > {decided['threshold']:.4g} "
            f"(p = {decided['pValue']:.3g} < {decided['significance']:.3g})"
        )
    before = result["reference"]["missingShare"]
    now = result["current"]["missingShare"]
    if now > before and (result["drifted"] or now - before >= 0.01):
        term = (max(now, EPSILON) - max(before, EPSILON)) * math.log(
            max(now, EPSILON) / max(before, EPSILON)
        )
        if term >= 0.5 * result["psi"] or not result["drifted"]:
            reasons.append(f"missing values rose from {before:.1%} to {now:.1%}")
    new = result.get("newCategories")
    if new:
        shown = ", ".join(
            f"{printable(label, 40)!r} ({share:.1%})" for label, share in list(new.items())[:5]
        )
        reasons.append(f"new categories: {shown}")
    if result.get("notNumbers"):
        reasons.append(f"{result['notNumbers']} values are not numbers (counted as missing)")
    return reasons


def compare(
    baseline: Mapping[str, Any],
    features: Sequence[str],
    rows: Iterable[Sequence[Any]],
    thresholds: Thresholds | None = None,
) -> dict[str, Any]:
    """Compare served rows (aligned with ``features``) with a baseline; returns the report."""
    thresholds = (thresholds or Thresholds()).validated()
    return Comparison(baseline, features).add(rows).report(thresholds)


def dumps(document: Mapping[str, Any]) -> str:
    """JSON text of a baseline or report (stable key order, one trailing newline)."""
    return json.dumps(document, indent=2, sort_keys=False) + "\n"
