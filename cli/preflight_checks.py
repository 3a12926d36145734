"""The live checks behind ``mlops-iac preflight``: one function per ``Precondition.check`` kind.

Read-only. AWS goes through boto3 clients handed in by the caller (``client(service, region)``),
Azure and GCP through their REST APIs over a ``Transport`` (``method, url, headers`` → ``status,
JSON body``), so tests replay recorded responses without a network. Every check returns a
``Result``: PASS, FAIL (the account does not provide it: the deploy would fail) or UNKNOWN (the
caller may not look, or the answer is only known at deploy time).

APIs read:

- AWS Service Quotas GetServiceQuota / GetAWSDefaultServiceQuota / ListServiceQuotas,
  EC2 DescribeInstanceTypes, Lambda GetAccountSettings, S3 HeadBucket / HeadObject,
  Cost Explorer ListCostAllocationTags;
- Azure Resource Manager: Providers - List
  (https://learn.microsoft.com/en-us/rest/api/resources/providers/list) and Azure Machine
  Learning Usages - List (https://learn.microsoft.com/en-us/rest/api/azureml/usages/list);
- Google Service Usage ``services.list``
  (https://cloud.google.com/service-usage/docs/reference/rest/v1/services/list) and Cloud Quotas
  ``quotaInfos.get``
  (https://cloud.google.com/docs/quotas/reference/rest/v1/projects.locations.services.quotaInfos/get).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from mlops_iac.plan.preconditions import Precondition

Status = Literal["PASS", "FAIL", "UNKNOWN"]
ARM = "https://management.azure.com"
ARM_SCOPE = "https://management.azure.com/.default"
PROVIDERS_API = "2021-04-01"
AML_API = "2024-10-01"
SERVICE_USAGE = "https://serviceusage.googleapis.com/v1"
CLOUD_QUOTAS = "https://cloudquotas.googleapis.com/v1"
GCP_SCOPE = "https://www.googleapis.com/auth/cloud-platform"


@dataclass(frozen=True)
class Result:
    """One precondition's verdict and why."""

    precondition: Precondition
    status: Status
    why: str

    def line(self) -> str:
        """``PASS|FAIL|UNKNOWN <id>: <what> (<why>)``."""
        p = self.precondition
        return f"{self.status} {p.id}: {p.what} ({self.why})"

    def as_dict(self) -> dict[str, Any]:
        return {**self.precondition.as_dict(), "status": self.status, "why": self.why}


class Transport(Protocol):
    """An HTTP GET: ``(status, parsed JSON body or None)``."""

    def __call__(self, url: str, headers: Mapping[str, str]) -> tuple[int, Any]: ...


