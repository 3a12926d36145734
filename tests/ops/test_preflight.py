"""``mlops-iac preflight``: the plan's preconditions checked live, replayed offline.

AWS: S3 runs against moto (HeadBucket, HeadObject); Service Quotas, Lambda GetAccountSettings
and Cost Explorer, which moto does not model, answer through botocore's ``Stubber`` with the
recorded responses in ``preflight_fixtures/aws`` (the Stubber checks each request's parameters
and each response against the botocore shape). Azure and GCP answer through the command's HTTP
transport with the recorded responses in ``preflight_fixtures/{azure,gcp}``, keyed by the exact
request URL; the README there cites each API reference. No test touches the network.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from mlops_iac.cli import aws, preflight
from mlops_iac.cli.preflight_checks import AwsChecks, GcpChecks, quota_value
from mlops_iac.plan.preconditions import derive
from tests.conftest import REPO, reference_recording
from tests.ops.conftest import REGION

FIXTURES = Path(__file__).parent / "preflight_fixtures"
SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
ARM = f"https://management.azure.com/subscriptions/{SUBSCRIPTION}"
PROVIDERS = f"{ARM}/providers?api-version=2021-04-01"
USAGES = (
    f"{ARM}/providers/Microsoft.MachineLearningServices/locations/eastus/usages"
    "?api-version=2024-10-01"
)
SERVICES = (
    "https://serviceusage.googleapis.com/v1/projects/fraud-detection-prod/services"
    "?filter=state%3AENABLED&pageSize=200"
)
QUOTAS = "https://cloudquotas.googleapis.com/v1/projects/fraud-detection-prod/locations/global"
RUN_L4 = (
    f"{QUOTAS}/services/run.googleapis.com/quotaInfos/"
    "NvidiaL4GpuAllocNoZonalRedundancyPerProjectRegion"
)
GKE_A100 = (
    f"{QUOTAS}/services/compute.googleapis.com/quotaInfos/"
    "PREEMPTIBLE-NVIDIA-A100-GPUS-per-project-region"
)
# The reference aws-prod stack pins its image by digest (an AWS-managed DLC: preflight cannot
# read another account's repository, so it is UNKNOWN).
IMAGE = (
    "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference@sha256:"
    "c47036387552897f897e0ff1f0111a555b43c495399845cc18d54d74abde2752"
)
MODELS = "s3://fraud-detection-models/fraud-detector"


def recorded(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def _preflight(cli, stack: str, *extra: str) -> int:
    return cli("preflight", "--stack", stack, "--project", REPO, *extra)


def _statuses(out: str) -> list[tuple[str, str]]:
    """``(status, id)`` of each result line (the last line is the count)."""
    lines = out.splitlines()[:-1]
    return [(line.split(" ", 1)[0], line.split(" ", 2)[1].rstrip(":")) for line in lines]


# --- AWS -------------------------------------------------------------------------------------


class StubbedAws:
    """``aws.client`` for the command: moto's S3, and one stubbed client per other service
    answering the recorded responses in the order the checks call them."""

    def __init__(self, answers: dict[str, list[tuple[str, Any, dict[str, Any]]]]) -> None:
        self.answers = answers
        self.stubbers: dict[str, Stubber] = {}
        self.clients: dict[str, Any] = {}
        self.regions: dict[str, set[str | None]] = {}

    def __call__(self, service: str, *, region=None, profile=None, shared=None) -> Any:
        self.regions.setdefault(service, set()).add(region)
        if service == "s3":
            return boto3.client("s3", region_name=region or REGION)
        if service not in self.clients:
            client = boto3.client(service, region_name=region or REGION)
            stubber = Stubber(client)
            for operation, response, params in self.answers[service]:
                stubber.add_response(operation, response, params)
            stubber.activate()
            self.clients[service], self.stubbers[service] = client, stubber
        return self.clients[service]

    def all_answered(self) -> None:
        for stubber in self.stubbers.values():
            stubber.assert_no_pending_responses()


def fresh_account() -> dict[str, list[tuple[str, Any, dict[str, Any]]]]:
    """A new account as the recorded responses show it, in the order the checks ask."""
    return {
        "ce": [
            (
                "list_cost_allocation_tags",
                recorded("aws/ce-ListCostAllocationTags.json"),
                {"TagKeys": ["mlops:project"], "Type": "UserDefined"},
            )
        ],
        "service-quotas": [
            (
                "get_service_quota",
                recorded("aws/servicequotas-GetServiceQuota-ec2-L-3819A6DF.json"),
                {"ServiceCode": "ec2", "QuotaCode": "L-3819A6DF"},
            ),
            (
                "list_service_quotas",
                recorded("aws/servicequotas-ListServiceQuotas-sagemaker.json"),
                {"ServiceCode": "sagemaker"},
            ),
            (
                "list_aws_default_service_quotas",
                recorded("aws/servicequotas-ListAWSDefaultServiceQuotas-sagemaker.json"),
                {"ServiceCode": "sagemaker"},
            ),
        ],
    }


def ready_account() -> dict[str, list[tuple[str, Any, dict[str, Any]]]]:
    """The same responses after the quota requests and the tag activation were granted."""
    answers = fresh_account()
    tags = copy.deepcopy(answers["ce"][0][1])
    tags["CostAllocationTags"][0]["Status"] = "Active"
    spot = copy.deepcopy(answers["service-quotas"][0][1])
    spot["Quota"]["Value"] = 32.0
    applied = copy.deepcopy(answers["service-quotas"][2][1])
    applied["Quotas"][1]["Value"] = 8.0  # ml.m5.large, now applied (listed by ListServiceQuotas)
    return {
        "ce": [(answers["ce"][0][0], tags, answers["ce"][0][2])],
        "service-quotas": [
            (answers["service-quotas"][0][0], spot, answers["service-quotas"][0][2]),
            ("list_service_quotas", applied, {"ServiceCode": "sagemaker"}),
        ],
    }


@pytest.fixture
def moto_account(aws_env):
    with mock_aws():
        yield boto3.client("s3", region_name=REGION)


def test_a_fresh_aws_account_fails_what_it_lacks(cli, moto_account, monkeypatch):
    stubbed = StubbedAws(fresh_account())
    monkeypatch.setattr(aws, "client", stubbed)
    assert _preflight(cli, "aws-prod") == 1, cli.out + cli.err
    stubbed.all_answered()
    # The stack's region (aws:region); Cost Explorer answers in us-east-1 only.
    assert stubbed.regions == {
        "ce": {"us-east-1"},
        "service-quotas": {"us-east-1"},
        "s3": {"us-east-1"},
    }
    assert _statuses(cli.out) == [
        ("FAIL", "aws-cost-allocation-tag-mlops:project"),
        # The stack creates the baseline's bucket: nothing to upload to before the first deploy.
        ("UNKNOWN", f"aws-drift-baseline-{_baseline_uri()}"),
        ("UNKNOWN", "aws-ec2-capacity-g-spot"),
        ("FAIL", "aws-ec2-quota-L-3819A6DF"),
        ("UNKNOWN", f"aws-image-{IMAGE}"),
        ("FAIL", "aws-s3-bucket-org-s3-access-logs-123456789012"),
        ("FAIL", f"aws-s3-object-{MODELS}/6/model.tar.gz"),
        ("FAIL", f"aws-s3-object-{MODELS}/7/model.tar.gz"),
        ("FAIL", "aws-sagemaker-quota-ml.m5.large"),
    ]
    lines = cli.out.splitlines()
    assert lines[3] == (
        "FAIL aws-ec2-quota-L-3819A6DF: EC2 quota 'All G and VT Spot Instance Requests' "
        "(L-3819A6DF) in us-east-1: at least 32 vCPUs for the GPU node groups at max size "
        "(applied quota L-3819A6DF is 0 < 32 needed; aws service-quotas "
        "request-service-quota-increase --service-code ec2 --quota-code L-3819A6DF "
        "--desired-value 32)"
    )
    assert lines[8].endswith(
        "(default quota ml.m5.large for endpoint usage is 0 < 8 needed; request "
        "'ml.m5.large for endpoint usage' = 8 in the Service Quotas console)"
    )
    assert lines[-1] == "9 preconditions: 0 pass, 6 fail, 3 unknown"


def _baseline_uri() -> str:
    function = reference_recording("aws-prod").named("mlops-drift-function")
    return function.inputs["environment"]["variables"]["DRIFT_BASELINE_URI"]


def test_the_drift_baseline_is_checked_at_the_functions_uri(moto_account):
    recording = reference_recording("aws-prod")
    (baseline,) = [
        p
        for p in derive(recording.resources, recording.config)
        if p.id == f"aws-drift-baseline-{_baseline_uri()}"
    ]
    check = AwsChecks(lambda service, region: boto3.client(service, region_name=REGION))
    bucket, key = baseline.check["bucket"], baseline.check["key"]
    assert _baseline_uri() == f"s3://{bucket}/{key}"
    # Before the first deploy: the stack has not created the bucket yet.
    result = check(baseline)
    assert (result.status, result.why) == (
        "UNKNOWN",
        f"bucket {bucket} not created yet (the stack creates it)",
    )
    moto_account.create_bucket(Bucket=bucket)
    result = check(baseline)
    assert (result.status, result.why) == ("FAIL", f"s3://{bucket}/{key} does not exist")
    moto_account.put_object(Bucket=bucket, Key=key, Body=b"{}")
    assert (check(baseline).status, check(baseline).why) == ("PASS", "2 bytes")


def test_a_ready_aws_account_passes(cli, moto_account, monkeypatch, tmp_path):
    moto_account.create_bucket(Bucket="org-s3-access-logs-123456789012")
    moto_account.create_bucket(Bucket="fraud-detection-models")
    for version in ("6", "7"):
        moto_account.put_object(
            Bucket="fraud-detection-models", Key=f"fraud-detector/{version}/model.tar.gz", Body=b"m"
        )
    # After the first deploy: the stack's bucket exists and the baseline was uploaded.
    bucket, _, key = _baseline_uri().removeprefix("s3://").partition("/")
    moto_account.create_bucket(Bucket=bucket)
    moto_account.put_object(Bucket=bucket, Key=key, Body=b"{}")
    stubbed = StubbedAws(ready_account())
    monkeypatch.setattr(aws, "client", stubbed)
    report = tmp_path / "preflight.json"
    args = ("--quiet", "--json", str(report), "--region", "us-west-2")
    assert _preflight(cli, "aws-prod", *args) == 0, cli.out + cli.err
    stubbed.all_answered()
    assert stubbed.regions["service-quotas"] == {"us-west-2"}
    assert stubbed.regions["ce"] == {"us-east-1"}
    # --quiet: only what did not pass, then the count.
    assert _statuses(cli.out) == [
        ("UNKNOWN", "aws-ec2-capacity-g-spot"),
        ("UNKNOWN", f"aws-image-{IMAGE}"),
    ]
    document = json.loads(report.read_text())
    assert document["passed"] is True
    assert document["counts"] == {"PASS": 7, "FAIL": 0, "UNKNOWN": 2}
    results = {r["id"]: r for r in document["results"]}
    assert results["aws-ec2-quota-L-3819A6DF"]["why"] == "applied quota 32 ≥ 32 needed"
    assert results["aws-sagemaker-quota-ml.m5.large"]["why"] == "applied quota 8 ≥ 8 needed"
    assert results["aws-s3-bucket-org-s3-access-logs-123456789012"]["why"] == "exists in us-east-1"
    assert results["aws-cost-allocation-tag-mlops:project"]["seenBy"] == "preflight"


def test_an_access_log_bucket_in_another_region_fails(moto_account):
    west = boto3.client("s3", region_name="us-west-2")
    west.create_bucket(
        Bucket="org-s3-access-logs-123456789012",
        CreateBucketConfiguration={"LocationConstraint": "us-west-2"},
    )
    recording = reference_recording("aws-prod")
    (bucket,) = [
        p for p in derive(recording.resources, recording.config) if p.id.startswith("aws-s3-bucket")
    ]
    result = AwsChecks(lambda service, region: boto3.client(service, region_name=region))(bucket)
    assert (result.status, result.why) == ("FAIL", "bucket is in us-west-2, the stack in us-east-1")


def test_a_pool_of_unknown_size_reads_its_vcpus_from_ec2(moto_account):
    recording = reference_recording("aws-prod")
    gpu = next(r for r in recording.resources if r.name == "mlops-training-gpu")
    gpu.inputs["instanceTypes"] = ["g6e.xlarge", "g6e.2xlarge"]
    (quota,) = [
        p
        for p in derive(recording.resources, recording.config)
        if p.id == "aws-ec2-quota-L-3819A6DF"
    ]
    assert quota.check["need"] is None
    stubbed = StubbedAws(
        {
            "ec2": [
                (
                    "describe_instance_types",
                    {
                        "InstanceTypes": [
                            {"InstanceType": "g6e.xlarge", "VCpuInfo": {"DefaultVCpus": 4}},
                            {"InstanceType": "g6e.2xlarge", "VCpuInfo": {"DefaultVCpus": 8}},
                        ]
                    },
                    {"InstanceTypes": ["g6e.2xlarge", "g6e.xlarge"]},
                )
            ],
            "service-quotas": fresh_account()["service-quotas"][:1],
        }
    )
    result = AwsChecks(lambda service, region: stubbed(service, region=region))(quota)
    stubbed.all_answered()
    assert result.status == "FAIL"
    # The pool may launch either type: 4 × the larger (8 vCPUs), not the sum of both.
    assert result.why.startswith("applied quota L-3819A6DF is 0 < 32 needed")


def test_no_aws_credentials_is_one_line_and_exit_2(cli, aws_env, monkeypatch):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    assert _preflight(cli, "aws-dev") == 2
    assert cli.one_error_line().startswith(
        "mlops-iac preflight: error: no AWS credentials found (set AWS_PROFILE"
    )
    assert cli.out == ""


def test_an_unknown_stack_is_one_line_and_exit_2(cli):
    assert _preflight(cli, "aws-nowhere") == 2
    assert "aws-nowhere" in cli.one_error_line()


# --- Azure and GCP over the replayed transport -------------------------------------------------


class Replay:
    """The HTTP transport: the recorded response of each exact URL; any other URL fails."""

    def __init__(self, token: str, routes: dict[str, str | tuple[int, Any]]) -> None:
        self.token = token
        self.routes = routes
        self.requested: list[str] = []

    def __call__(self, url: str, headers) -> tuple[int, Any]:
        assert headers["Authorization"] == f"Bearer {self.token}"
        assert url in self.routes, f"unexpected request {url}"
        self.requested.append(url)
        route = self.routes[url]
        return (200, recorded(route)) if isinstance(route, str) else route


class Token:
    def __init__(self, token: str) -> None:
        self.token = token


class Credential:
    """An azure-identity credential: a token for the ARM scope, or the library's own error."""

    def __init__(self, error: Exception | None = None) -> None:
        self.error = error
        self.scopes: list[str] = []

    def get_token(self, *scopes: str, **_: Any) -> Token:
        self.scopes += scopes
        if self.error is not None:
            raise self.error
        return Token("azure-token")


