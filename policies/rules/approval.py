"""The human approval gate: production serves only an approved model version.

The recorded approvals in the rule's config are the source of truth (``mlops-iac plan`` and the
pack entry point fill them from the stack file's ``governance`` block). A serving resource's
``mlops:approved-by`` tag only has to agree with them: a tag alone can never approve.

Every type that serves or deploys a model is read (``SERVING_TYPES``); what it serves comes from
its tags and from the properties that name a model, which must agree. One that does not say which
model version it serves fails instead of being skipped: the program chooses its own tags.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pulumi_policy import ResourceValidationArgs

from mlops_iac.spec.identities import exact, impostor, looks_alike, looks_like_message

from ._base import (
    ENVIRONMENT_SCHEMA,
    Report,
    Rule,
    environments_schema,
    get,
    items,
    lineage_tag,
    skip_outside_environments,
    tag_matches,
    tags_of,
    truthy_text,
)
from .lineage import tag_input


@dataclass(frozen=True)
class Claim:
    """What a serving resource's own properties say it serves (``None``: not stated)."""

    model: str | None
    version: str | None
    where: str
    problem: str | None = None
    """Set when the property names a model but no pinned version the gate can read."""


Claims = Callable[[Mapping[str, Any]], list[Claim]]


def _no_claims(props: Mapping[str, Any]) -> list[Claim]:
    return []


@dataclass(frozen=True)
class Serving:
    """How the gate reads one serving type.

    ``always``: gated in the gate's environments whatever the resource carries. Otherwise gated
    when its tags or properties name a model (or a toolkit serving component made it): the type
    also serves things that are not models (Cloud Run), or its deployments name the model and are
    gated themselves (an AzureML endpoint is only a router to its deployments).
    """

    always: bool
    claims: Claims = _no_claims
    tags: Callable[[Mapping[str, Any]], Mapping[str, Any]] = tags_of
    router: bool = False
    """Routes to deployments that are gated themselves, so a serving component's router that
    names no model is not gated (it serves nothing of its own)."""


# --- what the properties say is served -----------------------------------------------------------

#: ``azureml:<name>:<version>``; registry, workspace and ARM ids ``…/models/<name>/versions/<v>``.
_AZURE_SHORT = re.compile(r"^azureml:(?P<name>[^:/@]+):(?P<version>[^:/@]+)$")
_AZURE_PATH = re.compile(r"/models/(?P<name>[^/]+)/versions/(?P<version>[^/]+)$", re.IGNORECASE)
_AZURE_NAME = re.compile(r"^azureml:(?P<name>[^:/@]+)@|/models/(?P<path>[^/@]+)(@|/?$)", re.I)


def _azure_asset(value: Any, where: str) -> list[Claim]:
    """An AzureML model reference; a label (``@latest``) or bare name pins no version."""
    if not isinstance(value, str):
        return []  # unknown at preview, or absent: the tags have to say
    for pattern in (_AZURE_SHORT, _AZURE_PATH):
        if found := pattern.search(value):
            return [Claim(found["name"], found["version"], where)]
    named = _AZURE_NAME.search(value)
    name = (named["name"] or named["path"]) if named else None
    return [Claim(name, None, where, f"{where} is {value!r}, which names no model version")]


def _azure_online(props: Mapping[str, Any]) -> list[Claim]:
    return _azure_asset(get(props, "properties", "model"), "properties.model")


def _azure_batch(props: Mapping[str, Any]) -> list[Claim]:
    model = get(props, "properties", "model")
    if isinstance(model, str):
        return _azure_asset(model, "properties.model")
    # A data or job-output path names no model: the deployment's tags have to.
    return _azure_asset(get(model, "assetId"), "properties.model.assetId")


def _azure_serverless(props: Mapping[str, Any]) -> list[Claim]:
    return _azure_asset(
        get(props, "properties", "modelSettings", "modelId"), "properties.modelSettings.modelId"
    )


def _azure_group(props: Mapping[str, Any]) -> list[Claim]:
    where = "inferenceGroupProperties.modelConfiguration.modelId"
    return _azure_asset(
        get(props, "inferenceGroupProperties", "modelConfiguration", "modelId"), where
    )


def _named_model(props: Mapping[str, Any]) -> list[Claim]:
    """``properties.model: {name, version}`` (Azure OpenAI and endpoint deployments)."""
    model = get(props, "properties", "model")
    if not isinstance(model, Mapping):
        return []
    name, version = model.get("name"), model.get("version")
    return [
        Claim(
            str(name) if truthy_text(name) else None,
            str(version) if truthy_text(version) else None,
            "properties.model",
        )
    ]


_PACKAGE = re.compile(r":model-package/(?P<name>[^/]+)(/(?P<version>[^/]+))?$")


