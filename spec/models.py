"""The stack file: pydantic models of the ``mlops:platform`` config object.

Keys are camelCase in YAML and snake_case in Python. Every model is frozen and refuses unknown
keys. The cross-field rules live in ``mlops_iac.spec.rules``, the errors and their one-line
formatting in ``mlops_iac.spec.errors``, parsing and loading in ``mlops_iac.spec.parse``.

Components never import this module: ``mlops_iac.components.platform.stack`` translates a
``PlatformSpec`` into component Args.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import re
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from mlops_iac.spec import defaults, evaluation
from mlops_iac.spec import gpu as gpu_catalogue
from mlops_iac.spec.clouds import Cloud
from mlops_iac.spec.errors import rule_error as _rule_error
from mlops_iac.spec.rules import platform_rules, team_rules

Environment = Literal["dev", "staging", "prod"]
Enforcement = Literal["advisory", "mandatory"]

_EMAIL = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
_NAME = r"^[a-z][a-z0-9-]{1,38}[a-z0-9]$"
_SIGNATURE = r"^[A-Za-z0-9+/]{40,8000}={0,2}$"
# A stack name as the Pulumi CLI takes it (``aws-prod``, ``org/project/aws-prod``).
_STACK = r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,199}$"


class _Model(BaseModel):
    # Strict: ``maxNodes: true`` is not 1 and ``spot: "yes"`` is not a boolean. Only dates are
    # lax (the Pulumi CLI hands YAML dates to a program as ISO strings).
    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        frozen=True,
        extra="forbid",
        strict=True,
    )


def _version_text(value: object) -> object:
    """``version: 7`` in YAML is an int; a registry version is text, so take it as ``"7"``."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _iso_date(value: object) -> object:
    # Strict models take only date objects; the Pulumi CLI hands a program ISO strings.
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            return dt.date.fromisoformat(value)
        with contextlib.suppress(ValueError):
            return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value


class LineageSpec(_Model):
    """Where the deployed artifacts come from. Both values become lineage tags."""

    git_sha: str = Field(pattern=r"^[0-9a-f]{7,40}$", description="Commit of the training code.")
    dataset_version: str = Field(
        min_length=1,
        max_length=128,
        pattern=r"[A-Za-z0-9]",
        description="DVC hash of the training data (md5:…).",
    )


class ArtifactsSpec(_Model):
    """The artifact store (DVC remote, model artifacts, captured inference data)."""

    noncurrent_version_days: int = Field(
        defaults.NONCURRENT_VERSION_DAYS,
        ge=1,
        le=3650,
        description="Days before noncurrent object versions expire.",
    )
    incomplete_upload_days: int = Field(
        defaults.INCOMPLETE_UPLOAD_DAYS,
        ge=1,
        le=365,
        description="Days before incomplete multipart uploads are aborted.",
    )
    replica_region: str | None = Field(
        None,
        min_length=1,
        description="Region for cross-region replication. Default: no replication.",
    )
    access_log_bucket: str | None = Field(
        None,
        min_length=1,
        description="Existing bucket for server access logs. Default: no access logging.",
    )
    customer_managed_key: bool = Field(
        defaults.CUSTOMER_MANAGED_KEY,
        description="Encrypt with a customer-managed key. Prod refuses false.",
    )
    force_destroy: bool = Field(
        defaults.FORCE_DESTROY, description="Allow deleting a non-empty store. Prod refuses true."
    )


_ROLE_ARN = r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]+$"
TrainingOperator = Literal["kubeflow-trainer", "kuberay", "none"]


class TrainingAccessSpec(_Model):
    """Who may reach the training cluster's Kubernetes API, and from where."""

    admin_role_arns: list[str] = Field(
        default_factory=list,
        description="AWS: IAM roles (CI, operators) given cluster-admin access entries on EKS. "
        "Default: none (only the identity that creates the cluster).",
    )
    public_cidrs: list[str] = Field(
        default_factory=list,
        description="CIDRs allowed to reach a public control-plane endpoint (EKS "
        "publicAccessCidrs, GKE authorized networks). Required with publicEndpoint; never "
        "0.0.0.0/0 outside dev. Default: none.",
    )
    private_cidrs: list[str] | None = Field(
        None,
        description="AWS: private CIDRs (CI runners, VPN, peered networks) allowed to reach the "
        "private EKS API on tcp/443, as ingress rules on the cluster security group; private "
        "address space only. Default: the stack's new VPC's CIDR (none with aws.vpcId). A list "
        "replaces the default.",
    )
    dns_endpoint: bool = Field(
        True,
        description="GCP: enable GKE's DNS-based control-plane endpoint (IAM-authorised, no "
        "public IP) so CI can run pulumi up from outside the VPC. Default: true.",
    )

    @field_validator("admin_role_arns")
    @classmethod
    def _role_arns(cls, value: list[str]) -> list[str]:
        for arn in value:
            if not re.match(_ROLE_ARN, arn):
                raise ValueError(f"{arn!r} is not an IAM role ARN (arn:aws:iam::<account>:role/…)")
        return value

    @field_validator("public_cidrs")
    @classmethod
    def _cidrs(cls, value: list[str]) -> list[str]:
        for cidr in value:
            try:
                ipaddress.ip_network(cidr, strict=True)
            except ValueError as exc:
                raise ValueError(f"{cidr!r} is not a CIDR block ({exc})") from None
        return value


