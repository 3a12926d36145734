"""What the code this toolkit ships to run in a cloud calls, as data: one manifest per handler,
built from the settings the deployment gives it.

A manifest lists every authorised call the code makes (the cloud's permission name, the
resource it acts on, the condition attributes the request carries) and the settings it reads
and needs. ``plan`` proves each call against the identity's grants in the plan
(``mlops_iac.plan.deploy.permissions``); the runtime tests record what the real entry points
call against emulators and assert it is in the manifest. Standard library only (no Pulumi).

Resource names: AWS ARNs; Azure resource paths from ``storageAccounts/<account>/…`` for storage
(the subscription and resource group are not in the settings; account names are global) and
full ARM ids otherwise; GCP full resource names (``projects/_/buckets/<b>/objects/<o>``). A
``*`` in a resource stands for any text (the objects a run finds under a prefix).

A team's own function: write a function from its settings to a :class:`Manifest` and
``register`` it under the entry point its shipped code imports (``module.function``); ``plan``
then checks every function in the plan whose entry module imports that name.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from mlops_iac.drift import wire

S3_ACTIONS = "https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazons3.html"
CLOUDWATCH_ACTIONS = (
    "https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazoncloudwatch.html"
)
AZURE_BLOB_ACTIONS = "https://learn.microsoft.com/azure/storage/blobs/storage-auth-abac-attributes"
AZURE_QUEUE_ACTIONS = "https://learn.microsoft.com/azure/storage/queues/queues-auth-abac-attributes"
AZURE_METRICS = (
    "https://learn.microsoft.com/azure/azure-monitor/essentials/metrics-store-custom-rest-api"
)
GCS_PERMISSIONS = "https://cloud.google.com/storage/docs/access-control/iam-json"
GCS_LIST_ON_BUCKET = "https://cloud.google.com/storage/docs/access-control/iam#conditions"
GCP_MONITORING = "https://cloud.google.com/monitoring/access-control"
S3_KMS_KEYS = "https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html"
SAGEMAKER_MODEL_DATA = "https://docs.aws.amazon.com/sagemaker/latest/dg/sagemaker-roles.html"

LIST_BLOBS = "Blob.List"
"""The Azure suboperation of ``…/blobs/read`` that lists a container (List Blobs)."""


@dataclass(frozen=True)
class Call:
    """One authorised call: ``action`` on ``resource``, with the condition ``attributes`` the
    request carries (AWS condition keys, Azure ABAC attributes, GCP CEL attributes)."""

    action: str
    resource: str
    why: str
    source: str
    attributes: tuple[tuple[str, str], ...] = ()
    suboperation: str | None = None
    """Azure: the suboperation of the data action (``Blob.List``), if any."""

    def attribute(self, name: str) -> str | None:
        return dict(self.attributes).get(name)

    def covers(self, other: Call) -> bool:
        """Whether ``other`` (a recorded, concrete call) is this call: the same action,
        suboperation and attributes, and a resource this one's ``*`` patterns match."""
        return (
            self.action == other.action
            and self.suboperation == other.suboperation
            and all(other.attribute(k) is not None and glob(v, other.attribute(k) or "")
                    for k, v in self.attributes)
            and glob(self.resource, other.resource)
        )  # fmt: skip

    def sample(self) -> Call:
        """The call with each ``*`` replaced by an object name, as one real request has it."""
        return Call(
            self.action,
            self.resource.replace("*", "example/part-0.jsonl"),
            self.why,
            self.source,
            self.attributes,
            self.suboperation,
        )

    def __str__(self) -> str:
        sub = f" ({self.suboperation})" if self.suboperation else ""
        return f"{self.action}{sub} on {self.resource}"


@dataclass(frozen=True)
class Manifest:
    """A handler's calls, the settings it read, and the ones it needs that are not set."""

    handler: str
    calls: tuple[Call, ...]
    reads: tuple[str, ...]
    missing: tuple[str, ...] = ()

    def covers(self, recorded: Call) -> bool:
        return any(call.covers(recorded) for call in self.calls)


def glob(pattern: str, text: str) -> bool:
    """``*`` matches any text; every other character itself."""
    regex = ".*".join(re.escape(part) for part in pattern.split("*"))
    return re.fullmatch(regex, text, re.DOTALL) is not None


