"""Stack file edits: exact bytes outside the change, validation, atomic writes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from mlops_iac.cli import OpsError, stackfile
from tests.ops.keys import key_for

APPROVAL = "approve --stack s --model fraud-detector --version 8 --approver raj@example.com"

# Odd but valid layout: comments everywhere, flow and block styles, indentless sequences,
# mixed quoting and extra spaces that a YAML re-dump would normalise away.
COMMENTED = """\
# Production stack: edited by hand and by mlops-iac.
config:
  aws:region: us-east-1   # region comment
  mlops:platform:
    cloud: aws
    environment: prod
    project: fraud-detection
    owner: ml-platform@example.com   # the owner never approves
    costCenter: 'cc-1234'
    lineage: {gitSha: 4f2c1e9, datasetVersion: "md5:3b1f0c2d"}
    serving:
      # the served model
      model:
        name: fraud-detector
        version: "7"
        artifactUri: s3://models/7/model.tar.gz
      previousModel: {name: fraud-detector, version: '6', artifactUri: "s3://models/6/model.tar.gz"}
      replicas:   {min: 1,   max: 2}
    monitoring:
      alertEmails: [oncall@example.com]
      webhookUrl:
        secure: v1:AAAABBBBCCCC
    governance:
      approvers:
      - jane@example.com      # indentless sequence
      - raj@example.com
      approvals:
      - model: fraud-detector
        version: "7"
        approvedBy: jane@example.com
        ticket: CHG-1
        approvedAt: 2026-11-20   # first approval
      # approvals above are audited quarterly
      gpuBudgetUsdPerHour: 50
  other:setting: keep   # unrelated