AZURE_ROUTES: dict[str, str | tuple[int, Any]] = {
    PROVIDERS: "azure/providers-page1.json",
    f"{PROVIDERS}&%24skiptoken=page2": "azure/providers-page2.json",
    USAGES: "azure/aml-usages-eastus.json",
}


def test_azure_providers_and_cores_from_the_recorded_subscription(cli, monkeypatch):
    replay = Replay("azure-token", AZURE_ROUTES)
    credential = Credential()
    monkeypatch.setattr(preflight, "TRANSPORT", replay)
    monkeypatch.setattr(preflight, "azure_credential", lambda: credential)
    monkeypatch.delenv("AZURE_SUBSCRIPTION_ID", raising=False)
    assert _preflight(cli, "azure-prod", "--subscription", SUBSCRIPTION) == 1, cli.err
    assert credential.scopes == ["https://management.azure.com/.default"]
    # One providers listing (both pages) and one usages listing serve every check.
    assert replay.requested == [USAGES, PROVIDERS, f"{PROVIDERS}&%24skiptoken=page2"]
    assert _statuses(cli.out) == [
        ("PASS", "azure-aml-quota-TotalLowPriorityCores"),
        ("FAIL", "azure-aml-quota-standardDSv2Family"),
        ("PASS", "azure-provider-Microsoft.Consumption"),
        ("PASS", "azure-provider-Microsoft.ContainerRegistry"),
        ("PASS", "azure-provider-Microsoft.Insights"),
        ("PASS", "azure-provider-Microsoft.KeyVault"),
        ("FAIL", "azure-provider-Microsoft.MachineLearningServices"),
        ("PASS", "azure-provider-Microsoft.ManagedIdentity"),
        ("PASS", "azure-provider-Microsoft.Network"),
        ("FAIL", "azure-provider-Microsoft.OperationalInsights"),
        ("PASS", "azure-provider-Microsoft.Portal"),
        ("PASS", "azure-provider-Microsoft.Storage"),
        ("FAIL", "azure-provider-Microsoft.Web"),
    ]
    lines = cli.out.splitlines()
    assert lines[0].endswith("(100 free (0 used of 100), 96 needed)")
    assert lines[1].endswith("(16 free (8 used of 24), 44 needed)")
    assert lines[6].endswith(
        "(NotRegistered; az provider register --namespace Microsoft.MachineLearningServices)"
    )
    assert "(Registering;" in lines[9]


