"""ServingEndpoint on GCP: a Cloud Run v2 service whose traffic is split between two revisions.

Why Cloud Run and not Vertex AI: in pulumi-gcp 10.2, ``vertex.AiEndpoint.deployed_models`` is
output-only and ``traffic_split`` maps deployed-model ids that only exist after an imperative
``DeployModel`` call, so neither the deployed versions nor the split can be declared. A Cloud Run
v2 service declares both: each model version is a revision with a fixed name
``<service>-v<version>`` and ``traffics`` names revisions and percentages.

How versions move:

- Every apply describes one template, the *current* model (``active_model``); its revision is
  ``<service>-v<version>``. The *previous* revision (``previous_model``) is only named in traffic
  when the stack's own last deployment served it: the component reads its stack's
  ``serving_revisions`` output back through a reference to its own stack (export
  ``serving_revisions`` for that). A new service has no previous revision, so a first deploy sends
  100% to the current one, with a warning. Revisions are immutable, so a pinned previous revision
  keeps serving exactly what it served.
- ``rollout_strategy="canary"`` gives ``canary_percent`` to the current revision and the rest to the
  previous one; ``"linear"`` starts at ``linear_step_percent``; ``"all-at-once"`` (or no previous
  version) gives the current revision 100%, with the previous one kept at 0% under the
  ``previous`` tag as the rollback target.
- ``rollback=True`` (``mlops-iac rollback``) moves 100% to the previous revision without changing
  the template, so no new revision is built: the switch is a traffic change only and takes
  seconds. ``active_model_version`` then reports the previous version.

Cloud Run has no alarm-driven automatic rollback of its own: ``RolloutGuard``
(``rollout_guard``) adds one (alerts on the current revision → a function that moves the traffic
back, or forward after a quiet bake), and rollback by hand is the switch above. What that function
did is in the service's ``mlops-rollout`` annotation; once the current revision has been served,
every apply reads it from the live service (``keep_live_rollout``) and declares the split it left,
so a later ``pulumi up`` (with or without ``--refresh``) does not silently undo a rollback or a
promotion. The service declares the live record as its annotation, because an update sends the
annotations pulumi-gcp's state saved (an older record) unless the program declares them:
https://www.pulumi.com/registry/packages/gcp/api-docs/cloudrunv2/service/

The service name is derived from the logical name (plus a per-stack hash, see
``_common.resource_id``) instead of being auto-named, because revision names must start with it.
Ingress is internal-only unless a non-prod caller asks for a public endpoint; invokers are explicit
members (``allUsers`` is refused). With ``accelerator`` set
(``nvidia-l4``), each instance gets one GPU and GPU-sized CPU/memory.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import pulumi
from pulumi_gcp import cloudrunv2, serviceaccount, storage

from mlops_iac.components._component import (
    Component,
    child_opts,
    component_opts,
    field_of,
    read_live,
    require_not_prod,
    secure_default,
)
from mlops_iac.components.contract_types import ServingEndpointArgsBase
from mlops_iac.components.gcp import _defaults as defaults
from mlops_iac.components.gcp._common import (
    agent_member,
    crypto_key,
    objects_under,
    project_info,
    region_or_default,
    resource_id,
)
from mlops_iac.drift.rollout import RECORD_KEY, read_record, rollout_view

TYPE = "mlops:gcp:ServingEndpoint"
STRATEGIES = ("canary", "linear", "all-at-once")
MAX_REVISION_NAME = 63
SERVED_REVISIONS_OUTPUT = "serving_revisions"
"""The stack output the next deployment reads back: the revisions this one lists in traffic."""


@dataclass(frozen=True, kw_only=True)
class ModelVersion:
    """One model version (the same field names as on AWS and Azure)."""

    name: str
    """Name of the served model."""
    version: str
    """Model version; its revision is ``<service>-v<version>``."""
    image: pulumi.Input[str] | None = None
    """Inference image. Required for ``active_model``; unused for ``previous_model``, whose
    revision already exists."""
    artifact_uri: pulumi.Input[str] | None = None
    """Artifact of the version (passed as ``MODEL_URI``). Default: none."""


@dataclass(frozen=True, kw_only=True)
class ServingEndpointArgs(ServingEndpointArgsBase):
    """Inputs of ``ServingEndpoint``. ``active_model`` (with an ``image``) is required;
    everything else defaults to the secure choice."""

    FIELD_NOTES: ClassVar[Mapping[str, str]] = {
        "rollback": (
            "Send 100% of traffic to the previous revision. Default: false. Needs a previous "
            "version."
        ),
        "canary_percent": ("Share of the current revision during a canary. Default 10."),
        "linear_step_percent": (
            "Share of the current revision at the first linear step. Default 20."
        ),
        "environment": (
            "``dev``, ``staging`` or ``prod``. Default ``dev``. Prod turns on deletion "
            "protection, protects the key and refuses a public endpoint."
        ),
        "min_replicas": ("Minimum instances per revision. Default 1."),
        "max_replicas": ("Maximum instances per revision. Default 2."),
        "public_endpoint": (
            "Accept traffic from the internet. Default: internal only; refused in prod."
        ),
        "tags": (
            "Serving tags (model, version, approval), as GCP labels (GCP-valid keys and "
            "values). Default: none."
        ),
    }

    active_model: ModelVersion
    """The version of this apply: the template revision. Required."""
    previous_model: ModelVersion | None = None
    """Version served before this one: its revision stays in traffic as the rollback target
    once the stack's last deployment served it (its ``serving_revisions`` output). Default:
    none (the current revision takes all traffic)."""
    model_bucket: pulumi.Input[str] | None = None
    """Bucket holding the model artifact (the registry's model bucket); the runtime account gets
    object read on ``model_prefix`` in it only. Default: no grant."""
    model_prefix: str | None = None
    """Object prefix of the model version in ``model_bucket`` (``<model>/<version>/``). Default:
    the whole bucket."""
    previous_model_prefix: str | None = None
    """Object prefix of ``previous_model`` in ``model_bucket``: the runtime account keeps read on
    it, so the previous revision can still start instances during a canary and after a
    rollback. Default: none (only ``model_prefix`` is readable)."""
    region: str | None = None
    """Region of the service. Default: ``gcp:region``, else us-central1."""
    accelerator: str | None = None
    """Cloud Run GPU type (``nvidia-l4``). Default: CPU only."""
    invokers: Sequence[str] = ()
    """IAM members allowed to invoke the service. Default: none (only project owners)."""
    capture_bucket: pulumi.Input[str] | None = None
    """Bucket (the artifact store) that receives request/response capture under ``capture/``;
    the runtime account may create objects there. Default: no capture."""
    kms_key_id: pulumi.Input[str] | None = None
    """Cloud KMS key for the revisions (the Cloud Run agent must hold it). Default: a new key."""
    env: Mapping[str, str] = field(default_factory=dict)
    """Extra environment variables of the container. Default: none."""
    keep_live_rollout: bool = True
    """Read the rollout function's record from the live service at every apply (one
    ``services.get``) and keep the split it left: 0% after an automatic rollback, the share a
    promotion reached. Default: true. False declares the stack file's split as written."""