class TrainingSpec(_Model):
    """The GPU training cluster."""

    gpu: str = Field(
        defaults.GPU, description="Neutral GPU name from the catalogue (mlops_iac.spec.gpu)."
    )
    gpus_per_node: int | None = Field(
        None, ge=1, description="Must match the catalogue's node type. Default: the catalogue's."
    )
    min_nodes: int = Field(
        defaults.MIN_NODES, ge=0, description="GPU nodes kept warm; 0 scales to zero."
    )
    max_nodes: int = Field(
        defaults.MAX_NODES, ge=0, le=1000, description="Upper bound of the GPU pool."
    )
    spot: bool = Field(defaults.SPOT, description="Use spot / low-priority capacity.")
    public_endpoint: bool = Field(
        defaults.PUBLIC_ENDPOINT, description="Expose the cluster API publicly. Prod refuses true."
    )
    operator: TrainingOperator = Field(
        "kubeflow-trainer",
        description="Training operator installed on EKS/GKE: kubeflow-trainer (TrainJob, "
        "PyTorch DDP via torchrun), kuberay (RayJob) or none. Default: kubeflow-trainer.",
    )
    access: TrainingAccessSpec = Field(
        TrainingAccessSpec(), description="Access path to the cluster's Kubernetes API."
    )
    kubernetes: Literal["inline", "deferred"] = Field(
        "inline",
        description="AWS/GCP: whether this deployment installs the Kubernetes side (namespaces, "
        "operator, autoscaler, device plugin). `deferred` creates the cluster only: the bring-up "
        "step for a private cluster the deploying machine cannot reach yet; the next `pulumi up`, "
        "run from inside its network, sets it back to `inline`. Default: inline.",
    )

    @field_validator("gpu")
    @classmethod
    def _known_gpu(cls, value: str) -> str:
        if value not in gpu_catalogue.GPU_NAMES:
            raise ValueError(
                f"unknown GPU {value!r}; valid choices: {', '.join(gpu_catalogue.GPU_NAMES)}"
            )
        return value

    @model_validator(mode="after")
    def _bounds(self) -> TrainingSpec:
        if self.min_nodes > self.max_nodes:
            raise _rule_error([("maxNodes", f"must be >= minNodes ({self.min_nodes})")])
        return self


class Criterion(_Model):
    """One evaluation criterion a candidate's recorded metrics must meet (``auc >= 0.91``)."""

    metric: str = Field(
        pattern=evaluation.METRIC_NAME, description="Metric name as the run records it (ASCII)."
    )
    comparison: Literal[">=", "<=", ">", "<"] = Field(description="How the value compares.")
    threshold: float = Field(allow_inf_nan=False, description="The threshold (finite).")

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        parsed = evaluation.parse_criterion(value)
        return {
            "metric": parsed.metric,
            "comparison": parsed.comparison,
            "threshold": parsed.threshold,
        }

    @field_validator("threshold", mode="before")
    @classmethod
    def _int_threshold(cls, value: object) -> object:
        return float(value) if isinstance(value, int) and not isinstance(value, bool) else value

    def parsed(self) -> evaluation.Criterion:
        """The criterion as ``mlops_iac.spec.evaluation`` checks it."""
        return evaluation.Criterion(self.metric, self.comparison, self.threshold)


class ModelRef(_Model):
    """One registered model version."""

    name: str = Field(pattern=_NAME, description="Model name (lowercase, digits, dashes).")
    version: str = Field(pattern=r"^[A-Za-z0-9._-]{1,32}$", description="Registry version.")
    artifact_uri: str = Field(min_length=1, description="URI of the model artifact.")
    image: str | None = Field(
        None,
        min_length=1,
        description="Inference image. Default: the cloud's default for the framework. In "
        "staging and prod, pinned by digest (`…@sha256:<64 hex>`): a tag can be re-pushed.",
    )
    artifact_sha256: str | None = Field(
        None,
        pattern=evaluation.SHA256,
        description="sha256 of the model artifact (`model.tar.gz`, or the package file) the "
        "approval signed. Required in staging and prod.",
    )
    image_digest: str | None = Field(
        None,
        pattern=r"^sha256:[0-9a-f]{64}$",
        description="GCP, serving from the stack's own repository: the image's digest, served "
        "as `<repository>/<name>@<digest>` instead of the `<name>:<version>` tag. Required in "
        "staging and prod there.",
    )
    criteria: list[Criterion] = Field(
        default_factory=list,
        description="Evaluation gate: what the version's recorded metrics must meet "
        "(`auc >= 0.91` or {metric, comparison, threshold}). `mlops-iac approve` refuses a "
        "version that misses one. Default: none.",
    )

    @field_validator("version", mode="before")
    @classmethod
    def _version_text(cls, value: object) -> object:
        return _version_text(value)

    @field_validator("criteria")
    @classmethod
    def _one_per_metric(cls, value: list[Criterion]) -> list[Criterion]:
        names = [c.metric for c in value]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"metric {twice[0]!r} has more than one criterion")
        return value


