"""The mlops-governance pack: its policies, their levels per environment, and their config.

Levels are advisory in dev and mandatory in staging and prod. The environment a stack is judged
as is the trusted one (``policies.trust``: ``governance/settings.yaml``, else the stack name's
suffix, else prod), never the stack file's own claim: ``mlops-iac plan`` passes it explicitly and
the pack process (:func:`settings_from_stack_config`) reads the same file. ``evaluate`` without
an environment falls back to the config document's, then the ``mlops:environment`` tags, then
prod.

``pack_config`` turns plain values from the stack file into the policy pack config document (the
same JSON ``pulumi preview --policy-pack-config`` reads), so ``mlops-iac plan`` and a config
writer produce identical config.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from pulumi_policy import EnforcementLevel, Policy

from mlops_iac.spec.errors import SpecError
from mlops_iac.spec.keys import ROOT
from mlops_iac.spec.models import PlatformSpec, TeamGovernance
from mlops_iac.spec.parse import (
    is_team_governance,
    parse_spec,
    parse_team_governance,
    reveal_secure,
)

from . import offline, signatures
from .rules import RULES, Rule
from .rules._base import ENVIRONMENTS, lineage_tag, tags_of
from .rules.gpu import GpuSpend
from .rules.gpu import gpu_spend as _gpu_spend

PACK_NAME = offline.PACK_NAME
PACK_DESCRIPTION = "Governance for the mlops-iac platform: data, lineage, approval, cost, security."
DEFAULT_ENVIRONMENT = "prod"
PLATFORM_CONFIG_KEY = ROOT

_RANK = {env: i for i, env in enumerate(ENVIRONMENTS)}


def rules() -> tuple[Rule, ...]:
    """Every rule in the pack, in catalogue order."""
    return RULES


def policies() -> list[Policy]:
    """The pulumi_policy objects of the pack (built once, shared by the pack and the evaluator)."""
    return [rule.policy for rule in RULES]


def levels(environment: str, enforcement: str | None = None) -> dict[str, str]:
    """Each rule's level in ``environment``; ``enforcement`` (the stack file's
    ``governance.enforcement``) overrides every rule."""
    _check_environment(environment)
    if enforcement is not None:
        _check_level(enforcement)
        return {rule.name: enforcement for rule in RULES}
    return {rule.name: rule.levels[environment] for rule in RULES}


def environment_of(resources: Iterable[Any]) -> str | None:
    """The strictest ``mlops:environment`` tag among recorded resources' inputs, if any."""
    found: str | None = None
    for resource in resources:
        tagged = lineage_tag(tags_of(resource.inputs or {}), "environment")
        env = str(tagged).lower() if tagged else None
        if env in _RANK and (found is None or _RANK[env] > _RANK[found]):
            found = env
    return found


def environment_from_stack(stack: str | None) -> str | None:
    """``aws-prod`` -> ``prod``: the environment a stack name ends with, if it ends with one."""
    match = re.search(r"(?:^|[-_.])(dev|staging|prod)$", stack or "")
    return match.group(1) if match else None


def pack_config(
    environment: str,
    owner: str | None = None,
    approvers: Sequence[str] = (),
    approvals: Sequence[Mapping[str, Any]] = (),
    gpu_budget: float | None = None,
    node_type_prices: Mapping[str, float] | None = None,
    *,
    enforcement: str | None = None,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
    problems: Sequence[str] = (),
    monthly_budget: float | None = None,
) -> dict[str, dict[str, Any]]:
    """The policy pack config document (JSON-ready) for one stack.

    ``approvals`` items use the stack file's keys (``model``, ``version``, ``approvedBy``,
    ``ticket``, ``approvedAt``); versions and dates are turned into strings. ``overrides`` is
    merged last, per policy, for knobs such as ``{"mlops-gpu-pool-caps": {"maxNodes": 32}}``.
    """
    rule_levels = levels(environment, enforcement)
    document: dict[str, dict[str, Any]] = {}
    for rule in RULES:
        entry: dict[str, Any] = {"enforcementLevel": rule_levels[rule.name]}
        if "environment" in rule.config:
            entry["environment"] = environment
        document[rule.name] = entry
    gate = document["mlops-approval-gate"]
    if owner:
        gate["owner"] = owner
    gate["approvers"] = [str(a) for a in approvers]
    gate["approvals"] = [_approval(a) for a in approvals]
    if problems:
        document["mlops-governance-records"]["problems"] = [str(p) for p in problems]
    budget = document["mlops-gpu-budget"]
    if gpu_budget is not None:
        budget["gpuBudgetUsdPerHour"] = float(gpu_budget)
    budget["nodeTypePrices"] = {str(k): float(v) for k, v in (node_type_prices or {}).items()}
    if monthly_budget is not None:
        document["mlops-cost-monthly-budget"]["monthlyBudgetUsd"] = float(monthly_budget)
    for name, values in (overrides or {}).items():
        if name not in document and name != "all":
            raise ValueError(f"unknown policy {name!r} in overrides")
        document.setdefault(name, {}).update(values)
    return document