class ServingEndpoint(Component):
    """Cloud Run v2 service splitting traffic between the current and previous model revisions.

    Children: ``{name}-key-ring``, ``{name}-key``, ``{name}-key-run-agent`` (unless a key is
    given), ``{name}-runtime`` (runtime service account), ``{name}-runtime-capture`` (object
    creator under ``capture/<name>/`` of the capture bucket, when given),
    ``{name}-runtime-model-reader`` (object viewer on the model version's prefix and the
    previous version's, when ``model_bucket`` is given) and ``{name}-runtime-model-list``
    (listing that bucket, no reads), ``{name}-service`` and one
    ``{name}-invoker-<i>`` per invoker. Reads ``{name}-deployed``, a reference to its own stack,
    for the revisions the last deployment served, and (``keep_live_rollout``) the live service,
    for the rollout function's record.

    Outputs: ``endpoint_name``, ``endpoint_url``, ``active_model_version``,
    ``previous_model_version`` (the standby version), ``current_revision``,
    ``previous_revision`` (None until the previous revision exists), ``traffic`` (revision →
    percent), ``serving_revisions`` (the revisions the service reports in its traffic status and
    as latest ready, after the update; export it as the stack output ``serving_revisions``) and
    ``deployed_revisions`` (what the last deployment served: ``[]`` for none, None when the
    stack was deployed without exporting ``serving_revisions``) and ``rollout`` (the rollout
    function's last record about the current revision on the live service, with the share the
    stack file declares and the one this update keeps; None without a record; export it as
    ``serving_rollout``).
    """

    endpoint_name: pulumi.Output[str]
    endpoint_url: pulumi.Output[str]
    active_model_version: pulumi.Output[str]
    previous_model_version: pulumi.Output[str | None]
    current_revision: pulumi.Output[str]
    previous_revision: pulumi.Output[str | None]
    traffic: pulumi.Output[dict[str, int]]
    serving_revisions: pulumi.Output[list[str]]
    deployed_revisions: pulumi.Output[list[str] | None]
    rollout: pulumi.Output[dict[str, Any] | None]

    def __init__(
        self, name: str, args: ServingEndpointArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(TYPE, name, None, component_opts(opts))
        label = f"ServingEndpoint {name}"
        public = secure_default(
            label, "public_endpoint", args.public_endpoint, defaults.PUBLIC_ENDPOINT
        )
        require_not_prod(label, args.environment, "public_endpoint", public)
        _check(label, args)
        prod = args.environment == "prod"
        region = region_or_default(args.region)
        service_name = resource_id(name, "svc", limit=40)
        model = args.active_model
        previous_version = args.previous_model.version if args.previous_model else None
        current, wanted = _revision_names(label, service_name, model.version, previous_version)

        served, split = self._traffic_plan(name, label, args, service_name, current, wanted)
        live = self._live_record(label, args, service_name, region, served)
        kept = pulumi.Output.all(split, live).apply(lambda v: keep_record(v[0], *v[1]))
        split = kept.apply(lambda pair: pair[0])
        key_id, grants = self._revision_key(name, args, region, prod)
        account, runtime_grants = self._runtime_account(name, args)
        template = _template(name, args, current, account.email, key_id)
        service = self._service(
            name, args, service_name, region, public, prod, template, split,
            [*grants, *runtime_grants], live.apply(lambda pair: pair[0]),
        )  # fmt: skip

        active = previous_version if args.rollback else model.version
        # The declared standby version; its revision is only in traffic (and a rollback target)
        # once the stack has served it (``previous_revision`` is None until then).
        standby = model.version if args.rollback else previous_version
        self.register(
            endpoint_name=service.name,
            endpoint_url=service.uri,
            active_model_version=pulumi.Output.from_input(str(active)),
            previous_model_version=pulumi.Output.from_input(standby),
            current_revision=pulumi.Output.from_input(current),
            previous_revision=split.apply(
                lambda entries: next((rev for rev, _, tag in entries if tag == "previous"), None)
            ),
            traffic=split.apply(lambda entries: {rev: pct for rev, pct, _ in entries}),
            # What the service reports, not what was asked: a revision that never became ready is
            # not listed, so the next deployment cannot route traffic to it.
            serving_revisions=pulumi.Output.all(
                service.traffic_statuses, service.latest_ready_revision
            ).apply(lambda values: revisions_of(*values)),
            # The rollback policy reads these: whether a previous revision can exist yet.
            # (None outputs are not sent: "unknown" is a flag of its own.)
            deployed_revisions=served.apply(lambda revisions: revisions or []),
            deployed_revisions_known=served.apply(lambda revisions: revisions is not None),
            rollout=kept.apply(lambda pair: pair[1]),
        )
        # The attribute keeps None for "unknown" (the registered pair above splits it in two).
        self.deployed_revisions = served
        # For the rollout guard (not outputs): the revision its alerts watch, the account a
        # traffic update acts as.
        self.current_revision_name = current
        self.runtime_account_email = account.email

    def _traffic_plan(
        self,
        name: str,
        label: str,
        args: ServingEndpointArgs,
        service_name: str,
        current: str,
        wanted: str | None,
    ) -> tuple[pulumi.Output[list[str] | None], pulumi.Output[list[tuple[str, int, str]]]]:
        """(revisions the last deployment served, the (revision, percent, tag) split)."""
        # Traffic may only name revisions that exist: a new service has no previous revision, and
        # Cloud Run refuses the update ("Revision ... does not exist").
        # https://cloud.google.com/run/docs/rollouts-rollbacks-traffic-migration
        # What exists is what the stack's own last deployment served: its serving_revisions
        # output, read back through a reference to this stack (a stack may reference itself;
        # one never deployed has no outputs: https://github.com/pulumi/pulumi/issues/3722).
        deployed = pulumi.StackReference(
            f"{name}-deployed",
            stack_name=f"{pulumi.get_organization()}/{pulumi.get_project()}/{pulumi.get_stack()}",
            opts=child_opts(self),
        )
        # Revision names are not secret, even if some other output of the stack is.
        served = pulumi.Output.unsecret(
            deployed.outputs.apply(lambda outputs: served_revisions(outputs, service_name))
        )

        def plan_traffic(revisions: list[str] | None) -> list[tuple[str, int, str]]:
            previous = wanted if wanted and wanted in (revisions or ()) else None
            if previous is None:
                _explain_single_revision(label, current, wanted, revisions, args.rollback)
            return traffic_split(current, previous, args)

        return served, served.apply(plan_traffic)

    def _live_record(
        self,
        label: str,
        args: ServingEndpointArgs,
        service_name: str,
        region: str,
        served: pulumi.Output[list[str] | None],
    ) -> pulumi.Output[tuple[str | None, dict[str, int]]]:
        """(the live service's ``mlops-rollout`` annotation, its traffic: revision → percent),
        read once the stack has served a revision (a first deploy has no service to read)."""

        def read(revisions: list[str] | None) -> tuple[str | None, dict[str, int]]:
            if not args.keep_live_rollout or not revisions:
                return None, {}
            service = read_live(
                label,
                f"Cloud Run service {service_name}",
                lambda: cloudrunv2.get_service(
                    name=service_name, location=region, opts=pulumi.InvokeOptions(parent=self)
                ),
            )
            if service is None:
                return None, {}
            value = _annotations(service).get(RECORD_KEY)
            return (value if isinstance(value, str) else None), _live_traffic(service)

        return pulumi.Output.unsecret(served.apply(read))

    def _revision_key(
        self, name: str, args: ServingEndpointArgs, region: str, prod: bool
    ) -> tuple[pulumi.Input[str], list[pulumi.Resource]]:
        """(key id, grants the service must wait for): the caller's key or a new one."""
        if args.kms_key_id is not None:
            return args.kms_key_id, []
        project = project_info(self)
        key, grants = crypto_key(
            self,
            f"{name}-key",
            location=region,
            prod=prod,
            grants={"run-agent": agent_member(project.number, "cloudrun")},
            labels=args.tags,
        )
        return key.id, grants

    def _runtime_account(
        self, name: str, args: ServingEndpointArgs
    ) -> tuple[serviceaccount.Account, list[pulumi.Resource]]:
        """(``{name}-runtime``, its grants): may write capture and read the served model
        version only."""
        account = serviceaccount.Account(
            f"{name}-runtime",
            account_id=resource_id(name, "run", limit=30),
            display_name=f"Runtime of {name}",
            description="Identity of the model server: reads its model, writes capture data",
            opts=child_opts(self),
        )
        grants: list[pulumi.Resource] = []
        if args.capture_bucket is not None:
            # Capture only under this endpoint's own folder: the model container cannot add
            # objects to the DVC remote or the drift baselines of the same bucket.
            capture = storage.BucketIAMMember(
                f"{name}-runtime-capture",
                bucket=args.capture_bucket,
                role="roles/storage.objectCreator",
                member=account.member,
                condition={
                    "title": "capture-only",
                    "description": f"Objects under {defaults.CAPTURE_PREFIX}/{name}/",
                    "expression": objects_under(
                        args.capture_bucket, [f"{defaults.CAPTURE_PREFIX}/{name}/"]
                    ),
                },
                opts=child_opts(self),
            )
            grants.append(capture)
        if args.model_bucket is not None:
            # Read access to the served versions only (IAM condition on the object prefix; the
            # bucket has uniform bucket-level access, which conditions require). Both revisions
            # run as this account: the previous version's prefix stays readable while its
            # revision serves (canary) or is the rollback target.
            # https://cloud.google.com/storage/docs/access-control/iam#conditions
            prefixes = [args.model_prefix or ""]
            if args.previous_model_prefix is not None and args.model_prefix:
                prefixes.append(args.previous_model_prefix)
            reader = storage.BucketIAMMember(
                f"{name}-runtime-model-reader",
                bucket=args.model_bucket,
                role="roles/storage.objectViewer",
                member=account.member,
                condition={
                    "title": "model-version-only",
                    "description": "Objects of the served model versions",
                    "expression": objects_under(args.model_bucket, prefixes),
                },
                opts=child_opts(self),
            )
            # Listing is checked on the bucket, which no object prefix matches: a model server
            # that lists its version's folder needs this (names only, no object reads).
            # https://cloud.google.com/iam/docs/conditions-resource-attributes
            listing = storage.BucketIAMMember(
                f"{name}-runtime-model-list",
                bucket=args.model_bucket,
                role="roles/storage.objectViewer",
                member=account.member,
                condition={
                    "title": "model-list-only",
                    "description": "Listing the model bucket (object names), no object reads",
                    "expression": pulumi.Output.concat(
                        'resource.name == "projects/_/buckets/', args.model_bucket, '"'
                    ),
                },
                opts=child_opts(self),
            )
            grants += [reader, listing]
        return account, grants

    def _service(
        self,
        name: str,
        args: ServingEndpointArgs,
        service_name: str,
        region: str,
        public: bool,
        prod: bool,
        template: dict[str, object],
        split: pulumi.Output[list[tuple[str, int, str]]],
        grants: list[pulumi.Resource],
        record: pulumi.Output[str | None],
    ) -> cloudrunv2.Service:
        """``{name}-service`` with the traffic split, and one ``{name}-invoker-<i>`` per invoker.

        The service waits for ``grants`` (its key's, its runtime account's): a revision loads its
        model when it starts, and Cloud Run's create or update waits for it to become ready, so
        a revision created before its model grant fails the update.
        """
        service = cloudrunv2.Service(
            f"{name}-service",
            name=service_name,
            location=region,
            ingress=defaults.PUBLIC_INGRESS if public else defaults.PRIVATE_INGRESS,
            invoker_iam_disabled=False,
            deletion_protection=prod,
            template=template,
            traffics=split.apply(
                lambda entries: [
                    {
                        "type": "TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION",
                        "revision": revision,
                        "percent": percent,
                        "tag": tag,
                    }
                    for revision, percent, tag in entries
                ]
            ),
            labels=args.tags,
            # The live rollout record, declared so that an update sends it: pulumi-gcp would
            # otherwise send the annotations its state saved, an older record.
            annotations=record.apply(lambda value: {RECORD_KEY: value} if value else None),
            opts=child_opts(self, depends_on=grants or None),
        )
        for i, member in enumerate(args.invokers):
            cloudrunv2.ServiceIamMember(
                f"{name}-invoker-{i}",
                name=service.name,
                location=region,
                role="roles/run.invoker",
                member=member,
                opts=child_opts(self),
            )
        return service


def _revision_names(
    label: str, service_name: str, version: str, previous_version: str | None
) -> tuple[str, str | None]:
    """(current revision, wanted previous revision), refused when Cloud Run would refuse them."""
    current = revision_name(service_name, version)
    wanted = revision_name(service_name, previous_version) if previous_version else None
    too_long = [r for r in (current, wanted) if r and len(r) > MAX_REVISION_NAME]
    if too_long:
        raise ValueError(
            f"{label}: revision name {too_long[0]!r} is longer than {MAX_REVISION_NAME} "
            "characters; use a shorter component name or model version"
        )
    return current, wanted


def _container_env(name: str, args: ServingEndpointArgs) -> dict[str, pulumi.Input[str]]:
    """The model container's environment: model identity, capture URI, the caller's extras."""
    model = args.active_model
    envs: dict[str, pulumi.Input[str]] = {
        "MODEL_NAME": model.name,
        "MODEL_VERSION": model.version,
        **({"MODEL_URI": model.artifact_uri} if model.artifact_uri is not None else {}),
        **dict(args.env),
    }
    if args.capture_bucket is not None:
        envs["CAPTURE_URI"] = pulumi.Output.concat(
            "gs://", args.capture_bucket, f"/{defaults.CAPTURE_PREFIX}/{name}/"
        )
    return envs


def _template(
    name: str,
    args: ServingEndpointArgs,
    revision: str,
    service_account: pulumi.Input[str],
    key_id: pulumi.Input[str],
) -> dict[str, object]:
    """The revision template: runtime identity, CMEK, scaling, one container (GPU-sized with
    ``accelerator``)."""
    gpu = args.accelerator is not None
    limits = {
        "cpu": defaults.GPU_SERVING_CPU if gpu else defaults.SERVING_CPU,
        "memory": defaults.GPU_SERVING_MEMORY if gpu else defaults.SERVING_MEMORY,
    }
    if gpu:
        limits["nvidia.com/gpu"] = "1"
    template: dict[str, object] = {
        "revision": revision,
        "service_account": service_account,
        "encryption_key": key_id,
        "labels": args.tags,
        "scaling": {
            "min_instance_count": args.min_replicas,
            "max_instance_count": args.max_replicas,
        },
        "containers": [
            {
                "image": args.active_model.image,
                "envs": [{"name": k, "value": v} for k, v in _container_env(name, args).items()],
                "resources": {"limits": limits, "cpu_idle": not gpu},
                "ports": {"container_port": 8080},
            }
        ],
    }
    if gpu:
        template["node_selector"] = {"accelerator": args.accelerator}
        template["gpu_zonal_redundancy_disabled"] = True
    return template


def revisions_of(traffic_statuses: Sequence[Any] | None, latest_ready: str | None) -> list[str]:
    """The revisions a deployed service has: those in its traffic status, and its latest ready one.

    Read from the service's outputs (``trafficStatuses``, ``latestReadyRevision``, a full
    resource name) after the update, so a revision Cloud Run never made ready is not among them.
    """
    names: list[str] = []
    for status in traffic_statuses or ():
        revision = status.get("revision") if isinstance(status, Mapping) else status.revision
        if revision:
            names.append(str(revision))
    if latest_ready:
        names.append(str(latest_ready).rsplit("/", 1)[-1])
    return list(dict.fromkeys(names))


def revision_name(service_name: str, version: str) -> str:
    """``<service>-v<version>`` with the version made DNS-safe (``1.2`` → ``1-2``)."""
    return f"{service_name}-v{re.sub(r'[^a-z0-9-]', '-', version.lower())}"


def served_revisions(outputs: Mapping[str, Any] | None, service_name: str) -> list[str] | None:
    """This service's revisions that the stack's last deployment served, from its outputs.

    ``[]`` when it served none (a stack never deployed has no outputs; a ``serving_revisions``
    output without this service's revisions is a service new to the stack). A stack deployed
    before ``serving_revisions`` existed exports the contract's ``endpoint_name`` and
    ``active_model_version``: that version's revision was served. ``None`` when the stack was
    deployed and its outputs tell neither: whether a previous revision exists is unknown.
    """
    if not outputs:
        return []
    prefix = f"{service_name}-"
    listed = outputs.get(SERVED_REVISIONS_OUTPUT)
    if isinstance(listed, (list, tuple)):
        return [str(r) for r in listed if str(r).startswith(prefix)]
    version = outputs.get("active_model_version")
    if outputs.get("endpoint_name") == service_name and version:
        return [revision_name(service_name, str(version))]
    return None


def _explain_single_revision(
    label: str,
    current: str,
    wanted: str | None,
    served: list[str] | None,
    rollback: bool,
) -> None:
    """Why the current revision takes 100% (rollback becomes possible on a later deploy)."""
    if served is None:
        why = (
            "the stack's last deployment is unknown (no saved state) or exported no "
            f"{SERVED_REVISIONS_OUTPUT!r}, so whether a previous revision exists is unknown"
        )
    elif wanted is None:
        why = "no previous model is declared"  # a choice the rollback policy judges
        if not rollback:
            return
    elif not (others := [r for r in served if r != current]):
        why = f"this is the service's first deployment: {wanted} does not exist yet"
    else:
        why = (
            f"the stack's last deployment served {', '.join(others)}, not {wanted}: "
            "serving.previousModel should name the version it served"
        )
    if rollback:
        raise ValueError(f"{label}: rollback needs the previous revision, but {why}")
    pulumi.log.warn(
        f"{label}: {current} takes 100% of traffic and there is no rollback target yet: {why}. "
        "The split and rollback appear once the previous revision has been served."
    )


def _annotations(service: Any) -> dict[str, Any]:
    """All of a read service's annotations (pulumi-gcp lists the unmanaged ones, such as the
    rollout record, under ``effective_annotations``)."""
    found: dict[str, Any] = {}
    for key in ("annotations", "effective_annotations"):
        value = field_of(service, key)
        found.update(value if isinstance(value, Mapping) else {})
    return found


def _live_traffic(service: Any) -> dict[str, int]:
    """Revision → percent of a read service's traffic (entries without a revision skipped)."""
    shares: dict[str, int] = {}
    for entry in field_of(service, "traffics") or ():
        revision, percent = field_of(entry, "revision"), field_of(entry, "percent")
        if isinstance(revision, str) and isinstance(percent, int | float):
            shares[revision] = shares.get(revision, 0) + int(percent)
    return shares


def keep_record(
    entries: list[tuple[str, int, str]], value: str | None, live: Mapping[str, int]
) -> tuple[list[tuple[str, int, str]], dict[str, Any] | None]:
    """(``entries`` with the current revision's share the live record ``value`` keeps and the
    previous revision's the rest, what the update does with it: see
    :func:`mlops_iac.drift.rollout.rollout_view`; ``live`` is the service's traffic)."""
    current, declared, current_tag = entries[0]
    view = rollout_view(read_record(value), current, declared, live.get(current))
    if view is None or len(entries) != 2:
        return entries, view
    (previous, _, previous_tag) = entries[1]
    share = view["share"]
    return [(current, share, current_tag), (previous, 100 - share, previous_tag)], view


def traffic_split(
    current: str, previous: str | None, args: ServingEndpointArgs
) -> list[tuple[str, int, str]]:
    """(revision, percent, tag) entries summing to 100; the previous revision is always listed."""
    if previous is None:
        return [(current, 100, "current")]
    if args.rollback:
        new_share = 0
    elif args.rollout_strategy == "canary":
        new_share = args.canary_percent
    elif args.rollout_strategy == "linear":
        new_share = args.linear_step_percent
    else:
        new_share = 100
    return [(current, new_share, "current"), (previous, 100 - new_share, "previous")]


def _check(label: str, args: ServingEndpointArgs) -> None:
    if args.rollout_strategy not in STRATEGIES:
        raise ValueError(f"{label}: rollout_strategy must be one of {', '.join(STRATEGIES)}")
    if args.active_model.image is None:
        raise ValueError(f"{label}: active_model needs an image")
    previous = args.previous_model
    if args.rollback and previous is None:
        raise ValueError(f"{label}: rollback needs previous_model")
    if previous is not None and previous.version == args.active_model.version:
        raise ValueError(f"{label}: previous_model must differ from active_model")
    if not 1 <= args.min_replicas <= args.max_replicas:
        raise ValueError(f"{label}: need 1 <= min_replicas <= max_replicas")
    if not 0 < args.canary_percent < 100 or not 0 < args.linear_step_percent < 100:
        raise ValueError(f"{label}: canary_percent and linear_step_percent must be in 1..99")
    public = [m for m in args.invokers if m in defaults.PUBLIC_MEMBERS]
    if public:
        raise ValueError(f"{label}: public invokers are refused ({', '.join(public)})")