def urllib_transport(url: str, headers: Mapping[str, str]) -> tuple[int, Any]:
    """The real transport: a GET with a 30 s timeout; an HTTP error returns its status and body."""
    request = urllib.request.Request(url, headers=dict(headers), method="GET")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 (https only)
            return response.status, _json(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, _json(exc.read())


def _json(body: bytes) -> Any:
    try:
        return json.loads(body) if body else None
    except ValueError:
        return None


def _http_error(status: int, body: Any) -> str:
    error = body.get("error") if isinstance(body, Mapping) else None
    message = ""
    if isinstance(error, Mapping):
        message = str(error.get("message") or error.get("code") or "")
    return f"HTTP {status}" + (f": {' '.join(message.split())}" if message else "")


def deploy_only(p: Precondition) -> Result:
    return Result(p, "UNKNOWN", "only a real deploy shows this")


# --- AWS -------------------------------------------------------------------------------------


def _aws_error(exc: Exception) -> tuple[str, str]:
    response = getattr(exc, "response", {}) or {}
    error = response.get("Error", {})
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return str(error.get("Code") or status or type(exc).__name__), str(error.get("Message") or "")


class AwsChecks:
    """The AWS checks; ``client(service, region)`` returns a boto3 client."""

    def __init__(self, client: Callable[[str, str | None], Any]) -> None:
        self.client = client

    def __call__(self, p: Precondition) -> Result:
        from botocore.exceptions import BotoCoreError, ClientError

        kind = p.check.get("kind")
        method = {
            "aws-service-quota": self.quota,
            "aws-lambda-unreserved": self.lambda_unreserved,
            "aws-s3-bucket": self.bucket,
            "aws-s3-object": self.object,
            "aws-cost-allocation-tag": self.cost_tag,
        }.get(str(kind))
        if method is None:
            return deploy_only(p)
        try:
            return method(p)
        except ClientError as exc:
            code, message = _aws_error(exc)
            return Result(p, "UNKNOWN", f"{code}: {message}".rstrip(": "))
        except BotoCoreError as exc:
            return Result(p, "UNKNOWN", str(exc))

    def _quota_value(self, check: Mapping[str, Any]) -> tuple[float | None, str]:
        from botocore.exceptions import ClientError

        quotas = self.client("service-quotas", check.get("region"))
        service, code = check["serviceCode"], check.get("quotaCode")
        if code:
            try:
                quota = quotas.get_service_quota(ServiceCode=service, QuotaCode=code)["Quota"]
                return float(quota["Value"]), "applied"
            except ClientError as exc:
                if _aws_error(exc)[0] != "NoSuchResourceException":
                    raise
            default = quotas.get_aws_default_service_quota(ServiceCode=service, QuotaCode=code)
            return float(default["Quota"]["Value"]), "default"
        name = check["quotaName"]
        for operation, source in (
            ("list_service_quotas", "applied"),
            ("list_aws_default_service_quotas", "default"),
        ):
            for page in quotas.get_paginator(operation).paginate(ServiceCode=service):
                for quota in page.get("Quotas", []):
                    if quota.get("QuotaName") == name:
                        return float(quota["Value"]), source
        return None, "not found"

    def _vcpus(self, check: Mapping[str, Any]) -> int:
        """The vCPUs the pools need, reading unknown instance types' vCPUs from EC2."""
        instances = check.get("instances") or []
        unknown = sorted({i["instanceType"] for i in instances if i.get("vcpus") is None})
        vcpus: dict[str, int] = {}
        if unknown:
            ec2 = self.client("ec2", check.get("region"))
            for item in ec2.describe_instance_types(InstanceTypes=unknown)["InstanceTypes"]:
                vcpus[item["InstanceType"]] = int(item["VCpuInfo"]["DefaultVCpus"])
        # A pool with several types may launch any of them: its largest type counts.
        largest: dict[str, int] = {}
        for n, i in enumerate(instances):
            pool = str(i.get("pool", n))
            each = int(i["vcpus"] if i.get("vcpus") is not None else vcpus[i["instanceType"]])
            largest[pool] = max(largest.get(pool, 0), int(i["count"]) * each)
        return sum(largest.values())

    def quota(self, p: Precondition) -> Result:
        check = p.check
        need = check.get("need")
        if need is None:
            need = self._vcpus(check)
        value, source = self._quota_value(check)
        label = check.get("quotaCode") or check.get("quotaName")
        if value is None:
            return Result(
                p, "UNKNOWN", f"quota '{check.get('quotaName')}' not listed in the region"
            )
        shown = f"{value:g}"
        if value >= need:
            return Result(p, "PASS", f"{source} quota {shown} ≥ {need} needed")
        request = (
            f"aws service-quotas request-service-quota-increase --service-code "
            f"{check['serviceCode']} --quota-code {check['quotaCode']} --desired-value {need}"
            if check.get("quotaCode")
            else f"request '{check.get('quotaName')}' = {need} in the Service Quotas console"
        )
        return Result(p, "FAIL", f"{source} quota {label} is {shown} < {need} needed; {request}")

    def lambda_unreserved(self, p: Precondition) -> Result:
        settings = self.client("lambda", p.check.get("region")).get_account_settings()
        limit = settings.get("AccountLimit", {})
        unreserved = int(limit.get("UnreservedConcurrentExecutions", 0))
        total = limit.get("ConcurrentExecutions")
        need = int(p.check["need"])
        why = f"unreserved {unreserved} of {total}, {need} needed"
        if unreserved >= need:
            return Result(p, "PASS", why)
        return Result(p, "FAIL", why + "; request a higher 'Concurrent executions' (L-B99A9384)")

    def bucket(self, p: Precondition) -> Result:
        from botocore.exceptions import ClientError

        bucket, region = p.check["bucket"], p.check.get("region")
        try:
            response = self.client("s3", region).head_bucket(Bucket=bucket)
        except ClientError as exc:
            code, _ = _aws_error(exc)
            if code in ("404", "NoSuchBucket", "NotFound"):
                return Result(p, "FAIL", f"bucket {bucket} does not exist")
            if code in ("403", "AccessDenied", "Forbidden"):
                return Result(
                    p, "UNKNOWN", "403: the bucket exists but this identity may not read it"
                )
            raise
        headers = response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
        found = response.get("BucketRegion") or headers.get("x-amz-bucket-region")
        if region and found and found != region:
            return Result(p, "FAIL", f"bucket is in {found}, the stack in {region}")
        return Result(p, "PASS", f"exists in {found or 'an unreported region'}")

    def object(self, p: Precondition) -> Result:
        from botocore.exceptions import ClientError

        bucket, key = p.check["bucket"], p.check["key"]
        s3 = self.client("s3", None)
        if p.check.get("stackBucket"):
            # A bucket the stack creates: before its first deploy the object cannot be there.
            try:
                s3.head_bucket(Bucket=bucket)
            except ClientError as exc:
                if _aws_error(exc)[0] in ("404", "NoSuchBucket", "NotFound"):
                    return Result(
                        p, "UNKNOWN", f"bucket {bucket} not created yet (the stack creates it)"
                    )
                raise
        try:
            response = s3.head_object(Bucket=bucket, Key=key)
        except ClientError as exc:
            code, _ = _aws_error(exc)
            if code in ("404", "NoSuchKey", "NotFound", "NoSuchBucket"):
                return Result(p, "FAIL", f"s3://{bucket}/{key} does not exist")
            if code in ("403", "AccessDenied", "Forbidden"):
                return Result(p, "UNKNOWN", "403: missing, or this identity may not read it")
            raise
        return Result(p, "PASS", f"{response.get('ContentLength', '?')} bytes")

    def cost_tag(self, p: Precondition) -> Result:
        from botocore.exceptions import ClientError

        key = p.check["tagKey"]
        try:
            # Cost Explorer is served from us-east-1 only.
            tags = self.client("ce", "us-east-1").list_cost_allocation_tags(
                TagKeys=[key], Type="UserDefined"
            )["CostAllocationTags"]
        except ClientError as exc:
            code, message = _aws_error(exc)
            if code in ("AccessDeniedException", "AccessDenied"):
                return Result(p, "UNKNOWN", f"{code}: ask the management (payer) account")
            raise
        status = next((t.get("Status") for t in tags if t.get("TagKey") == key), None)
        if status == "Active":
            return Result(p, "PASS", "Active")
        if status is None:
            return Result(p, "FAIL", "not seen on any bill yet: tag a resource, then activate")
        return Result(p, "FAIL", f"{status}: activate it under Billing → Cost allocation tags")


# --- Azure -----------------------------------------------------------------------------------


class AzureChecks:
    """The Azure checks over ARM REST with a bearer token."""

    def __init__(self, subscription: str, token: str, transport: Transport) -> None:
        self.subscription = subscription
        self.headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        self.transport = transport
        self._providers: dict[str, str] | None = None
        self._usages: dict[str, dict[str, Mapping[str, Any]]] = {}

    def _pages(self, url: str) -> list[Any]:
        items: list[Any] = []
        next_url: str | None = url
        while next_url:
            status, body = self.transport(next_url, self.headers)
            if status != 200 or not isinstance(body, Mapping):
                raise _HttpProblem(_http_error(status, body))
            items += list(body.get("value") or [])
            next_url = body.get("nextLink")
        return items

    def __call__(self, p: Precondition) -> Result:
        kind = p.check.get("kind")
        try:
            if kind == "azure-provider":
                return self.provider(p)
            if kind == "azure-aml-usage":
                return self.usage(p)
        except _HttpProblem as exc:
            return Result(p, "UNKNOWN", str(exc))
        return deploy_only(p)

    def provider(self, p: Precondition) -> Result:
        if self._providers is None:
            url = f"{ARM}/subscriptions/{self.subscription}/providers?api-version={PROVIDERS_API}"
            self._providers = {
                str(item.get("namespace", "")).lower(): str(item.get("registrationState"))
                for item in self._pages(url)
            }
        namespace = p.check["namespace"]
        state = self._providers.get(namespace.lower(), "not listed")
        if state == "Registered":
            return Result(p, "PASS", "Registered")
        return Result(p, "FAIL", f"{state}; az provider register --namespace {namespace}")

    def usage(self, p: Precondition) -> Result:
        location = str(p.check.get("location") or "")
        if not location:
            return Result(p, "UNKNOWN", "the stack sets no azure-native:location")
        if location not in self._usages:
            url = (
                f"{ARM}/subscriptions/{self.subscription}/providers/"
                f"Microsoft.MachineLearningServices/locations/{location}/usages"
                f"?api-version={AML_API}"
            )
            self._usages[location] = {
                str((item.get("name") or {}).get("value", "")).lower(): item
                for item in self._pages(url)
            }
        quota, need = p.check["quota"], p.check.get("need")
        usage = self._usages[location].get(str(quota).lower())
        if usage is None:
            return Result(p, "FAIL", f"no {quota} quota in {location}: request it")
        limit, used = int(usage.get("limit", 0)), int(usage.get("currentValue", 0))
        free = limit - used
        if need is None:
            return Result(p, "UNKNOWN", f"{free} free of {limit}; the cores needed are unknown")
        why = f"{free} free ({used} used of {limit}), {need} needed"
        return Result(p, "PASS" if free >= need else "FAIL", why)


class _HttpProblem(Exception):
    """A REST call that did not answer 200 (the message is one line)."""


# --- GCP -------------------------------------------------------------------------------------


class GcpChecks:
    """The GCP checks over Service Usage and Cloud Quotas REST with a bearer token."""

    def __init__(self, token: str, transport: Transport) -> None:
        self.headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        self.transport = transport
        self._enabled: dict[str, set[str]] = {}

    def __call__(self, p: Precondition) -> Result:
        kind = p.check.get("kind")
        try:
            if kind == "gcp-service":
                return self.service(p)
            if kind == "gcp-quota":
                return self.quota(p)
        except _HttpProblem as exc:
            return Result(p, "UNKNOWN", str(exc))
        return deploy_only(p)

    def _get(self, url: str) -> Mapping[str, Any]:
        status, body = self.transport(url, self.headers)
        if status != 200 or not isinstance(body, Mapping):
            raise _HttpProblem(_http_error(status, body))
        return body

    def service(self, p: Precondition) -> Result:
        project = str(p.check.get("project") or "")
        if not project:
            return Result(p, "UNKNOWN", "the stack sets no gcp:project")
        if project not in self._enabled:
            enabled: set[str] = set()
            token = ""
            while True:
                query = {"filter": "state:ENABLED", "pageSize": "200"}
                if token:
                    query["pageToken"] = token
                url = f"{SERVICE_USAGE}/projects/{project}/services?{urllib.parse.urlencode(query)}"
                body = self._get(url)
                enabled |= {
                    str(
                        (s.get("config") or {}).get("name")
                        or str(s.get("name", "")).rsplit("/", 1)[-1]
                    )
                    for s in body.get("services") or []
                }
                token = str(body.get("nextPageToken") or "")
                if not token:
                    break
            self._enabled[project] = enabled
        service = p.check["service"]
        if service in self._enabled[project]:
            return Result(p, "PASS", "ENABLED")
        return Result(
            p, "FAIL", f"not enabled; gcloud services enable {service} --project {project}"
        )

    def quota(self, p: Precondition) -> Result:
        check = p.check
        project, region = str(check.get("project") or ""), str(check.get("region") or "")
        if not project:
            return Result(p, "UNKNOWN", "the stack sets no gcp:project")
        name = (
            f"projects/{project}/locations/global/services/{check['service']}"
            f"/quotaInfos/{check['quotaId']}"
        )
        info = self._get(f"{CLOUD_QUOTAS}/{name}")
        value = quota_value(info, region)
        need = int(check["need"])
        if value is None:
            return Result(
                p, "UNKNOWN", f"{check['quotaId']} has no value for {region or 'the project'}"
            )
        if value < 0:
            return Result(p, "PASS", "unlimited")
        why = f"limit {value} in {region}, {need} needed"
        if value >= need:
            return Result(p, "PASS", why)
        return Result(p, "FAIL", why + "; request an increase (Cloud console → Quotas)")


def quota_value(info: Mapping[str, Any], region: str) -> int | None:
    """The limit a QuotaInfo gives ``region``: its region's dimensions entry, else the default
    (the entry without dimensions); ``-1`` means unlimited, ``None`` no value."""
    entries = [e for e in info.get("dimensionsInfos") or [] if isinstance(e, Mapping)]
    chosen = next((e for e in entries if (e.get("dimensions") or {}).get("region") == region), None)
    if chosen is None:
        chosen = next((e for e in entries if not e.get("dimensions")), None)
    value = (chosen or {}).get("details", {}).get("value")
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None