class ModelMetricAlarmSpec(_Model):
    """A metric the model publishes (or the drift job's drifted-feature count) that rolls a
    rollout back when it crosses ``threshold``."""

    namespace: str = Field(
        min_length=1,
        max_length=255,
        description="Metric namespace: CloudWatch namespace (AWS), Azure Monitor custom metric "
        "namespace, or the GCP metric type prefix (the part before the last ``/``).",
    )
    name: str = Field(min_length=1, max_length=255, description="Metric name.")
    threshold: float = Field(description="The value that rolls back.")
    comparison: Literal["above", "below"] = Field(
        "above", description="Roll back when the metric is above (or below) the threshold."
    )


class RolloutAlarmsSpec(_Model):
    """The alarms a rollout rolls back on. Defaults: the ``monitoring`` section's thresholds."""

    error_rate_percent: float | None = Field(
        None, gt=0, le=100, description="5xx share of requests. Default: monitoring's."
    )
    latency_p99_ms: int | None = Field(
        None, ge=1, le=600_000, description="p99 latency in ms. Default: monitoring's."
    )
    model_metric: ModelMetricAlarmSpec | None = Field(
        None, description="A model metric that also rolls back. Default: none."
    )


class RolloutSpec(_Model):
    """How a new model version takes traffic."""

    strategy: Literal["canary", "linear", "all-at-once"] = Field(
        defaults.ROLLOUT_STRATEGY, description="Traffic shifting; alarms roll back automatically."
    )
    canary_percent: int = Field(
        defaults.CANARY_PERCENT,
        ge=1,
        le=50,
        description="Traffic share of the new version during the bake.",
    )
    linear_step_percent: int = Field(
        defaults.LINEAR_STEP_PERCENT, ge=1, le=50, description="Step size for linear rollout."
    )
    bake_minutes: int = Field(
        defaults.BAKE_MINUTES, ge=0, le=120, description="Wait between steps, watching alarms."
    )
    auto_rollback: bool = Field(
        defaults.AUTO_ROLLBACK,
        description="The rollout's alarms move all traffic back to the previous version and, "
        "after each bake with no alarm, promote it a step, with no human (AWS: SageMaker "
        "deployment guardrails; Azure, GCP: the toolkit's rollout function). Prod refuses "
        "false. Default: true.",
    )
    alarms: RolloutAlarmsSpec = Field(
        default_factory=lambda: RolloutAlarmsSpec(),
        description="What rolls a rollout back: 5xx rate, p99 latency, an optional model metric.",
    )


class ReplicasSpec(_Model):
    """Autoscaling bounds of the serving endpoint."""

    min: int = Field(defaults.MIN_REPLICAS, ge=1, le=100, description="Instances always running.")
    max: int = Field(
        defaults.MAX_REPLICAS, ge=1, le=100, description="Upper bound for autoscaling."
    )

    @model_validator(mode="after")
    def _bounds(self) -> ReplicasSpec:
        if self.min > self.max:
            raise _rule_error([("max", f"must be >= min ({self.min})")])
        return self


class ServingSpec(_Model):
    """The serving endpoint: current and previous model versions and the rollout."""

    model: ModelRef = Field(description="The version to serve (the new one during a rollout).")
    previous_model: ModelRef | None = Field(
        None, description="The version kept deployable for rollback. Default: none."
    )
    rollback: bool = Field(False, description="Serve previous_model instead of model.")
    rollout: RolloutSpec = Field(RolloutSpec(), description="How a new version takes traffic.")
    replicas: ReplicasSpec = Field(ReplicasSpec(), description="Autoscaling bounds.")
    instance_type: str | None = Field(
        None,
        min_length=1,
        description="Serving instance/VM type. Default: a small CPU type per cloud.",
    )
    public_endpoint: bool = Field(
        defaults.PUBLIC_ENDPOINT, description="Reachable from the internet. Prod refuses true."
    )
    enabled: bool = Field(
        True,
        description="Create the serving endpoint. `false` is the bring-up step of a stack whose "
        "model or image lives in a registry this deployment creates (nothing can have pushed "
        "it yet): the platform comes up without serving, the first version is registered, and "
        "the next `pulumi up` with `true` serves it. Default: true.",
    )

    @model_validator(mode="after")
    def _rollback_target(self) -> ServingSpec:
        problems = []
        if self.rollback and self.previous_model is None:
            problems.append(("rollback", "needs serving.previousModel to roll back to"))
        prev = self.previous_model
        if prev is not None and (prev.name, prev.version) == (self.model.name, self.model.version):
            problems.append(("previousModel.version", "must differ from serving.model.version"))
        if problems:
            raise _rule_error(problems)
        return self

    @property
    def active_model(self) -> ModelRef:
        """The version that takes traffic: previous_model when rolled back."""
        if self.rollback and self.previous_model is not None:
            return self.previous_model
        return self.model

    @property
    def standby_model(self) -> ModelRef | None:
        """The version kept deployable for a rollback."""
        return self.model if self.rollback else self.previous_model


