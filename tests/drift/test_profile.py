"""The drift statistics: shifts are found per feature, same-distribution samples are not."""

from __future__ import annotations

import json
import math
import random

import pytest

from mlops_iac.drift import DriftError, Thresholds, build_baseline, compare
from mlops_iac.drift import profile as drift_profile
from tests.drift._data import FEATURES, rows


@pytest.fixture(scope="module")
def baseline():
    return build_baseline(FEATURES, rows(5000, seed=1), dataset_version="md5:abc")


def test_baseline_profiles_each_feature_with_its_kind(baseline):
    kinds = {name: p["kind"] for name, p in baseline["features"].items()}
    assert kinds == {
        "age": "numeric",
        "amount": "numeric",
        "score": "numeric",
        "channel": "categorical",
        "country": "categorical",
    }
    age = baseline["features"]["age"]
    assert len(age["edges"]) == 99
    assert math.isclose(sum(age["proportions"]), 1.0)
    assert set(baseline["features"]["channel"]["categories"]) == {"web", "app", "store"}
    assert baseline["rows"] == 5000
    assert baseline["datasetVersion"] == "md5:abc"
    json.dumps(baseline)  # the document is plain JSON


def test_same_distribution_is_not_drift(baseline):
    report = compare(baseline, FEATURES, rows(3000, seed=2))
    assert report["verdict"] == "no-drift"
    assert report["drifted"] == []
    assert all(r["psi"] < 0.05 for r in report["features"].values())


@pytest.mark.parametrize("feature", ["amount", "channel"])
def test_one_shifted_feature_is_named(baseline, feature):
    report = compare(baseline, FEATURES, rows(3000, seed=3, shift=feature))
    assert report["verdict"] == "drift"
    assert report["drifted"] == [feature]
    result = report["features"][feature]
    assert result["psi"] > 0.2
    assert result["ks" if feature == "amount" else "jensenShannon"] > 0.1


def test_ks_matches_the_exact_statistic_within_one_bin(baseline):
    served = rows(3000, seed=3, shift="amount")
    train = [r[1] for r in rows(5000, seed=1)]
    exact = _exact_ks(train, [r[1] for r in served])
    approx = compare(baseline, FEATURES, served)["features"]["amount"]["ks"]
    assert abs(exact - approx) <= 0.02


def _exact_ks(a, b):
    a, b = sorted(a), sorted(b)
    import bisect

    points = sorted(set(a) | set(b))
    return max(
        abs(bisect.bisect_right(a, x) / len(a) - bisect.bisect_right(b, x) / len(b)) for x in points
    )


def test_missing_values_count_towards_psi(baseline):
    served = rows(3000, seed=2)
    for row in served[:1500]:
        row[0] = "NA"
    report = compare(baseline, FEATURES, served)
    assert report["features"]["age"]["missing"] == 1500
    assert report["drifted"] == ["age"]


def test_too_few_rows_gives_no_verdict(baseline):
    report = compare(baseline, FEATURES, rows(50, seed=3))
    assert report["verdict"] == "insufficient-data"
    assert report["drifted"] == []
    assert {f["status"] for f in report["features"].values()} == {"no-verdict"}


def test_an_overwhelming_shift_under_min_rows_is_small_sample_drift(baseline):
    # 50 rows, amount x1.8 (KS about 0.45): far beyond chance even at 50 rows.
    report = compare(baseline, FEATURES, rows(50, seed=3, shift="amount"))
    assert report["verdict"] == "drift-small-sample"
    assert report["drifted"] == ["amount"]
    amount = report["features"]["amount"]
    assert amount["status"] == "drift-small-sample"
    assert amount["decidedBy"]["pValue"] < report["significancePerFeature"]
    assert report["significancePerFeature"] == pytest.approx(0.05 / 5 / 100)


def test_absent_features_are_reported_not_fatal(baseline):
    report = compare(baseline, FEATURES[:3], [r[:3] for r in rows(2000, seed=2)])
    assert report["missingFeatures"] == ["channel", "country"]
    assert report["features"]["channel"]["status"] == "missing"
    assert "psi" not in report["features"]["channel"]
    assert report["verdict"] == "drift" and report["drifted"] == ["channel", "country"]
    with pytest.raises(DriftError, match=r"none of the baseline's columns \(expected age, "):
        compare(baseline, ["x"], [[1]])


def test_reservoir_memory_is_bounded():
    rng = random.Random(0)
    reservoir = drift_profile._Reservoir(100, rng)
    for start in range(0, 100_000, 1000):
        reservoir.extend([float(x) for x in range(start, start + 1000)])
    assert len(reservoir.values) == 100
    assert reservoir.seen == 100_000
    # A uniform sample of 0..99999: its mean is near the middle, not stuck at the start.
    assert 30_000 < sum(reservoir.values) / 100 < 70_000


def test_categorical_cardinality_is_capped(monkeypatch):
    monkeypatch.setattr(drift_profile, "MAX_DISTINCT", 50)
    data = [[f"id-{i}"] for i in range(1000)]
    base = build_baseline(["user"], data)
    profile = base["features"]["user"]
    assert profile["distinctCapped"] is True
    assert len(profile["categories"]) == 50  # all the counted ones (<= STORED_CATEGORIES)
    monkeypatch.setattr(drift_profile, "STORED_CATEGORIES", 30)
    profile = build_baseline(["user"], data)["features"]["user"]
    assert len(profile["categories"]) == 30
    assert profile["other"] == pytest.approx(0.97)


def test_the_long_tail_is_measured_and_new_categories_named():
    # 60 categories: a shift among the 40 rarest is not pooled into "other".
    labels = [f"c{i:02d}" for i in range(60)]
    weights = [50] * 20 + [5] * 40
    train = [[label] for label, n in zip(labels, weights, strict=True) for _ in range(n)]
    base = build_baseline(["c"], train)
    assert len(base["features"]["c"]["categories"]) == 60
    tail = [[labels[20 + i % 20]] for i in range(800)] + [
        [label] for label in labels[:20] for _ in range(50)
    ]
    report = compare(base, ["c"], tail + [["brand-new"]] * 40)
    result = report["features"]["c"]
    assert report["drifted"] == ["c"]
    assert result["newCategories"] == {"brand-new": pytest.approx(40 / 1840, abs=1e-6)}
    assert any(reason.startswith("new categories: 'brand-new'") for reason in result["reasons"])


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"psi": 0}, "thresholds.psi: must be a number > 0"),
        ({"ks": 2}, "thresholds.ks: must be a number > 0 and <= 1, got 2"),
        ({"minRows": 0}, "thresholds.minRows: must be >= 1"),
        ({"minRows": "x"}, "thresholds.minRows: must be an integer"),
        ({"bogus": 1}, "thresholds.bogus: unknown key"),
    ],
)
def test_thresholds_name_the_bad_key(data, message):
    with pytest.raises(DriftError, match=message.replace(".", r"\.")):
        Thresholds.from_mapping(data)


def test_thresholds_from_camel_case():
    assert Thresholds.from_mapping({"jensenShannon": 0.3, "minRows": 5}) == Thresholds(
        js=0.3, min_rows=5
    )