def _uri(value: str) -> tuple[str, str, str]:
    match = re.match(r"^(s3|gs|az)://([^/]+)/?(.*)$", value or "")
    return (match.group(1), match.group(2), match.group(3)) if match else ("", "", "")


_JOB = ("DRIFT_CAPTURE_URI", "DRIFT_BASELINE_URI", "DRIFT_REPORT_URI")
_JOB_OPTIONAL = (
    "DRIFT_ENDPOINT",
    "DRIFT_FORMAT",
    "DRIFT_WINDOW_HOURS",
    "DRIFT_METRIC_NAMESPACE",
    "DRIFT_PSI",
    "DRIFT_KS",
    "DRIFT_JS",
    "DRIFT_MIN_ROWS",
    "DRIFT_SIGNIFICANCE",
    "DRIFT_SHARE",
    "DRIFT_FEATURE_THRESHOLDS",
    "DRIFT_EXCLUDE",
)


def _missing(env: Mapping[str, str], names: Iterable[str]) -> tuple[str, ...]:
    return tuple(name for name in names if not env.get(name))


def aws_drift(env: Mapping[str, str]) -> Manifest:
    """``mlops_iac.drift.handlers.aws_handler`` (S3 through boto3, CloudWatch metrics)."""
    _, bucket, capture = _uri(env.get("DRIFT_CAPTURE_URI", ""))
    _, baseline_bucket, baseline = _uri(env.get("DRIFT_BASELINE_URI", ""))
    _, report_bucket, reports = _uri(env.get("DRIFT_REPORT_URI", ""))
    namespace = env.get("DRIFT_METRIC_NAMESPACE") or wire.NAMESPACE
    reports = reports.rstrip("/")
    calls = (
        Call("s3:GetObject", f"arn:aws:s3:::{baseline_bucket}/{baseline}", "read the baseline",
             S3_ACTIONS),
        Call("s3:ListBucket", f"arn:aws:s3:::{baseline_bucket}",
             "list the baseline's key when reading it is denied (a missing key is a 403)",
             S3_ACTIONS, (("s3:prefix", baseline),)),
        Call("s3:ListBucket", f"arn:aws:s3:::{bucket}", "list the capture prefix's hour folders",
             S3_ACTIONS, (("s3:prefix", f"{capture}*"),)),
        Call("s3:GetObject", f"arn:aws:s3:::{bucket}/{capture}*", "read capture objects",
             S3_ACTIONS),
        Call("s3:PutObject", f"arn:aws:s3:::{report_bucket}/{reports}/*",
             "write the run's report and latest.json", S3_ACTIONS),
        Call("cloudwatch:PutMetricData", "*", "publish the drift metrics", CLOUDWATCH_ACTIONS,
             (("cloudwatch:namespace", namespace),)),
    )  # fmt: skip
    return Manifest(
        "mlops_iac.drift.handlers.aws_handler", calls, _JOB + _JOB_OPTIONAL, _missing(env, _JOB)
    )


def azure_storage_path(url: str) -> str:
    """``storageAccounts/<account>/<service>Services/default/…`` of a Blob or Queue URL."""
    parts = urlsplit(url)
    account, _, service = (parts.hostname or "").partition(".")
    kind = service.split(".", 1)[0]
    path = parts.path.strip("/")
    if kind == "queue":
        return f"storageAccounts/{account}/queueServices/default/queues/{path}"
    container, _, blob = path.partition("/")
    tail = f"/blobs/{blob}" if blob else ""
    return f"storageAccounts/{account}/blobServices/default/containers/{container}{tail}"


_BLOB = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs"


