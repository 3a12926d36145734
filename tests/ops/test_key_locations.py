"""Stack-wide findings point at the stack-file key: SARIF region, JSON location, JUnit, console.

``stackyaml.key_lines`` maps each key path of a stack file to its line (and UTF-16 column) once
per file; the plan's reports use it for every finding whose message names a key path. Hostile
files never raise here: a file the loader refuses simply has no positions.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from xml.etree import ElementTree

import jsonschema
import pytest

from mlops_iac.policies import report
from mlops_iac.policies.offline import ResultSet, Violation
from mlops_iac.spec import stackyaml
from tests.conftest import REPO, STACKS

REFERENCE = (STACKS / "Pulumi.aws-prod.yaml").read_text()


def _line_of(text: str, needle: str, start: int = 0) -> int:
    """1-based number of the first line at or after ``start`` (0-based) containing ``needle``."""
    lines = text.splitlines()
    return next(i for i in range(start, len(lines)) if needle in lines[i]) + 1


# --- the key-path map --------------------------------------------------------------------------


def test_reference_stack_keys_map_to_their_lines() -> None:
    keys = stackyaml.key_lines(REFERENCE)
    approvals = _line_of(REFERENCE, "approvals:")
    second = _line_of(REFERENCE, "- model: fraud-detector", approvals + 1)
    assert keys.locate("mlops:platform") == (_line_of(REFERENCE, "mlops:platform:"), 3)
    assert keys.locate("mlops:platform.governance.approvals[1]") == (second, 11)
    assert keys.locate("mlops:platform.serving.replicas.min")[0] == _line_of(REFERENCE, "min: 2")
    assert keys.locate("aws:region") == (_line_of(REFERENCE, "aws:region"), 3)


def test_a_missing_key_resolves_to_its_nearest_enclosing_key() -> None:
    keys = stackyaml.key_lines(REFERENCE)
    governance = keys.locate("mlops:platform.governance")
    assert keys.locate("mlops:platform.governance.enforcement") == governance
    assert keys.locate("mlops:platform.governance.approvals[9].ticket") == keys.locate(
        "mlops:platform.governance.approvals"
    )
    assert keys.locate("team:other.x") is None
    assert keys.locate("") is None


def test_a_value_on_a_later_line_points_at_its_key() -> None:
    text = "config:\n  mlops:platform:\n    governance:\n      enforcement:\n\n        advisory\n"
    assert stackyaml.key_lines(text).locate("mlops:platform.governance.enforcement") == (4, 7)


def test_keys_with_dots_and_brackets_are_located_sensibly() -> None:
    text = (
        "config:\n"
        "  team:x:\n"
        "    a.b: 1\n"  # looks like the path of the nested a: {b: …} below
        "    a:\n"
        "      b: 2\n"
        "    c[0]: 3\n"
        "    '7': 4\n"  # a digit key is spelled like an index, as the spec validator does
        "    list: [p, {q: 5}]\n"
    )
    keys = stackyaml.key_lines(text)
    assert keys.locate("team:x.a.b") == (3, 5)  # the first spelling wins, never an error
    assert keys.locate("team:x.a") == (4, 5)
    assert keys.locate("team:x.c[0]") == (6, 5)
    assert keys.locate("team:x[7]") == (7, 5)
    assert keys.locate("team:x.list[1].q") == (8, 16)
    assert keys.locate("team:x.c[0].deeper[3]") == (6, 5)


def test_columns_count_utf16_code_units_as_sarif_does() -> None:
    text = "config:\n  team:x: {\U0001f600: 1, b: 2}\n"
    # "  team:x: {" is 11 characters, the emoji 2 UTF-16 units, ": 1, " 5 more: b is unit 19.
    assert stackyaml.key_lines(text).locate("team:x.b") == (2, 19)


def test_unqualified_keys_get_the_project_namespace() -> None:
    text = "config:\n  platform:\n    owner: a@b.example\n"
    assert stackyaml.key_lines(text, "mlops").locate("mlops:platform.owner") == (3, 5)
    assert stackyaml.key_lines(text).locate("platform.owner") == (3, 5)


def test_aliases_are_walked_once_and_merges_do_not_break_the_map() -> None:
    text = (
        "config:\n"
        "  team:base: &b {x: 1, y: {z: 2}}\n"
        "  team:copy: *b\n"
        "  team:merged:\n"
        "    <<: *b\n"
        "    y: 3\n"
    )
    keys = stackyaml.key_lines(text)
    assert keys.locate("team:base.y.z") == (2, 28)
    assert keys.locate("team:copy") == (3, 3)
    assert keys.locate("team:copy.y.z") == (3, 3)  # inside the alias: the key that names it
    assert keys.locate("team:merged.y") == (6, 5)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "config: 1\n",
        "- a\n",
        "config:\n  a: [1, 2\n",
        "config:\n  a: " + "[" * 1000 + "]" * 1000 + "\n",
        "config:\n  a: " + "x" * (stackyaml.MAX_BYTES + 1) + "\n",
    ],
    ids=[
        "empty",
        "config-not-a-mapping",
        "top-level-list",
        "unclosed",
        "deep",
        "oversized",
    ],
)
def test_a_refused_file_has_no_positions_and_no_traceback(text: str) -> None:
    keys = stackyaml.key_lines(text)
    assert keys.locate("config.a") is None and keys.locate("a") is None


def test_files_load_refuses_for_other_reasons_still_map_without_error() -> None:
    """Reports only map files ``load`` accepted; on anything else the map stays harmless."""
    assert stackyaml.key_lines("config:\n  a: 1\n  a: 2\n").locate("a") == (2, 3)  # first
    assert stackyaml.key_lines("config:\n  a: &x\n    b: *x\n").locate("a.b.b.b") == (3, 5)
    assert stackyaml.key_lines("config:\n  ? [k]\n  : {v: 1}\n  b: 2\n").locate("b") == (4, 3)
    assert stackyaml.key_lines("config:\n  a: !!binary aGVsbG8=\n").locate("a") == (2, 3)
    assert stackyaml.key_lines("- config\n- {config: {a: 1}}\n").positions == {}
    assert stackyaml.key_lines("config:\n  a: 1\n---\nconfig:\n  b: 2\n").locate("b") is None


def test_invalid_utf8_has_no_positions() -> None:
    assert stackyaml.key_lines(b"config:\n  a: \xff\n").positions == {}


def test_a_long_file_maps_quickly() -> None:
    # Near load()'s node bound (200,000 values); the map reads events, composing nothing.
    items = "".join(f"    k{i}: {{a: [1, 2], b: x}}\n" for i in range(20_000))
    text = "config:\n  team:big:\n" + items
    assert len(text) < stackyaml.MAX_BYTES
    started = time.perf_counter()
    keys = stackyaml.key_lines(text)
    assert keys.locate("team:big.k19999.a[1]") == (20_002, 21)
    assert time.perf_counter() - started < 10


def test_an_alias_bomb_within_bounds_costs_its_text_not_its_expansion() -> None:
    lines = ["config:", "  team:bomb:", "    l0: &l0 [" + ", ".join(["lol"] * 9) + "]"]
    for n in range(1, 5):  # 9**5 values expanded; under MAX_NODES, so load() accepts it
        lines.append(f"    l{n}: &l{n} [" + ", ".join([f"*l{n - 1}"] * 9) + "]")
    text = "\n".join(lines) + "\n"
    stackyaml.load(text)
    started = time.perf_counter()
    keys = stackyaml.key_lines(text)
    assert time.perf_counter() - started < 1
    assert len(keys.positions) < 100
    assert keys.locate("team:bomb.l4[8][8][8]") == keys.locate("team:bomb.l4[8]")


# --- key paths named in findings ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "path"),
    [
        (
            "governance.enforcement: advisory in prod is refused (unsigned)",
            "mlops:platform.governance.enforcement",
        ),
        (
            "approval of 'm' version '7' does not count, by 'x@y.z': unsigned "
            "(mlops:platform.governance.approvals[0])",
            "mlops:platform.governance.approvals[0]",
        ),
        ("serving.replicas.min: must be at least 1", "mlops:platform.serving.replicas.min"),
        ("no approval is recorded for model 'm' version '8'", None),
        ("tag mlops:approved-by is 'x'", None),
        ("max GPU spend: $3/h", None),
        ("nope.key: a word that is not a spec key", None),
    ],
)
def test_key_path_in_a_message(message: str, path: str | None) -> None:
    assert report.key_path(message) == path


def _violation(message: str, urn: str = "") -> Violation:
    return Violation(
        policy="mlops-governance-records",
        description="d",
        message=message,
        level="mandatory",
        urn=urn,
        resource_type="aws:s3/bucket:Bucket" if urn else "",
        resource_name="artifacts" if urn else "",
        remediation="r",
    )


def test_sarif_keyed_result_keeps_the_declaring_line_as_related() -> None:
    urn = "urn:pulumi:s::p::aws:s3/bucket:Bucket::artifacts"
    violation = _violation("governance.waivers: x", urn)
    keys = stackyaml.key_lines(
        "config:\n  mlops:platform:\n    governance:\n      waivers:\n        - rule: r\n"
    )
    results = ResultSet(violations=(violation,), policies=(), resource_count=1)
    log = report.to_sarif(
        results,
        stack="aws-prod",
        locations={urn: ("infra/__main__.py", 12)},
        key_lines=keys,
        suppressed=[(violation, "waived", "mlops:platform.governance.waivers[0]")],
    )
    assert log["runs"][0]["columnKind"] == "utf16CodeUnits"  # SARIF 2.1.0 §3.14.27
    first, waived = log["runs"][0]["results"]
    region = first["locations"][0]["physicalLocation"]["region"]
    assert region == {"startLine": 4, "startColumn": 7}
    assert first["locations"][0]["logicalLocations"][0]["fullyQualifiedName"] == urn
    related = first["relatedLocations"][0]["physicalLocation"]
    assert related["artifactLocation"]["uri"] == "infra/__main__.py"
    assert related["region"]["startLine"] == 12
    (suppression,) = waived["suppressions"]
    waiver = suppression["location"]["physicalLocation"]
    assert waiver["artifactLocation"]["uri"] == "stacks/Pulumi.aws-prod.yaml"
    assert waiver["region"] == {"startLine": 5, "startColumn": 11}


# --- end to end: a real prod stack file --------------------------------------------------------


def _hostile_prod(text: str = REFERENCE) -> str:
    """Enforcement lowered with an unsigned approval; version 7's only approval by an outsider."""
    text = text.replace(
        "    governance:\n",
        "    governance:\n"
        "      enforcement:\n"
        "        advisory\n"
        "      enforcementApproval: {approvedBy: jane@example.com, ticket: CHG-9, "
        'approvedAt: "2026-11-20"}\n',
    )
    return text.replace("approvedBy: jane@example.com\n", "approvedBy: mallory@example.com\n")


