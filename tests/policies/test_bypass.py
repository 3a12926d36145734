"""Bypass attempts on the approval gate, on the serving endpoint of each of the three clouds.

Each endpoint carries its cloud's sanitised lineage tags (GCP labels lowercase and turn ``@`` and
``.`` into ``_``), so a look-alike identity must be refused after sanitising as well as before.
"""

from __future__ import annotations

from typing import Any

import pytest

from mlops_iac.components.lineage import sanitise
from mlops_iac.policies import packs
from mlops_iac.spec import clouds

from .baseline import APPROVERS, OWNER, Rec, Res, lineage_tags

ENDPOINTS = {
    "aws": "aws:sagemaker/endpoint:Endpoint",
    "azure": "azure-native:machinelearningservices:OnlineDeployment",
    "gcp": "gcp:cloudrunv2/service:Service",
}
TAG_INPUT = {name: entry.tag_input for name, entry in clouds.REGISTRY.items()}


def endpoint(cloud: str, approved_by: str, version: str = "7") -> Res:
    tags = lineage_tags(
        "prod",
        **{
            "mlops:model": "fraud-detector",
            "mlops:model-version": version,
            "mlops:approved-by": approved_by,
            "mlops:approval-ticket": "CHG-1234",
        },
    )
    inputs = {TAG_INPUT[cloud]: sanitise(tags, cloud)}
    type_ = ENDPOINTS[cloud]
    urn = f"urn:pulumi:{cloud}-prod::proj::{type_}::serving"
    return Res(urn, type_, "serving", None, inputs, {"id": "serving", **inputs})


def gate(cloud: str, approvals: list[dict[str, Any]], *, approved_by: str, version: str = "7"):
    document = packs.pack_config(
        "prod", owner=OWNER, approvers=APPROVERS, approvals=approvals, node_type_prices={}
    )
    rec = Rec([endpoint(cloud, approved_by, version)], {}, f"{cloud}-prod", "proj")
    result = packs.evaluate(rec, document, environment="prod")
    return [v.message for v in result.violations if v.policy == "mlops-approval-gate"]


def approval(by: str, version: str = "7", **extra: str) -> dict[str, Any]:
    return {
        "model": "fraud-detector",
        "version": version,
        "approvedBy": by,
        "ticket": "T-1",
        **extra,
    }


CLOUDS = pytest.mark.parametrize("cloud", clouds.NAMES)


@CLOUDS
def test_listed_approver_passes(cloud: str) -> None:
    assert gate(cloud, [approval("jane@example.com")], approved_by="jane@example.com") == []


@CLOUDS
def test_domain_case_is_folded_and_nothing_else(cloud: str) -> None:
    assert gate(cloud, [approval("jane@EXAMPLE.com")], approved_by="jane@EXAMPLE.com") == []
    refused = gate(cloud, [approval("Jane@example.com")], approved_by="Jane@example.com")
    assert refused and "not a listed approver" in refused[0]


@CLOUDS
@pytest.mark.parametrize(
    "lookalike",
    ["ja.ne@example.com", "jane@ex-ample.com", "jane@example.co.m", "jane+x@example.com"],
)
def test_lookalike_identity_is_refused(cloud: str, lookalike: str) -> None:
    messages = gate(cloud, [approval(lookalike)], approved_by=lookalike)
    # A reader could take the first three for jane@example.com: the refusal says so.
    like = (
        ""
        if "+" in lookalike
        else f" ({lookalike!r} looks like 'jane@example.com' but is not 'jane@example.com')"
    )
    assert messages == [
        f"approval of 'fraud-detector' version '7' does not count, by {lookalike!r}: "
        f"not a listed approver{like}"
    ]


@CLOUDS
def test_version_that_only_matches_loosely_is_not_approved(cloud: str) -> None:
    # "1.2" and "12" were one key once punctuation was stripped.
    messages = gate(
        cloud, [approval("jane@example.com", version="1.2")], approved_by="x", version="12"
    )
    assert messages == ["no approval is recorded for model 'fraud-detector' version '12'"]


