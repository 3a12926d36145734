"""Issue 24, items 1-3: governance that holds against the stack file's own author.

The author of a stack file must not be able to, alone:

1. lower the environment a stack is judged as (plain, through a merge key, through a second
   spelling of the platform key, through ``--config-file``): plan and the pack process judge by
   ``governance/settings.yaml`` (``policies.trust``), and a lower claim fails
   ``mlops-governance-records``;
2. waive the approval gate or the governance records (human decisions, not findings);
3. switch off a mandatory rule with unsigned, replayed, unbounded or overlong waivers, or a
   waiver of a rule that does not exist; nor hang ``plan`` with a pathological pattern.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlops_iac.cli import stackfile
from mlops_iac.plan.engine import ProgramError, Project
from mlops_iac.policies import governance, packs, signatures, trust
from mlops_iac.policies.offline import Violation
from mlops_iac.policies.rules import RULES
from mlops_iac.spec import stackyaml
from tests.conftest import REPO, stack_config
from tests.ops.keys import install_allowed_signers, key_for

TODAY = dt.datetime.now(dt.UTC).date()
RECORDS = "mlops-governance-records"


def _plan(cli, stack: str, config_file: Path, *extra: str | Path) -> int:
    return cli("plan", "-s", stack, "--project", REPO, "--config-file", config_file, "-q", *extra)


def _write(tmp_path: Path, name: str, config: dict[str, Any]) -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump({"config": config}, sort_keys=False))
    return path


@pytest.fixture
def signers(tmp_path, monkeypatch) -> Path:
    """The test keys as the allowed signers plan verifies against."""
    allowed = install_allowed_signers(tmp_path / "keys")
    monkeypatch.setenv("MLOPS_IAC_ALLOWED_SIGNERS", str(allowed))
    return allowed


# --- 1. the environment comes from governance/settings.yaml ------------------------------------


def test_a_prod_stack_file_claiming_dev_is_still_judged_prod_and_fails(cli, tmp_path) -> None:
    config = stack_config("aws-prod")
    config["mlops:platform"]["environment"] = "dev"
    report = tmp_path / "plan.json"
    assert _plan(cli, "aws-prod", _write(tmp_path, "p.yaml", config), "--json", report) == 1
    assert "Environment: prod (from governance/settings.yaml (aws-prod: prod), sha256:" in cli.out
    document = json.loads(report.read_text())
    assert document["environment"] == "prod"
    assert document["environmentSource"].startswith("governance/settings.yaml (aws-prod: prod)")
    (problem,) = [v for v in document["violations"] if v["policy"] == RECORDS]
    assert problem["level"] == "mandatory"
    assert problem["message"].startswith(
        "environment: the stack file says dev but aws-prod is prod (from governance/settings.yaml"
    )
    # Every other rule keeps its prod level too: nothing turned advisory.
    assert {p["level"] for p in document["policies"]} == {"mandatory"}


def test_a_stricter_claim_is_fine_and_dev_is_judged_dev(cli, tmp_path) -> None:
    config = stack_config("aws-dev")
    config["mlops:platform"]["environment"] = "staging"
    report = tmp_path / "plan.json"
    _plan(cli, "aws-dev", _write(tmp_path, "d.yaml", config), "--json", report)
    document = json.loads(report.read_text())
    assert document["environment"] == "dev"
    assert RECORDS not in {v["policy"] for v in document["violations"]}


def test_a_merge_key_cannot_lower_the_environment(cli, tmp_path) -> None:
    text = (REPO / "stacks/Pulumi.aws-prod.yaml").read_text()
    text = text.replace("    environment: prod\n", "    <<: {environment: dev}\n")
    path = tmp_path / "merged.yaml"
    path.write_text(text)
    assert _plan(cli, "aws-prod", path) == 2
    line = text.splitlines().index("    <<: {environment: dev}") + 1
    assert cli.one_error_line() == (
        f"mlops-iac plan: error: {path}: line {line}: YAML merge keys (<<) are not allowed in a "
        "stack file (a merge can override a key unseen); write the keys out"
    )


def _mlops_program(tmp_path: Path) -> Path:
    """A team program named ``mlops``: its bare ``platform`` key IS ``mlops:platform``."""
    program = tmp_path / "team"
    program.mkdir()
    (program / "Pulumi.yaml").write_text("name: mlops\nruntime: python\n")
    (program / "__main__.py").write_text("import pulumi\n")
    return program


ALIASES = {
    "bare-key-in-project-mlops": "platform",
    "old-config-spelling": "mlops:config:platform",
    "case-variant": "MLOPS:platform",
    "case-variant-of-the-name": "mlops:Platform",
}


@pytest.mark.parametrize("alias", ALIASES.values(), ids=ALIASES.keys())
def test_a_second_spelling_of_the_platform_key_is_refused_naming_both_lines(
    cli, tmp_path, alias
) -> None:
    program = _mlops_program(tmp_path)
    text = (REPO / "stacks/Pulumi.aws-prod.yaml").read_text()
    text = text.replace("  aws:region: us-east-1\n", f"  {alias}:\n    environment: dev\n")
    stack = program / "Pulumi.aws-prod.yaml"
    stack.write_text(text)
    first = text.splitlines().index(f"  {alias}:") + 1
    second = text.splitlines().index("  mlops:platform:") + 1
    expected = (
        f"config keys {alias} (line {first}) and mlops:platform (line {second}) are the same "
        f"key {stackyaml.config_key(alias, 'mlops')}; keep one"
    )
    assert cli("plan", "-s", "aws-prod", "--project", program, "-q") == 2
    assert cli.one_error_line() == f"mlops-iac plan: error: {stack}: {expected}"
    # Every reader refuses it the same way: the engine, the day-2 commands, `policies`.
    with pytest.raises(ProgramError, match=re.escape(expected)):
        Project.load(program).read_config("aws-prod")
    with pytest.raises(Exception, match=re.escape(expected)) as caught:
        stackfile.load(program, "aws-prod")
    assert type(caught.value).__name__ == "OpsError"
    assert cli("policies", "-s", "aws-prod", "--project", program) == 2
    assert expected in cli.one_error_line()


def test_the_old_config_spelling_alone_reaches_the_program_as_the_cli_would() -> None:
    # `mlops:config:platform` is mlops:platform to the Pulumi CLI: plan must see what deploys.
    text = "config:\n  mlops:config:platform:\n    owner: a@b.example\n  platform2: 1\n"
    data = stackyaml.load(text, project="team")
    assert {stackyaml.config_key(k, "team") for k in data["config"]} == {
        "mlops:platform",
        "team:platform2",
    }
    keys = stackyaml.key_lines(text, "team")
    assert keys.locate("mlops:platform.owner") == (3, 5)


def test_quoted_and_escaped_spellings_are_the_same_key() -> None:
    for spelling in ('"mlops:platform"', "'mlops:platform'", '"mlops:\\x70latform"'):
        text = f"config:\n  mlops:platform: {{}}\n  {spelling}: {{environment: dev}}\n"
        with pytest.raises(stackyaml.StackYamlError, match="duplicate key mlops:platform"):
            stackyaml.load(text, project="mlops")


def test_team_governance_claiming_dev_in_a_prod_stack_fails(cli, tmp_path) -> None:
    program = tmp_path / "team"
    program.mkdir()
    (program / "Pulumi.yaml").write_text("name: team\nruntime: python\n")
    (program / "__main__.py").write_text("import pulumi\n")
    (program / "Pulumi.prod.yaml").write_text(
        "config:\n  mlops:platform:\n    project: fraud-team\n    environment: dev\n"
        "    lineage: {gitSha: 4f2c1e9, datasetVersion: 'md5:0123'}\n"
    )
    assert cli("plan", "-s", "prod", "--project", program, "-q") == 1
    assert "Environment: prod (from the stack name's suffix -prod)" in cli.out
    assert f"{RECORDS}: (stack)" in cli.out
    assert "environment: the stack file says dev but prod is prod" in cli.out


def test_the_pack_process_judges_by_the_same_trusted_environment(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv(trust.GOVERNANCE_DIR_ENV, str(REPO / "governance"))
    platform = stack_config("aws-prod")["mlops:platform"]
    lowered = json.dumps(
        {"mlops:platform": json.dumps({**platform, "environment": "dev"}, default=str)}
    )
    settings = packs.settings_from_stack_config(lowered, "aws-prod")
    assert settings["environment"] == "prod"
    assert settings["problems"][0].startswith("environment: the stack file says dev but aws-prod")
    # A stack the settings do not list is judged by its name, never by the file.
    assert packs.settings_from_stack_config(lowered, "sandbox")["environment"] == "prod"


# --- trusted settings that cannot be read: exit 2, one line -------------------------------------


def _broken(kind: str, directory: Path) -> None:
    directory.mkdir(parents=True)
    target = directory / "settings.yaml"
    if kind == "symlink":
        (directory / "real.yaml").write_text("environments: {aws-prod: dev}\n")
        target.symlink_to(directory / "real.yaml")
    elif kind == "dangling":
        target.symlink_to(directory / "nowhere.yaml")
    elif kind == "directory":
        target.mkdir()
    elif kind == "oversized":
        target.write_text("# " + "x" * trust.MAX_SETTINGS_BYTES + "\n")
    elif kind == "invalid-yaml":
        target.write_text("environments: [\n")
    elif kind == "unknown-environment":
        target.write_text("environments: {aws-prod: production}\n")
    elif kind == "unknown-key":
        target.write_text("waivers: {maxDays: 30, maxDay: 9000}\n")


BROKEN = {
    "symlink": "must be a regular file (not a symlink or directory)",
    "dangling": "must be a regular file (not a symlink or directory)",
    "directory": "must be a regular file (not a symlink or directory)",
    "oversized": f"larger than {trust.MAX_SETTINGS_BYTES} bytes",
    "invalid-yaml": "not valid YAML",
    "unknown-environment": "environments.aws-prod: 'production' is not one of dev, staging, prod",
    "unknown-key": "waivers: unknown key 'maxDay'",
}


@pytest.mark.parametrize("kind", BROKEN)
def test_unreadable_trusted_settings_exit_2_in_one_line(cli, tmp_path, monkeypatch, kind) -> None:
    governance_dir = tmp_path / "governance"
    _broken(kind, governance_dir)
    monkeypatch.setenv(trust.GOVERNANCE_DIR_ENV, str(governance_dir))
    report = tmp_path / "plan.json"
    config = _write(tmp_path, "p.yaml", stack_config("aws-prod"))
    assert _plan(cli, "aws-prod", config, "--json", report) == 2
    line = cli.one_error_line()
    assert line.startswith(f"mlops-iac plan: error: {governance_dir / 'settings.yaml'}")
    assert BROKEN[kind] in line
    assert not report.exists()
    with pytest.raises(trust.TrustError):
        packs.settings_from_stack_config("{}", "aws-prod")


def test_the_pack_process_refuses_to_start_on_broken_settings(tmp_path) -> None:
    governance_dir = tmp_path / "governance"
    _broken("directory", governance_dir)
    done = subprocess.run(
        [sys.executable, "-m", "mlops_iac.policies"],
        env={**os.environ, trust.GOVERNANCE_DIR_ENV: str(governance_dir), "PULUMI_STACK": "x"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"mlops-governance policy pack: {governance_dir / 'settings.yaml'}: must be a regular "
        "file (not a symlink or directory)"
    ]


# --- 2 and 3. waivers ---------------------------------------------------------------------------


def _waiver(stack: str, rule: str, resource: str, *, days: int = 10, **extra: Any) -> dict:
    record = {
        "stack": stack,
        "rule": rule,
        "resource": resource,
        "reason": "r",
        "ticket": "T-1",
        "owner": "o@example.com",
        "approvedBy": "jane@example.com",
        "approvedAt": TODAY.isoformat(),
        "expires": (TODAY + dt.timedelta(days=days)).isoformat(),
        **extra,
    }
    return record


def _signed(record: dict, project: str = "fraud-detection", signer: str = "") -> dict:
    data = signatures.waiver_payload(project, record)
    return {**record, "signature": signatures.sign(data, key_for(signer or record["approvedBy"]))}


def _staging_over_budget(waivers: list[dict]) -> dict:
    """aws-dev's file planned as aws-staging (mandatory), over its GPU budget."""
    config = stack_config("aws-dev")
    config["mlops:platform"]["environment"] = "staging"
    config["mlops:platform"]["governance"]["gpuBudgetUsdPerHour"] = 0.5
    config["mlops:platform"]["governance"]["waivers"] = waivers
    return config


