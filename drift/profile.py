"""Baselines, thresholds and the per-feature drift comparison (standard library only).

A baseline is built in one streaming pass over the training data:

- **numeric** features keep a fixed-size reservoir sample (16,384 values per feature, Vitter's
  algorithm L, seeded) plus exact count/missing/min/max/mean. At the end the sample's percentiles
  become up to 99 cut points (ties collapse), and the baseline stores the share of the sample in
  each of those bins. A served value is counted into the same bins with one ``bisect``.
- **categorical** features keep exact counts of up to 10,000 distinct values (later new values
  count as "other", which bounds memory on ID-like columns); the 20 most frequent are stored,
  the rest as ``other``.

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

A feature drifts when its PSI exceeds ``psi`` or its distance exceeds ``ks`` / ``js``.
"""

from __future__ import annotations

import bisect
import datetime as dt
import json
import math
import random
from array import array
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import chain, islice
from typing import Any

BASELINE_SCHEMA = "mlops-iac/drift-baseline/v1"
REPORT_SCHEMA = "mlops-iac/drift-report/v1"

RESERVOIR = 16_384
FINE_BINS = 100
PSI_BINS = 10
TOP_CATEGORIES = 20
MAX_DISTINCT = 10_000
INFER_ROWS = 1_000
CHUNK = 4_096
EPSILON = 1e-4

# Text that means "no value" in CSV exports (pandas/R write NA, Spark writes null).
MISSING = frozenset({"", "NA", "N/A", "NaN", "nan", "null", "NULL", "None", "none"})


class DriftError(ValueError):
    """Bad input to the drift job: the message is one line naming what is wrong."""


@dataclass(frozen=True)
class Thresholds:
    """When a feature counts as drifted, and how much traffic a verdict needs."""

    psi: float = 0.2
    """PSI above this is drift. Default 0.2 (the usual "significant shift" level)."""
    ks: float = 0.1
    """KS statistic above this is drift (numeric). Default 0.1."""
    js: float = 0.1
    """Jensen–Shannon distance (base 2) above this is drift (categorical). Default 0.1."""
    min_rows: int = 1000
    """Fewer served rows than this gives ``insufficient-data``, not a verdict. Default 1000."""

    _KEYS = {"psi": "psi", "ks": "ks", "jensenShannon": "js", "js": "js", "minRows": "min_rows"}

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], where: str = "thresholds") -> Thresholds:
        """Thresholds from camelCase keys (``psi``, ``ks``, ``jensenShannon``, ``minRows``)."""
        values: dict[str, Any] = {}
        for key, value in data.items():
            if key not in cls._KEYS:
                raise DriftError(f"{where}.{key}: unknown key")
            values[cls._KEYS[key]] = value
        return cls(**values).validated(where)

    def validated(self, where: str = "thresholds") -> Thresholds:
        """Self, after checking every value is in range (raises ``DriftError`` naming the key)."""
        for key, name in (("psi", "psi"), ("ks", "ks"), ("js", "jensenShannon")):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise DriftError(f"{where}.{name}: must be a number > 0, got {value!r}")
        for key in ("ks", "js"):
            if getattr(self, key) > 1:
                raise DriftError(f"{where}.{key}: must be <= 1, got {getattr(self, key)!r}")
        if isinstance(self.min_rows, bool) or not isinstance(self.min_rows, int):
            raise DriftError(f"{where}.minRows: must be an integer, got {self.min_rows!r}")
        if self.min_rows < 1:
            raise DriftError(f"{where}.minRows: must be >= 1, got {self.min_rows}")
        return self

    def as_dict(self) -> dict[str, Any]:
        return {"psi": self.psi, "ks": self.ks, "jensenShannon": self.js, "minRows": self.min_rows}


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

    def add_column(self, column: Sequence[Any]) -> None:
        counts = self.counts
        self.count += len(column)
        for value, seen in Counter(column).items():  # Counter counts in C; labels per distinct
            label = category(value)
            if label is None:
                self.missing += seen
            elif label in counts:
                counts[label] += seen
            elif len(counts) < MAX_DISTINCT:
                counts[label] = seen
            else:
                self.overflow += seen

    def result(self) -> dict[str, Any]:
        present = self.count - self.missing
        top = sorted(self.counts.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_CATEGORIES]
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


def _chunks(rows: Iterator[Sequence[Any]], size: int = CHUNK) -> Iterator[list[Sequence[Any]]]:
    """Batches of ``size`` rows; ``islice`` pulls them in C (no Python work per row)."""
    while chunk := list(islice(rows, size)):
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
    iterator = iter(rows)
    head = [row for _, row in zip(range(INFER_ROWS), iterator, strict=False)]
    if not head:
        raise DriftError("the training data has no rows")
    kinds = _infer_kinds(features, head, categorical)
    rng = random.Random(seed)
    profiles: list[_NumericProfile | _CategoricalProfile] = [
        _NumericProfile(_Reservoir(RESERVOIR, rng)) if kind == "numeric" else _CategoricalProfile()
        for kind in kinds
    ]
    total = 0
    width = len(features)
    for chunk in _chunks(chain(head, iterator)):
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