def test_azure_without_a_subscription_or_credentials_is_one_line(cli, monkeypatch):
    from azure.identity import CredentialUnavailableError

    monkeypatch.delenv("AZURE_SUBSCRIPTION_ID", raising=False)
    monkeypatch.setattr(preflight, "TRANSPORT", Replay("unused", {}))
    assert _preflight(cli, "azure-dev") == 2
    assert cli.one_error_line() == (
        "mlops-iac preflight: error: no Azure subscription (pass --subscription or set "
        "AZURE_SUBSCRIPTION_ID)"
    )
    unavailable = Credential(CredentialUnavailableError("no credential in the chain"))
    monkeypatch.setattr(preflight, "azure_credential", lambda: unavailable)
    monkeypatch.setenv("AZURE_SUBSCRIPTION_ID", SUBSCRIPTION)
    assert _preflight(cli, "azure-dev") == 2
    assert cli.one_error_line().startswith(
        "mlops-iac preflight: error: no Azure credentials found (run `az login`"
    )


GCP_ROUTES: dict[str, str | tuple[int, Any]] = {
    SERVICES: "gcp/services-enabled-page1.json",
    f"{SERVICES}&pageToken=CAQ": "gcp/services-enabled-page2.json",
    RUN_L4: "gcp/quotaInfo-run-NvidiaL4GpuAllocNoZonalRedundancyPerProjectRegion.json",
    GKE_A100: "gcp/quotaInfo-compute-PREEMPTIBLE-NVIDIA-A100-GPUS-per-project-region.json",
}


