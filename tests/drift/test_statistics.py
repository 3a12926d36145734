"""The significance tests against their textbook values, and how the deployed job gets the
settings the significance test added."""

from __future__ import annotations

import json
import math

import pytest

from mlops_iac.drift import Thresholds, build_baseline, compare, runtime, stats
from mlops_iac.drift.profile import DriftError
from tests.drift._data import FEATURES, rows


@pytest.mark.parametrize(
    ("x", "df", "p"),
    [(3.841459, 1, 0.05), (18.307038, 10, 0.05), (6.634897, 1, 0.01), (0.0, 3, 1.0),
     (2.0, 2, math.exp(-1.0)), (100.0, 5, 6.219e-20)],
)  # fmt: skip
def test_chi_square_tail_matches_the_tables(x, df, p):
    assert stats.chi2_sf(x, df) == pytest.approx(p, rel=1e-3)


def test_ks_pvalue_is_the_kolmogorov_tail():
    # Q_KS(1.358) = 0.05 (the 5% critical value), with n_e large so the correction vanishes.
    n = 10**8
    d = 1.358 / math.sqrt(n / 2)
    assert stats.ks_pvalue(d, n, n) == pytest.approx(0.05, abs=5e-4)
    assert stats.ks_pvalue(0.0, 100, 100) == 1.0
    assert math.isnan(stats.ks_pvalue(math.nan, 100, 100))


def test_chi_square_homogeneity_pools_sparse_bins():
    statistic, df, p = stats.chi2_homogeneity([500, 500, 1, 1], [50, 50, 0, 0])
    # The two rare bins are pooled into one: three bins, two degrees of freedom.
    assert df == 2 and statistic < 0.5 and p > 0.75
    _, _, p = stats.chi2_homogeneity([500, 500], [90, 10])
    assert p < 1e-10


def test_js_base_e_is_sqrt_ln2_times_base_2():
    assert stats.js_base_e(0.1) == pytest.approx(0.0832555, rel=1e-6)
    baseline = build_baseline(FEATURES, rows(2000, seed=1))
    result = compare(baseline, FEATURES, rows(2000, seed=3, shift="channel"))["features"]["channel"]
    assert result["jensenShannonBaseE"] == pytest.approx(
        result["jensenShannon"] * math.sqrt(math.log(2)), abs=2e-6
    )


ENV = {
    "DRIFT_CAPTURE_URI": "s3://b/capture/e/",
    "DRIFT_BASELINE_URI": "s3://b/drift/baselines/v/baseline.json",
    "DRIFT_REPORT_URI": "s3://b/drift/reports/e",
}


def test_the_job_reads_the_new_settings_and_the_components_always_write_them():
    default = runtime.job_environment(
        capture_uri="c", baseline_uri="b", report_uri="r", endpoint="e", fmt="sagemaker-capture",
        window_hours=24, namespace="mlops/drift", thresholds=Thresholds(),
    )  # fmt: skip
    assert {key: default[key] for key in ("DRIFT_SIGNIFICANCE", "DRIFT_SHARE",
            "DRIFT_FEATURE_THRESHOLDS", "DRIFT_EXCLUDE")} == {
        "DRIFT_SIGNIFICANCE": str(Thresholds().significance),
        "DRIFT_SHARE": str(Thresholds().drift_share),
        "DRIFT_FEATURE_THRESHOLDS": "{}", "DRIFT_EXCLUDE": "[]",
    }  # fmt: skip
    assert runtime.JobConfig.from_env({**ENV, **default}).thresholds == Thresholds()
    own = Thresholds(significance=0.01, drift_share=0.3, features={"age": {"ks": 0.2}},
                     exclude=("country",))  # fmt: skip
    written = runtime.job_environment(
        capture_uri="c", baseline_uri="b", report_uri="r", endpoint="e", fmt="sagemaker-capture",
        window_hours=24, namespace="mlops/drift", thresholds=own,
    )  # fmt: skip
    assert written["DRIFT_SIGNIFICANCE"] == "0.01"
    assert json.loads(written["DRIFT_FEATURE_THRESHOLDS"]) == {"age": {"ks": 0.2}}
    new = ("DRIFT_SIGNIFICANCE", "DRIFT_SHARE", "DRIFT_FEATURE_THRESHOLDS", "DRIFT_EXCLUDE")
    read = runtime.JobConfig.from_env({**ENV, **{key: written[key] for key in new}})
    assert read.thresholds == Thresholds(
        significance=0.01, drift_share=0.3, features={"age": {"ks": 0.2}}, exclude=("country",)
    )
    assert runtime.JobConfig.from_env(ENV).thresholds == Thresholds()


