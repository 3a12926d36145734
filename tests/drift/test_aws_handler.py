"""The AWS Lambda handler end to end on moto, with exactly the environment the aws-prod plan gives
the function (plus the variables Lambda itself sets): S3 capture in, report and CloudWatch metric
out; every AWS call it makes is in its manifest and allowed by the plan's grants."""

from __future__ import annotations

import datetime as dt
import json
import types

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from mlops_iac.drift import DriftError, calls
from mlops_iac.drift.aws import aws_handler
from mlops_iac.drift.profile import build_baseline, dumps
from mlops_iac.drift.runtime import JobConfig, split_uri
from mlops_iac.plan.deploy.permissions import rules
from tests.drift._clouds import LAMBDA_PLATFORM, aws_call, lambda_environment, only_settings
from tests.drift._data import FEATURES, capture_lines, rows

REGION = "us-east-1"
PLATFORM = LAMBDA_PLATFORM

# What EventBridge Scheduler hands the function: the target's fixed input (none here) or the
# scheduled-event envelope of an EventBridge rule.
SCHEDULED_EVENT = {
    "version": "0",
    "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
    "detail-type": "Scheduled Event",
    "source": "aws.events",
    "time": "2026-11-28T06:00:00Z",
    "region": REGION,
    "resources": [],
    "detail": {},
}


class _Context:
    function_name = "mlops-drift-function"
    aws_request_id = "req-1"

    def get_remaining_time_in_millis(self) -> int:
        return 900_000