def azure_drift(env: Mapping[str, str]) -> Manifest:
    """``mlops_iac.drift.handlers.azure_handler`` (Blob, Queue and Monitor REST APIs)."""
    account_url = env.get("DRIFT_STORAGE_ACCOUNT_URL") or "https://unset.blob.core.windows.net"
    account_url = account_url.rstrip("/")

    def blob(uri: str) -> tuple[str, str, str]:
        _, container, path = _uri(uri)
        return container, path, azure_storage_path(f"{account_url}/{container}/{path}")

    container, capture, capture_path = blob(env.get("DRIFT_CAPTURE_URI", ""))
    _, _, baseline_path = blob(env.get("DRIFT_BASELINE_URI", ""))
    _, _, report_path = blob(env.get("DRIFT_REPORT_URI", "").rstrip("/"))
    calls = [
        Call(f"{_BLOB}/read", baseline_path, "read the baseline", AZURE_BLOB_ACTIONS),
        Call(f"{_BLOB}/read", azure_storage_path(f"{account_url}/{container}"),
             "list the capture prefix (List Blobs)", AZURE_BLOB_ACTIONS,
             ((f"{_BLOB}:prefix", capture),), LIST_BLOBS),
        Call(f"{_BLOB}/read", f"{capture_path}*", "read capture blobs", AZURE_BLOB_ACTIONS),
        Call(f"{_BLOB}/write", f"{report_path}/*",
             "write the run's report and overwrite latest.json (Put Blob)", AZURE_BLOB_ACTIONS),
    ]  # fmt: skip
    resource = env.get("DRIFT_METRIC_RESOURCE_ID")
    if resource:
        calls.append(
            Call("Microsoft.Insights/Metrics/Write", resource, "publish the drift metrics",
                 AZURE_METRICS)
        )  # fmt: skip
    queue = env.get("DRIFT_RETRAINING_QUEUE_URL")
    if queue:
        calls.append(
            Call("Microsoft.Storage/storageAccounts/queueServices/queues/messages/add/action",
                 azure_storage_path(queue), "put a retraining message on drift",
                 AZURE_QUEUE_ACTIONS)
        )  # fmt: skip
    needed = (*_JOB, "DRIFT_STORAGE_ACCOUNT_URL", "DRIFT_METRIC_RESOURCE_ID", "DRIFT_METRIC_REGION")
    # DRIFT_EMULATOR_ACCOUNT_KEY signs storage requests against Azurite only; no plan sets it.
    optional = (
        "DRIFT_CAPTURE_COLLECTION",
        "DRIFT_RETRAINING_QUEUE_URL",
        "AZURE_CLIENT_ID",
        "DRIFT_EMULATOR_ACCOUNT_KEY",
    )
    return Manifest(
        "mlops_iac.drift.handlers.azure_handler",
        tuple(calls),
        needed + _JOB_OPTIONAL + optional,
        _missing(env, needed),
    )


def gcs_object(bucket: str, name: str) -> str:
    return f"projects/_/buckets/{bucket}/objects/{name}"


def gcp_drift(env: Mapping[str, str]) -> Manifest:
    """``mlops_iac.drift.handlers.gcp_handler`` (Cloud Storage and Monitoring JSON APIs).

    ``latest.json`` is overwritten from the second run on, which takes ``storage.objects.delete``
    as well as ``create``. ``GOOGLE_CLOUD_PROJECT`` is not set by the Python runtimes of Cloud
    Functions (https://cloud.google.com/functions/docs/configuring/env-var#newer_runtimes), so the
    project is ``DRIFT_PROJECT``."""
    _, bucket, capture = _uri(env.get("DRIFT_CAPTURE_URI", ""))
    _, baseline_bucket, baseline = _uri(env.get("DRIFT_BASELINE_URI", ""))
    _, report_bucket, reports = _uri(env.get("DRIFT_REPORT_URI", ""))
    reports = reports.rstrip("/")
    project = env.get("DRIFT_PROJECT") or env.get("GOOGLE_CLOUD_PROJECT") or ""
    latest = gcs_object(report_bucket, f"{reports}/latest.json")
    calls = (
        Call("storage.objects.get", gcs_object(baseline_bucket, baseline), "read the baseline",
             GCS_PERMISSIONS),
        Call("storage.objects.list", f"projects/_/buckets/{bucket}",
             "list the capture prefix (checked on the bucket)", GCS_LIST_ON_BUCKET,
             (("prefix", capture),)),
        Call("storage.objects.get", gcs_object(bucket, f"{capture}*"), "read capture objects",
             GCS_PERMISSIONS),
        Call("storage.objects.create", gcs_object(report_bucket, f"{reports}/*"),
             "write the run's report and latest.json", GCS_PERMISSIONS),
        Call("storage.objects.delete", latest, "overwrite latest.json (every run after the first)",
             GCS_PERMISSIONS),
        Call("monitoring.timeSeries.create", f"projects/{project}", "publish the drift metrics",
             GCP_MONITORING),
    )  # fmt: skip
    needed = (*_JOB, "DRIFT_PROJECT")
    return Manifest(
        "mlops_iac.drift.handlers.gcp_handler",
        calls,
        needed + _JOB_OPTIONAL + ("DRIFT_MONITORING_URL",),
        _missing(env, needed),
    )


