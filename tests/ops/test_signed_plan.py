"""``plan`` in prod verifies each approval's SSH signature (throwaway keys, offline)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from mlops_iac.policies import signatures
from tests.conftest import REPO, STACKS
from tests.ops.keys import install_allowed_signers, key_for

REFERENCE = (STACKS / "Pulumi.aws-prod.yaml").read_text()
_SIGNATURE_LINE = re.compile(r'^\s+signature: "[^"]*"\n', re.MULTILINE)


def resigned(text: str, *, signer: str | None = None) -> str:
    """The reference stack with its approvals signed by throwaway keys (``signer``'s if given),
    each over the record as the file holds it (metrics, digests and model card included)."""
    platform = YAML(typ="safe").load(text)["config"]["mlops:platform"]
    for record in platform["governance"]["approvals"]:
        data = signatures.approval_payload("fraud-detection", record)
        signature = signatures.sign(data, key_for(signer or record["approvedBy"]))
        text = text.replace(record["signature"], signature, 1)
    return text


@pytest.fixture
def signed_env(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("MLOPS_IAC_ALLOWED_SIGNERS", str(install_allowed_signers(tmp_path / "keys")))
    return tmp_path


@pytest.mark.parametrize(
    ("make", "code", "fragment"),
    [
        pytest.param(lambda: resigned(REFERENCE), 0, None, id="signed"),
        pytest.param(
            lambda: resigned(REFERENCE).replace("ticket: CHG-1234", "ticket: CHG-1235"),
            1,
            "signature does not verify",
            id="edited-one-character",
        ),
        pytest.param(
            lambda: resigned(REFERENCE, signer="mallory@example.com"),
            1,
            "signature does not verify",
            id="unlisted-key",
        ),
        pytest.param(lambda: _SIGNATURE_LINE.sub("", REFERENCE), 1, "unsigned", id="unsigned"),
    ],
)
def test_plan_in_prod_verifies_approval_signatures(make, code, fragment, signed_env, cli) -> None:
    path = signed_env / "Pulumi.aws-prod.yaml"
    path.write_text(make())
    result = cli("plan", "--stack", "aws-prod", "--project", REPO, "--config-file", path, "--quiet")
    assert result == code, cli.out + cli.err
    if fragment:
        assert (
            "approval of 'fraud-detector' version '7' does not count, by 'jane@example.com': "
            + fragment
        ) in cli.out


def test_plan_refuses_a_forged_enforcement_downgrade(signed_env, cli) -> None:
    forged = resigned(REFERENCE).replace(
        "    governance:\n",
        "    governance:\n      enforcement: advisory\n"
        "      enforcementApproval: {approvedBy: jane@example.com, ticket: CHG-9, "
        'approvedAt: "2026-11-20", signature: "' + "A" * 100 + '"}\n',
    )
    path = signed_env / "Pulumi.aws-prod.yaml"
    path.write_text(forged)
    assert cli("plan", "--stack", "aws-prod", "--project", REPO, "--config-file", path, "-q") == 1
    assert "mlops-governance-records" in cli.out
    assert "advisory in prod is refused" in cli.out
    assert "governance.enforcement: advisory refused" in cli.out


def test_plan_refuses_an_unapproved_downgrade_as_bad_input(signed_env, cli) -> None:
    path = signed_env / "Pulumi.aws-prod.yaml"
    path.write_text(
        REFERENCE.replace("    governance:\n", "    governance:\n      enforcement: advisory\n")
    )
    assert cli("plan", "--stack", "aws-prod", "--project", REPO, "--config-file", path) == 2
    assert (
        "governance.enforcement: advisory in prod needs governance.enforcementApproval" in cli.err
    )


def _fingerprint(public_key_line: str, tmp: Path) -> str:
    import subprocess

    from tests.ops.keys import ssh_keygen

    key = tmp / "key.pub"
    key.write_text(public_key_line + "\n")
    done = subprocess.run(
        [ssh_keygen(), "-l", "-E", "sha256", "-f", str(key)], capture_output=True, text=True
    )
    return done.stdout.split()[1]


def test_plan_names_the_signers_file_digest_and_key_of_each_verified_approval(
    cli, tmp_path, monkeypatch
) -> None:
    # The repository's own trust point and the reference stack's example signatures.
    import hashlib
    import json

    import jsonschema

    monkeypatch.delenv("MLOPS_IAC_ALLOWED_SIGNERS", raising=False)
    signers = REPO / "governance/allowed_signers"
    digest = "sha256:" + hashlib.sha256(signers.read_bytes()).hexdigest()
    keys = {
        line.split()[0]: _fingerprint(" ".join(line.split()[2:4]), tmp_path)
        for line in signers.read_text().splitlines()
        if line and not line.startswith("#")
    }
    report = tmp_path / "plan.json"
    code = cli("plan", "--stack", "aws-prod", "--project", REPO, "-q", "--json", report)
    assert code == 0, cli.out + cli.err
    document = json.loads(report.read_text())
    jsonschema.validate(document, json.loads((REPO / "docs/plan.schema.json").read_text()))
    by_version = {a["version"]: a for a in document["approvals"]}
    for version, who in (("7", "jane@example.com"), ("6", "raj@example.com")):
        entry = by_version[version]
        assert entry["signatureStatus"] == "verified" and entry["dateStatus"] is None
        assert entry["verifiedBy"] == {
            "principal": who,
            "key": keys[who],
            "signersFile": "governance/allowed_signers",
            "signersDigest": digest,
        }
        assert (
            f"approval of fraud-detector v{version} by {who}: signature verified with key "
            f"{keys[who]} for {who} in governance/allowed_signers ({digest})"
        ) in cli.out


def test_plan_refuses_a_symlinked_signers_file(cli, tmp_path, monkeypatch) -> None:
    real = install_allowed_signers(tmp_path / "keys")
    link = tmp_path / "allowed_signers"
    link.symlink_to(real)
    monkeypatch.setenv("MLOPS_IAC_ALLOWED_SIGNERS", str(link))
    path = tmp_path / "Pulumi.aws-prod.yaml"
    path.write_text(resigned(REFERENCE))
    assert cli("plan", "--stack", "aws-prod", "--project", REPO, "--config-file", path, "-q") == 1
    assert (
        "approval of 'fraud-detector' version '7' does not count, by 'jane@example.com': cannot "
        f"be verified: allowed-signers file {link} is a symlink (it must be a regular file)"
    ) in cli.out
    assert "signature verified with key" not in cli.out