def test_unsigned_waivers_do_not_pass_a_staging_plan(cli, tmp_path, signers) -> None:
    waiver = _waiver("aws-staging", "mlops-gpu-budget", "stack")
    report = tmp_path / "plan.json"
    path = _write(tmp_path, "s.yaml", _staging_over_budget([waiver]))
    assert _plan(cli, "aws-staging", path, "--json", report) == 1
    assert "Environment: staging (from the stack name's suffix -staging" in cli.out
    assert "waiver of mlops-gpu-budget for stack not applied: unsigned" in cli.out
    assert "mlops-gpu-budget is mandatory in staging" in cli.out
    document = json.loads(report.read_text())
    assert "mlops-gpu-budget" in {v["policy"] for v in document["violations"]}
    assert document["suppressed"] == []
    # Signed by the listed approver, the same waiver holds.
    path = _write(tmp_path, "s.yaml", _staging_over_budget([_signed(waiver)]))
    assert _plan(cli, "aws-staging", path, "--json", report) in (0, 1)
    document = json.loads(report.read_text())
    assert [s["policy"] for s in document["suppressed"]] == ["mlops-gpu-budget"]


def test_a_waiver_signed_for_dev_does_not_apply_in_another_stack(cli, tmp_path, signers) -> None:
    replayed = _signed(_waiver("aws-dev", "mlops-gpu-budget", "stack"))
    path = _write(tmp_path, "s.yaml", _staging_over_budget([replayed]))
    assert _plan(cli, "aws-staging", path) == 1
    assert "not applied: the waiver is for stack 'aws-dev', not 'aws-staging'" in cli.out
    # Rewriting the stack name breaks the signature, which covers it.
    edited = {**replayed, "stack": "aws-staging"}
    path = _write(tmp_path, "s.yaml", _staging_over_budget([edited]))
    assert _plan(cli, "aws-staging", path) == 1
    assert "not applied: signature does not verify for jane@example.com" in cli.out