@pytest.mark.parametrize(
    ("env", "fragment"),
    [
        (
            {"DRIFT_SIGNIFICANCE": "0.9"},
            "environment.significance: must be a number > 0 and <= 0.5",
        ),
        ({"DRIFT_EXCLUDE": "age"}, "environment: DRIFT_EXCLUDE is not a JSON list"),
        ({"DRIFT_FEATURE_THRESHOLDS": '{"age": {"psi": -1}}'}, "environment.features.age.psi"),
        (
            {"DRIFT_FEATURE_THRESHOLDS": '{"age": {"kss": 1}}'},
            "environment.features.age.kss: unknown",
        ),
    ],
)
def test_bad_new_settings_are_one_line(env, fragment):
    with pytest.raises(DriftError, match=fragment.replace(".", r"\.")):
        runtime.JobConfig.from_env({**ENV, **env})


def test_excluded_and_per_feature_thresholds_apply():
    baseline = build_baseline(FEATURES, rows(2000, seed=1))
    served = rows(2000, seed=3, shift="amount")
    assert compare(baseline, FEATURES, served)["drifted"] == ["amount"]
    report = compare(baseline, FEATURES, served, Thresholds(exclude=("amount",)))
    assert report["drifted"] == [] and report["excludedFeatures"] == ["amount"]
    assert "amount" not in report["features"] and report["datasetDrift"]["of"] == 4
    loose = Thresholds(features={"amount": {"psi": 10, "ks": 1}})
    report = compare(baseline, FEATURES, served, loose)
    assert report["drifted"] == []
    assert report["features"]["amount"]["decidedBy"]["threshold"] in (10, 1)


def test_what_a_check_keeps_does_not_grow_with_the_data(monkeypatch):
    """Memory-bounded streaming, structurally: bin counts, at most NEW_CATEGORIES_MAX new labels
    and a bounded list of partial sums per feature, however many rows are counted."""
    from mlops_iac.drift import profile

    monkeypatch.setattr(profile, "NEW_CATEGORIES_MAX", 50)
    baseline = build_baseline(["x", "id"], [[i % 7, f"a{i % 5}"] for i in range(1000)])
    comparison = profile.Comparison(baseline, ["x", "id"])
    sizes = []
    for part in range(4):
        comparison.add([[i * 0.5, f"new-{part}-{i}"] for i in range(20_000)])
        numeric, categorical = comparison.checks
        sizes.append((len(numeric.counts), len(numeric.sum_parts) <= 66, len(categorical.new)))
    assert sizes == [(len(baseline["features"]["x"]["edges"]) + 1, True, 50)] * 4
    assert categorical.new_more == 80_000 - 50


def test_the_stack_keys_reach_the_deployed_job_as_the_plan_records_them():
    from mlops_iac.plan.testing import run_project
    from tests.conftest import REPO, platform_raw

    raw = platform_raw("aws-prod")
    raw["monitoring"]["drift"] = {
        "schedule": "daily",
        "significance": 0.01,
        "driftShare": 0.3,
        "exclude": ["request_id"],
        "features": {"amount": {"psi": 0.3, "ks": 0.15}},
    }
    rec = run_project(REPO, "aws-prod", extra_config={"mlops:platform": raw})
    env = rec.named("mlops-drift-function").inputs["environment"]["variables"]
    assert json.loads(env["DRIFT_EXCLUDE"]) == ["request_id"]
    config = runtime.JobConfig.from_env(env)
    assert config.thresholds == Thresholds(
        significance=0.01,
        drift_share=0.3,
        features={"amount": {"psi": 0.3, "ks": 0.15}},
        exclude=("request_id",),
    )


def test_the_job_publishes_small_sample_drift_so_the_alarm_fires():
    import datetime as dt

    from tests.drift.test_hostile import ENV as JOB_ENV
    from tests.drift.test_hostile import _Metrics, _Store

    baseline = build_baseline(FEATURES, rows(3000, seed=1))
    served = "".join(
        json.dumps(dict(zip(FEATURES, row, strict=True))) + "\n"
        for row in rows(60, seed=3, shift="amount")
    )
    storage = _Store(
        {"mem://baseline.json": json.dumps(baseline).encode(), "mem://capture/a": served.encode()}
    )
    metrics = _Metrics()
    config = runtime.JobConfig.from_env({**JOB_ENV, "DRIFT_MIN_ROWS": "1000"})
    summary = runtime.run_job(config, storage, metrics, dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    assert summary["verdict"] == "drift-small-sample" and summary["drifted"] == ["amount"]
    # DriftedFeatures is len(report["drifted"]) on every cloud: 1, so the alarm fires.
    assert metrics.reports[0]["drifted"] == ["amount"]
    latest = json.loads(storage.written["mem://reports/latest.json"])
    assert latest["features"]["amount"]["status"] == "drift-small-sample"