@pytest.fixture
def repo(tmp_path, monkeypatch) -> Path:
    """A repository (``.git``) holding the stack file; the program is this repository's."""
    root = tmp_path / "repo"
    (root / "stacks").mkdir(parents=True)
    (root / ".git").mkdir()
    monkeypatch.chdir(root)
    return root


def test_prod_stack_findings_point_at_their_keys(repo, cli) -> None:
    text = _hostile_prod()
    stack = repo / "stacks" / "Pulumi.aws-prod.yaml"
    stack.write_text(text)
    code = cli(
        "plan", "-s", "aws-prod", "--project", REPO, "--config-file", stack, "-q",
        "--sarif", "out.sarif", "--json", "out.json", "--junit", "out.xml", "--no-color",
    )  # fmt: skip
    assert code == 1, cli.out + cli.err
    enforcement = _line_of(text, "enforcement:")
    approval = _line_of(text, "- model: fraud-detector", _line_of(text, "approvals:"))
    assert text.splitlines()[approval + 1].strip() == "approvedBy: mallory@example.com"

    run = json.loads((repo / "out.sarif").read_text())["runs"][0]
    by_rule: dict[str, list[dict]] = {}
    for result in run["results"]:
        by_rule.setdefault(result["ruleId"], []).append(result)
    (records,) = by_rule["mlops-governance-records"]
    physical = records["locations"][0]["physicalLocation"]
    assert physical["artifactLocation"] == {
        "uri": "stacks/Pulumi.aws-prod.yaml",
        "uriBaseId": "%SRCROOT%",
    }
    assert physical["region"] == {"startLine": enforcement, "startColumn": 7}
    # The endpoint, its configuration and the SageMaker model of v7 each serve the version.
    gates = by_rule["mlops-approval-gate"]
    assert {g["locations"][0]["logicalLocations"][0]["name"] for g in gates} == {
        "mlops-serving-endpoint",
        "mlops-serving-config-v7",
        "mlops-serving-model-v7",
    }
    for gate in gates:
        physical = gate["locations"][0]["physicalLocation"]
        assert physical["artifactLocation"]["uri"] == "stacks/Pulumi.aws-prod.yaml"
        assert physical["region"]["startLine"] == approval
    for result in run["results"]:  # repository-relative, never absolute
        uri = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        assert not uri.startswith(("/", "file:")) and ".." not in uri

    document = json.loads((repo / "out.json").read_text())
    jsonschema.validate(document, json.loads((REPO / "docs/plan.schema.json").read_text()))
    located = {v["policy"]: v for v in document["violations"]}
    assert located["mlops-governance-records"]["keyPath"] == (
        "mlops:platform.governance.enforcement"
    )
    assert located["mlops-approval-gate"]["location"] == {
        "uri": "stacks/Pulumi.aws-prod.yaml",
        "line": approval,
        "column": 11,
    }

    junit = ElementTree.parse(repo / "out.xml").getroot()
    failures = {c.get("name"): c.find("failure") for c in junit.iter("testcase")}
    assert f"[stacks/Pulumi.aws-prod.yaml:{enforcement}:7]" in (
        failures["mlops-governance-records"].text
    )
    assert f"at:      stacks/Pulumi.aws-prod.yaml:{approval}:11" in cli.out
    assert f"at:      stacks/Pulumi.aws-prod.yaml:{enforcement}:7" in cli.out