def test_gcp_services_and_gpu_quotas_from_the_recorded_project(cli, monkeypatch):
    replay = Replay("gcp-token", GCP_ROUTES)
    monkeypatch.setattr(preflight, "TRANSPORT", replay)
    monkeypatch.setattr(preflight, "gcp_token", lambda: "gcp-token")
    assert _preflight(cli, "gcp-prod", "--json") == 1, cli.err
    document = json.loads(cli.out)  # --json without a file: the document alone on stdout
    results = {r["id"]: (r["status"], r["why"]) for r in document["results"]}
    enabled = {"logging.googleapis.com", "monitoring.googleapis.com", "storage.googleapis.com"}
    for service_id, (status, why) in results.items():
        if service_id.startswith("gcp-service-"):
            service = service_id.removeprefix("gcp-service-")
            assert status == ("PASS" if service in enabled else "FAIL"), service_id
            if status == "FAIL":
                assert why == (
                    f"not enabled; gcloud services enable {service} --project fraud-detection-prod"
                )
    assert results["gcp-run-gpu-quota-mlops-serving-service"] == (
        "FAIL",
        "limit 0 in us-central1, 4 needed; request an increase (Cloud console → Quotas)",
    )
    assert results["gcp-gke-gpu-quota-PREEMPTIBLE-NVIDIA-A100-GPUS-per-project-region"] == (
        "PASS",
        "limit 16 in us-central1, 4 needed",
    )
    # sqladmin (the tracking server's Cloud SQL) is one more service; the two Cloud Run images
    # the stack does not push are deploy-only: preflight cannot see them.
    assert document["counts"] == {"PASS": 4, "FAIL": 14, "UNKNOWN": 2}
    assert {i for i, (s, _) in results.items() if s == "UNKNOWN"} == {
        i for i in results if i.startswith("gcp-run-image-")
    }
    assert replay.requested.count(SERVICES) == 1  # one listing serves every service check