@pytest.mark.parametrize(
    ("resource", "problem"),
    [
        ("*", "the pattern '*' is unbounded"),
        ("**", "the pattern '**' is unbounded"),
        ("*-*", "the pattern '*-*' is unbounded"),
        ("*::*", "the pattern '*::*' is unbounded"),
        ("urn:pulumi:aws-staging::mlops-platform::*", "is unbounded"),
        # Every URN has these letters: a star outside the name part of a URN pattern is refused.
        ("urn:*", "the URN pattern 'urn:*' is unbounded"),
        ("urn:pulumi:*", "is unbounded"),
        ("urn:pulumi:aws-staging::*::aws:s3/bucket:Bucket::artifacts", "is unbounded"),
        ("urn:pulumi:aws-staging::mlops-platform::*::artifacts-bucket", "is unbounded"),
        ("a*b*c*d*", "a pattern has at most 3 '*'"),
        ("abc" + "x" * 126 + "*", "a pattern is at most 128 characters"),
    ],
)
def test_unbounded_patterns_are_refused_at_their_key(cli, tmp_path, resource, problem) -> None:
    waiver = _waiver("aws-staging", "mlops-gpu-budget", resource)
    path = _write(tmp_path, "s.yaml", _staging_over_budget([waiver]))
    assert _plan(cli, "aws-staging", path) == 2
    line = cli.one_error_line()
    # The key's line in the file, then the key path, then why.
    assert re.match(
        rf"mlops-iac plan: error: \S*s\.yaml:\d+:\d+: "
        rf"mlops:platform\.governance\.waivers\[0\]\.resource: .*{re.escape(problem)}",
        line,
    ), line