def gcs_model_reader(env: Mapping[str, str]) -> Manifest:
    """A model server told ``MODEL_URI=gs://<bucket>/<path>``: a ``/``-ended prefix is listed
    (checked on the bucket) and every object under it downloaded; another URI is one object."""
    _, bucket, prefix = _uri(env.get("MODEL_URI", ""))
    if not prefix.endswith("/"):
        calls: tuple[Call, ...] = (
            Call("storage.objects.get", gcs_object(bucket, prefix), "download the model file",
                 GCS_PERMISSIONS),
        )  # fmt: skip
        return Manifest(
            "model-server:MODEL_URI", calls, ("MODEL_URI",), _missing(env, ["MODEL_URI"])
        )
    calls = (
        Call("storage.objects.list", f"projects/_/buckets/{bucket}",
             "list the model directory (checked on the bucket)", GCS_LIST_ON_BUCKET,
             (("prefix", prefix),)),
        Call("storage.objects.get", gcs_object(bucket, f"{prefix}*"), "download the model files",
             GCS_PERMISSIONS),
    )  # fmt: skip
    return Manifest("model-server:MODEL_URI", calls, ("MODEL_URI",), _missing(env, ["MODEL_URI"]))


def s3_model_data(env: Mapping[str, str]) -> Manifest:
    """SageMaker downloading a model's ``ModelDataUrl`` with the model's execution role (one
    ``model.tar.gz``; a ``/``-ended prefix is listed too)."""
    _, bucket, key = _uri(env.get("ModelDataUrl", ""))
    calls: list[Call] = []
    if key.endswith("/"):
        calls.append(
            Call("s3:ListBucket", f"arn:aws:s3:::{bucket}", "list the model prefix",
                 SAGEMAKER_MODEL_DATA, (("s3:prefix", key),))
        )  # fmt: skip
    star = "*" if key.endswith("/") else ""
    calls.append(
        Call("s3:GetObject", f"arn:aws:s3:::{bucket}/{key}{star}", "download the model data",
             SAGEMAKER_MODEL_DATA)
    )  # fmt: skip
    return Manifest(
        "sagemaker:ModelDataUrl", tuple(calls), ("ModelDataUrl",), _missing(env, ["ModelDataUrl"])
    )


def gcs_capture_writer(env: Mapping[str, str]) -> Manifest:
    """A model server told ``CAPTURE_URI=gs://<bucket>/<prefix>/``: it writes new objects there."""
    _, bucket, prefix = _uri(env.get("CAPTURE_URI", ""))
    calls = (
        Call("storage.objects.create", gcs_object(bucket, f"{prefix}*"),
             "write captured requests", GCS_PERMISSIONS),
    )  # fmt: skip
    return Manifest(
        "model-server:CAPTURE_URI", calls, ("CAPTURE_URI",), _missing(env, ["CAPTURE_URI"])
    )


def s3_data_capture(env: Mapping[str, str]) -> Manifest:
    """SageMaker writing an endpoint's data capture to ``DestinationS3Uri`` with the model's
    execution role, encrypted with ``KmsKeyId`` when given
    (https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-data-capture-endpoint.html)."""
    _, bucket, prefix = _uri(env.get("DestinationS3Uri", ""))
    prefix = prefix if not prefix or prefix.endswith("/") else f"{prefix}/"
    source = (
        "https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-data-capture-endpoint.html"
    )
    calls = [
        Call("s3:PutObject", f"arn:aws:s3:::{bucket}/{prefix}*", "write captured requests", source)
    ]
    if env.get("KmsKeyId"):
        calls.append(
            Call("kms:GenerateDataKey", env["KmsKeyId"], "encrypt the capture files", source)
        )
    return Manifest(
        "sagemaker:DataCaptureConfig",
        tuple(calls),
        ("DestinationS3Uri", "KmsKeyId"),
        _missing(env, ["DestinationS3Uri"]),
    )


