"""The AWS Lambda handler end to end on moto: S3 capture in, report and CloudWatch metric out."""

from __future__ import annotations

import datetime as dt
import json

import boto3
import pytest
from moto import mock_aws

from mlops_iac.cli.main import main
from mlops_iac.drift import DriftError
from mlops_iac.drift.aws import aws_handler
from mlops_iac.drift.runtime import JobConfig
from mlops_iac.plan.testing.moto_s3 import REGION, fake_aws_environment
from tests.drift._data import capture_lines, rows, write_csv

BUCKET = "fraud-detection-artifacts"
ENDPOINT = "fraud-detector-prod"
VERSION = "md5:3b1f9c0d"
NAMESPACE = "mlops/drift"

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
    function_name = "drift-job"
    aws_request_id = "req-1"

    def get_remaining_time_in_millis(self) -> int:
        return 900_000


@pytest.fixture
def aws(monkeypatch, tmp_path):
    values, unset = fake_aws_environment(tmp_path)
    for var in unset:
        monkeypatch.delenv(var, raising=False)
    for var, value in values.items():
        monkeypatch.setenv(var, value)
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        kms = boto3.client("kms", region_name=REGION)
        key = kms.create_key()["KeyMetadata"]["Arn"]
        s3.create_bucket(Bucket=BUCKET)
        s3.put_bucket_encryption(
            Bucket=BUCKET,
            ServerSideEncryptionConfiguration={
                "Rules": [
                    {
                        "ApplyServerSideEncryptionByDefault": {
                            "SSEAlgorithm": "aws:kms",
                            "KMSMasterKeyID": key,
                        }
                    }
                ]
            },
        )
        # The baseline goes where the job looks: the CLI writes it under the dataset version.
        train = write_csv(tmp_path / "train.csv", rows(4000, seed=1), label=True)
        argv = ["drift", "baseline", "--data", str(train), "--exclude", "label"]
        store = ["--store-uri", f"s3://{BUCKET}", "--dataset-version", VERSION]
        assert main([*argv, *store]) == 0
        monkeypatch.setenv("DRIFT_CAPTURE_URI", f"s3://{BUCKET}/capture/{ENDPOINT}/")
        monkeypatch.setenv(
            "DRIFT_BASELINE_URI", f"s3://{BUCKET}/drift/baselines/md5_3b1f9c0d/baseline.json"
        )
        monkeypatch.setenv("DRIFT_REPORT_URI", f"s3://{BUCKET}/drift/reports/{ENDPOINT}")
        monkeypatch.setenv("DRIFT_ENDPOINT", ENDPOINT)
        monkeypatch.setenv("DRIFT_METRIC_NAMESPACE", NAMESPACE)
        monkeypatch.setenv("DRIFT_FORMAT", "sagemaker-capture")
        monkeypatch.setenv("DRIFT_WINDOW_HOURS", "24")
        yield s3


def _put_capture(s3, data, per_request=5, hours_ago=0, prefix=f"capture/{ENDPOINT}/"):
    """Capture objects laid out as SageMaker writes them: endpoint/variant/yyyy/mm/dd/hh/, in the
    folder of the hour ``hours_ago`` (written now, as moto stamps them)."""
    text = capture_lines(data, per_request)
    lines = text.splitlines(keepends=True)
    hour = dt.datetime.now(dt.UTC) - dt.timedelta(hours=hours_ago)
    for part in range(3):
        body = "".join(lines[part::3])
        key = f"{prefix}AllTraffic/{hour:%Y/%m/%d/%H}/part-{part}.jsonl"
        s3.put_object(Bucket=BUCKET, Key=key, Body=body.encode())


def _metric(name):
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    now = dt.datetime.now(dt.UTC)
    stats = cloudwatch.get_metric_statistics(
        Namespace=NAMESPACE,
        MetricName=name,
        Dimensions=[{"Name": "Endpoint", "Value": ENDPOINT}],
        StartTime=now - dt.timedelta(hours=1),
        EndTime=now + dt.timedelta(hours=1),
        Period=60,
        Statistics=["Maximum"],
    )
    return [point["Maximum"] for point in stats["Datapoints"]]


def _latest(s3):
    body = s3.get_object(Bucket=BUCKET, Key=f"drift/reports/{ENDPOINT}/latest.json")["Body"]
    return json.loads(body.read())