class DriftFeatureSpec(_Model):
    """One feature's own drift thresholds (the others keep the stack's)."""

    psi: float | None = Field(None, gt=0, le=10, description="PSI above this is drift.")
    ks: float | None = Field(None, gt=0, le=1, description="KS statistic above this is drift.")
    jensen_shannon: float | None = Field(
        None, gt=0, le=1, description="Jensen-Shannon distance (base 2) above this is drift."
    )

    def thresholds(self) -> dict[str, float]:
        """The thresholds set, by their stack-file keys."""
        return {
            key: value
            for key, value in (
                ("psi", self.psi),
                ("ks", self.ks),
                ("jensenShannon", self.jensen_shannon),
            )
            if value is not None
        }


class DriftSpec(_Model):
    """The toolkit's drift job (``mlops_iac.drift``): when it runs and what counts as drift.

    ``drift: daily`` is shorthand for ``drift: {schedule: daily}``.
    """

    schedule: Literal["hourly", "daily", "weekly"] = Field(
        defaults.DRIFT, description="How often the job checks captured traffic. Default: daily."
    )
    psi: float = Field(
        defaults.DRIFT_PSI, gt=0, le=10, description="PSI above this is drift. Default: 0.2."
    )
    ks: float = Field(
        defaults.DRIFT_KS,
        gt=0,
        le=1,
        description="KS statistic above this is drift (numeric). Default: 0.1.",
    )
    jensen_shannon: float = Field(
        defaults.DRIFT_JENSEN_SHANNON,
        gt=0,
        le=1,
        description="Jensen-Shannon distance above this is drift (categorical). Default: 0.1.",
    )
    min_rows: int = Field(
        defaults.DRIFT_MIN_ROWS,
        ge=1,
        le=100_000_000,
        description="Rows needed for a verdict. Default: 1000.",
    )
    window_hours: int = Field(
        0,
        ge=0,
        le=24 * 31,
        description="Hours of capture each run reads. Default: 0 = the schedule's period.",
    )
    significance: float = Field(
        defaults.DRIFT_SIGNIFICANCE,
        gt=0,
        le=0.5,
        description="Significance level of a check, shared by the features (Bonferroni): a "
        "shift beyond a threshold is drift only with a p-value below it. Default: 0.05.",
    )
    drift_share: float = Field(
        defaults.DRIFT_SHARE,
        gt=0,
        le=1,
        description="Share of drifted features from which the dataset has drifted. Default: 0.5.",
    )
    features: dict[str, DriftFeatureSpec] = Field(
        default_factory=dict,
        description="Per-feature thresholds (psi, ks, jensenShannon), by feature name.",
    )
    exclude: list[str] = Field(
        default_factory=list, description="Features the drift check leaves out."
    )

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        if value not in ("hourly", "daily", "weekly"):  # the error names `drift`, as written
            raise ValueError(f"must be 'hourly', 'daily' or 'weekly' (or an object), got {value!r}")
        return {"schedule": value}


class MonitoringSpec(_Model):
    """Alarms, drift monitoring and the retraining trigger."""

    alert_emails: list[str] = Field(default_factory=list, description="Alert subscribers.")
    webhook_url: SecretStr | None = Field(None, description="Chat webhook; keep it `secure:`.")
    latency_p99_ms: int = Field(
        defaults.LATENCY_P99_MS, ge=1, le=600_000, description="p99 latency alarm threshold."
    )
    error_rate_percent: float = Field(
        defaults.ERROR_RATE_PERCENT, gt=0, le=100, description="5xx rate alarm threshold."
    )
    drift: DriftSpec = Field(
        default_factory=lambda: DriftSpec(),
        description="The drift job: schedule and thresholds; a bare schedule is shorthand.",
    )

    @field_validator("alert_emails")
    @classmethod
    def _emails(cls, value: list[str]) -> list[str]:
        bad = [email for email in value if not re.match(_EMAIL, email)]
        if bad:
            raise ValueError(f"not an email address: {', '.join(bad)}")
        return value


class TrackingSpec(_Model):
    """Experiment tracking: one MLflow tracking API on every cloud (docs/tracking.md)."""

    enabled: bool = Field(
        defaults.TRACKING,
        description="Create the tracking server (AWS, GCP) or grant the workspace's (Azure). "
        "Default: true.",
    )
    size: Literal["Small", "Medium", "Large"] = Field(
        defaults.TRACKING_SIZE,
        description="Server size: SageMaker's TrackingServerSize on AWS, the Cloud SQL tier and "
        "Cloud Run instances on GCP; Azure's workspace endpoint has none. Default: Small.",
    )
    image: str | None = Field(
        None,
        min_length=1,
        max_length=512,
        description="GCP: the MLflow server image Cloud Run runs (it must exist before the "
        "deploy and have psycopg2 and google-cloud-storage). Default: the upstream "
        "ghcr.io/mlflow/mlflow full image through an Artifact Registry remote repository.",
    )
    ci_principals: list[str] = Field(
        default_factory=list,
        description="CI identities that log to the server besides the training cluster: IAM "
        "role ARNs (AWS), Entra object ids (Azure), IAM members such as "
        "serviceAccount:ci@p.iam.gserviceaccount.com (GCP). Default: none.",
    )