@CLOUDS
def test_tag_naming_a_lookalike_of_the_approver_is_refused(cloud: str) -> None:
    messages = gate(cloud, [approval("jane@example.com")], approved_by="ja.ne@example.com")
    assert len(messages) == 1 and "tag mlops:approved-by" in messages[0]


@CLOUDS
def test_owner_cannot_approve_even_spelled_differently(cloud: str) -> None:
    owner_lookalike = OWNER.upper().replace("@", "@")
    document_approvers = [*APPROVERS, owner_lookalike]
    doc = packs.pack_config(
        "prod",
        owner=OWNER,
        approvers=document_approvers,
        approvals=[approval(owner_lookalike)],
        node_type_prices={},
    )
    rec = Rec([endpoint(cloud, owner_lookalike)], {}, f"{cloud}-prod", "proj")
    messages = [v.message for v in packs.evaluate(rec, doc, environment="prod").violations]
    assert any("the owner cannot approve" in m for m in messages)


@CLOUDS
def test_unverified_signature_does_not_count(cloud: str) -> None:
    signed = approval("jane@example.com", signatureStatus="verified")
    assert gate(cloud, [signed], approved_by="jane@example.com") == []
    forged = approval("jane@example.com", signatureStatus="signature does not verify")
    assert gate(cloud, [forged], approved_by="jane@example.com") == [
        "approval of 'fraud-detector' version '7' does not count, by 'jane@example.com': "
        "signature does not verify"
    ]


# --- blank lineage values ---------------------------------------------------------------------


@CLOUDS
@pytest.mark.parametrize("blank", [" ", "  ", "-", "_", "\u3000"])
def test_blank_dataset_version_fails_lineage_on_every_cloud(cloud: str, blank: str) -> None:
    tags = sanitise(lineage_tags("prod", **{"mlops:dataset-version": blank}), cloud)
    type_ = ENDPOINTS[cloud]
    res = Res(
        f"urn:pulumi:{cloud}-prod::proj::{type_}::x",
        type_,
        "x",
        None,
        {TAG_INPUT[cloud]: tags},
        {"id": "x", TAG_INPUT[cloud]: tags},
    )
    document = packs.pack_config("prod", node_type_prices={})
    result = packs.evaluate(Rec([res], {}, f"{cloud}-prod", "proj"), document, environment="prod")
    messages = [v.message for v in result.violations if v.policy == "mlops-lineage-tags"]
    assert messages == ["missing or empty lineage tags: mlops:dataset-version"]


def test_spec_refuses_a_blank_dataset_version() -> None:
    from mlops_iac.spec.errors import SpecError
    from mlops_iac.spec.parse import parse_spec
    from tests.conftest import platform_raw

    raw = platform_raw("gcp-prod")
    raw["lineage"]["datasetVersion"] = " "
    with pytest.raises(SpecError) as caught:
        parse_spec(raw)
    assert caught.value.lines[0].startswith("mlops:platform.lineage.datasetVersion: ")


def test_gcp_label_of_a_blank_value_stays_empty() -> None:
    assert sanitise({"mlops:dataset-version": " "}, "gcp") == {"mlops-dataset-version": ""}


@pytest.mark.parametrize(
    ("inputs", "fires"),
    [
        ({"kmsKeyName": "projects/p/locations/us/keyRings/r/cryptoKeys/k"}, False),
        ({}, True),
        ({"kmsKeyName": " "}, True),
    ],
)
def test_pubsub_topic_needs_a_kms_key(inputs: dict[str, Any], fires: bool) -> None:
    labels = sanitise(lineage_tags("prod"), "gcp")
    type_ = "gcp:pubsub/topic:Topic"
    res = Res(
        f"urn:pulumi:gcp-prod::proj::{type_}::t",
        type_,
        "t",
        None,
        {"labels": labels, **inputs},
        {"id": "t", "labels": labels, **inputs},
    )
    document = packs.pack_config("prod", node_type_prices={})
    result = packs.evaluate(Rec([res], {}, "gcp-prod", "proj"), document, environment="prod")
    fired = [v.message for v in result.violations if v.policy == "mlops-kms-encrypted-at-rest"]
    assert fired == (["kmsKeyName is not set"] if fires else [])