def test_a_quota_the_caller_may_not_read_is_unknown():
    recording = reference_recording("gcp-prod")
    (run,) = [
        p
        for p in derive(recording.resources, recording.config)
        if p.id == "gcp-run-gpu-quota-mlops-serving-service"
    ]
    denied = {
        "error": {
            "code": 403,
            "message": "Permission 'cloudquotas.quotas.get' denied on resource",
            "status": "PERMISSION_DENIED",
        }
    }
    result = GcpChecks("gcp-token", Replay("gcp-token", {RUN_L4: (403, denied)}))(run)
    assert (result.status, result.why) == (
        "UNKNOWN",
        "HTTP 403: Permission 'cloudquotas.quotas.get' denied on resource",
    )


def test_quota_value_prefers_the_region_then_the_default():
    info = recorded("gcp/quotaInfo-compute-PREEMPTIBLE-NVIDIA-A100-GPUS-per-project-region.json")
    assert quota_value(info, "us-central1") == 16
    assert quota_value(info, "europe-west4") == 0  # no entry of its own: the default
    assert quota_value({"dimensionsInfos": [{"dimensions": {}, "details": {}}]}, "x") is None


def test_no_gcp_credentials_is_one_line_and_exit_2(cli, monkeypatch, tmp_path):
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "missing.json"))
    monkeypatch.setattr(preflight, "TRANSPORT", Replay("unused", {}))
    assert _preflight(cli, "gcp-dev") == 2
    line = cli.one_error_line()
    assert line.startswith("mlops-iac preflight: error: no GCP credentials found (run `gcloud")
    assert "missing.json" in line