def _sagemaker_model(props: Mapping[str, Any]) -> list[Claim]:
    """Model packages a SageMaker model deploys (a versioned package is named by its ARN)."""
    containers = [("primaryContainer", props.get("primaryContainer"))] + [
        (f"containers[{i}]", c) for i, c in enumerate(items(props.get("containers")))
    ]
    claims = []
    for where, container in containers:
        package = get(container, "modelPackageName")
        if not isinstance(package, str):
            continue
        found = _PACKAGE.search(package)
        name = found["name"] if found else package
        claims.append(Claim(name, found["version"] if found else None, f"{where}.modelPackageName"))
    return claims


_VERTEX_MODEL = re.compile(r"/models/(?P<name>[^/@]+)(@(?P<version>[^/]+))?$")
_PUBLISHER_MODEL = re.compile(r"^publishers/[^/]+/models/(?P<name>[^/@]+)(@(?P<version>.+))?$")


def _vertex_endpoint(props: Mapping[str, Any]) -> list[Claim]:
    claims = []
    for i, deployed in enumerate(items(props.get("deployedModels"))):
        model = get(deployed, "model")
        found = _VERTEX_MODEL.search(model) if isinstance(model, str) else None
        version = get(deployed, "modelVersionId") or (found["version"] if found else None)
        claims.append(
            Claim(
                found["name"] if found else None,
                str(version) if truthy_text(version) else None,
                f"deployedModels[{i}]",
            )
        )
    return claims


def _model_garden(props: Mapping[str, Any]) -> list[Claim]:
    publisher = props.get("publisherModelName")
    if isinstance(publisher, str):
        found = _PUBLISHER_MODEL.search(publisher)
        if found:
            return [Claim(found["name"], found["version"], "publisherModelName")]
        return [Claim(None, None, "publisherModelName")]
    hugging_face = props.get("huggingFaceModelId")
    if isinstance(hugging_face, str):
        # A Hugging Face id names a repository, not a revision: the tags must pin the version.
        return [Claim(hugging_face, None, "huggingFaceModelId")]
    return []


def _cloud_run_env(containers: Any, where: str) -> list[Claim]:
    """``MODEL_NAME``/``MODEL_VERSION`` of the containers (what mlops' ServingEndpoint sets)."""
    claims = []
    for i, container in enumerate(items(containers)):
        envs = {
            get(e, "name"): get(e, "value")
            for e in items(get(container, "envs") or get(container, "env"))
        }
        name, version = envs.get("MODEL_NAME"), envs.get("MODEL_VERSION")
        if name is None and version is None:
            continue
        claims.append(
            Claim(
                str(name) if truthy_text(name) else None,
                str(version) if truthy_text(version) else None,
                f"{where}[{i}].envs",
            )
        )
    return claims


def _cloud_run_v2(props: Mapping[str, Any]) -> list[Claim]:
    return _cloud_run_env(get(props, "template", "containers"), "template.containers")


def _cloud_run_v1(props: Mapping[str, Any]) -> list[Claim]:
    return _cloud_run_env(get(props, "template", "spec", "containers"), "template.spec.containers")


def _v1_labels(props: Mapping[str, Any]) -> Mapping[str, Any]:
    metadata = props.get("metadata")
    return tags_of(metadata) if isinstance(metadata, Mapping) else {}


#: Every resource type that serves or deploys a model, and how the gate reads it.
#: ``tests/policies/test_type_coverage.py`` fails when an SDK ships a serving type no rule names.
SERVING_TYPES: Mapping[str, Serving] = {
    "aws:sagemaker/endpoint:Endpoint": Serving(True),
    # Holds the production variants, serverless and asynchronous inference settings it deploys.
    "aws:sagemaker/endpointConfiguration:EndpointConfiguration": Serving(True),
    # The deployable model (batch transform and endpoints deploy it).
    "aws:sagemaker/model:Model": Serving(True, _sagemaker_model),
    "aws:bedrock/provisionedModelThroughput:ProvisionedModelThroughput": Serving(True),
    # Azure tags the deployments (blue/green) with the model each serves: the endpoint only
    # routes to them and is gated when it names a model itself.
    "azure-native:machinelearningservices:OnlineEndpoint": Serving(False, router=True),
    "azure-native:machinelearningservices:OnlineDeployment": Serving(True, _azure_online),
    "azure-native:machinelearningservices:BatchEndpoint": Serving(False, router=True),
    "azure-native:machinelearningservices:BatchDeployment": Serving(True, _azure_batch),
    "azure-native:machinelearningservices:ServerlessEndpoint": Serving(True, _azure_serverless),
    "azure-native:machinelearningservices:EndpointDeployment": Serving(True, _named_model),
    "azure-native:machinelearningservices:ConnectionDeployment": Serving(True, _named_model),
    # An inference endpoint belongs to a group, and the group names the model.
    "azure-native:machinelearningservices:InferenceEndpoint": Serving(False, router=True),
    "azure-native:machinelearningservices:InferenceGroup": Serving(True, _azure_group),
    "azure-native:cognitiveservices:Deployment": Serving(True, _named_model),
    "gcp:vertex/aiEndpoint:AiEndpoint": Serving(True, _vertex_endpoint),
    "gcp:vertex/aiEndpointWithModelGardenDeployment:AiEndpointWithModelGardenDeployment": (
        Serving(True, _model_garden)
    ),
    "gcp:cloudrunv2/service:Service": Serving(False, _cloud_run_v2),
    "gcp:cloudrun/service:Service": Serving(False, _cloud_run_v1, _v1_labels),
}
#: Toolkit components whose serving children are gated even when they carry no model tag (a
#: team program that passes ``tags=None`` to a ServingEndpoint still serves a model).
SERVING_COMPONENTS: tuple[str, ...] = (
    "mlops:aws:ServingEndpoint",
    "mlops:azure:ServingEndpoint",
    "mlops:gcp:ServingEndpoint",
)

