"""Signed approvals, enforcement changes and waivers: made with throwaway keys, verified offline.

A signed record verifies; the same record edited by one character, signed by a key that is not
listed for the approver, signed for another kind of record, or unsigned in prod does not, and the
approval gate then names the approval, on the endpoint of each of the three clouds.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest

from mlops_iac.policies import governance, packs, signatures
from mlops_iac.spec import clouds, stackyaml
from tests.conftest import REPO, STACKS
from tests.ops.keys import install_allowed_signers, key_for

from .baseline import APPROVERS, OWNER, Rec
from .test_bypass import CLOUDS, endpoint

PROJECT = "fraud-detection"
RECORD = {
    "model": "fraud-detector",
    "version": "7",
    "approvedBy": "jane@example.com",
    "ticket": "CHG-1234",
    "approvedAt": "2026-11-20",
}


@pytest.fixture
def allowed(tmp_path: Path) -> Path:
    return install_allowed_signers(tmp_path)


def signed(record: dict[str, Any], signer: str | None = None) -> dict[str, Any]:
    data = signatures.approval_payload(PROJECT, record)
    return {**record, "signature": signatures.sign(data, key_for(signer or record["approvedBy"]))}


def status(record: dict[str, Any], allowed: Path) -> str:
    return signatures.verify(
        signatures.approval_payload(PROJECT, record),
        record.get("signature"),
        record["approvedBy"],
        allowed,
    )


def test_signed_approval_verifies(allowed: Path) -> None:
    assert status(signed(RECORD), allowed) == signatures.VERIFIED


@pytest.mark.parametrize("field", ["model", "version", "ticket", "approvedAt", "approvedBy"])
def test_one_character_edit_does_not_verify(field: str, allowed: Path) -> None:
    record = signed(RECORD)
    edits = {"approvedAt": "2026-11-21", "approvedBy": "raj@example.com"}
    record[field] = edits.get(field, record[field] + "x")
    assert status(record, allowed).startswith("signature does not verify")


def test_unlisted_key_does_not_verify(allowed: Path) -> None:
    assert status(signed(RECORD, signer="mallory@example.com"), allowed).startswith(
        "signature does not verify"
    )


def test_another_approvers_key_does_not_verify(allowed: Path) -> None:
    assert status(signed(RECORD, signer="raj@example.com"), allowed).startswith(
        "signature does not verify"
    )


def test_a_waiver_signature_is_not_an_approval(allowed: Path) -> None:
    waiver = {
        "stack": "aws-prod",
        "rule": "mlops-x",
        "resource": "*",
        "reason": "r",
        "ticket": "CHG-1234",
        "owner": OWNER,
        "approvedBy": "jane@example.com",
        "approvedAt": "2026-11-20",
        "expires": "2026-12-01",
    }
    signature = signatures.sign(
        signatures.waiver_payload(PROJECT, waiver), key_for(RECORD["approvedBy"])
    )
    assert status({**RECORD, "signature": signature}, allowed).startswith(
        "signature does not verify"
    )


def test_another_projects_approval_does_not_verify(allowed: Path) -> None:
    data = signatures.approval_payload("other-project", RECORD)
    record = {**RECORD, "signature": signatures.sign(data, key_for(RECORD["approvedBy"]))}
    assert status(record, allowed).startswith("signature does not verify")


def test_unsigned_and_missing_file(tmp_path: Path) -> None:
    assert status(RECORD, tmp_path / "nope").startswith("unsigned")
    assert status(signed(RECORD), tmp_path / "nope").startswith("cannot be verified")


def test_dates_verify_however_they_are_spelled(allowed: Path) -> None:
    record = signed({**RECORD, "approvedAt": "2026-11-20T06:30:00Z"})
    for spelling in ("2026-11-20T06:30:00+00:00", dt.datetime(2026, 11, 20, 6, 30, tzinfo=dt.UTC)):
        assert status({**record, "approvedAt": spelling}, allowed) == signatures.VERIFIED


def review(platform: dict[str, Any], allowed: Path) -> governance.Review:
    """The review of ``platform`` in the environment it declares (trusted here: the environment
    binding has its own tests, tests/policies/test_environment_binding.py)."""
    environment = platform["environment"]
    return governance.review(platform, allowed, stack=f"x-{environment}", environment=environment)


def platform(environment: str = "prod", **governance_extra: Any) -> dict[str, Any]:
    return {
        "project": PROJECT,
        "environment": environment,
        "owner": OWNER,
        "governance": {"approvers": APPROVERS, **governance_extra},
    }


def gate(cloud: str, approvals: list[dict[str, Any]], allowed: Path, environment: str = "prod"):
    reviewed = review(platform(environment, approvals=approvals), allowed)
    document = packs.pack_config(
        environment,
        owner=OWNER,
        approvers=APPROVERS,
        approvals=reviewed.approvals,
        node_type_prices={},
    )
    rec = Rec([endpoint(cloud, "jane@example.com")], {}, f"{cloud}-{environment}", "proj")
    result = packs.evaluate(rec, document, environment=environment)
    return [v.message for v in result.violations if v.policy == "mlops-approval-gate"]


@CLOUDS
def test_gate_counts_a_signed_approval(cloud: str, allowed: Path) -> None:
    assert gate(cloud, [signed(RECORD)], allowed) == []


@CLOUDS
@pytest.mark.parametrize(
    "forge",
    [
        pytest.param(lambda r: {**signed(r), "ticket": "CHG-1235"}, id="edited"),
        pytest.param(lambda r: signed(r, signer="mallory@example.com"), id="unlisted-key"),
        pytest.param(lambda r: dict(r), id="unsigned"),
    ],
)
def test_gate_names_a_forged_or_unsigned_approval_in_prod(cloud: str, forge, allowed: Path) -> None:
    messages = gate(cloud, [forge(RECORD)], allowed)
    assert len(messages) == 1
    assert messages[0].startswith(
        "approval of 'fraud-detector' version '7' does not count, by 'jane@example.com': "
    )
    assert re.search(r"unsigned|signature does not verify", messages[0])


@CLOUDS
def test_outside_prod_unsigned_counts_but_forged_never(cloud: str, allowed: Path) -> None:
    assert gate(cloud, [dict(RECORD)], allowed, environment="staging") == []
    # The gate only runs in prod by default; the review still refuses the forged one.
    forged = review(platform("staging", approvals=[{**signed(RECORD), "ticket": "X"}]), allowed)
    assert forged.approvals[0]["signatureStatus"].startswith("signature does not verify")


# --- enforcement downgrade ----------------------------------------------------------------------


def enforcement_record(environment: str, signer: str = "jane@example.com", **changes: str):
    record = {"approvedBy": "jane@example.com", "ticket": "CHG-9", "approvedAt": "2026-11-20"}
    data = signatures.enforcement_payload(PROJECT, environment, "advisory", record)
    record = {**record, "signature": signatures.sign(data, key_for(signer))}
    return {**record, **changes}


@pytest.mark.parametrize("environment", ["staging", "prod"])
def test_signed_downgrade_holds(environment: str, allowed: Path) -> None:
    reviewed = review(
        platform(
            environment,
            enforcement="advisory",
            enforcementApproval=enforcement_record(environment),
        ),
        allowed,
    )
    assert (reviewed.enforcement, reviewed.problems) == ("advisory", [])


@pytest.mark.parametrize("environment", ["staging", "prod"])
@pytest.mark.parametrize(
    "record",
    [
        pytest.param(lambda env: None, id="missing"),
        pytest.param(lambda env: enforcement_record(env, ticket="CHG-10"), id="edited"),
        pytest.param(
            lambda env: enforcement_record(env, signer="mallory@example.com"), id="unlisted"
        ),
        pytest.param(lambda env: enforcement_record("dev"), id="signed-for-dev"),
        pytest.param(lambda env: {**enforcement_record(env), "signature": None}, id="unsigned"),
        pytest.param(
            lambda env: {**enforcement_record(env), "approvedBy": OWNER}, id="by-the-owner"
        ),
    ],
)
def test_unapproved_downgrade_is_refused(environment: str, record, allowed: Path) -> None:
    extra = {"enforcementApproval": r} if (r := record(environment)) is not None else {}
    reviewed = review(platform(environment, enforcement="advisory", **extra), allowed)
    assert reviewed.enforcement is None
    assert reviewed.problems and reviewed.problems[0].startswith(
        f"governance.enforcement: advisory in {environment} is refused"
    )


@CLOUDS
def test_refused_downgrade_fails_the_pack_on_every_cloud(cloud: str, allowed: Path) -> None:
    reviewed = review(platform("prod", enforcement="advisory"), allowed)
    document = packs.pack_config(
        "prod",
        owner=OWNER,
        approvers=APPROVERS,
        approvals=[],
        node_type_prices={},
        enforcement=reviewed.enforcement,
        problems=reviewed.problems,
    )
    rec = Rec([endpoint(cloud, "jane@example.com")], {}, f"{cloud}-prod", "proj")
    result = packs.evaluate(rec, document, environment="prod")
    fired = {v.policy for v in result.mandatory}
    assert {"mlops-governance-records", "mlops-approval-gate"} <= fired


def test_real_engine_settings_refuse_an_unsigned_downgrade(monkeypatch, allowed: Path) -> None:
    import json

    monkeypatch.setenv("MLOPS_IAC_ALLOWED_SIGNERS", str(allowed))
    config = json.dumps({"mlops:platform": json.dumps(platform("prod", enforcement="advisory"))})
    settings = packs.settings_from_stack_config(config, "x-prod")
    assert settings["enforcement"] is None and settings["problems"]


def test_reference_prod_stacks_are_signed_by_the_example_keys() -> None:
    allowed = REPO / signatures.ALLOWED_SIGNERS
    for cloud in clouds.NAMES:
        raw = stackyaml.load((STACKS / f"Pulumi.{cloud}-prod.yaml").read_bytes())
        reviewed = review(raw["config"]["mlops:platform"], allowed)
        assert [a["signatureStatus"] for a in reviewed.approvals] == ["verified", "verified"]