class Approval(_Model):
    """A human approval of one model version for production."""

    model: str = Field(pattern=_NAME, description="Model name.")
    version: str = Field(pattern=r"^[A-Za-z0-9._-]{1,32}$", description="Approved version.")
    approved_by: str = Field(pattern=_EMAIL, description="A governance approver, not the owner.")
    ticket: str = Field(min_length=1, max_length=64, description="Change ticket.")
    approved_at: dt.date | dt.datetime = Field(description="When (UTC).")
    signature: str | None = Field(
        None,
        pattern=_SIGNATURE,
        description="SSH signature by the approver's key over model, version, ticket, date and "
        "approver, and the evaluation and artifact fields below when present (`mlops-iac "
        "approve --key`). Required in prod.",
    )
    metrics: dict[str, float] | None = Field(
        None,
        description="The candidate's recorded metrics the approval saw (signed). Set by "
        "`mlops-iac approve`.",
    )
    criteria: list[str] | None = Field(
        None,
        description="The criteria the metrics were judged against (signed): the stack file's "
        "criteria can be lowered only by a new approval.",
    )
    artifact_sha256: str | None = Field(
        None, pattern=evaluation.SHA256, description="sha256 of the approved model artifact."
    )
    image_digest: str | None = Field(
        None,
        pattern=r"^sha256:[0-9a-f]{64}$",
        description="Digest of the approved inference image (`sha256:<hex>`).",
    )
    model_card: str | None = Field(
        None,
        pattern=r"^governance/model-cards/[A-Za-z0-9][A-Za-z0-9._-]{0,199}/"
        r"[a-z0-9][a-z0-9._-]{0,127}\.md$",
        description="The model card `mlops-iac approve` wrote (repository-relative).",
    )
    model_card_sha256: str | None = Field(
        None, pattern=evaluation.SHA256, description="sha256 of the model card's bytes (signed)."
    )

    @field_validator("metrics")
    @classmethod
    def _finite_metrics(cls, value: dict[str, float] | None) -> dict[str, float] | None:
        for name, number in (value or {}).items():
            if not re.match(evaluation.METRIC_NAME, name):
                raise ValueError(f"metric {name!r} must be lowercase ASCII")
            evaluation.metric_value(number)
        if value is not None and len(value) > evaluation.MAX_METRICS:
            raise ValueError(f"at most {evaluation.MAX_METRICS} metrics")
        return value

    @field_validator("criteria")
    @classmethod
    def _criteria_text(cls, value: list[str] | None) -> list[str] | None:
        if value is not None:
            evaluation.parse_criteria(value)
        return value

    @field_validator("metrics", mode="before")
    @classmethod
    def _int_metrics(cls, value: object) -> object:
        if isinstance(value, dict):
            return {
                k: float(v) if isinstance(v, int) and not isinstance(v, bool) else v
                for k, v in value.items()
            }
        return value

    @field_validator("version", mode="before")
    @classmethod
    def _version_text(cls, value: object) -> object:
        return _version_text(value)

    _dates = field_validator("approved_at", mode="before")(_iso_date)


class EnforcementApproval(_Model):
    """The four-eyes approval of ``governance.enforcement: advisory`` in staging or prod."""

    approved_by: str = Field(pattern=_EMAIL, description="A governance approver, not the owner.")
    ticket: str = Field(min_length=1, max_length=64, description="Change ticket.")
    approved_at: dt.date | dt.datetime = Field(description="When (UTC).")
    signature: str | None = Field(
        None,
        pattern=_SIGNATURE,
        description="SSH signature by the approver's key over the level, environment, ticket, "
        "date and approver (`mlops-iac approve --enforcement advisory --key`).",
    )

    _dates = field_validator("approved_at", mode="before")(_iso_date)


class Waiver(_Model):
    """A time-boxed exception to one rule for one resource of one stack, approved by someone
    else. ``plan`` checks the rest: a known rule that may be waived, a bounded pattern, the
    trusted maximum length (``governance/settings.yaml``) and the signature."""

    stack: str = Field(
        pattern=_STACK, description="The stack it applies to (signed: it applies nowhere else)."
    )
    rule: str = Field(pattern=r"^mlops-[a-z0-9-]+$", description="The waived rule's name.")
    resource: str = Field(
        min_length=1,
        max_length=512,
        description="Logical name, URN, `stack`, or a bounded pattern: `*` matches any run of "
        "characters; at most 128 characters, 3 `*` and at least 3 letters or digits.",
    )
    reason: str = Field(min_length=1, max_length=500, description="Why the exception is safe.")
    ticket: str = Field(min_length=1, max_length=64, description="Change ticket.")
    owner: str = Field(pattern=_EMAIL, description="Who fixes the violation before it expires.")
    approved_by: str = Field(pattern=_EMAIL, description="A governance approver, not the owner.")
    approved_at: dt.date = Field(description="When it was approved (UTC date).")
    expires: dt.date = Field(description="Last day it applies (UTC); then the rule fails again.")
    signature: str | None = Field(
        None,
        pattern=_SIGNATURE,
        description="SSH signature by the approver's key (`mlops-iac waive --key`). Required "
        "wherever the rule is mandatory (staging and prod).",
    )

    _dates = field_validator("approved_at", "expires", mode="before")(_iso_date)

    @model_validator(mode="after")
    def _window(self) -> Waiver:
        if self.expires < self.approved_at:
            raise _rule_error([("expires", "is before approvedAt")])
        return self