_DEFAULT_ENVIRONMENTS = ("prod",)


def _made_by_component(urn: str) -> bool:
    # urn:pulumi:<stack>::<project>::<parent types joined by $>$<type>::<name>
    chain = urn.split("::")[2].split("$")[:-1] if urn.count("::") >= 3 else []
    return any(t in SERVING_COMPONENTS for t in chain)


def _identity(
    tags: Mapping[str, Any], claims: list[Claim]
) -> tuple[tuple[str, str] | None, list[str]]:
    """((model, version), problems): what the resource serves, from its tags and properties.

    Tags and properties must agree where both say something; either may supply what the other
    leaves out, but a model and a pinned version must come out of them.
    """
    problems = [c.problem for c in claims if c.problem]
    tagged = {"model": lineage_tag(tags, "model"), "version": lineage_tag(tags, "model-version")}
    found: dict[str, set[str]] = {"model": set(), "version": set()}
    for claim in claims:
        for key, value in (("model", claim.model), ("version", claim.version)):
            if value is None:
                continue
            tag = "mlops:model" if key == "model" else "mlops:model-version"
            if tagged[key] is not None and not tag_matches(tagged[key], value):
                problems.append(
                    f"tag {tag} is {tagged[key]!r} but {claim.where} serves {key} {value!r}"
                )
            found[key].add(value)
    if problems:
        return None, problems
    identity = []
    for key in ("model", "version"):
        if truthy_text(tagged[key]):
            identity.append(str(tagged[key]))
        elif len(found[key]) == 1 and truthy_text(value := next(iter(found[key]))):
            identity.append(value)
    if len(identity) < 2:
        return None, [
            "cannot tell which model this serves: tags mlops:model and mlops:model-version "
            "(or properties that name the model and its version) are missing"
        ]
    return (identity[0], identity[1]), []


