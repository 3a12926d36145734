"""The human approval gate: a production endpoint serves only an approved model version.

The recorded approvals in the rule's config are the source of truth (``mlops-iac plan`` and the
pack entry point fill them from the stack file's ``governance`` block). The endpoint's
``mlops:approved-by`` tag only has to agree with them: a tag alone can never approve.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi_policy import ResourceValidationArgs

from mlops_iac.spec.identities import exact, impostor, looks_alike, looks_like_message

from ._base import (
    ENVIRONMENT_SCHEMA,
    Report,
    Rule,
    environments_schema,
    lineage_tag,
    skip_outside_environments,
    tag_matches,
    tags_of,
    truthy_text,
)

#: Serving endpoint types. ``True``: always gated. ``False``: gated only when the resource carries
#: a model tag, because these types also serve things that are not models (Cloud Run services).
ENDPOINT_TYPES: Mapping[str, bool] = {
    "aws:sagemaker/endpoint:Endpoint": True,
    "azure-native:machinelearningservices:OnlineEndpoint": False,
    # Azure tags the deployments (blue/green) with the model each serves, not the endpoint.
    "azure-native:machinelearningservices:OnlineDeployment": False,
    "gcp:vertex/aiEndpoint:AiEndpoint": False,
    "gcp:cloudrunv2/service:Service": False,
}

_DEFAULT_ENVIRONMENTS = ("prod",)


def _validate(args: ResourceValidationArgs, report: Report) -> None:
    always = ENDPOINT_TYPES.get(args.resource_type)
    if always is None:
        return
    tags = tags_of(args.props)
    model, version = lineage_tag(tags, "model"), lineage_tag(tags, "model-version")
    if not always and model is None:
        return
    skip_outside_environments(args, _DEFAULT_ENVIRONMENTS)
    if not (truthy_text(model) and truthy_text(version)):
        report("the endpoint does not say what it serves: tags mlops:model and mlops:model-version")
        return
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
        else:
            valid.append(approval)
    if not valid:
        # One valid approval is enough; refused ones only matter when nothing else approves.
        for reason in refused:
            report(f"approval of {model!r} version {version!r} does not count, {reason}")
        return
    tagged = lineage_tag(tags, "approved-by")
    if not any(tag_matches(tagged, a.get("approvedBy")) for a in valid):
        expected = " or ".join(repr(a.get("approvedBy")) for a in valid)
        report(f"tag mlops:approved-by is {tagged!r}; the recorded approval is by {expected}")


APPROVAL_GATE = Rule(
    name="mlops-approval-gate",
    description="A production endpoint serves only a model version approved by a listed approver.",
    remediation=(
        "Record an approval for exactly this model and version by someone in "
        "governance.approvers who is not the stack owner (`mlops-iac approve`), then redeploy so "
        "the endpoint's mlops:approved-by tag names that approver."
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