"""


def _write(project: Path, text: str, stack: str = "s", newline: str = "\n") -> Path:
    path = project / "stacks" / f"Pulumi.{stack}.yaml"
    path.write_bytes(text.replace("\n", newline).encode())
    return path


def _approve(cli, project: Path, *extra: str) -> int:
    # Prod approvals are signed (throwaway key of the listed approver).
    key = ("--key", key_for("raj@example.com"))
    # A prod approval binds the artifact (tests/ops/test_gate.py covers the gate itself).
    artifact = ("--artifact-sha256", "ab" * 32)
    return cli(
        *APPROVAL.split(), "--ticket", "CHG-9", "--project", project, *key, *artifact, *extra
    )


def _inserted(old: str, new: str) -> str:
    """The one contiguous block ``new`` adds to ``old`` (fails if anything else changed)."""
    start = 0
    while start < len(old) and old[start] == new[start]:
        start += 1
    end = 0
    while end < len(old) - start and old[-1 - end] == new[-1 - end]:
        end += 1
    assert old[:start] + old[len(old) - end :] == old
    return new[start : len(new) - end]


def test_approval_appended_after_last_item_rest_byte_for_byte(cli, project):
    path = _write(project, COMMENTED)
    assert _approve(cli, project) == 0, cli.err
    new = path.read_text()
    block = (
        "      - model: fraud-detector\n"
        '        version: "8"\n'
        "        approvedBy: raj@example.com\n"
        "        ticket: CHG-9\n"
        '        approvedAt: "'
    )
    at = new.index(block)
    assert new[:at] == COMMENTED[:at]
    assert COMMENTED[:at].endswith("approvedAt: 2026-11-20   # first approval\n")
    # Five keys, the artifact digest, the model card and its digest, and the signature.
    after = new[at:].split("\n", 9)[9]
    assert after == COMMENTED[at:]
    assert new[at:].split("\n")[4].endswith('Z"')


def test_second_run_is_idempotent(cli, project):
    path = _write(project, COMMENTED)
    assert _approve(cli, project) == 0
    once = path.read_bytes()
    assert _approve(cli, project) == 0
    assert "nothing to change" in cli.out
    assert path.read_bytes() == once


@pytest.mark.parametrize(
    ("before", "after"),
    [
        pytest.param(
            "      approvals: []\n",
            "      approvals: [{model: fraud-detector, "
            'version: "8", approvedBy: raj@example.com, ticket: CHG-9, approvedAt: "',
            id="empty-flow-list",
        ),
        pytest.param(
            "      approvals: [{model: fraud-detector, version: '7', approvedBy: "
            "jane@example.com, ticket: CHG-1, approvedAt: 2026-11-20}]\n",
            "approvedAt: 2026-11-20}, {model: fraud-detector, "
            'version: "8", approvedBy: raj@example.com, ticket: CHG-9, approvedAt: "',
            id="flow-list",
        ),
        pytest.param(
            "",
            "      - raj@example.com\n      approvals:\n      - model: fraud-detector\n"
            '        version: "8"\n',
            id="missing-key-copies-indentless-style",
        ),
    ],
)
def test_approval_into_other_layouts(cli, project, before, after):
    start = COMMENTED.index("      approvals:\n")
    end = COMMENTED.index("      # approvals above")
    text = COMMENTED[:start] + before + COMMENTED[end:]
    path = _write(project, text)
    assert _approve(cli, project) == 0, cli.err
    new = path.read_text()
    assert after in new
    added = _inserted(text, new)
    assert "approvedBy: raj@example.com" in added


def test_approval_into_flow_governance(cli, project):
    start = COMMENTED.index("    governance:\n")
    end = COMMENTED.index("  other:setting")
    text = (
        COMMENTED[:start]
        + "    governance: {approvers: [jane@example.com, raj@example.com], "
        + "gpuBudgetUsdPerHour: 50}\n"
        + COMMENTED[end:]
    )
    path = _write(project, text)
    assert _approve(cli, project) == 0, cli.err
    new = path.read_text()
    _inserted(text, new)
    assert 'raj@example.com], approvals: [{model: fraud-detector, version: "8"' in new


def test_crlf_and_missing_final_newline_are_kept(cli, project):
    last = "        approvedAt: 2026-11-20   # first approval"
    text = COMMENTED[: COMMENTED.index(last) + len(last)]  # the file ends without a newline
    path = _write(project, text, newline="\r\n")
    raw = path.read_bytes()
    assert _approve(cli, project) == 0, cli.err
    new = path.read_bytes()
    assert new.startswith(raw + b"\r\n      - model: fraud-detector\r\n")
    assert b"\n" not in new.replace(b"\r\n", b"")  # every line break is still CRLF
    # The line ending it lacked, five keys, the artifact, the card and its digest, a signature.
    assert new.count(b"\r\n") == raw.count(b"\r\n") + 10


def test_rollback_flag_inserted_after_previous_model(cli, project):
    path = _write(project, COMMENTED)
    assert cli("rollback", "--stack", "s", "--project", project) == 0, cli.err
    previous = '"s3://models/6/model.tar.gz"}\n'
    assert path.read_text() == COMMENTED.replace(previous, previous + "      rollback: true\n")
    assert cli("rollback", "--stack", "s", "--project", project, "--undo") == 0
    assert path.read_text() == COMMENTED.replace(previous, previous + "      rollback: false\n")


def test_rollback_replaces_only_the_value(cli, project):
    text = COMMENTED.replace(
        "      replicas:", "      rollback: no   # flipped by on-call\n      replicas:"
    )
    text = text.replace("rollback: no", "rollback: false")
    path = _write(project, text)
    assert cli("rollback", "--stack", "s", "--project", project) == 0, cli.err
    assert path.read_text() == text.replace("rollback: false", "rollback: true")


def test_secrets_do_not_break_validation(project):
    _write(project, COMMENTED)
    sf = stackfile.load(project, "s")
    assert sf.spec.monitoring.webhook_url is not None
    assert sf.data["config"]["mlops:platform"]["monitoring"]["webhookUrl"] == {
        "secure": "v1:AAAABBBBCCCC"
    }


@pytest.mark.parametrize("failing", ["replace", "fsync"])
def test_crash_during_write_leaves_original(cli, project, monkeypatch, failing):
    path = _write(project, COMMENTED)

    def crash(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, failing, crash)
    assert _approve(cli, project) == 1
    monkeypatch.undo()
    assert "No space left on device" in cli.one_error_line()
    assert path.read_text() == COMMENTED
    assert not [p.name for p in path.parent.iterdir() if p.name.endswith(".tmp")]


def test_concurrent_change_is_refused(project, monkeypatch):
    path = _write(project, COMMENTED)
    sf = stackfile.load(project, "s")
    path.write_text(COMMENTED + "# someone else\n")
    with pytest.raises(OpsError, match="changed on disk") as excinfo:
        stackfile.write_atomic(sf.path, b"new", expected=sf.raw)
    assert excinfo.value.code == 1
    assert path.read_text().endswith("# someone else\n")


def test_a_splice_that_changes_other_data_is_never_written(project):
    _write(project, COMMENTED)
    sf = stackfile.load(project, "s")

    def sloppy(text, root):  # e.g. a layout the splicer misreads
        return text.replace("ticket: CHG-1", "ticket: CHG-2")

    with pytest.raises(OpsError, match="safely") as excinfo:
        stackfile.edit(sf, sloppy, lambda platform: None)
    assert excinfo.value.code == 1


def test_an_edit_that_would_not_validate_is_refused(cli, project):
    path = _write(project, COMMENTED)
    code = _approve(cli, project, "--ticket", "x" * 65)
    assert code == 2
    line = cli.one_error_line()
    assert "refusing to write" in line
    assert "mlops:platform.governance.approvals[1].ticket" in line
    assert path.read_text() == COMMENTED


@pytest.mark.parametrize(
    ("value", "rendered"),
    [
        ("CHG-1234", "CHG-1234"),
        ("jane@example.com", "jane@example.com"),
        ("7", '"7"'),
        ("true", '"true"'),
        ("2026-11-20", '"2026-11-20"'),
        ("JIRA #12, urgent", '"JIRA #12, urgent"'),
        ("null", '"null"'),
    ],
)
def test_scalar_rendering_round_trips(value, rendered):
    assert stackfile.scalar(value) == rendered


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_any_string_round_trips_through_the_yaml_we_write(value):
    loaded = YAML(typ="safe", pure=True).load(f"k: {stackfile.scalar(value)}\n")
    assert loaded == {"k": value}


@pytest.mark.parametrize("value", ["0:", "a: b", "- x", "key:value"])
def test_strings_that_do_not_parse_plain_are_quoted(value):
    rendered = stackfile.scalar(value)
    assert YAML(typ="safe", pure=True).load(f"k: {rendered}\n") == {"k": value}