class GovernanceSpec(_Model):
    """Approvers, recorded approvals, cost caps and the policy enforcement level."""

    approvers: list[str] = Field(
        default_factory=list, description="Who may approve a model version for prod."
    )
    approvals: list[Approval] = Field(
        default_factory=list, description="Recorded approvals (`mlops-iac approve` appends)."
    )
    gpu_budget_usd_per_hour: float | None = Field(
        None, gt=0, description="Cap on the training pool's max $/h. Default: no cap."
    )
    monthly_budget_usd: float | None = Field(
        None,
        gt=0,
        description="Cap on the always-on monthly estimate of `mlops-iac plan` "
        "(mlops-cost-monthly-budget). Default: no cap.",
    )
    enforcement: Enforcement | None = Field(
        None,
        description="Policy level. Default: advisory in dev, mandatory in staging and prod. "
        "advisory in staging or prod needs enforcementApproval.",
    )
    enforcement_approval: EnforcementApproval | None = Field(
        None, description="Signed four-eyes approval of a lowered enforcement level."
    )
    waivers: list[Waiver] = Field(
        default_factory=list, description="Time-boxed, signed exceptions (`mlops-iac waive`)."
    )

    @field_validator("approvers")
    @classmethod
    def _emails(cls, value: list[str]) -> list[str]:
        bad = [email for email in value if not re.match(_EMAIL, email)]
        if bad:
            raise ValueError(f"not an email address: {', '.join(bad)}")
        return value

    def approval_for(self, model: ModelRef) -> Approval | None:
        """The recorded approval of exactly this model name and version, if any."""
        for approval in self.approvals:
            if (approval.model, approval.version) == (model.name, model.version):
                return approval
        return None


class AwsSpec(_Model):
    """AWS-only settings."""

    vpc_id: str | None = Field(
        None, pattern=r"^vpc-[0-9a-f]+$", description="Existing VPC. Default: a new one."
    )
    subnet_ids: list[str] = Field(
        default_factory=list, description="Private subnets of vpcId (two AZs or more)."
    )
    availability_zones: int = Field(2, ge=2, le=6, description="AZs of a created VPC.")
    kubernetes_version: str | None = Field(
        None,
        pattern=r"^1\.[0-9]{2}$",
        description="EKS Kubernetes version of the training cluster. Default: the library's.",
    )
    capture_sampling_percent: int | None = Field(
        None,
        ge=1,
        le=100,
        description="Share of endpoint requests captured for drift monitoring. Default: 100.",
    )
    capture_retention_days: int = Field(
        defaults.CAPTURE_RETENTION_DAYS,
        ge=1,
        le=3650,
        description="Days captured endpoint requests and responses are kept in the artifact "
        "store (and its replica) before they expire. At least the drift window. Default: 30.",
    )
    rollback_alarms: list[str] = Field(
        default_factory=list,
        description="Further CloudWatch alarms (defined in this stack) that roll a deployment "
        "back. Default: only the endpoint's latency and error alarms. Changing them replaces "
        "the endpoint: refused in prod by protection (see docs/aws.md).",
    )
    serving_autoscaling: bool = Field(
        True,
        description="Register the endpoint with Application Auto Scaling. AWS refuses an "
        "instance-type change on an autoscaled endpoint: deploy once with false, then change "
        "serving.instanceType with true (see docs/aws.md).",
    )
    model_monitor: bool = Field(
        False,
        description="SageMaker Model Monitor data-quality schedule on the captured requests. "
        "Closed to new customers: only for accounts that already have it. Default: false.",
    )

    @model_validator(mode="after")
    def _network(self) -> AwsSpec:
        if (self.vpc_id is None) != (not self.subnet_ids):
            raise _rule_error([("subnetIds", "give vpcId and subnetIds together, or neither")])
        if self.subnet_ids and len(self.subnet_ids) < 2:
            raise _rule_error([("subnetIds", "needs at least two subnets in different AZs")])
        return self


_VNET_ID = re.compile(
    r"(?i)^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/"
    r"Microsoft\.Network/virtualNetworks/[^/]+$"
)


