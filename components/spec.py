"""The stack file: pydantic models of the ``mlops:platform`` config object.

This module is the only place that knows config keys. Keys are camelCase in YAML and snake_case in
Python. Every model is frozen and refuses unknown keys. ``parse_spec`` reports every problem it
finds at once, one line each, naming the key path::

    mlops:platform.training.maxNodes: must be >= minNodes (2)

Components never import this module: ``mlops_iac.components.platform.stack`` translates a
``PlatformSpec`` into
component Args.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from mlops_iac.components import gpu as gpu_catalogue

CONFIG_NAMESPACE = "mlops"
CONFIG_KEY = "platform"
ROOT = f"{CONFIG_NAMESPACE}:{CONFIG_KEY}"

Cloud = Literal["aws", "azure", "gcp"]
Environment = Literal["dev", "staging", "prod"]
Enforcement = Literal["advisory", "mandatory"]

_EMAIL = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
_NAME = r"^[a-z][a-z0-9-]{1,38}[a-z0-9]$"


class SpecError(ValueError):
    """A stack file that does not validate. ``problems`` holds ``(key path, message)`` pairs."""

    def __init__(self, problems: Iterable[tuple[str, str]]) -> None:
        self.problems: list[tuple[str, str]] = list(problems)
        super().__init__("\n".join(self.lines))

    @property
    def lines(self) -> list[str]:
        return [f"{path}: {message}" for path, message in self.problems]


class _Model(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        frozen=True,
        extra="forbid",
    )


def _rule_error(problems: list[tuple[str, str]]) -> PydanticCustomError:
    """One validation error carrying several (relative key, message) problems.

    A model validator can raise only one error; ``_format_errors`` expands this one into a line
    per problem so that a file with several cross-field mistakes reports them all.
    """
    return PydanticCustomError(
        "spec_rules",
        "; ".join(f"{key}: {msg}" for key, msg in problems),
        {"problems": problems},
    )


def _version_text(value: object) -> object:
    """``version: 7`` in YAML is an int; a registry version is text, so take it as ``"7"``."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


class LineageSpec(_Model):
    """Where the deployed artifacts come from. Both values become lineage tags."""

    git_sha: str = Field(pattern=r"^[0-9a-f]{7,40}$", description="Commit of the training code.")
    dataset_version: str = Field(
        min_length=1, max_length=128, description="DVC hash of the training data (md5:…)."
    )


class ArtifactsSpec(_Model):
    """The artifact store (DVC remote, model artifacts, captured inference data)."""

    noncurrent_version_days: int = Field(
        90, ge=1, le=3650, description="Days before noncurrent object versions expire."
    )
    incomplete_upload_days: int = Field(
        7, ge=1, le=365, description="Days before incomplete multipart uploads are aborted."
    )
    replica_region: str | None = Field(
        None, description="Region for cross-region replication. Default: no replication."
    )
    access_log_bucket: str | None = Field(
        None, description="Existing bucket for server access logs. Default: no access logging."
    )
    customer_managed_key: bool = Field(
        True, description="Encrypt with a customer-managed key. Prod refuses false."
    )
    force_destroy: bool = Field(
        False, description="Allow deleting a non-empty store. Prod refuses true."
    )