def _validate(args: ResourceValidationArgs, report: Report) -> None:
    serving = SERVING_TYPES.get(args.resource_type)
    if serving is None:
        return
    tags = serving.tags(args.props)
    claims = serving.claims(args.props)
    if (
        not serving.always
        and lineage_tag(tags, "model") is None
        and not claims
        and (serving.router or not _made_by_component(args.urn))
    ):
        return
    skip_outside_environments(args, _DEFAULT_ENVIRONMENTS)
    served, problems = _identity(tags, claims)
    for problem in problems:
        report(problem)
    if served is None:
        return
    model, version = served
    config = args.get_config()
    # Listed approvers compare exactly (``exact``: only the domain's case is folded), and an
    # approver that merely looks like a listed one or the owner (``jаne`` with a Cyrillic a,
    # ``ja.ne``, fullwidth letters) is refused by name. The owner check errs the other way
    # (``looks_alike``: confusable skeletons), because a false match there only refuses.
    listed = [str(a) for a in config.get("approvers", ())]
    approvers = {exact(a) for a in listed}
    owner = config.get("owner")
    owner_tag = lineage_tag(tags, "owner")
    recorded = [
        a
        for a in config.get("approvals", ())
        if tag_matches(model, a.get("model")) and tag_matches(version, a.get("version"))
    ]
    if not recorded:
        report(f"no approval is recorded for model {model!r} version {version!r}")
        return
    valid: list[Mapping[str, Any]] = []
    refused: list[str] = []
    for approval in recorded:
        who = str(approval.get("approvedBy"))
        unsigned = approval.get("signatureStatus")
        # The record's key path (set by `mlops-iac plan`) lets reports point at its line.
        at = f" ({approval['keyPath']})" if approval.get("keyPath") else ""
        lookalike = impostor(who, listed)
        if owner and looks_alike(who, owner):
            # Name the look-alike: ``jane@`` approving for owner ``jаne@`` is Jane approving.
            like = "" if exact(who) == exact(owner) else f" ({looks_like_message(who, owner)})"
            refused.append(f"by {who!r}: the owner cannot approve their own model{like}{at}")
        elif owner_tag and (tag_matches(owner_tag, who) or looks_alike(owner_tag, who)):
            refused.append(f"by {who!r}: the owner cannot approve their own model{at}")
        elif exact(who) not in approvers:
            like = f" ({looks_like_message(who, lookalike)})" if lookalike else ""
            refused.append(f"by {who!r}: not a listed approver{like}{at}")
        elif lookalike is not None:
            # Listed, next to a look-alike: the author listed an imitation of an approver.
            refused.append(
                f"by {who!r}: {looks_like_message(who, lookalike)}, a listed approver{at}"
            )
        elif approval.get("dateStatus"):
            refused.append(f"by {who!r}: {approval['dateStatus']}{at}")
        elif unsigned not in (None, "verified"):
            refused.append(f"by {who!r}: {unsigned}{at}")
        elif approval.get("bindingStatus"):
            refused.append(f"by {who!r}: {approval['bindingStatus']}{at}")
        else:
            valid.append(approval)
    if not valid:
        # One valid approval is enough; refused ones only matter when nothing else approves.
        for reason in refused:
            report(f"approval of {model!r} version {version!r} does not count, {reason}")
        return
    if tag_input(args.resource_type) is None and serving.tags is tags_of:
        return  # a type without tags cannot repeat the approver; the record alone decides
    tagged = lineage_tag(tags, "approved-by")
    if not any(tag_matches(tagged, a.get("approvedBy")) for a in valid):
        expected = " or ".join(repr(a.get("approvedBy")) for a in valid)
        report(f"tag mlops:approved-by is {tagged!r}; the recorded approval is by {expected}")


APPROVAL_GATE = Rule(
    name="mlops-approval-gate",
    description=(
        "A production endpoint or deployment serves only a model version approved by a listed "
        "approver, and says which version it serves."
    ),
    remediation=(
        "Record an approval for exactly this model and version by someone in "
        "governance.approvers who is not the stack owner (`mlops-iac approve`), then redeploy so "
        "the mlops:approved-by tag of each serving resource names that approver (and "
        "mlops:model, mlops:model-version say what it serves)."
    ),
    kind="resource",
    validate=_validate,
    waivable=False,
    config={
        "environment": ENVIRONMENT_SCHEMA,
        "environments": environments_schema(_DEFAULT_ENVIRONMENTS),
        "owner": {"type": "string", "description": "The stack owner, who may not approve."},
        "approvers": {"type": "array", "items": {"type": "string"}, "default": []},
        "approvals": {
            "type": "array",
            "default": [],
            "items": {
                "type": "object",
                "properties": {
                    "model": {"type": "string", "minLength": 1},
                    "version": {"type": "string", "minLength": 1},
                    "approvedBy": {"type": "string", "minLength": 1},
                    "ticket": {"type": "string", "minLength": 1},
                    "approvedAt": {"type": "string"},
                    "signatureStatus": {
                        "type": "string",
                        "description": "Set by `mlops-iac plan`: 'verified', or why the "
                        "approval's SSH signature does not verify (then it does not count).",
                    },
                    "dateStatus": {
                        "type": "string",
                        "description": "Set by `mlops-iac plan` when the approval's date does not "
                        "count: dated in the future beyond the trusted clock skew, or older than "
                        "the trusted maximum age (then it does not count).",
                    },
                    "bindingStatus": {
                        "type": "string",
                        "description": "Set by `mlops-iac plan` in staging and prod when the "
                        "approval does not cover what is served: artifact or image digest, "
                        "metrics against the criteria, model card (then it does not count).",
                    },
                    "verifiedBy": {
                        "type": "object",
                        "description": "Set by `mlops-iac plan` for a verified signature: the "
                        "principal, the key's SHA256 fingerprint, the allowed-signers file and "
                        "its sha256 digest.",
                        "properties": {
                            "principal": {"type": "string"},
                            "key": {"type": "string"},
                            "signersFile": {"type": "string"},
                            "signersDigest": {"type": "string"},
                        },
                    },
                    "keyPath": {
                        "type": "string",
                        "description": "Set by `mlops-iac plan`: where the record is in the "
                        "stack file, named in violations so reports point at its line.",
                    },
                },
                "required": ["model", "version", "approvedBy", "ticket"],
            },
        },
    },
)

RULES: tuple[Rule, ...] = (APPROVAL_GATE,)
