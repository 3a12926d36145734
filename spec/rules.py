"""Cross-field rules of the stack file: what one key's value means for another, what an
environment refuses, what a cloud's limits refuse (``mlops_iac.spec.limits``) and who may approve.

The rules read the camelCase mapping rather than the models so that ``parse_spec`` can also run
them on a file whose sections failed to validate, and report those problems in the same pass.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mlops_iac.spec import defaults, identities, limits
from mlops_iac.spec import gpu as gpu_catalogue


def same_identity(a: str, b: str) -> bool:
    """Whether two approver identities are the same person, as the approval gate decides.

    Exact, except the domain's case (a domain is case-insensitive; a local part may not be,
    RFC 5321 §2.4): no punctuation is stripped, so ``ja.ne@example.com`` is not
    ``jane@example.com``, and no look-alike letter is mapped (``identities.exact``).
    """
    return identities.same(a, b)


def _get(raw: Mapping[str, Any], path: str, default: Any = None) -> Any:
    value: Any = raw
    for key in path.split("."):
        if not isinstance(value, Mapping) or key not in value:
            return default
        value = value[key]
    return default if value is None else value


def platform_rules(raw: Mapping[str, Any]) -> list[tuple[str, str]]:
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
    gpu = _get(raw, "training.gpu", defaults.GPU)
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
    if cloud == "aws":
        problems.extend(_aws_rollout_rules(raw))
        problems.extend(_aws_capture_rules(raw))
    problems.extend(_access_rules(raw, cloud))
    if cloud == "gcp":
        problems.extend(_gcp_rules(raw))
    problems.extend(_governance_rules(raw))
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
            (
                _get(raw, "serving.rollout.autoRollback") is False,
                "serving.rollout.autoRollback",
                "refused in prod: a bad rollout must roll back without waiting for a human",
            ),
            (
                _get(raw, "azure.privateEndpoints") is False,
                "azure.privateEndpoints",
                "refused in prod: a prod workspace is only reachable through private endpoints",
            ),
        ]
        problems.extend((path, message) for failed, path, message in checks if failed)
    return problems


def _aws_capture_rules(raw: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Captured requests must outlive the drift window that reads them."""
    days = _get(raw, "aws.captureRetentionDays", defaults.CAPTURE_RETENTION_DAYS)
    drift = _get(raw, "monitoring.drift", defaults.DRIFT)
    # ``drift: weekly`` is shorthand for ``drift: {schedule: weekly}``.
    schedule = drift if isinstance(drift, str) else _get(raw, "monitoring.drift.schedule")
    window = _get(raw, "monitoring.drift.windowHours", 0) or defaults.DRIFT_WINDOW_HOURS.get(
        schedule if isinstance(schedule, str) else defaults.DRIFT, 0
    )
    if isinstance(days, int) and isinstance(window, int) and days >= 1 and days * 24 < window:
        return [
            (
                "aws.captureRetentionDays",
                f"{days} day(s) expire capture the drift job still reads "
                f"(its window is {window} hours)",
            )
        ]
    return []