def _approval(approval: Mapping[str, Any]) -> dict[str, Any]:
    def text(value: Any) -> Any:
        if isinstance(value, Mapping):  # verifiedBy: principal, key, signers file and digest
            return {str(k): str(v) for k, v in value.items()}
        return value.isoformat() if isinstance(value, dt.date) else str(value)

    # The bound fields (metrics, digests, model card) were judged by the review: the gate reads
    # its verdict (``bindingStatus``), not the fields.
    return {
        key: text(value)
        for key, value in approval.items()
        if value is not None and key not in signatures.APPROVAL_BINDING
    }


def initial_config(environment: str, enforcement: str | None = None) -> dict[str, Any]:
    """Levels only, as ``PolicyPack(initial_config=...)`` takes them (EnforcementLevel values)."""
    return {
        name: EnforcementLevel(level) for name, level in levels(environment, enforcement).items()
    }


def to_initial_config(document: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """A ``pack_config`` document in the form ``PolicyPack(initial_config=...)`` accepts."""
    converted: dict[str, Any] = {}
    for name, entry in document.items():
        entry = dict(entry)
        if "enforcementLevel" in entry:
            entry["enforcementLevel"] = EnforcementLevel(entry["enforcementLevel"])
        converted[name] = entry
    return converted


def settings_from_stack_config(config_json: str | None, stack: str | None = None) -> dict[str, Any]:
    """``pack_config`` keyword arguments from the stack config the CLI passes a policy pack.

    The CLI sets ``PULUMI_CONFIG`` to a JSON object of the stack's config, where an object value
    such as ``mlops:platform`` is itself JSON text; unreadable config reviews as empty. The object
    is parsed by the stack-file spec as ``mlops-iac plan`` parses it; one that does not validate
    (the program refuses it as well) is reviewed as written rather than stopping the pack. The
    environment is the trusted one for ``stack`` (``trust.load()``, finding ``governance/`` via
    ``trust.governance_dir()``), exactly as ``mlops-iac plan`` judges it: a stack file claiming a
    lower one is a ``mlops-governance-records`` problem. Raises ``trust.TrustError`` when the
    trusted settings cannot be read (the pack must not start on a broken trust point).
    """
    platform: Mapping[str, Any] = {}
    try:
        raw = json.loads(config_json or "{}").get(PLATFORM_CONFIG_KEY, {})
        platform = json.loads(raw) if isinstance(raw, str) else raw
    except (ValueError, AttributeError):
        platform = {}
    if not isinstance(platform, Mapping):
        platform = {}
    from . import governance as review_module
    from . import trust

    typed = _typed_platform(platform)

    settings = trust.load()
    environment, why = settings.environment(stack)
    # The same review as `mlops-iac plan`: signatures verified, a lowered level only with a
    # signed four-eyes approval. Without the allowed-signers file nothing verifies (fail closed).
    reviewed = review_module.review(
        typed if typed is not None else platform,
        allowed_signers_path(),
        stack=stack or "",
        environment=environment,
        environment_source=why,
        settings=settings,
    )
    if isinstance(typed, PlatformSpec | TeamGovernance):  # a team stack file's records too
        owner, approvers = typed.owner, list(typed.governance.approvers)
        gpu_budget: Any = typed.governance.gpu_budget_usd_per_hour
    else:
        # A stack file that does not validate (the program refuses it too): reviewed as written,
        # so the pack still starts and nothing unsigned or unlisted counts.
        governance = platform.get("governance") or {}
        governance = governance if isinstance(governance, Mapping) else {}
        owner, approvers = platform.get("owner"), list(governance.get("approvers") or ())
        gpu_budget = governance.get("gpuBudgetUsdPerHour")
    return {
        "environment": environment,
        "owner": owner,
        "approvers": approvers,
        "approvals": reviewed.approvals,
        "gpu_budget": gpu_budget,
        "enforcement": reviewed.enforcement,
        "problems": reviewed.problems,
    }


def _typed_platform(platform: Mapping[str, Any]) -> PlatformSpec | TeamGovernance | None:
    """The stack file's object parsed by the spec (as ``mlops-iac plan`` parses it), or ``None``
    when it does not validate: the pack process must start either way."""
    if not platform:
        return None
    try:
        if is_team_governance(platform):
            return parse_team_governance(reveal_secure(platform))
        return parse_spec(reveal_secure(platform))
    except (SpecError, RecursionError):  # a nesting too deep to walk is not a spec either
        return None


def allowed_signers_path(project: str | os.PathLike[str] | None = None) -> Path:
    """The approvers' public keys: ``$MLOPS_IAC_ALLOWED_SIGNERS``, else
    ``governance/allowed_signers`` in ``project`` (the pack process: the working directory or
    its parent, where the pack directory sits in this repository's layout)."""
    from .signatures import ALLOWED_SIGNERS

    configured = os.environ.get("MLOPS_IAC_ALLOWED_SIGNERS")
    if configured:
        return Path(configured)
    if project is not None:
        return Path(project) / ALLOWED_SIGNERS
    for base in (Path.cwd(), Path.cwd().parent):
        if (base / ALLOWED_SIGNERS).is_file():
            return base / ALLOWED_SIGNERS
    return Path.cwd() / ALLOWED_SIGNERS


def evaluate(
    recording: offline.Recording,
    config: Mapping[str, Any] | None = None,
    *,
    environment: str | None = None,
) -> offline.ResultSet:
    """Evaluate the pack over a recording with this environment's levels.

    ``config`` is a policy pack config document (``pack_config``'s output or a user file). The
    environment is ``environment``, else the one the config names, else the strictest
    ``mlops:environment`` tag, else prod.
    """
    env = (
        environment
        or _configured_environment(config)
        or environment_of(recording.resources)
        or DEFAULT_ENVIRONMENT
    )
    return offline.evaluate(
        recording,
        policies(),
        enforcement_level=EnforcementLevel.MANDATORY,
        initial_config=initial_config(env),
        config=config,
    )


def gpu_spend(recording: offline.Recording, node_type_prices: Mapping[str, float]) -> GpuSpend:
    """The stack's worst-case GPU spend (every pool at max size), as the budget rule sees it.

    ``GpuSpend.usd_per_hour`` is the total; ``unpriced`` lists pools whose node type has no price.
    """
    return _gpu_spend(((r.type, r.name, r.inputs) for r in recording.resources), node_type_prices)


def _configured_environment(config: Mapping[str, Any] | None) -> str | None:
    for entry in (config or {}).values():
        if isinstance(entry, Mapping) and entry.get("environment") in ENVIRONMENTS:
            return str(entry["environment"])
    return None


def catalogue() -> list[dict[str, Any]]:
    """One entry per rule for the README table and SARIF rule metadata."""
    return [
        {
            "name": rule.name,
            "area": rule.area,
            "kind": rule.kind,
            "description": rule.description,
            "remediation": rule.remediation,
            "checkov": list(rule.checkov),
            "awsguard": list(rule.awsguard),
            "levels": {env: rule.levels[env] for env in ENVIRONMENTS},
            "waivable": rule.waivable,
            "config": {
                key: {k: v for k, v in spec.items() if k in ("type", "default", "description")}
                for key, spec in rule.config.items()
            },
        }
        for rule in RULES
    ]


def _check_environment(environment: str) -> None:
    if environment not in ENVIRONMENTS:
        raise ValueError(
            f"unknown environment {environment!r}: use one of {', '.join(ENVIRONMENTS)}"
        )


def _check_level(level: str) -> None:
    if level not in ("advisory", "mandatory", "disabled"):
        raise ValueError(f"unknown enforcement level {level!r}: use advisory or mandatory")


def catalogue_markdown() -> str:
    """The rule catalogue as a Markdown table (for the README)."""
    lines = [
        "| rule | checks | dev / staging / prod | corresponds to |",
        "|---|---|---|---|",
    ]
    for entry in catalogue():
        levels = " / ".join(entry["levels"][env] for env in ENVIRONMENTS)
        ids = ", ".join(entry["checkov"] + entry["awsguard"]) or "-"
        lines.append(f"| `{entry['name']}` | {entry['description']} | {levels} | {ids} |")
    return "\n".join(lines) + "\n"