def test_spec_errors_name_the_file_and_line(repo, cli) -> None:
    text = REFERENCE.replace("        min: 2\n", "        min:\n          -1\n")
    stack = repo / "stacks" / "Pulumi.aws-prod.yaml"
    stack.write_text(text)
    code = cli("plan", "-s", "aws-prod", "--project", REPO, "--config-file", stack, "-q")
    assert code == 2
    line = cli.one_error_line()
    assert line.startswith(
        f"mlops-iac plan: error: stacks/Pulumi.aws-prod.yaml:{_line_of(text, 'min:')}:9: "
        "mlops:platform.serving.replicas.min: "
    ), line


def test_an_expired_waiver_names_its_line(repo, cli) -> None:
    waiver = (
        "      waivers:\n"
        "        - rule: mlops-storage-lifecycle\n"
        "          stack: aws-prod\n"
        "          resource: artifacts-*\n"
        "          reason: migration\n"
        "          ticket: CHG-77\n"
        "          owner: ml-oncall@example.com\n"
        "          approvedBy: raj@example.com\n"
        "          approvedAt: 2026-01-01\n"
        "          expires: 2026-01-31\n"
    )
    text = REFERENCE.replace("      gpuBudgetUsdPerHour", waiver + "      gpuBudgetUsdPerHour")
    stack = repo / "stacks" / "Pulumi.aws-prod.yaml"
    stack.write_text(text)
    code = cli("plan", "-s", "aws-prod", "--project", REPO, "--config-file", stack, "-q")
    assert code in (0, 1), cli.err
    at = _line_of(text, "- rule: mlops-storage-lifecycle")
    assert f"not applied: expired on 2026-01-31 (stacks/Pulumi.aws-prod.yaml:{at}:11)" in cli.out