def _aws_rollout_rules(raw: Mapping[str, Any]) -> list[tuple[str, str]]:
    """What SageMaker's TrafficRoutingConfig refuses (``mlops_iac.spec.limits``), checked against
    the fleet a rollout starts: endpoint configs start at ``replicas.max`` instances."""
    problems: list[tuple[str, str]] = []
    strategy = _get(raw, "serving.rollout.strategy", defaults.ROLLOUT_STRATEGY)
    bake = _get(raw, "serving.rollout.bakeMinutes", defaults.BAKE_MINUTES)
    fleet = _get(raw, "serving.replicas.max", defaults.MAX_REPLICAS)
    if isinstance(bake, int) and bake > limits.SAGEMAKER_BAKE_MINUTES_MAX:
        problems.append(
            (
                "serving.rollout.bakeMinutes",
                f"must be <= {limits.SAGEMAKER_BAKE_MINUTES_MAX} on AWS "
                f"({limits.SAGEMAKER_WAIT_SECONDS_MAX} s per step)",
            )
        )
    if not isinstance(fleet, int) or fleet < 1 or not isinstance(strategy, str):
        return problems
    key, default = {
        "canary": ("canaryPercent", defaults.CANARY_PERCENT),
        "linear": ("linearStepPercent", defaults.LINEAR_STEP_PERCENT),
    }.get(strategy, (None, 0))
    if key is None:
        return problems
    percent = _get(raw, f"serving.rollout.{key}", default)
    # Out of 1-50 is the field's own error (RolloutSpec), reported once.
    if not isinstance(percent, int) or not 1 <= percent <= limits.SAGEMAKER_STEP_PERCENT_MAX:
        return problems
    path = f"serving.rollout.{key}"
    problem = limits.step_problem(strategy, percent, fleet)
    if problem == "range":
        low, top = limits.SAGEMAKER_LINEAR_STEP_PERCENT_MIN, limits.SAGEMAKER_STEP_PERCENT_MAX
        problems.append(
            (path, f"must be >= {low} on AWS (linear steps are {low}-{top}% of the fleet)")
        )
    elif problem == "half":
        instances = limits.step_instances(percent, fleet)
        problems.append(
            (
                path,
                f"{percent}% of serving.replicas.max ({fleet}) is {instances} instance(s), more "
                "than half the fleet, which AWS refuses; raise serving.replicas.max or use "
                "strategy all-at-once",
            )
        )
    elif isinstance(bake, int) and 0 <= bake <= limits.SAGEMAKER_BAKE_MINUTES_MAX:
        timeout = limits.blue_green_timeout_problem(strategy, percent, fleet, bake * 60)
        if timeout is not None:
            problems.append(
                (
                    "serving.rollout.bakeMinutes",
                    f"{timeout}; lower serving.rollout.bakeMinutes or raise serving.rollout.{key}",
                )
            )
    return problems


def _access_rules(raw: Mapping[str, Any], cloud: str) -> list[tuple[str, str]]:
    """The Kubernetes API access path: an explicit allow-list, never the whole internet."""
    problems: list[tuple[str, str]] = []
    cidrs = _get(raw, "training.access.publicCidrs", [])
    if _get(raw, "training.publicEndpoint") is True and not cidrs:
        problems.append(
            (
                "training.access.publicCidrs",
                "a public endpoint needs an explicit CIDR allow-list",
            )
        )
    if raw.get("environment") in ("staging", "prod") and isinstance(cidrs, list):
        for i, cidr in enumerate(cidrs):
            if isinstance(cidr, str) and cidr.endswith("/0"):
                problems.append(
                    (
                        f"training.access.publicCidrs[{i}]",
                        f"{cidr} opens the cluster API to the internet; refused in staging/prod",
                    )
                )
    if cloud != "aws" and _get(raw, "training.access.adminRoleArns"):
        problems.append(("training.access.adminRoleArns", "only used on AWS (EKS access entries)"))
    private = _get(raw, "training.access.privateCidrs")
    if cloud != "aws" and private is not None:
        problems.append(
            ("training.access.privateCidrs", "only used on AWS (EKS cluster security group)")
        )
    elif isinstance(private, list):
        for i, cidr in enumerate(private):
            problem = limits.private_cidr_problem(cidr) if isinstance(cidr, str) else None
            if problem is not None:
                problems.append((f"training.access.privateCidrs[{i}]", problem))
    return problems


