"""The component contract as types: one base Args per component, one output Protocol per component.

Every cloud's ``<Thing>Args`` subclasses the base here and declares only its own fields (a cloud
re-declares a shared field only to narrow its type, e.g. its own ``ModelVersion``); every cloud's
``<Thing>`` class satisfies the output Protocol (``tests/components/test_contract.py`` checks both,
by annotations and on a recorded component). ``contract.py`` keeps the same names as data for the
generated reference. Defaults come from ``spec/defaults.py``: one value, one place.

Imports pulumi only (never a provider SDK), so every cloud package may use it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

import pulumi

from mlops_iac.components._component import unset
from mlops_iac.spec import defaults

if TYPE_CHECKING:
    from mlops_iac.drift.profile import Thresholds

Tags = pulumi.Input[Mapping[str, pulumi.Input[str]]] | None
"""Extra tags (labels on GCP) of a component's children."""


@dataclass(frozen=True, kw_only=True)
class ContractArgs:
    """Fields of every component's Args on every cloud."""

    FIELD_NOTES: ClassVar[Mapping[str, str]] = {}
    """What a cloud's component does with a shared field, where that says more than the base
    docstring (rendered into docs/reference.md in its place)."""

    environment: str = defaults.ENVIRONMENT
    """``dev``, ``staging`` or ``prod``. Default ``dev``. Prod protects and retains what holds
    data and refuses public endpoints."""
    tags: Tags = None
    """Extra tags on every child (GCP applies them as labels: GCP-valid keys and values).
    Default: none (the stack's lineage transform adds lineage)."""


@dataclass(frozen=True, kw_only=True)
class ArtifactStoreArgsBase(ContractArgs):
    """Shared inputs of ``ArtifactStore``: the versioned, encrypted DVC remote."""

    customer_managed_key: bool | None = unset(defaults.CUSTOMER_MANAGED_KEY)
    """Encrypt with a customer-managed key. Default: true (false falls back to the cloud's
    managed keys and logs a warning)."""
    noncurrent_version_days: pulumi.Input[int] | None = unset(defaults.NONCURRENT_VERSION_DAYS)
    """Days before a noncurrent object version expires. Default: 90."""
    force_destroy: bool | None = unset(defaults.FORCE_DESTROY)
    """Let ``pulumi destroy`` delete a non-empty store. Default: false; refused in prod."""


@dataclass(frozen=True, kw_only=True)
class TrainingClusterArgsBase(ContractArgs):
    """Shared inputs of ``TrainingCluster``: a private GPU pool that scales to zero."""

    gpu: str = defaults.GPU
    """Neutral GPU name from ``mlops_iac.spec.gpu``. Default ``t4``."""
    min_nodes: int = defaults.MIN_NODES
    """GPU nodes kept warm. Default 0: the pool scales to zero when idle."""
    max_nodes: int = defaults.MAX_NODES
    """Upper bound of the GPU pool. Default 2."""
    spot: bool = defaults.SPOT
    """Run GPU nodes on spot / low-priority capacity. Default: on-demand."""
    public_endpoint: bool | None = unset(defaults.PUBLIC_ENDPOINT)
    """Expose the control plane publicly. Default: private only; refused in prod."""


@dataclass(frozen=True, kw_only=True)
class ModelRegistryArgsBase(ContractArgs):
    """Shared inputs of ``ModelRegistry``: model versions, images, approval notifications."""

    approvers: Sequence[str] = field(default_factory=tuple)
    """Emails notified when a model version is registered. Default: none."""


class ServedVersion(Protocol):
    """What every cloud's model version (``ModelVersion``) has: a model name and version."""

    @property
    def name(self) -> str: ...

    @property
    def version(self) -> str: ...