class TrainingSpec(_Model):
    """The GPU training cluster."""

    gpu: str = Field(
        "t4", description="Neutral GPU name from the catalogue (mlops_iac.components.gpu)."
    )
    gpus_per_node: int | None = Field(
        None, ge=1, description="Must match the catalogue's node type. Default: the catalogue's."
    )
    min_nodes: int = Field(0, ge=0, description="GPU nodes kept warm. Default 0: scale to zero.")
    max_nodes: int = Field(2, ge=0, le=1000, description="Upper bound of the GPU pool.")
    spot: bool = Field(False, description="Use spot / low-priority capacity.")
    public_endpoint: bool = Field(
        False, description="Expose the cluster API publicly. Prod refuses true."
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


class ModelRef(_Model):
    """One registered model version."""

    name: str = Field(pattern=_NAME, description="Model name (lowercase, digits, dashes).")
    version: str = Field(pattern=r"^[A-Za-z0-9._-]{1,32}$", description="Registry version.")
    artifact_uri: str = Field(min_length=1, description="URI of the model artifact.")
    image: str | None = Field(
        None, description="Inference image. Default: the cloud's default for the framework."
    )

    @field_validator("version", mode="before")
    @classmethod
    def _version_text(cls, value: object) -> object:
        return _version_text(value)


class RolloutSpec(_Model):
    """How a new model version takes traffic."""

    strategy: Literal["canary", "linear", "all-at-once"] = Field(
        "canary", description="Traffic shifting; alarms roll back automatically."
    )
    canary_percent: int = Field(
        10, ge=1, le=50, description="Traffic share of the new version during the bake."
    )
    linear_step_percent: int = Field(20, ge=1, le=50, description="Step size for linear rollout.")
    bake_minutes: int = Field(10, ge=0, le=120, description="Wait between steps, watching alarms.")


class ReplicasSpec(_Model):
    """Autoscaling bounds of the serving endpoint."""

    min: int = Field(1, ge=1, le=100, description="Instances always running.")
    max: int = Field(2, ge=1, le=100, description="Upper bound for autoscaling.")

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
        None, description="Serving instance/VM type. Default: a small CPU type per cloud."
    )
    public_endpoint: bool = Field(
        False, description="Reachable from the internet. Prod refuses true."
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


class DriftSpec(_Model):
    """The toolkit's drift job (``mlops_iac.drift``): when it runs and what counts as drift.

    ``drift: daily`` is shorthand for ``drift: {schedule: daily}``.
    """

    schedule: Literal["hourly", "daily", "weekly"] = Field(
        "daily", description="How often the job checks captured traffic. Default: daily."
    )
    psi: float = Field(0.2, gt=0, le=10, description="PSI above this is drift. Default: 0.2.")
    ks: float = Field(
        0.1, gt=0, le=1, description="KS statistic above this is drift (numeric). Default: 0.1."
    )
    jensen_shannon: float = Field(
        0.1,
        gt=0,
        le=1,
        description="Jensen-Shannon distance above this is drift (categorical). Default: 0.1.",
    )
    min_rows: int = Field(
        1000, ge=1, le=100_000_000, description="Rows needed for a verdict. Default: 1000."
    )
    window_hours: int = Field(
        0,
        ge=0,
        le=24 * 31,
        description="Hours of capture each run reads. Default: 0 = the schedule's period.",
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
    latency_p99_ms: int = Field(500, ge=1, le=600_000, description="p99 latency alarm threshold.")
    error_rate_percent: float = Field(1.0, gt=0, le=100, description="5xx rate alarm threshold.")
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


class Approval(_Model):
    """A human approval of one model version for production."""

    model: str = Field(pattern=_NAME, description="Model name.")
    version: str = Field(pattern=r"^[A-Za-z0-9._-]{1,32}$", description="Approved version.")
    approved_by: str = Field(pattern=_EMAIL, description="A governance approver, not the owner.")
    ticket: str = Field(min_length=1, max_length=64, description="Change ticket.")
    approved_at: dt.date | dt.datetime = Field(description="When (UTC).")

    @field_validator("version", mode="before")
    @classmethod
    def _version_text(cls, value: object) -> object:
        return _version_text(value)


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
    enforcement: Enforcement | None = Field(
        None, description="Policy level. Default: advisory in dev, mandatory in staging and prod."
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
    rollback_alarms: list[str] = Field(
        default_factory=list,
        description="Further CloudWatch alarms (defined in this stack) that roll a deployment "
        "back. Default: only the endpoint's latency and error alarms.",
    )

    @model_validator(mode="after")
    def _network(self) -> AwsSpec:
        if (self.vpc_id is None) != (not self.subnet_ids):
            raise _rule_error([("subnetIds", "give vpcId and subnetIds together, or neither")])
        if self.subnet_ids and len(self.subnet_ids) < 2:
            raise _rule_error([("subnetIds", "needs at least two subnets in different AZs")])
        return self


class AzureSpec(_Model):
    """Azure-only settings."""

    resource_group_name: str | None = Field(
        None, description="Existing resource group. Default: a new one."
    )
    tenant_id: str | None = Field(None, description="Tenant. Default: the provider's.")
    canary_in_progress: bool = Field(
        False,
        description=(
            "A rollout of serving.model is baking: previousModel stays active on the blue "
            "deployment and the new model takes rollout.canaryPercent (canary) or "
            "rollout.linearStepPercent (linear) on green. Default: false (the new model takes "
            "100% and previousModel is the warm standby)."
        ),
    )
    endpoint_bootstrap: bool = Field(
        False,
        description=(
            "First deployment of a new online endpoint: create it without a traffic split "
            "(ARM rejects traffic to deployments that do not exist yet); set back to false on "
            "the next run."
        ),
    )


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
    aws: AwsSpec | None = Field(None, description="AWS-only settings (cloud: aws).")
    azure: AzureSpec | None = Field(None, description="Azure-only settings (cloud: azure).")
    gcp: GcpSpec | None = Field(None, description="GCP-only settings (cloud: gcp).")

    @model_validator(mode="after")
    def _rules(self) -> PlatformSpec:
        problems = _platform_rules(self.model_dump(by_alias=True))
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


def _get(raw: Mapping[str, Any], path: str, default: Any = None) -> Any:
    value: Any = raw
    for key in path.split("."):
        if not isinstance(value, Mapping) or key not in value:
            return default
        value = value[key]
    return default if value is None else value


def _platform_rules(raw: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Cross-section rules, as (camelCase key path, message).

    They read the camelCase mapping rather than the model so that ``parse_spec`` can also run
    them on a file whose sections failed to validate, and report those problems in the same pass.
    """
    problems: list[tuple[str, str]] = []
    cloud = raw.get("cloud")
    if cloud not in gpu_catalogue.CLOUDS:
        return problems
    for other in gpu_catalogue.CLOUDS:
        if other != cloud and raw.get(other) is not None:
            problems.append((other, f"only valid when cloud is {other} (cloud is {cloud})"))
    gpu = _get(raw, "training.gpu", "t4")
    if isinstance(gpu, str) and gpu in gpu_catalogue.GPU_NAMES:
        try:
            offering = gpu_catalogue.lookup(gpu, cloud)
        except gpu_catalogue.UnknownGpuError as exc:
            problems.append(("training.gpu", str(exc)))
        else:
            per_node = _get(raw, "training.gpusPerNode")
            if isinstance(per_node, int) and per_node != offering.gpus_per_node:
                problems.append(
                    (
                        "training.gpusPerNode",
                        f"{offering.node_type} has {offering.gpus_per_node} GPU(s) per node",
                    )
                )
    if raw.get("environment") == "prod":
        checks = [
            (not raw.get("owner"), "owner", "required in prod"),
            (not _get(raw, "monitoring.alertEmails"), "monitoring.alertEmails", "prod needs one"),
            (
                _get(raw, "artifacts.forceDestroy") is True,
                "artifacts.forceDestroy",
                "refused in prod",
            ),
            (
                _get(raw, "artifacts.customerManagedKey") is False,
                "artifacts.customerManagedKey",
                "prod storage must be encrypted with a customer-managed key",
            ),
            (
                _get(raw, "training.publicEndpoint") is True,
                "training.publicEndpoint",
                "refused in prod",
            ),
            (
                _get(raw, "serving.publicEndpoint") is True,
                "serving.publicEndpoint",
                "refused in prod",
            ),
        ]
        problems.extend((path, message) for failed, path, message in checks if failed)
    return problems


def _loc_path(loc: Iterable[Any]) -> str:
    path = ROOT
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model class that holds the key at ``loc`` (for did-you-mean on unknown keys)."""
    model: Any = PlatformSpec
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        fields = {f.alias or name: f for name, f in model.model_fields.items()}
        field = fields.get(part)
        if field is None:
            return None
        candidates = [
            arg
            for arg in (getattr(field.annotation, "__args__", None) or (field.annotation,))
            if isinstance(arg, type) and issubclass(arg, BaseModel)
        ]
        if not candidates:
            list_args = getattr(field.annotation, "__args__", ())
            candidates = [a for a in list_args if isinstance(a, type) and issubclass(a, BaseModel)]
        if not candidates:
            return None
        model = candidates[0]
    return model


def _unknown_key_message(loc: tuple[Any, ...]) -> str:
    model = _model_at(loc)
    if model is None:
        return "unknown key"
    valid = [f.alias or name for name, f in model.model_fields.items()]
    close = difflib.get_close_matches(str(loc[-1]), valid, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"unknown key{hint} (valid keys: {', '.join(valid)})"


def _format_errors(exc: ValidationError) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    for error in exc.errors(include_url=False):
        loc = tuple(error["loc"])
        if error["type"] == "spec_rules":
            for key, message in error["ctx"]["problems"]:
                problems.append((_loc_path(loc + tuple(key.split("."))), message))
        elif error["type"] == "extra_forbidden":
            problems.append((_loc_path(loc), _unknown_key_message(loc)))
        elif error["type"] == "missing":
            problems.append((_loc_path(loc), "required key is missing"))
        else:
            message = error["msg"]
            if message.startswith("Value error, "):
                message = message[len("Value error, ") :]
            problems.append((_loc_path(loc), message))
    return problems


def parse_spec(raw: object) -> PlatformSpec:
    """Validate the raw ``mlops:platform`` object. Raises ``SpecError`` listing every problem."""
    if not isinstance(raw, Mapping):
        raise SpecError([(ROOT, f"must be a mapping, got {type(raw).__name__}")])
    try:
        return PlatformSpec.model_validate(dict(raw))
    except ValidationError as exc:
        problems = _format_errors(exc)
        # The model's own cross-section rules did not run: report them in the same pass.
        for key, message in _platform_rules(raw):
            problem = (_loc_path(key.split(".")), message)
            if problem not in problems:
                problems.append(problem)
        raise SpecError(problems) from None


def load_spec() -> PlatformSpec:
    """Read and validate ``mlops:platform`` from the current stack's Pulumi config."""
    import json

    import pulumi

    raw = pulumi.Config(CONFIG_NAMESPACE).get(CONFIG_KEY)
    if raw is None:
        raise SpecError([(ROOT, "missing: the stack file has no mlops:platform object")])
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise SpecError([(ROOT, f"not a valid object: {exc.msg}")]) from None
    return parse_spec(value)
