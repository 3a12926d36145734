"""`plan --write-baseline` / `--baseline`: fail on new advisory findings only."""

from __future__ import annotations

import json
import os

import pytest

from mlops_iac.plan import baseline
from mlops_iac.policies.governance import UNWAIVABLE
from mlops_iac.policies.offline import PolicySummary, ResultSet, Violation
from tests.ops.test_plan import plan

URN = "urn:pulumi:aws-dev::mlops-platform::aws:s3/bucket:Bucket::mlops-artifacts-bucket"


def _violation(policy: str, level: str, message: str, urn: str = URN) -> Violation:
    return Violation(
        policy,
        level,
        urn,
        "mlops-artifacts-bucket",
        "aws:s3/bucket:Bucket",
        message,
        "fix it",
        "a rule",
    )


def _results(*violations: Violation, mandatory: tuple[str, ...] = ()) -> ResultSet:
    policies = (
        tuple(PolicySummary(name, "resource", "mandatory", "", "") for name in mandatory)
        if mandatory
        else ()
    )
    return ResultSet(tuple(violations), policies=policies)


def _write(tmp_path, document) -> str:
    path = tmp_path / "baseline.json"
    path.write_text(json.dumps(document))
    return str(path)


def test_fingerprints_ignore_numbers_hex_suffixes_and_whitespace_not_rule_or_resource():
    a = _violation("mlops-storage-versioning", "advisory", "bucket mlops-9a274c9f keeps 30  days")
    b = _violation("mlops-storage-versioning", "advisory", "bucket mlops-1b2c3d4e keeps 90 days")
    assert baseline.fingerprint(a) == baseline.fingerprint(b)
    other_rule = _violation("mlops-storage-logging", "advisory", a.message)
    other_resource = _violation(a.policy, "advisory", a.message, URN + "2")
    assert len({baseline.fingerprint(v) for v in (a, other_rule, other_resource)}) == 3
    assert baseline.fingerprint(_violation(a.policy, "advisory", "", "")) != baseline.fingerprint(
        _violation(a.policy, "advisory", "", URN)
    )


def test_a_written_baseline_holds_advisory_findings_only_and_passes_them(tmp_path):
    old = _violation("mlops-storage-versioning", "advisory", "no versioning")
    blocking = _violation("mlops-storage-encryption", "mandatory", "no key")
    document = baseline.document(_results(old, blocking), "aws-dev")
    assert [f["policy"] for f in document["findings"]] == ["mlops-storage-versioning"]
    read = baseline.read(_write(tmp_path, document))
    applied = baseline.apply(read, _results(old))
    assert (len(applied.baselined), applied.new, applied.failed) == (1, (), False)
    new = _violation("mlops-storage-logging", "advisory", "no access logs")
    applied = baseline.apply(read, _results(old, new))
    assert (len(applied.baselined), applied.new, applied.failed) == (1, (new,), True)


def test_mandatory_and_unwaivable_rules_are_never_baselined(tmp_path):
    finding = _violation("mlops-storage-versioning", "advisory", "no versioning")
    gate = _violation(UNWAIVABLE[0], "advisory", "not approved")
    document = baseline.document(_results(finding, gate), "aws-dev", UNWAIVABLE)
    assert [f["policy"] for f in document["findings"]] == ["mlops-storage-versioning"]
    # A hand-made baseline listing them is not honoured: the entries are ignored, with a reason.
    document["findings"].append({"fingerprint": baseline.fingerprint(gate), "policy": gate.policy})
    read = baseline.read(_write(tmp_path, document))
    applied = baseline.apply(read, _results(finding, gate), UNWAIVABLE)
    assert applied.new == (gate,)
    assert applied.ignored == (f"baseline entries of {gate.policy} ignored: it is never waivable",)
    mandatory_here = baseline.apply(
        read, _results(finding, mandatory=("mlops-storage-versioning",)), ()
    )
    assert mandatory_here.ignored[0].endswith(
        "mlops-storage-versioning ignored: it is mandatory here"
    )
    assert mandatory_here.new == (finding,)


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ('{"version": 1, "findings": [], "findings": []}', "duplicate key 'findings'"),
        ("not json", "not JSON"),
        ('{"version": 1, "findings": [{"fingerprint": "abc", "policy": "x"}]}', "64 lowercase hex"),
        ('{"version": 2, "findings": []}', "version must be 1"),
        ("[]", "not a baseline"),
        ("", "is empty"),
    ],
)
def test_a_malformed_baseline_is_one_line_and_exit_2(tmp_path, capsys, content, words):
    path = tmp_path / "baseline.json"
    path.write_text(content)
    assert plan("--stack", "aws-dev", "--baseline", str(path)) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and words in err and err.startswith("mlops-iac plan: error:")


def test_a_huge_or_linked_baseline_is_refused(tmp_path, capsys):
    huge = tmp_path / "huge.json"
    with huge.open("wb") as handle:
        handle.truncate(baseline.MAX_BASELINE_BYTES + 1)
    assert plan("--stack", "aws-dev", "--baseline", str(huge)) == 2
    assert "more than the 8 MiB allowed" in capsys.readouterr().err
    real = tmp_path / "real.json"
    real.write_text('{"version": 1, "findings": []}')
    link = tmp_path / "link.json"
    os.symlink(real, link)
    assert plan("--stack", "aws-dev", "--baseline", str(link)) == 2
    assert "is a symbolic link" in capsys.readouterr().err
    assert plan("--stack", "aws-dev", "--write-baseline", str(link)) == 2
    assert "symbolic link" in capsys.readouterr().err
    assert plan("--stack", "aws-dev", "--bring-up", "--baseline", str(real)) == 2
    assert "drop --baseline" in capsys.readouterr().err


def test_write_then_use_a_baseline_end_to_end(tmp_path, capsys):
    """gcp-dev over a monthly budget of 50: one advisory finding, baselined, then new."""
    from tests.ops.test_plan import write_stack

    def over_budget(platform):
        platform.setdefault("governance", {})["monthlyBudgetUsd"] = 50

    variant = write_stack(tmp_path, "gcp-dev", over_budget)
    written = tmp_path / "baseline.json"
    common = ("--stack", "gcp-dev", "--config-file", variant, "-q")
    assert plan(*common, "--write-baseline", str(written)) == 0
    capsys.readouterr()
    document = json.loads(written.read_text())
    assert [f["policy"] for f in document["findings"]] == ["mlops-cost-monthly-budget"]
    report = tmp_path / "plan.json"
    assert plan(*common, "--baseline", str(written), "--json", str(report)) == 0
    out = capsys.readouterr().out
    assert "Baseline: 1 advisory finding(s) baselined, 0 new" in out
    assert json.loads(report.read_text())["baseline"] == {"baselined": 1, "new": [], "ignored": []}
    empty = _write(tmp_path, {"version": 1, "findings": []})
    assert plan(*common, "--baseline", empty) == 1
    out = capsys.readouterr().out
    assert "Baseline: 0 advisory finding(s) baselined, 1 new" in out
    assert "FAIL: 1 new advisory finding(s) not in the baseline (0 baselined)" in out