class Job:
    """The plan's function settings, its recording, moto, and the calls of the last run."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.env, self.recording = lambda_environment("aws-prod")
        self.environ = only_settings(monkeypatch, {**self.env, **PLATFORM})
        self.monkeypatch = monkeypatch
        self.s3 = boto3.session.Session(region_name=REGION).client("s3")
        _, self.bucket, capture = split_uri(self.env["DRIFT_CAPTURE_URI"])
        self.capture = capture
        self.endpoint = self.env["DRIFT_ENDPOINT"]
        self.calls: list[calls.Call] = []

    def create(self, baseline: bool = True) -> None:
        kms = boto3.session.Session(region_name=REGION).client("kms")
        key = kms.create_key()["KeyMetadata"]["Arn"]
        self.s3.create_bucket(Bucket=self.bucket)
        default = {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key}
        self.s3.put_bucket_encryption(
            Bucket=self.bucket,
            ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": default}]
            },
        )
        if baseline:
            document = build_baseline(FEATURES, rows(4000, seed=1), dataset_version="md5:3b1f")
            _, bucket, key_name = split_uri(self.env["DRIFT_BASELINE_URI"])
            self.s3.put_object(Bucket=bucket, Key=key_name, Body=dumps(document).encode())

    def put_capture(
        self, data: list[list[object]], per_request: int = 5, hours_ago: int = 0
    ) -> None:
        """Capture objects laid out as SageMaker writes them: endpoint/variant/yyyy/mm/dd/hh/, in
        the folder of the hour ``hours_ago`` (written now, as moto stamps them)."""
        lines = capture_lines(data, per_request).splitlines(keepends=True)
        hour = dt.datetime.now(dt.UTC) - dt.timedelta(hours=hours_ago)
        for part in range(3):
            key = f"{self.capture}AllTraffic/{hour:%Y/%m/%d/%H}/part-{part}.jsonl"
            self.s3.put_object(Bucket=self.bucket, Key=key, Body="".join(lines[part::3]).encode())

    def run(self, event: object = SCHEDULED_EVENT, deny_get: str = "") -> dict:
        """Run the handler; ``deny_get="missing"`` answers a GetObject of a missing key as S3
        does for a caller without an unconditional s3:ListBucket (the plan's role): 403
        AccessDenied (https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html);
        ``"always"`` denies every GetObject."""
        boto3.setup_default_session()

        def record(params: dict, model: object, **_: object) -> None:
            service = model.service_model.service_name  # type: ignore[attr-defined]
            self.calls.append(aws_call(service, model.name, params))  # type: ignore[attr-defined]

        def forbidden(**_: object) -> tuple[object, dict] | None:
            # The GetObject just recorded (before-parameter-build runs first).
            bucket, key = self.calls[-1].resource.removeprefix("arn:aws:s3:::").split("/", 1)
            listed = self.s3.list_objects_v2(Bucket=bucket, Prefix=key).get("Contents", ())
            if deny_get == "missing" and any(item["Key"] == key for item in listed):
                return None
            error = {"Error": {"Code": "AccessDenied", "Message": "Access Denied"}}
            return types.SimpleNamespace(status_code=403, headers={}), error

        assert boto3.DEFAULT_SESSION is not None
        boto3.DEFAULT_SESSION.events.register("before-parameter-build", record)
        if deny_get:
            boto3.DEFAULT_SESSION.events.register("before-call.s3.GetObject", forbidden)
        try:
            return aws_handler(event, _Context())
        finally:
            boto3.DEFAULT_SESSION = None

    def metric(self, name: str) -> list[float]:
        cloudwatch = boto3.session.Session(region_name=REGION).client("cloudwatch")
        now = dt.datetime.now(dt.UTC)
        stats = cloudwatch.get_metric_statistics(
            Namespace=self.env["DRIFT_METRIC_NAMESPACE"],
            MetricName=name,
            Dimensions=[{"Name": "Endpoint", "Value": self.endpoint}],
            StartTime=now - dt.timedelta(hours=1),
            EndTime=now + dt.timedelta(hours=1),
            Period=60,
            Statistics=["Maximum"],
        )
        return [point["Maximum"] for point in stats["Datapoints"]]

    def latest(self) -> dict:
        _, bucket, prefix = split_uri(self.env["DRIFT_REPORT_URI"])
        body = self.s3.get_object(Bucket=bucket, Key=f"{prefix}/latest.json")["Body"]
        return json.loads(body.read())


@pytest.fixture
def job(monkeypatch):
    lambda_environment("aws-prod")  # recorded before moto patches anything (the run needs SDKs)
    with mock_aws():
        created = Job(monkeypatch)
        created.create()
        yield created


def test_shifted_capture_writes_a_drift_report_and_a_metric_over_threshold(job):
    job.put_capture(rows(3000, seed=3, shift="amount"))
    result = job.run()
    assert result["verdict"] == "drift"
    assert result["drifted"] == ["amount"]
    assert result["rows"] == 3000
    report = job.latest()
    assert report["drifted"] == ["amount"]
    assert report["captureObjects"] == 3
    # The timestamped report sits next to latest.json and is encrypted by the bucket's key.
    _, bucket, key = split_uri(result["report"])
    assert job.s3.head_object(Bucket=bucket, Key=key)["ServerSideEncryption"] == "aws:kms"
    # The alarm's metric: DriftedFeatures >= 1 is over the threshold the DriftJob alarm uses.
    assert job.metric("DriftedFeatures") == [1.0]
    assert job.metric("MaxPsi")[0] > 0.2


def test_every_call_is_in_the_manifest_and_granted_by_the_plan(job):
    job.put_capture(rows(3000, seed=3, shift="amount"))
    job.run()
    manifest = calls.aws_drift(job.env)
    assert {c.action for c in job.calls} == {
        "s3:GetObject",
        "s3:ListBucket",
        "s3:PutObject",
        "cloudwatch:PutMetricData",
    }
    counts = {a: sum(c.action == a for c in job.calls) for a in ("s3:GetObject", "s3:PutObject")}
    # The baseline and 3 capture objects read; 2 reports and 1 metric call written; the listings
    # are one per hour folder of the window (and the variant folders), as the lister walks them.
    assert counts == {"s3:GetObject": 1 + 3, "s3:PutObject": 2}
    window = int(job.env["DRIFT_WINDOW_HOURS"])
    assert window + 2 <= sum(c.action == "s3:ListBucket" for c in job.calls) <= window + 3
    assert [str(c) for c in job.calls if not manifest.covers(c)] == []
    denied = rules.aws_denials(job.recording.resources, {"mlops-drift-function": job.calls})
    assert [(str(call), why) for _, call, why in denied] == []
    # Every job setting the code read is one its manifest declares, and the plan sets it.
    read = {name for name in job.environ.read if name.startswith("DRIFT_")}
    assert read <= set(manifest.reads)
    assert manifest.missing == ()


def test_unshifted_capture_is_no_drift_and_metric_zero(job):
    job.put_capture(rows(3000, seed=2))
    result = job.run()
    assert result["verdict"] == "no-drift"
    assert job.latest()["drifted"] == []
    assert job.metric("DriftedFeatures") == [0.0]


def test_no_capture_in_the_window_is_insufficient_data(job):
    result = job.run({"windowHours": 1})
    assert result["verdict"] == "insufficient-data"
    assert job.metric("DriftedFeatures") == [0.0]


def test_a_missing_baseline_names_the_plans_uri(monkeypatch):
    lambda_environment("aws-prod")
    with mock_aws():
        bare = Job(monkeypatch)
        bare.create(baseline=False)
        with pytest.raises(DriftError, match=f"{bare.env['DRIFT_BASELINE_URI']}: no baseline"):
            bare.run()


def test_a_missing_baseline_read_as_403_is_still_named_and_the_lookup_is_granted(monkeypatch):
    # The plan's role lists capture and the baseline's key only, so S3 answers the missing
    # baseline with 403: the job lists that key (granted by the plan) and says it is missing.
    lambda_environment("aws-prod")
    with mock_aws():
        bare = Job(monkeypatch)
        bare.create(baseline=False)
        with pytest.raises(DriftError, match=f"{bare.env['DRIFT_BASELINE_URI']}: no baseline"):
            bare.run(deny_get="missing")
        _, bucket, key = split_uri(bare.env["DRIFT_BASELINE_URI"])
        assert [(c.action, c.resource, c.attributes) for c in bare.calls] == [
            ("s3:GetObject", f"arn:aws:s3:::{bucket}/{key}", ()),
            ("s3:ListBucket", f"arn:aws:s3:::{bucket}", (("s3:prefix", key),)),
        ]
        manifest = calls.aws_drift(bare.env)
        assert [str(c) for c in bare.calls if not manifest.covers(c)] == []
        denied = rules.aws_denials(bare.recording.resources, {"mlops-drift-function": bare.calls})
        assert [(str(call), why) for _, call, why in denied] == []


def test_a_denied_baseline_that_exists_stays_a_denial(job):
    # A real denial (a key policy, a bucket policy) is not reported as a missing baseline.
    with pytest.raises(ClientError, match="AccessDenied"):
        job.run(deny_get="always")


def test_missing_configuration_is_named():
    with pytest.raises(DriftError, match="DRIFT_CAPTURE_URI"):
        JobConfig.from_env({"DRIFT_BASELINE_URI": "x", "DRIFT_REPORT_URI": "y"})


def test_the_planned_job_lists_only_the_hour_folders_of_its_window(job, monkeypatch):
    capture = job.capture
    window = int(job.env["DRIFT_WINDOW_HOURS"])
    job.put_capture(rows(1500, seed=2), hours_ago=0)
    job.put_capture(rows(1500, seed=4), hours_ago=window - 2)
    # Ten days old by its folder (moto stamps it now): outside the window, never listed.
    job.put_capture(rows(900, seed=5, shift="amount"), hours_ago=24 * 10)
    listed: list[tuple[str, str]] = []
    real_client = boto3.client

    def client(service, *args, **kwargs):
        made = real_client(service, *args, **kwargs)
        if service == "s3":
            made.meta.events.register(
                "before-parameter-build.s3.ListObjectsV2",
                lambda params, **_: listed.append((params["Prefix"], params.get("Delimiter", ""))),
            )
        return made

    monkeypatch.setattr(boto3, "client", client)
    result = job.run()
    assert (result["verdict"], result["rows"]) == ("no-drift", 3000)
    # One look at the variant folders, then the window's hour folders (plus the hour before).
    assert listed[0] == (capture, "/")
    hours = listed[1:]
    assert len(hours) in (window + 2, window + 3)  # + 1 if an hour turns during the run
    assert all(p.startswith(f"{capture}AllTraffic/") and not d for p, d in hours)
    tails = [p.split(f"{capture}AllTraffic/", 1)[1] for p, _ in hours]
    assert all(len(tail) == len("yyyy/mm/dd/hh/") for tail in tails), tails