def load_baseline(data: Any, where: str = "baseline") -> dict[str, Any]:
    """Check a parsed baseline document; returns it (raises ``DriftError`` naming the problem)."""
    if not isinstance(data, dict) or data.get("schema") != BASELINE_SCHEMA:
        raise DriftError(f"{where}: not a drift baseline (expected schema {BASELINE_SCHEMA})")
    features = data.get("features")
    if not isinstance(features, dict) or not features:
        raise DriftError(f"{where}.features: missing or empty")
    for name, profile in features.items():
        kind = profile.get("kind") if isinstance(profile, dict) else None
        keys = {"numeric": ("edges", "proportions"), "categorical": ("categories", "other")}
        if kind not in keys:
            raise DriftError(f"{where}.features.{name}.kind: must be numeric or categorical")
        for key in keys[kind]:
            if key not in profile:
                raise DriftError(f"{where}.features.{name}.{key}: missing")
    return data


# ---------------------------------------------------------------------------------------------
# Checking served data against a baseline


class _NumericCheck:
    def __init__(self, profile: Mapping[str, Any]) -> None:
        self.edges: list[float] = list(profile["edges"])
        self.expected: list[float] = list(profile["proportions"])
        count = profile.get("count") or 0
        self.expected_missing = (profile.get("missing") or 0) / count if count else 0.0
        self.counts = [0] * (len(self.edges) + 1)
        self.missing = 0

    def add_column(self, column: Sequence[Any]) -> None:
        numbers = numbers_of(column)
        numbers.sort()
        self.missing += len(column) - len(numbers)
        # Sorted batch: one bisect per cut point instead of one per value.
        previous = 0
        counts, where = self.counts, bisect.bisect_right  # bin i holds (edge[i-1], edge[i]]
        for index, edge in enumerate(self.edges):
            position = where(numbers, edge, previous)
            counts[index] += position - previous
            previous = position
        counts[-1] += len(numbers) - previous

    def result(self, thresholds: Thresholds) -> dict[str, Any]:
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
        psi = _psi(*_with_missing(exp_bins, act_bins, self.expected_missing, self.missing, rows))
        return {
            "kind": "numeric",
            "rows": rows,
            "missing": self.missing,
            "psi": round(psi, 6),
            "ks": round(ks, 6),
            "drifted": psi > thresholds.psi or ks > thresholds.ks,
        }


class _CategoricalCheck:
    def __init__(self, profile: Mapping[str, Any]) -> None:
        self.labels = list(profile["categories"])
        self.index = {label: i for i, label in enumerate(self.labels)}
        self.expected = [float(profile["categories"][label]) for label in self.labels] + [
            float(profile["other"])
        ]
        count = profile.get("count") or 0
        self.expected_missing = (profile.get("missing") or 0) / count if count else 0.0
        self.counts = [0] * (len(self.labels) + 1)
        self.missing = 0

    def add_column(self, column: Sequence[Any]) -> None:
        index, counts, other = self.index, self.counts, len(self.labels)
        for value, seen in Counter(column).items():
            label = category(value)
            if label is None:
                self.missing += seen
            else:
                counts[index.get(label, other)] += seen

    def result(self, thresholds: Thresholds) -> dict[str, Any]:
        present = sum(self.counts)
        rows = present + self.missing
        actual = [c / present for c in self.counts] if present else [0.0] * len(self.counts)
        expected, actual_all = _with_missing(
            self.expected, actual, self.expected_missing, self.missing, rows
        )
        psi = _psi(expected, actual_all)
        js = _js_distance(expected, actual_all)
        shares = {label: round(actual[i], 6) for i, label in enumerate(self.labels)}
        return {
            "kind": "categorical",
            "rows": rows,
            "missing": self.missing,
            "psi": round(psi, 6),
            "jensenShannon": round(js, 6),
            "drifted": psi > thresholds.psi or js > thresholds.js,
            "shares": shares,
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
            raise DriftError(
                "the served data has none of the baseline's features "
                f"({', '.join(list(profiles)[:5])}…)"
            )
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
        for chunk in _chunks(iter(rows)):
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
        return {"rows": self.total, "counts": [[c.counts, c.missing] for c in self.checks]}

    def merge_state(self, state: Mapping[str, Any]) -> Comparison:
        """Add counts exported by ``state`` of a comparison of the same baseline; returns self."""
        counts = state["counts"]
        if len(counts) != len(self.checks) or any(
            len(bins) != len(check.counts)
            for (bins, _), check in zip(counts, self.checks, strict=True)
        ):
            raise ValueError("cannot merge counts of a different baseline")
        self.total += int(state["rows"])
        for check, (bins, missing) in zip(self.checks, counts, strict=True):
            check.counts = [a + int(b) for a, b in zip(check.counts, bins, strict=True)]
            check.missing += int(missing)
        return self

    def report(self, thresholds: Thresholds | None = None) -> dict[str, Any]:
        """The drift report of everything counted so far."""
        thresholds = (thresholds or Thresholds()).validated()
        results = {
            name: check.result(thresholds)
            for name, check in zip(self.wanted, self.checks, strict=True)
        }
        drifted = sorted(name for name, result in results.items() if result["drifted"])
        if self.total < thresholds.min_rows:
            verdict = "insufficient-data"
            drifted = []
        else:
            verdict = "drift" if drifted else "no-drift"
        return {
            "schema": REPORT_SCHEMA,
            "checkedAt": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "verdict": verdict,
            "rows": self.total,
            "datasetVersion": self.baseline.get("datasetVersion"),
            "thresholds": thresholds.as_dict(),
            "drifted": drifted,
            "missingFeatures": self.absent,
            "maxPsi": max((r["psi"] for r in results.values()), default=0.0),
            "features": results,
        }


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