@pytest.mark.parametrize("pattern", ["*pulumi*", "*urn*", "*aws*", "*staging*", "*mlops*"])
def test_a_name_pattern_is_matched_against_the_logical_name_only(pattern) -> None:
    # Letters every URN holds (its scheme, stack, project or provider) must not make a pattern
    # match every resource: a pattern without urn: never sees the URN.
    urn = "urn:pulumi:aws-staging::mlops-platform::aws:s3/bucket:Bucket::artifacts-bucket"
    violation = Violation(
        "mlops-gpu-budget",
        "mandatory",
        urn,
        "artifacts-bucket",
        "aws:s3/bucket:Bucket",
        "m",
        "r",
        "d",
    )
    record = {"rule": "mlops-gpu-budget", "resource": pattern}
    assert governance.pattern_problem(pattern) is None
    assert not governance.Waiver(record, "active").covers(violation)
    assert governance.Waiver({**record, "resource": "artifacts-*"}, "active").covers(violation)
    assert governance.Waiver({**record, "resource": urn[:-6] + "*"}, "active").covers(violation)


def test_a_waiver_of_an_unknown_rule_is_an_error_naming_it(cli, tmp_path) -> None:
    waiver = _waiver("aws-staging", "mlops-gpu-budgett", "stack")
    path = _write(tmp_path, "s.yaml", _staging_over_budget([waiver]))
    assert _plan(cli, "aws-staging", path) == 2
    assert cli.one_error_line().endswith(
        "mlops:platform.governance.waivers[0].rule: unknown rule 'mlops-gpu-budgett' "
        "(see `mlops-iac policies`)"
    )


