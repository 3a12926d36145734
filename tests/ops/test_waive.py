"""``mlops-iac waive`` and waivers in ``plan``: signed, expiring, reported as suppressed."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from mlops_iac.cli import stackfile
from mlops_iac.policies import governance
from mlops_iac.policies.offline import ResultSet, Violation
from tests.conftest import REPO
from tests.ops.keys import install_allowed_signers, key_for

TODAY = dt.datetime.now(dt.UTC).date()


def _waive(cli, project, *extra, approver="raj@example.com", days="30", key=True):
    signing = ("--key", key_for(approver)) if key else ()
    return cli(
        "waive", "--stack", "aws-prod", "--project", project, "--rule", "mlops-storage-lifecycle",
        "--resource", "artifacts-*", "--reason", "migration to the new bucket (CHG-77)",
        "--ticket", "CHG-77", "--owner", "ml-oncall@example.com", "--approver", approver,
        "--days", days, *signing, *extra,
    )  # fmt: skip


def test_records_a_signed_waiver_keeping_the_rest_of_the_file(cli, project):
    path = project / "stacks/Pulumi.aws-prod.yaml"
    before = path.read_text()
    assert _waive(cli, project) == 0, cli.err
    after = path.read_text()
    assert after.startswith(before.split("    gcp:")[0].split("      gpuBudgetUsdPerHour")[0])
    waiver = stackfile.load(project, "aws-prod").spec.governance.waivers[-1]
    assert (waiver.rule, waiver.resource, waiver.approved_by) == (
        "mlops-storage-lifecycle",
        "artifacts-*",
        "raj@example.com",
    )
    assert waiver.expires == TODAY + dt.timedelta(days=30)
    assert waiver.signature
    raw = stackfile.load(project, "aws-prod").data["config"]["mlops:platform"]
    assert waiver.stack == "aws-prod"
    reviewed = governance.review(
        raw,
        project / "governance/allowed_signers",
        stack="aws-prod",
        environment="prod",
        today=TODAY,
    )
    assert [w.status for w in reviewed.waivers] == ["active"]
    # The signature covers the stack: the same record replayed in another stack does not apply.
    elsewhere = governance.review(
        raw,
        project / "governance/allowed_signers",
        stack="aws-prod-eu",
        environment="prod",
        today=TODAY,
    )
    assert [w.status for w in elsewhere.waivers] == [
        "the waiver is for stack 'aws-prod', not 'aws-prod-eu'"
    ]


@pytest.mark.parametrize(
    ("extra", "kwargs", "fragment"),
    [
        ((), {"approver": "ml-platform@example.com"}, "owns the stack"),
        ((), {"approver": "ja.ne@example.com"}, "is not in governance.approvers"),
        ((), {"days": "91"}, "at most waivers.maxDays (90) days (governance/settings.yaml)"),
        ((), {"key": False}, "a prod waiver must be signed"),
        (("--rule", "mlops-governance-records"), {}, "cannot be waived"),
        (("--rule", "mlops-approval-gate"), {}, "cannot be waived"),
        (("--rule", "mlops-nope"), {}, "unknown rule"),
        (("--resource", "*"), {}, "is unbounded"),
        (("--resource", "*-*"), {}, "is unbounded"),
        (("--resource", "a*b*c*d*e"), {}, "at most 3 '*'"),
        (("--resource", "urn:pulumi:aws-prod::fraud-detection::*"), {}, "is unbounded"),
        (("--resource", "bucket-" + "x" * 130 + "*"), {}, "at most 128 characters"),
    ],
)
def test_refusals(cli, project, extra, kwargs, fragment):
    path = project / "stacks/Pulumi.aws-prod.yaml"
    before = path.read_bytes()
    assert _waive(cli, project, *extra, **kwargs) == 2
    assert fragment in cli.one_error_line()
    assert path.read_bytes() == before


def test_signed_by_another_key_is_refused_before_writing(cli, project):
    path = project / "stacks/Pulumi.aws-prod.yaml"
    before = path.read_bytes()
    code = _waive(cli, project, "--key", key_for("mallory@example.com"), key=False)
    assert code == 1
    assert "signature does not verify" in cli.one_error_line()
    assert path.read_bytes() == before


# --- review and suppression ---------------------------------------------------------------------


def _violation(name: str = "artifacts-lifecycle-bucket") -> Violation:
    return Violation(
        "mlops-storage-lifecycle",
        "mandatory",
        f"urn:pulumi:s::p::aws:s3/bucket:Bucket::{name}",
        name,
        "aws:s3/bucket:Bucket",
        "no lifecycle",
        "fix it",
        "d",
    )


def _platform(**waiver):
    record = {
        "stack": "aws-dev",
        "rule": "mlops-storage-lifecycle",
        "resource": "artifacts-*",
        "reason": "r",
        "ticket": "T",
        "owner": "o@example.com",
        "approvedBy": "jane@example.com",
        "approvedAt": (TODAY - dt.timedelta(days=10)).isoformat(),
        "expires": (TODAY + dt.timedelta(days=10)).isoformat(),
        **waiver,
    }
    return {
        "project": "fraud-detection",
        "environment": "dev",
        "owner": "ml-platform@example.com",
        "governance": {"approvers": ["jane@example.com"], "waivers": [record]},
    }


@pytest.mark.parametrize(
    ("waiver", "status"),
    [
        ({}, "active"),
        ({"expires": (TODAY - dt.timedelta(days=1)).isoformat()}, "expired on"),
        ({"approvedBy": "ja.ne@example.com"}, "is not a listed approver"),
        ({"approvedBy": "ml-platform@example.com"}, "owns the stack"),
        ({"rule": "mlops-governance-records"}, "cannot be waived"),
        ({"rule": "mlops-approval-gate"}, "cannot be waived"),
        ({"rule": "mlops-nope"}, "unknown rule 'mlops-nope'"),
        ({"stack": "aws-prod"}, "the waiver is for stack 'aws-prod', not 'aws-dev'"),
        ({"stack": None}, "the waiver names no stack"),
        ({"resource": "*"}, "resource: the pattern '*' is unbounded"),
        ({"resource": "**"}, "resource: the pattern '**' is unbounded"),
        ({"expires": (TODAY + dt.timedelta(days=81)).isoformat()}, "more than waivers.maxDays"),
        ({"signature": "A" * 100}, "signature does not verify"),
    ],
)
def test_waiver_review(waiver, status, tmp_path):
    allowed = install_allowed_signers(tmp_path)
    reviewed = governance.review(
        _platform(**waiver), allowed, stack="aws-dev", environment="dev", today=TODAY
    )
    found = reviewed.waivers[0].status
    assert found.startswith(status) or status in found


def test_expired_waiver_fails_again_and_active_one_suppresses(tmp_path):
    results = ResultSet(violations=(_violation(), _violation("other-bucket")))
    active = governance.review(
        _platform(), tmp_path / "allowed", stack="aws-dev", environment="dev", today=TODAY
    ).waivers
    kept, suppressed = governance.apply_waivers(results, active)
    assert [v.resource_name for v in kept.violations] == ["other-bucket"]
    assert [s.violation.resource_name for s in suppressed] == ["artifacts-lifecycle-bucket"]
    assert "waived until" in suppressed[0].justification
    expired = governance.review(
        _platform(expires=(TODAY - dt.timedelta(days=1)).isoformat()),
        tmp_path / "allowed",
        stack="aws-dev",
        environment="dev",
        today=TODAY,
    ).waivers
    kept, suppressed = governance.apply_waivers(results, expired)
    assert len(kept.violations) == 2 and suppressed == []


def test_plan_reports_suppressed_in_console_json_and_sarif(cli, tmp_path):
    # Over the GPU budget in dev (advisory), waived for the stack by a listed approver.
    waiver = (
        "      waivers:\n"
        "        - {stack: aws-dev, rule: mlops-gpu-budget, resource: stack,\n"
        "           reason: benchmark week, ticket: T-1,\n"
        "           owner: o@example.com, approvedBy: jane@example.com,\n"
        f'           approvedAt: "{TODAY}", expires: "{TODAY + dt.timedelta(days=5)}"}}\n'
        "      gpuBudgetUsdPerHour: 0.5\n"
    )
    text = (REPO / "stacks/Pulumi.aws-dev.yaml").read_text()
    assert "      gpuBudgetUsdPerHour: 5\n" in text
    path = tmp_path / "Pulumi.aws-dev.yaml"
    path.write_text(text.replace("      gpuBudgetUsdPerHour: 5\n", waiver))
    json_file, sarif_file = tmp_path / "p.json", tmp_path / "p.sarif"
    code = cli("plan", "-s", "aws-dev", "--project", REPO, "--config-file", path, "-q",
               "--json", json_file, "--sarif", sarif_file)  # fmt: skip
    assert code == 0, cli.err
    assert "1 suppressed by a waiver" in cli.out
    assert "waiver:  waived until" in cli.out and "benchmark week" in cli.out
    document = json.loads(json_file.read_text())
    assert [s["policy"] for s in document["suppressed"]] == ["mlops-gpu-budget"]
    assert document["summary"]["advisory"] == 0
    sarif = json.loads(sarif_file.read_text())
    suppressed = [r for r in sarif["runs"][0]["results"] if r.get("suppressions")]
    assert [r["ruleId"] for r in suppressed] == ["mlops-gpu-budget"]
    assert suppressed[0]["suppressions"][0]["status"] == "accepted"
    assert "benchmark week" in suppressed[0]["suppressions"][0]["justification"]


def test_the_waiver_cap_comes_from_the_trusted_settings_only(cli, project, monkeypatch):
    path = project / "stacks/Pulumi.aws-prod.yaml"
    before = path.read_bytes()
    settings = project / "governance/settings.yaml"
    settings.write_text("waivers:\n  maxDays: 5\n")
    assert _waive(cli, project, days="6") == 2
    assert "at most waivers.maxDays (5) days (governance/settings.yaml)" in cli.one_error_line()
    assert path.read_bytes() == before
    settings.unlink()
    settings.symlink_to(project / "stacks/Pulumi.aws-prod.yaml")
    assert _waive(cli, project) == 2
    assert "must be a regular file" in cli.one_error_line()
    assert path.read_bytes() == before