class AzureSpec(_Model):
    """Azure-only settings."""

    resource_group_name: str | None = Field(
        None, min_length=1, description="Existing resource group. Default: a new one."
    )
    tenant_id: str | None = Field(
        None, min_length=1, description="Tenant. Default: the provider's."
    )
    canary_in_progress: bool = Field(
        False,
        description=(
            "A rollout of serving.model is baking: previousModel stays active on the blue "
            "deployment and the new model takes rollout.canaryPercent (canary) or "
            "rollout.linearStepPercent (linear) on green. Default: false (the new model takes "
            "100% and previousModel is the warm standby)."
        ),
    )
    allowed_cidrs: list[str] = Field(
        default_factory=list,
        description="Public IPv4 addresses or CIDR ranges (CI runners, offices) let through the "
        "artifact storage firewall so that `dvc push` reaches the remote. Default: none.",
    )
    private_endpoints: bool | None = Field(
        None,
        description="Reach the workspace, endpoint, registries and storage through private "
        "endpoints with private DNS zones (public access off). Default: true in staging and prod, "
        "false in dev (public, authenticated, storage allow-listed). Prod refuses false.",
    )
    private_endpoint_subnet_id: str | None = Field(
        None,
        pattern=r"(?i)^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/"
        r"Microsoft\.Network/virtualNetworks/[^/]+/subnets/[^/]+$",
        description="Existing subnet for the private endpoints (its virtual network gets the DNS "
        "zone links). Default: a new 10.90.0.0/24 virtual network to peer with yours.",
    )
    key_vault_incarnation: int = Field(
        1,
        ge=1,
        description="Incarnation of the stack's key vaults, part of their names. A deleted vault "
        "keeps its name for its 90-day soft-delete retention and purge protection forbids purging "
        "it, so a stack re-created after `pulumi destroy` raises this (2, 3, …) to get new vault "
        "names. Default: 1 (the names of the first deployment).",
    )
    dns_link_virtual_network_ids: list[str] = Field(
        default_factory=list,
        description="More virtual networks (ARM ids) linked to the private DNS zones, such as a "
        "peered CI network: a peered network resolves the private endpoints' names only through "
        "a zone link (or DNS forwarding). Default: none (only the platform's network).",
    )
    functions_subnet_id: str | None = Field(
        None,
        pattern=r"(?i)^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/"
        r"Microsoft\.Network/virtualNetworks/[^/]+/subnets/[^/]+$",
        description="Existing subnet the drift function joins (VNet integration): same region, "
        "/28 or larger, delegated to Microsoft.Web/serverFarms, with the Microsoft.Storage "
        "service endpoint; the artifact storage firewall admits it. Required with "
        "privateEndpointSubnetId. Default: a functions subnet (10.90.1.0/26) of the new network.",
    )

    @model_validator(mode="after")
    def _dns_links_are_networks(self) -> AzureSpec:
        bad = [n for n in self.dns_link_virtual_network_ids if not _VNET_ID.match(n)]
        if bad:
            raise _rule_error(
                [
                    (
                        "dnsLinkVirtualNetworkIds",
                        f"{bad[0]!r} is not a virtual network's ARM id (/subscriptions/…/"
                        "resourceGroups/…/providers/Microsoft.Network/virtualNetworks/<name>)",
                    )
                ]
            )
        return self

    @model_validator(mode="after")
    def _functions_subnet_with_own_network(self) -> AzureSpec:
        if self.private_endpoint_subnet_id and not self.functions_subnet_id:
            raise _rule_error(
                [
                    (
                        "functionsSubnetId",
                        "required with privateEndpointSubnetId: the drift function needs a subnet "
                        "of your network delegated to Microsoft.Web/serverFarms",
                    )
                ]
            )
        functions, endpoints = self.functions_subnet_id, self.private_endpoint_subnet_id
        if functions and endpoints and functions.lower() == endpoints.lower():
            raise _rule_error(
                [
                    (
                        "functionsSubnetId",
                        "must differ from privateEndpointSubnetId (a subnet delegated to "
                        "Microsoft.Web/serverFarms cannot hold private endpoints)",
                    )
                ]
            )
        return self

    @field_validator("allowed_cidrs")
    @classmethod
    def _public_ipv4(cls, value: list[str]) -> list[str]:
        # Storage IP rules take public IPv4 only; /31 and /32 ranges are not accepted (give the
        # address itself). https://learn.microsoft.com/en-us/azure/storage/common/storage-network-security
        import ipaddress

        normalised = []
        for text in value:
            try:
                net = ipaddress.ip_network(text, strict=False)
            except ValueError:
                raise ValueError(f"not an IPv4 address or CIDR range: {text!r}") from None
            private = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "127.0.0.0/8")
            if net.version != 4 or any(
                net.subnet_of(ipaddress.ip_network(block))  # type: ignore[arg-type]
                for block in private
            ):
                raise ValueError(f"{text!r} is not a public IPv4 range (storage IP rules need one)")
            if net.prefixlen == 31:
                raise ValueError(f"{text!r}: /31 ranges are not supported; list both addresses")
            normalised.append(str(net.network_address) if net.prefixlen == 32 else str(net))
        return normalised