SMOKE_JOB = "training smoke job"
"""How errors name the job ``train-smoke`` generates (``components/kubernetes/smoke_job.py``)."""
S3_TAGGING = "https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObject.html"
AZUREML_DATA = "https://learn.microsoft.com/azure/machine-learning/how-to-read-write-data-v2"


def smoke_job(env: Mapping[str, str]) -> Manifest:
    """The training smoke job (``components/kubernetes/smoke_job.py``) on EKS/GKE: list
    ``DATA_URI`` (the DVC remote) and write ``CHECKPOINT_URI`` with the lineage as tags (S3,
    SSE-KMS with ``KMS_KEY_ID``) or metadata (GCS)."""
    scheme, bucket, prefix = _uri(env.get("DATA_URI", ""))
    _, out_bucket, key = _uri(env.get("CHECKPOINT_URI", ""))
    if scheme == "s3":
        calls = [
            Call("s3:ListBucket", f"arn:aws:s3:::{bucket}", "list the DVC remote (ListObjectsV2)",
                 S3_ACTIONS, (("s3:prefix", prefix),)),
            Call("s3:PutObject", f"arn:aws:s3:::{out_bucket}/{key}", "write the checkpoint",
                 S3_ACTIONS),
            Call("s3:PutObjectTagging", f"arn:aws:s3:::{out_bucket}/{key}",
                 "tag the checkpoint with its lineage (PutObject's Tagging)", S3_TAGGING),
        ]  # fmt: skip
        if env.get("KMS_KEY_ID"):
            calls.append(
                Call("kms:GenerateDataKey", env["KMS_KEY_ID"], "encrypt the checkpoint (SSE-KMS)",
                     S3_KMS_KEYS)
            )  # fmt: skip
    else:
        calls = [
            Call("storage.objects.list", f"projects/_/buckets/{bucket}",
                 "list the DVC remote", GCS_LIST_ON_BUCKET, (("prefix", prefix),)),
            Call("storage.objects.create", gcs_object(out_bucket, key), "write the checkpoint",
                 GCS_PERMISSIONS),
        ]  # fmt: skip
    needed = ("DATA_URI", "CHECKPOINT_URI", "LINEAGE")
    return Manifest(SMOKE_JOB, tuple(calls), (*needed, "KMS_KEY_ID"), _missing(env, needed))


def azureml_smoke_job(env: Mapping[str, str]) -> Manifest:
    """The AzureML smoke job: the compute's identity mounts the datastore's container (``account``
    and ``container`` settings), the input read-only (list and read) and the checkpoint folder
    ``checkpoints/smoke/`` read-write."""
    base = f"https://{env.get('account', 'unset')}.blob.core.windows.net/{env.get('container')}"
    container = azure_storage_path(base)
    calls = (
        Call(f"{_BLOB}/read", container, "list the mounted input (List Blobs)", AZUREML_DATA,
             ((f"{_BLOB}:prefix", ""),), LIST_BLOBS),
        Call(f"{_BLOB}/read", f"{container}/blobs/*", "read the mounted input", AZUREML_DATA),
        Call(f"{_BLOB}/write", f"{container}/blobs/checkpoints/smoke/*",
             "write the checkpoint and lineage.json to the mounted output", AZUREML_DATA),
    )  # fmt: skip
    return Manifest(
        SMOKE_JOB, calls, ("account", "container"), _missing(env, ("account", "container"))
    )


AZURE_ML_ACTIONS = (
    "https://learn.microsoft.com/azure/role-based-access-control/permissions/"
    "ai-machine-learning#microsoftmachinelearningservices"
)
RUN_PERMISSIONS = "https://cloud.google.com/run/docs/reference/iam/permissions"
RUN_TRAFFIC_ROLES = "https://cloud.google.com/run/docs/rollouts-rollbacks-traffic-migration"
_ROLLOUT = (
    "ROLLOUT_IN_PROGRESS",
    "ROLLOUT_STRATEGY",
    "ROLLOUT_STEP_PERCENT",
    "ROLLOUT_BAKE_MINUTES",
)
_ONLINE_ENDPOINTS = "Microsoft.MachineLearningServices/workspaces/onlineEndpoints"