def test_a_hostile_key_path_is_located_quickly() -> None:
    keys = stackyaml.key_lines(REFERENCE)
    started = time.perf_counter()
    huge = "mlops:platform.governance" + ".a" * 500_000
    assert keys.locate(huge) == keys.locate("mlops:platform.governance")
    assert keys.locate("mlops:platform" + "[0]" * 300_000) == keys.locate("mlops:platform")
    assert report.key_path("x " + huge) is not None
    assert time.perf_counter() - started < 2


def test_a_deploy_error_points_at_the_declaring_line() -> None:
    from types import SimpleNamespace

    urn = "urn:pulumi:s::p::gcp:storage/bucket:Bucket::artifacts"
    error = SimpleNamespace(
        rule="gcp-gcs-versioning-with-retention",
        urn=urn,
        input="versioning.enabled",
        resource_name="artifacts",
        resource_type="gcp:storage/bucket:Bucket",
        message="m",
        source="https://cloud.google.com/storage/docs/bucket-lock",
    )
    log = {"runs": [{"tool": {"driver": {"rules": []}}, "results": []}]}
    report.add_deploy_errors_sarif(
        log, [error], artifact_uri="stacks/Pulumi.gcp-dev.yaml", locations={urn: ("infra/x.py", 7)}
    )
    physical = log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]
    assert physical["artifactLocation"]["uri"] == "infra/x.py"
    assert physical["region"] == {"startLine": 7}


def test_a_waiver_suppression_points_at_the_waiver(repo, cli) -> None:
    import datetime as dt

    today = dt.datetime.now(dt.UTC).date()
    waiver = (
        "      waivers:\n"
        "        - rule: mlops-gpu-budget\n"
        "          stack: aws-dev\n"
        "          resource: stack\n"
        "          reason: benchmark week\n"
        "          ticket: T-1\n"
        "          owner: o@example.com\n"
        "          approvedBy: jane@example.com\n"
        f'          approvedAt: "{today}"\n'
        f'          expires: "{today + dt.timedelta(days=5)}"\n'
        "      gpuBudgetUsdPerHour: 0.5\n"
    )
    text = (STACKS / "Pulumi.aws-dev.yaml").read_text()
    text = text.replace("      gpuBudgetUsdPerHour: 5\n", waiver)
    stack = repo / "stacks" / "Pulumi.aws-dev.yaml"
    stack.write_text(text)
    code = cli("plan", "-s", "aws-dev", "--project", REPO, "--config-file", stack, "-q",
               "--sarif", "p.sarif")  # fmt: skip
    assert code == 0, cli.err
    at = _line_of(text, "- rule: mlops-gpu-budget")
    assert f"at:      stacks/Pulumi.aws-dev.yaml:{at}:11" in cli.out
    run = json.loads((repo / "p.sarif").read_text())["runs"][0]
    (waived,) = [r for r in run["results"] if r.get("suppressions")]
    where = waived["suppressions"][0]["location"]["physicalLocation"]
    assert where["artifactLocation"]["uri"] == "stacks/Pulumi.aws-dev.yaml"
    assert where["region"] == {"startLine": at, "startColumn": 11}