def _gcp_rules(raw: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Artifacts outside the stack are explicit; a rollback needs the previous revision."""
    problems: list[tuple[str, str]] = []
    external = _get(raw, "gcp.externalArtifacts") is True
    for key in ("model", "previousModel"):
        ref = _get(raw, f"serving.{key}")
        if not isinstance(ref, Mapping):
            continue
        uri = ref.get("artifactUri")
        if isinstance(uri, str) and "://" in uri:
            if not uri.startswith("gs://"):
                problems.append((f"serving.{key}.artifactUri", "must be gs://… or a path"))
            elif not external:
                problems.append(
                    (
                        f"serving.{key}.artifactUri",
                        "outside the stack's model bucket: give a path inside it (e.g. "
                        "fraud-detector/7/) or set gcp.externalArtifacts: true",
                    )
                )
        if ref.get("image") and not external:
            problems.append(
                (
                    f"serving.{key}.image",
                    "the stack serves images from its own repository: drop image or set "
                    "gcp.externalArtifacts: true",
                )
            )
    return problems


def team_rules(raw: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The cross-field rules of a team stack file: four eyes on its governance records, readable
    identities, and an owner in prod (the platform file's rules on these keys, nothing else)."""
    problems = _governance_rules(raw) if isinstance(raw.get("governance"), Mapping) else []
    if not isinstance(raw.get("governance"), Mapping):
        problems.extend(_identity_rules(raw))
    if raw.get("environment") == "prod" and not raw.get("owner"):
        problems.append(("owner", "required in prod"))
    return problems


def _governance_rules(raw: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Four eyes on lowered enforcement and on waivers (signatures are checked by ``plan``)."""
    problems: list[tuple[str, str]] = []
    governance = raw.get("governance")
    if not isinstance(governance, Mapping):
        return problems
    listed = governance.get("approvers")
    approvers = [a for a in listed if isinstance(a, str)] if isinstance(listed, list) else []
    owner = raw.get("owner") if isinstance(raw.get("owner"), str) else None

    problems.extend(_identity_rules(raw))

    def four_eyes(path: str, who: object) -> None:
        if not isinstance(who, str):
            return
        if owner and identities.looks_alike(who, owner):
            like = (
                ""
                if same_identity(who, owner)
                else f" ({identities.looks_like_message(who, owner)})"
            )
            problems.append((path, f"{who} owns the stack and cannot approve (four eyes){like}"))
        elif not any(same_identity(who, a) for a in approvers):
            lookalike = identities.impostor(who, approvers)
            like = f" ({identities.looks_like_message(who, lookalike)})" if lookalike else ""
            problems.append((path, f"{who} is not in governance.approvers{like}"))
        elif (lookalike := identities.impostor(who, approvers)) is not None:
            message = identities.looks_like_message(who, lookalike)
            problems.append((path, f"{message}, who is in governance.approvers"))

    if governance.get("enforcement") == "advisory" and raw.get("environment") in (
        "staging",
        "prod",
    ):
        record = governance.get("enforcementApproval")
        if not isinstance(record, Mapping):
            problems.append(
                (
                    "governance.enforcement",
                    f"advisory in {raw.get('environment')} needs governance.enforcementApproval "
                    "signed by a listed approver who is not the owner "
                    "(mlops-iac approve --enforcement advisory)",
                )
            )
        else:
            four_eyes("governance.enforcementApproval.approvedBy", record.get("approvedBy"))
    waivers = governance.get("waivers")
    for i, waiver in enumerate(waivers if isinstance(waivers, list) else ()):
        if isinstance(waiver, Mapping):
            four_eyes(f"governance.waivers.{i}.approvedBy", waiver.get("approvedBy"))
    return problems


def _identity_rules(raw: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Identities must read as what they are: NFKC form, no invisible characters (a fullwidth
    ``ｊane`` or a zero-width space inside ``ja\u200bne`` would otherwise pass for ``jane``)."""
    governance = raw.get("governance")
    governance = governance if isinstance(governance, Mapping) else {}
    found: list[tuple[str, object]] = [("owner", raw.get("owner"))]

    def listed(key: str) -> list[Any]:
        value = governance.get(key)
        return value if isinstance(value, list) else []

    found += [(f"governance.approvers.{i}", a) for i, a in enumerate(listed("approvers"))]
    for key in ("approvals", "waivers"):
        for i, record in enumerate(listed(key)):
            if isinstance(record, Mapping):
                found.append((f"governance.{key}.{i}.approvedBy", record.get("approvedBy")))
                if key == "waivers":
                    found.append((f"governance.{key}.{i}.owner", record.get("owner")))
    record = governance.get("enforcementApproval")
    if isinstance(record, Mapping):
        found.append(("governance.enforcementApproval.approvedBy", record.get("approvedBy")))
    problems = []
    for path, value in found:
        if isinstance(value, str) and (problem := identities.nfkc_problem(value)) is not None:
            problems.append((path, f"identity {problem}"))
    return problems