class GcpSpec(_Model):
    """GCP-only settings."""

    billing_account: str | None = Field(
        None,
        pattern=r"^[0-9A-F]{6}-[0-9A-F]{6}-[0-9A-F]{6}$",
        description="Billing account for the budget. Default: no budget (with a warning).",
    )
    serving_backend: Literal["cloud-run", "vertex"] = Field(
        "cloud-run",
        description="Serving target with a traffic split between revisions (vertex is refused: "
        "the provider cannot declare its deployments).",
    )

    @field_validator("serving_backend")
    @classmethod
    def _supported_backend(cls, value: str) -> str:
        if value == "vertex":
            raise ValueError(
                "vertex is not supported: pulumi-gcp cannot declare Vertex AI deployments or "
                "traffic splits; use cloud-run"
            )
        return value

    gpu_zones: list[str] = Field(
        default_factory=list,
        description="Zones of gcp:region offering the training GPU (e.g. us-central1-a). "
        "Default: every zone of the regional cluster.",
    )
    external_artifacts: bool = Field(
        False,
        description="Bring your own: serving images and gs:// model URIs outside this stack are "
        "allowed. Default: false (images come from the stack's Artifact Registry repository and "
        "artifactUri is a path inside the stack's model bucket, e.g. fraud-detector/7/).",
    )
    billing_project: str | None = Field(
        None,
        pattern=r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$",
        description="Project billed for Billing Budgets API calls (user credentials need it). "
        "Default: gcp:project.",
    )


class PlatformSpec(_Model):
    """The whole stack file under ``mlops:platform``."""

    cloud: Cloud = Field(description="Which cloud the platform runs on.")
    environment: Environment = Field(description="Sets protection and policy levels.")
    project: str = Field(pattern=_NAME, description="Project name; prefixes tags and budgets.")
    owner: str | None = Field(
        None, pattern=_EMAIL, description="Owning team's email. Required in prod."
    )
    cost_center: str | None = Field(
        None, min_length=1, max_length=64, description="Cost centre tag."
    )
    lineage: LineageSpec = Field(description="Code and data versions behind the deployment.")
    artifacts: ArtifactsSpec = Field(ArtifactsSpec(), description="Artifact store / DVC remote.")
    training: TrainingSpec = Field(TrainingSpec(), description="GPU training cluster.")
    serving: ServingSpec = Field(description="Serving endpoint and model versions.")
    monitoring: MonitoringSpec = Field(MonitoringSpec(), description="Alerts and drift.")
    governance: GovernanceSpec = Field(GovernanceSpec(), description="Approvals and cost caps.")
    tracking: TrackingSpec = Field(TrackingSpec(), description="Experiment tracking (MLflow).")
    aws: AwsSpec | None = Field(None, description="AWS-only settings (cloud: aws).")
    azure: AzureSpec | None = Field(None, description="Azure-only settings (cloud: azure).")
    gcp: GcpSpec | None = Field(None, description="GCP-only settings (cloud: gcp).")

    @model_validator(mode="after")
    def _rules(self) -> PlatformSpec:
        problems = platform_rules(self.model_dump(by_alias=True))
        if problems:
            raise _rule_error(problems)
        return self

    @property
    def is_prod(self) -> bool:
        return self.environment == "prod"

    @property
    def enforcement(self) -> Enforcement:
        """The policy level: the explicit one, else advisory in dev and mandatory elsewhere."""
        if self.governance.enforcement is not None:
            return self.governance.enforcement
        return "advisory" if self.environment == "dev" else "mandatory"


class TeamGovernance(_Model):
    """The governance keys alone, for a team program that is not the whole platform.

    A team program's stack file may hold just these keys under ``mlops:platform`` (project,
    environment, owner, cost centre, lineage); ``load_team_governance()`` reads them (also out of a
    full platform object) and ``lineage.register_lineage_transform`` accepts the result.
    """

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, frozen=True, extra="ignore", strict=True
    )

    project: str = Field(pattern=_NAME, description="Project name.")
    environment: Environment = Field(description="Sets policy levels.")
    owner: str | None = Field(None, pattern=_EMAIL, description="Owning team's email.")
    cost_center: str | None = Field(None, min_length=1, max_length=64, description="Cost centre.")
    lineage: LineageSpec = Field(description="Code and data versions behind the deployment.")
    cloud: Cloud | None = Field(
        None, description="The cloud the team program deploys to (dvc-remote reads it)."
    )
    governance: GovernanceSpec = Field(
        GovernanceSpec(), description="Approvers, approvals and waivers of the team's stack."
    )

    @property
    def is_prod(self) -> bool:
        return self.environment == "prod"

    @property
    def enforcement(self) -> Enforcement:
        """The policy level: the explicit one, else advisory in dev and mandatory elsewhere."""
        if self.governance.enforcement is not None:
            return self.governance.enforcement
        return "advisory" if self.environment == "dev" else "mandatory"


class TeamStackSpec(TeamGovernance):
    """A team stack file's ``mlops:platform`` object: the governance keys and nothing else.

    A team stack file has no ``serving`` (that makes a platform stack file, ``PlatformSpec``);
    ``cloud`` is optional. Unknown keys are refused, as in a platform stack file.
    """

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, frozen=True, extra="forbid", strict=True
    )

    @model_validator(mode="after")
    def _rules(self) -> TeamStackSpec:
        problems = team_rules(self.model_dump(by_alias=True))
        if problems:
            raise _rule_error(problems)
        return self