def test_a_stack_file_cannot_set_its_own_waiver_cap(cli, tmp_path) -> None:
    config = stack_config("aws-prod")
    config["mlops:platform"]["governance"]["maxWaiverDays"] = 365
    assert _plan(cli, "aws-prod", _write(tmp_path, "p.yaml", config)) == 2
    assert cli.one_error_line().endswith(
        "mlops:platform.governance.maxWaiverDays: removed: the stack file's author must not set "
        "their own waiver cap; it is waivers.maxDays in governance/settings.yaml (platform "
        "owners); delete the key"
    )


def test_the_trusted_waiver_cap_is_honoured(cli, tmp_path, monkeypatch, signers) -> None:
    governance_dir = tmp_path / "governance"
    governance_dir.mkdir()
    (governance_dir / "settings.yaml").write_text("waivers:\n  maxDays: 5\n")
    monkeypatch.setenv(trust.GOVERNANCE_DIR_ENV, str(governance_dir))
    waiver = _signed(_waiver("aws-staging", "mlops-gpu-budget", "stack", days=6))
    path = _write(tmp_path, "s.yaml", _staging_over_budget([waiver]))
    assert _plan(cli, "aws-staging", path) == 1
    assert (
        "not applied: runs 6 days, more than waivers.maxDays (5) in governance/settings.yaml"
        in cli.out
    )


@pytest.mark.parametrize("rule", governance.UNWAIVABLE)
def test_no_signed_waiver_switches_off_a_human_decision(rule, tmp_path) -> None:
    allowed = install_allowed_signers(tmp_path)
    platform = {
        "project": "fraud-detection",
        "environment": "prod",
        "owner": "ml-platform@example.com",
        "governance": {
            "approvers": ["jane@example.com"],
            "waivers": [_signed(_waiver("aws-prod", rule, "serving-endpoint"))],
        },
    }
    (waiver,) = governance.review(
        platform, allowed, stack="aws-prod", environment="prod", today=TODAY
    ).waivers
    assert waiver.status == f"{rule} cannot be waived: it is a human decision, not a finding"