@dataclass(frozen=True, kw_only=True)
class ServingEndpointArgsBase(ContractArgs):
    """Shared inputs of ``ServingEndpoint``: two deployable versions and a guarded rollout.

    One meaning on every cloud (docs/contract.md, "Serving versions"): ``active_model`` is the
    version this apply deploys (the stack file's ``serving.model``), ``previous_model`` the
    version it replaces, kept deployable as the rollback target, and ``rollback`` serves
    ``previous_model`` with all traffic while ``active_model`` stays deployed with none. The
    outputs ``active_model_version`` / ``previous_model_version`` name the version that takes
    traffic after this apply and the other one. Swapping the two versions without ``rollback``
    also serves the former previous version (the older idiom, still valid).
    """

    active_model: ServedVersion
    """The version this apply deploys; it takes traffic (during a rollout, the share
    ``rollout_strategy`` gives it) unless ``rollback``. Required."""
    previous_model: ServedVersion | None = None
    """The version ``active_model`` replaces, kept deployable as the rollback target. Default:
    none (rollback impossible)."""
    rollback: bool = False
    """Serve ``previous_model`` with all traffic now; ``active_model`` stays deployed with none,
    so rolling forward again is this flag set back. Default: false. Needs ``previous_model``."""
    min_replicas: int = defaults.MIN_REPLICAS
    """Autoscaling lower bound. Default 1."""
    max_replicas: int = defaults.MAX_REPLICAS
    """Autoscaling upper bound. Default 2."""
    public_endpoint: bool | None = unset(defaults.PUBLIC_ENDPOINT)
    """Accept traffic from the internet. Default: private; refused in prod."""
    rollout_strategy: str = defaults.ROLLOUT_STRATEGY
    """``canary``, ``linear`` or ``all-at-once``. Default ``canary``."""
    canary_percent: int = defaults.CANARY_PERCENT
    """Share of the new version during a canary. Default 10."""
    linear_step_percent: int = defaults.LINEAR_STEP_PERCENT
    """Share of the new version per linear step. Default 20."""


@dataclass(frozen=True, kw_only=True)
class MonitoringArgsBase(ContractArgs):
    """Shared inputs of ``Monitoring``: alerts, dashboard, drift, budget, retraining trigger."""

    endpoint_name: pulumi.Input[str] | None = None
    """Serving endpoint to watch. Default: none (no endpoint alerts)."""
    alert_emails: Sequence[str] = field(default_factory=tuple)
    """Who is emailed on an alert. Default: none."""
    webhook_url: pulumi.Input[str] | None = None
    """Chat webhook notified of every alert (keep it a secret). Default: none."""
    latency_p99_ms: float = defaults.LATENCY_P99_MS
    """p99 latency threshold of the endpoint in milliseconds. Default 500."""
    error_rate_percent: float = defaults.ERROR_RATE_PERCENT
    """5xx share of requests above which on-call is paged. Default 1 %."""
    drift: str = defaults.DRIFT
    """``hourly``, ``daily`` or ``weekly`` drift checks. Default ``daily``."""
    monthly_budget_usd: pulumi.Input[float] | None = None
    """Monthly budget; notifications at 80 % and 100 %. Default: no budget."""


@dataclass(frozen=True, kw_only=True)
class DriftJobArgsBase(ContractArgs):
    """Shared inputs of ``DriftJob``: the scheduled drift check of served data."""

    endpoint_name: pulumi.Input[str]
    """Serving endpoint whose capture is checked (metric dimension, report folder). Required."""
    artifact_bucket_name: pulumi.Input[str]
    """Artifact store holding the capture, ``drift/baselines/`` and ``drift/reports/``.
    Required."""
    dataset_version: str
    """Lineage ``datasetVersion`` (DVC hash) of the deployed model's training data. Required."""
    schedule: str = defaults.DRIFT
    """``hourly``, ``daily`` or ``weekly``. Default ``daily``."""
    window_hours: int = 0
    """Hours of capture per run. Default 0: the schedule's period (1, 24 or 168)."""
    psi: float = defaults.DRIFT_PSI
    """PSI threshold. Default 0.2."""
    ks: float = defaults.DRIFT_KS
    """KS threshold (numeric features). Default 0.1."""
    jensen_shannon: float = defaults.DRIFT_JENSEN_SHANNON
    """Jensen-Shannon distance threshold (categorical features). Default 0.1."""
    min_rows: int = defaults.DRIFT_MIN_ROWS
    """Served rows needed for a verdict. Default 1000."""
    significance: float = defaults.DRIFT_SIGNIFICANCE
    """Significance level of a check, shared by the features. Default 0.05."""
    drift_share: float = defaults.DRIFT_SHARE
    """Share of drifted features from which the dataset has drifted. Default 0.5."""
    feature_thresholds: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    """Per-feature thresholds (``psi``, ``ks``, ``jensenShannon``). Default: none."""
    exclude: Sequence[str] = ()
    """Features the check leaves out. Default: none."""

    def drift_thresholds(self) -> Thresholds:
        """The check's thresholds (the job's ``DRIFT_*`` settings) from these inputs."""
        from mlops_iac.drift.profile import Thresholds

        return Thresholds(
            self.psi,
            self.ks,
            self.jensen_shannon,
            self.min_rows,
            self.significance,
            self.drift_share,
            dict(self.feature_thresholds),
            tuple(self.exclude),
        )


