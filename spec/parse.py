"""Parsing and loading the stack file's ``mlops:platform`` object.

``parse_spec`` reports every problem it finds at once, one line each, naming the key path::

    mlops:platform.training.maxNodes: must be >= minNodes (2)

``load_spec`` and ``load_team_governance`` read the current stack's config through Pulumi; the
SDK is imported only when they are called, so parsing needs no Pulumi SDK.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import ValidationError

from mlops_iac.spec import clouds, identities
from mlops_iac.spec.errors import SpecError, control_characters, format_errors, loc_path
from mlops_iac.spec.keys import CONFIG_KEY, CONFIG_NAMESPACE, ROOT
from mlops_iac.spec.models import PlatformSpec, TeamGovernance, TeamStackSpec
from mlops_iac.spec.rules import platform_rules


def parse_spec(raw: object) -> PlatformSpec:
    """Validate the raw ``mlops:platform`` object. Raises ``SpecError`` listing every problem."""
    if not isinstance(raw, Mapping):
        raise SpecError([(ROOT, f"must be a mapping, got {type(raw).__name__}")])
    hidden = control_characters(raw)
    try:
        spec = PlatformSpec.model_validate(dict(raw))
        if hidden:
            raise SpecError(hidden)
        return spec
    except ValidationError as exc:
        problems = hidden + [p for p in format_errors(exc, PlatformSpec) if p not in hidden]
        # The model's own cross-section rules did not run: report them in the same pass.
        for key, message in platform_rules(raw):
            problem = (loc_path(key.split(".")), message)
            if problem not in problems:
                problems.append(problem)
        raise SpecError(problems) from None


PLATFORM_ONLY = ("serving", "training", "monitoring", "artifacts", *clouds.NAMES)
"""Keys only a platform stack file has; ``serving`` is the one that makes it one."""

StackKind = Literal["platform", "team"]


def stack_kind(raw: object) -> StackKind:
    """Which kind of stack file a ``mlops:platform`` object is.

    A **platform** stack file has ``serving`` (and ``cloud``, and may have every section:
    ``PlatformSpec``); a **team** stack file has only the governance keys (project, environment,
    owner, costCenter, lineage, governance, and optionally cloud: ``TeamStackSpec``). An object
    with platform-only sections but no ``serving`` is neither: ``SpecError`` saying what it
    lacks.
    """
    if not isinstance(raw, Mapping):
        raise SpecError([(ROOT, f"must be a mapping, got {type(raw).__name__}")])
    if "serving" in raw:
        return "platform"
    extra = [key for key in PLATFORM_ONLY if key in raw]
    if extra:
        raise SpecError([(ROOT, neither_message(extra))])
    return "team"


def neither_message(platform_keys: list[str]) -> str:
    """Why an object with ``platform_keys`` but no ``serving`` is no stack file of either kind."""
    keys = ", ".join(platform_keys)
    return (
        f"neither a platform stack file (it has {keys} but no serving) nor a team stack file "
        "(only project, environment, owner, costCenter, lineage, governance, cloud)"
    )


def is_team_governance(raw: object) -> bool:
    """A ``mlops:platform`` object of a team stack file: no ``serving`` (``stack_kind``).

    An object that is neither kind counts as a team one here, so parsing it reports why."""
    return isinstance(raw, Mapping) and "serving" not in raw


def parse_team_governance(raw: object) -> TeamGovernance:
    """Validate a team stack file's ``mlops:platform`` object (``TeamStackSpec``: unknown keys
    refused), or the governance keys of a platform one (the rest ignored); ``SpecError`` lists
    every problem."""
    kind = stack_kind(raw)
    assert isinstance(raw, Mapping)  # stack_kind refuses anything else
    hidden = control_characters(raw)
    model: type[TeamGovernance] = TeamStackSpec if kind == "team" else TeamGovernance
    try:
        team = model.model_validate(dict(raw))
    except ValidationError as exc:
        problems = hidden + [p for p in format_errors(exc, model) if p not in hidden]
        raise SpecError(problems) from None
    if hidden:
        raise SpecError(hidden)
    if team.environment == "prod" and not team.owner:
        raise SpecError([(f"{ROOT}.owner", "required in prod")])
    if team.owner and (problem := identities.nfkc_problem(team.owner)) is not None:
        raise SpecError([(f"{ROOT}.owner", f"identity {problem}")])
    return team


def _stack_config() -> Any:
    """The current stack's ``mlops:platform`` object, decoded (not yet validated)."""
    import json

    import pulumi

    raw = pulumi.Config(CONFIG_NAMESPACE).get(CONFIG_KEY)
    if raw is None:
        raise SpecError([(ROOT, f"missing: the stack file has no {ROOT} object")])
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise SpecError([(ROOT, f"not a valid object: {exc.msg}")]) from None
    return value


def load_team_governance() -> TeamGovernance:
    """Read the governance keys from the current stack's ``mlops:platform`` config."""
    return parse_team_governance(_stack_config())


SECRET = "[secret]"
"""What a ``secure:`` value reads as when the ciphertext is not decrypted (offline, in reports)."""


def reveal_secure(value: Any) -> Any:
    """``value`` with every Pulumi ``{secure: …}`` leaf replaced by :data:`SECRET`.

    The Pulumi CLI decrypts ``secure:`` values at any depth of an object (and marks the whole key
    secret); validation offline only needs to know a string is there.
    """
    if isinstance(value, Mapping):
        if set(value) == {"secure"} and isinstance(value["secure"], str):
            return SECRET
        return {k: reveal_secure(v) for k, v in value.items()}
    if isinstance(value, list):
        return [reveal_secure(v) for v in value]
    return value


def load_spec() -> PlatformSpec:
    """Read and validate ``mlops:platform`` from the current stack's Pulumi config."""
    return parse_spec(_stack_config())