def test_the_unwaivable_rules_are_declared_in_the_rule_metadata(cli) -> None:
    assert set(governance.UNWAIVABLE) == {"mlops-approval-gate", RECORDS}
    assert set(governance.UNWAIVABLE) == {r.name for r in RULES if not r.waivable}
    assert cli("policies", "--json") == 0
    listed = {p["name"]: p["waivable"] for p in json.loads(cli.out)["policies"]}
    assert {name for name, ok in listed.items() if not ok} == set(governance.UNWAIVABLE)
    rules_md = (REPO / "docs/rules.md").read_text()
    assert rules_md.count("- **Waivable:** no: its whole purpose is a human decision") == 2


def test_the_approval_gate_cannot_be_waived_for_an_unapproved_prod_version(
    cli, tmp_path, signers
) -> None:
    config = stack_config("aws-prod")
    platform = config["mlops:platform"]
    platform["serving"]["model"]["version"] = "8"  # never approved
    platform["governance"]["waivers"] = [
        _signed(_waiver("aws-prod", "mlops-approval-gate", "serving*"))
    ]
    assert _plan(cli, "aws-prod", _write(tmp_path, "p.yaml", config)) == 1
    assert "mlops-approval-gate:" in cli.out
    assert "no approval is recorded for model 'fraud-detector' version '8'" in cli.out
    assert "not applied: mlops-approval-gate cannot be waived" in cli.out
    assert "suppressed by a waiver" not in cli.out


# --- the pattern matcher ------------------------------------------------------------------------


def _reference(pattern: str, text: str) -> bool:
    return re.fullmatch(".*".join(map(re.escape, pattern.split("*"))), text, re.S) is not None


def test_the_glob_agrees_with_a_reference_on_a_generated_corpus() -> None:
    rng = random.Random(24)
    for _ in range(3000):
        pattern = "".join(rng.choice("ab*-") for _ in range(rng.randint(0, 8)))
        text = "".join(rng.choice("ab-") for _ in range(rng.randint(0, 10)))
        assert governance.glob_match(pattern, text) == _reference(pattern, text), (pattern, text)


@pytest.mark.parametrize(
    ("pattern", "text"),
    [
        ("*a*a*b", "a" * 20_000),  # the most a bounded pattern can make it backtrack
        ("a*" * 24 + "b", "a" * 5_000),  # the 49-character pattern that hung the regex
        ("*" + "ab" * 60 + "c", "ab" * 10_000),
    ],
)
def test_pathological_patterns_finish_within_a_linear_bound(pattern: str, text: str) -> None:
    # At most (pattern + 1) x (text + 1) steps: with a pattern of at most 128 characters, linear
    # in the resource name (a regular expression from the same pattern backtracks exponentially).
    matched, steps = governance.glob_steps(pattern, text)
    assert not matched
    assert steps <= (len(pattern) + 1) * (len(text) + 1)


@pytest.mark.parametrize(
    ("stack", "environment"),
    [
        ("aws-dev", "dev"),
        ("team.dev", "dev"),
        ("payments-prod.dev", "prod"),  # a prod word anywhere wins over a dev suffix
        ("team_prod_sandbox-dev", "prod"),
        ("pr\u043ed-dev", "prod"),  # a Cyrillic о still reads as prod
        ("PROD-dev", "prod"),
        ("eu-staging-dev", "staging"),
        ("aws-staging", "staging"),
        ("Dev", "prod"),  # only the exact word dev, at the end, is dev
        ("sandbox", "prod"),
        ("dev-sandbox", "prod"),
        ("", "prod"),
    ],
)
def test_an_unlisted_stack_name_is_read_strictly(stack, environment) -> None:
    assert trust.TrustedSettings().environment(stack)[0] == environment


@pytest.mark.parametrize("level", ["disabled", "Advisory", "off", 0])
def test_an_unknown_enforcement_level_never_lowers_a_rule(level) -> None:
    # The pack process hands review() the stack config unvalidated.
    platform = {**stack_config("aws-prod")["mlops:platform"]}
    platform["governance"] = {**platform["governance"], "enforcement": level}
    reviewed = governance.review(
        platform,
        REPO / "governance" / "allowed_signers",
        stack="aws-prod",
        environment="prod",
        settings=trust.TrustedSettings(),
    )
    assert reviewed.enforcement is None
    assert "is not advisory or mandatory" in reviewed.problems[0]