@dataclass(frozen=True, kw_only=True)
class TrackingArgsBase(ContractArgs):
    """Shared inputs of ``Tracking``: the MLflow tracking API of the platform."""

    artifact_bucket_name: pulumi.Input[str]
    """Artifact store whose ``mlflow/`` prefix holds the tracked runs' artifacts. Required."""
    size: str = defaults.TRACKING_SIZE
    """``Small``, ``Medium`` or ``Large`` (AWS: SageMaker's size; GCP: Cloud SQL tier and Cloud
    Run instances; Azure: none). Default ``Small``."""
    ci_principals: Sequence[str] = field(default_factory=tuple)
    """CI identities granted tracking access besides the training cluster (AWS role ARNs,
    Azure object ids, GCP IAM members). Default: none."""


@runtime_checkable
class ArtifactStoreOutputs(Protocol):
    """Outputs of every cloud's ``ArtifactStore``."""

    bucket_name: pulumi.Output[str]
    bucket_uri: pulumi.Output[str]
    dvc_remote_url: pulumi.Output[str]
    kms_key_id: pulumi.Output[Any]


@runtime_checkable
class TrainingClusterOutputs(Protocol):
    """Outputs of every cloud's ``TrainingCluster``."""

    cluster_name: pulumi.Output[str]
    gpu_pool_name: pulumi.Output[str]
    max_gpus: pulumi.Output[int]
    max_usd_per_hour: pulumi.Output[float]


@runtime_checkable
class ModelRegistryOutputs(Protocol):
    """Outputs of every cloud's ``ModelRegistry``."""

    registry_name: pulumi.Output[str]
    registry_id: pulumi.Output[str]
    image_repository_url: pulumi.Output[str]
    approvers_topic: pulumi.Output[Any]


@runtime_checkable
class ServingEndpointOutputs(Protocol):
    """Outputs of every cloud's ``ServingEndpoint``: the version serving after this apply
    (``active_model_version``) and the other deployable one (``previous_model_version``)."""

    endpoint_name: pulumi.Output[str]
    endpoint_url: pulumi.Output[str]
    active_model_version: pulumi.Output[str]
    previous_model_version: pulumi.Output[str | None]


@runtime_checkable
class MonitoringOutputs(Protocol):
    """Outputs of every cloud's ``Monitoring``."""

    alert_topic: pulumi.Output[str]
    dashboard_url: pulumi.Output[str]
    retraining_trigger: pulumi.Output[str]


@runtime_checkable
class DriftJobOutputs(Protocol):
    """Outputs of every cloud's ``DriftJob``."""

    function_name: pulumi.Output[str]
    schedule_name: pulumi.Output[str]
    alarm_name: pulumi.Output[str]
    baseline_uri: pulumi.Output[str]
    report_uri: pulumi.Output[str]


@runtime_checkable
class TrackingOutputs(Protocol):
    """Outputs of every cloud's ``Tracking``: the value of ``MLFLOW_TRACKING_URI`` and where
    the runs' artifacts go."""

    tracking_uri: pulumi.Output[str]
    artifact_uri: pulumi.Output[str]


ARGS_BASES: dict[str, type[ContractArgs]] = {
    "ArtifactStore": ArtifactStoreArgsBase,
    "TrainingCluster": TrainingClusterArgsBase,
    "ModelRegistry": ModelRegistryArgsBase,
    "ServingEndpoint": ServingEndpointArgsBase,
    "Monitoring": MonitoringArgsBase,
    "DriftJob": DriftJobArgsBase,
    "Tracking": TrackingArgsBase,
}
"""Each component's base Args."""

OUTPUT_PROTOCOLS: dict[str, type] = {
    "ArtifactStore": ArtifactStoreOutputs,
    "TrainingCluster": TrainingClusterOutputs,
    "ModelRegistry": ModelRegistryOutputs,
    "ServingEndpoint": ServingEndpointOutputs,
    "Monitoring": MonitoringOutputs,
    "DriftJob": DriftJobOutputs,
    "Tracking": TrackingOutputs,
}
"""Each component's output Protocol."""