def test_shifted_capture_writes_a_drift_report_and_a_metric_over_threshold(aws):
    _put_capture(aws, rows(3000, seed=3, shift="amount"))
    result = aws_handler(SCHEDULED_EVENT, _Context())
    assert result["verdict"] == "drift"
    assert result["drifted"] == ["amount"]
    assert result["rows"] == 3000
    report = _latest(aws)
    assert report["drifted"] == ["amount"]
    assert report["captureObjects"] == 3
    assert report["datasetVersion"] == VERSION
    # The timestamped report sits next to latest.json and is encrypted by the bucket's key.
    head = aws.head_object(Bucket=BUCKET, Key=result["report"].split(f"{BUCKET}/", 1)[1])
    assert head["ServerSideEncryption"] == "aws:kms"
    # The alarm's metric: DriftedFeatures >= 1 is over the threshold the DriftJob alarm uses.
    assert _metric("DriftedFeatures") == [1.0]
    assert _metric("MaxPsi")[0] > 0.2


def test_unshifted_capture_is_no_drift_and_metric_zero(aws):
    _put_capture(aws, rows(3000, seed=2))
    result = aws_handler(SCHEDULED_EVENT, _Context())
    assert result["verdict"] == "no-drift"
    assert _latest(aws)["drifted"] == []
    assert _metric("DriftedFeatures") == [0.0]


def test_no_capture_in_the_window_is_insufficient_data(aws):
    result = aws_handler({"windowHours": 1}, _Context())
    assert result["verdict"] == "insufficient-data"
    assert _metric("DriftedFeatures") == [0.0]


def test_missing_baseline_names_the_uri(aws, monkeypatch):
    monkeypatch.setenv("DRIFT_BASELINE_URI", f"s3://{BUCKET}/drift/baselines/other/baseline.json")
    with pytest.raises(DriftError, match="drift/baselines/other/baseline.json: no baseline"):
        aws_handler(SCHEDULED_EVENT, _Context())


def test_missing_configuration_is_named(monkeypatch):
    monkeypatch.delenv("DRIFT_CAPTURE_URI", raising=False)
    with pytest.raises(DriftError, match="DRIFT_CAPTURE_URI"):
        JobConfig.from_env({"DRIFT_BASELINE_URI": "x", "DRIFT_REPORT_URI": "y"})


@pytest.fixture
def planned(monkeypatch, tmp_path):
    """The drift function as aws-prod plans it: its environment, its bucket, its baseline."""
    from tests.conftest import platform_raw, reference_recording

    recording = reference_recording("aws-prod")
    env = recording.named("mlops-drift-function").inputs["environment"]["variables"]
    bucket = recording.named("mlops-artifacts-bucket").outputs["bucket"]
    values, unset = fake_aws_environment(tmp_path)
    for var in unset:
        monkeypatch.delenv(var, raising=False)
    for var, value in {**values, **env}.items():
        monkeypatch.setenv(var, value)
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=bucket)
        train = write_csv(tmp_path / "train.csv", rows(4000, seed=1), label=True)
        version = platform_raw("aws-prod")["lineage"]["datasetVersion"]
        argv = ["drift", "baseline", "--data", str(train), "--exclude", "label"]
        assert main([*argv, "--store-uri", f"s3://{bucket}", "--dataset-version", version]) == 0
        yield s3, bucket, env


def test_the_planned_job_lists_only_the_hour_folders_of_its_window(planned, monkeypatch):
    s3, bucket, env = planned
    capture = env["DRIFT_CAPTURE_URI"].split(f"{bucket}/", 1)[1]
    window = int(env["DRIFT_WINDOW_HOURS"])

    def put(data, hours_ago):
        hour = dt.datetime.now(dt.UTC) - dt.timedelta(hours=hours_ago)
        key = f"{capture}AllTraffic/{hour:%Y/%m/%d/%H}/part-0.jsonl"
        s3.put_object(Bucket=bucket, Key=key, Body=capture_lines(data, 5).encode())

    put(rows(1500, seed=2), hours_ago=0)
    put(rows(1500, seed=4), hours_ago=window - 2)
    # Ten days old by its folder (moto stamps it now): outside the window, never listed.
    put(rows(900, seed=5, shift="amount"), hours_ago=24 * 10)
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
    result = aws_handler(SCHEDULED_EVENT, _Context())
    assert (result["verdict"], result["rows"]) == ("no-drift", 3000)
    # One look at the variant folders, then the window's hour folders (plus the hour before).
    assert listed[0] == (capture, "/")
    hours = listed[1:]
    assert len(hours) in (window + 2, window + 3)  # + 1 if an hour turns during the run
    assert all(p.startswith(f"{capture}AllTraffic/") and not d for p, d in hours)
    tails = [p.split(f"{capture}AllTraffic/", 1)[1] for p, _ in hours]
    assert all(len(tail) == len("yyyy/mm/dd/hh/") for tail in tails), tails