def azure_rollout(env: Mapping[str, str]) -> Manifest:
    """The Azure rollout function (``mlops_iac.drift.rollout_azure``): reads the endpoint and its
    new deployment, writes the endpoint (traffic and the record tag). Nothing else."""
    endpoint = env.get("ROLLOUT_ENDPOINT_ID", "")
    new = env.get("ROLLOUT_NEW_DEPLOYMENT", "")
    calls = (
        Call(f"{_ONLINE_ENDPOINTS}/read", endpoint, "read the traffic and the record",
             AZURE_ML_ACTIONS),
        Call(f"{_ONLINE_ENDPOINTS}/deployments/read", f"{endpoint}/deployments/{new}",
             "read the model the new deployment serves", AZURE_ML_ACTIONS),
        Call(f"{_ONLINE_ENDPOINTS}/write", endpoint, "move the traffic, write the record",
             AZURE_ML_ACTIONS),
    )  # fmt: skip
    names = ("ROLLOUT_ENDPOINT_ID", "ROLLOUT_NEW_DEPLOYMENT", *_ROLLOUT)
    return Manifest(
        "mlops_iac.drift.rollout_azure.azure_rollout_handler",
        calls,
        (*names, "ROLLOUT_PREVIOUS_DEPLOYMENT"),
        _missing(env, names),
    )


def gcp_rollout(env: Mapping[str, str]) -> Manifest:
    """The GCP rollout function (``mlops_iac.drift.rollout_gcp``): reads and patches its one
    Cloud Run service (traffic and the record annotation); acting as the service's runtime
    account is part of a traffic update (the traffic-migration page's roles)."""
    service = env.get("ROLLOUT_SERVICE", "")
    account = env.get("ROLLOUT_RUNTIME_ACCOUNT", "")
    project = service.split("/")[1] if service.count("/") >= 5 else "_"
    calls = (
        Call("run.services.get", service, "read the traffic and the record", RUN_PERMISSIONS),
        Call("run.services.update", service, "move the traffic, write the record",
             RUN_PERMISSIONS),
        Call("iam.serviceAccounts.actAs", f"projects/{project}/serviceAccounts/{account}",
             "update a service that runs as its runtime account", RUN_TRAFFIC_ROLES),
    )  # fmt: skip
    names = ("ROLLOUT_SERVICE", "ROLLOUT_RUNTIME_ACCOUNT", *_ROLLOUT)
    return Manifest(
        "mlops_iac.drift.rollout_gcp.gcp_rollout_handler", calls, names, _missing(env, names)
    )


ManifestFn = Callable[[Mapping[str, str]], Manifest]

MANIFESTS: dict[str, ManifestFn] = {
    "mlops_iac.drift.handlers.aws_handler": aws_drift,
    "mlops_iac.drift.aws.aws_handler": aws_drift,
    "mlops_iac.drift.handlers.azure_handler": azure_drift,
    "mlops_iac.drift.azure.azure_handler": azure_drift,
    "mlops_iac.drift.handlers.gcp_handler": gcp_drift,
    "mlops_iac.drift.gcp.gcp_handler": gcp_drift,
    "mlops_iac.drift.rollout_azure.azure_rollout_handler": azure_rollout,
    "mlops_iac.drift.rollout_gcp.gcp_rollout_handler": gcp_rollout,
}
"""Entry point (``module.function`` the shipped entry module imports) → its manifest."""


def register(entry: str, manifest: ManifestFn) -> None:
    """Declare the calls of a team's own shipped function (see the module docstring)."""
    MANIFESTS[entry] = manifest


_IMPORT = re.compile(r"^\s*from\s+([\w.]+)\s+import\s+(\w+)", re.MULTILINE)


def entries(source: str) -> list[str]:
    """The ``module.function`` names an entry module's text imports with ``from … import …``."""
    return [f"{module}.{name}" for module, name in _IMPORT.findall(source)]


def manifest_of(source: str, env: Mapping[str, str]) -> Manifest | None:
    """The manifest of the first registered entry point ``source`` imports, if any."""
    for entry in entries(source):
        if entry in MANIFESTS:
            return MANIFESTS[entry](env)
    return None


__all__ = [
    "LIST_BLOBS",
    "MANIFESTS",
    "Call",
    "Manifest",
    "aws_drift",
    "azure_drift",
    "azure_rollout",
    "entries",
    "gcp_drift",
    "gcp_rollout",
    "gcs_capture_writer",
    "gcs_model_reader",
    "glob",
    "manifest_of",
    "register",
    "s3_data_capture",
    "s3_model_data",
]
