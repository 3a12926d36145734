from __future__ import annotations

import contextlib
import functools
import io
import json
import tempfile
from pathlib import Path

import pytest
import yaml

from mlops_iac.cli.main import main
from mlops_iac.components.gcp._common import resource_id
from mlops_iac.spec import clouds
from tests.conftest import REPO, stack_config


def write_stack(tmp_path, stack: str, mutate) -> str:
    config = stack_config(stack)
    mutate(config["mlops:platform"])
    path = tmp_path / f"Pulumi.{stack}-variant.yaml"
    path.write_text(yaml.safe_dump({"config": config}, sort_keys=False))
    return str(path)


def plan(*args: str) -> int:
    return main(["plan", "--project", str(REPO), "--no-color", *args])


CLOUDS = clouds.NAMES
COMPONENT_TYPES = {
    "aws": "mlops:aws:ArtifactStore",
    "azure": "mlops:azure:ArtifactStore",
    "gcp": "mlops:gcp:ArtifactStore",
}


@functools.cache
def reference_plan(stack: str) -> tuple[int, str, dict[str, dict]]:
    """One plan of a reference stack writing every report: (exit code, stdout, {report: JSON}).

    Run once per test process and shared by the tests that read it (a plan costs seconds).
    """
    names = {"json": "plan.json", "sarif": "plan.sarif", "write-policy-config": "config.json"}
    with tempfile.TemporaryDirectory() as tmp:
        paths = {option: Path(tmp) / name for option, name in names.items()}
        options = [arg for option, path in paths.items() for arg in (f"--{option}", str(path))]
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            code = plan("--stack", stack, *options)
        reports = {o: json.loads(p.read_text()) for o, p in paths.items() if p.exists()}
    return code, out.getvalue(), reports


@pytest.mark.parametrize(
    "stack",
    [pytest.param(f"{c}-{e}") for c in CLOUDS for e in ("dev", "prod")],
)
def test_reference_stacks_pass(stack):
    code, out, reports = reference_plan(stack)
    assert code == 0, out
    assert f"Stack mlops-platform/{stack}:" in out
    assert f"{COMPONENT_TYPES[stack.split('-')[0]]} mlops-artifacts" in out
    assert "PASS: no mandatory violation" in out
    document = reports["json"]
    assert document["passed"] is True and document["stack"] == stack
    assert all({"urn", "type", "name", "parent", "inputs"} <= set(r) for r in document["resources"])
    log = reports["sarif"]
    assert log["version"] == "2.1.0"
    assert {r["id"] for r in log["runs"][0]["tool"]["driver"]["rules"]} >= {
        "mlops-storage-encrypted-cmk",
        "mlops-approval-gate",
    }


def _no_cmk_mandatory(platform):
    platform["artifacts"]["customerManagedKey"] = False
    platform["governance"]["enforcement"] = "mandatory"


def _unapproved(platform):
    served = platform["serving"]["model"]["version"]
    platform["governance"]["approvals"] = [
        a for a in platform["governance"]["approvals"] if a["version"] != served
    ]


def _self_approved(platform):
    for approval in platform["governance"]["approvals"]:
        approval["approvedBy"] = platform["owner"]
    platform["governance"]["approvers"].append(platform["owner"])


def _missing_rollback_alarm(platform):
    platform["aws"] = {"rollbackAlarms": ["fraud-precision-drop"]}  # defined nowhere


def _public_staging(platform):
    platform["environment"] = "staging"
    platform["serving"]["publicEndpoint"] = True
    platform["training"]["publicEndpoint"] = True
    # A public endpoint needs an allow-list (spec rule); a real one keeps the point: public.
    platform["training"]["access"] = {"publicCidrs": ["203.0.113.0/24"]}


def _over_gpu_budget(platform):
    platform["training"]["maxNodes"] = 60  # 60 × g5.xlarge at $1.006/h > $50/h


@pytest.mark.parametrize(
    ("stack", "mutate", "rule"),
    [
        ("aws-dev", _no_cmk_mandatory, "mlops-storage-encrypted-cmk"),
        ("aws-prod", _unapproved, "mlops-approval-gate"),
        ("aws-prod", _self_approved, "mlops-approval-gate"),
        ("aws-prod", _over_gpu_budget, "mlops-gpu-budget"),
        ("aws-prod", _missing_rollback_alarm, "mlops-serving-rollback"),
        ("aws-dev", _public_staging, "mlops-network-private-endpoints"),
        ("azure-dev", _no_cmk_mandatory, "mlops-storage-encrypted-cmk"),
        ("azure-dev", _public_staging, "mlops-network-private-endpoints"),
        ("azure-prod", _unapproved, "mlops-approval-gate"),
        ("gcp-dev", _no_cmk_mandatory, "mlops-storage-encrypted-cmk"),
        ("gcp-dev", _public_staging, "mlops-network-private-endpoints"),
        ("gcp-prod", _unapproved, "mlops-approval-gate"),
    ],
)
def test_insecure_variants_fail_naming_the_rule(stack, mutate, rule, tmp_path, capsys):
    config_file = write_stack(tmp_path, stack, mutate)
    sarif = tmp_path / "out.sarif"
    # A staging variant is planned as a staging stack: the stack file's own claim never sets the
    # environment it is judged as (governance/settings.yaml, else the stack name's suffix).
    judged = stack.replace("-dev", "-staging") if mutate is _public_staging else stack
    assert plan("--stack", judged, "--config-file", config_file, "--sarif", str(sarif)) == 1
    out = capsys.readouterr().out
    assert rule in out and "FAIL:" in out
    results = json.loads(sarif.read_text())["runs"][0]["results"]
    assert any(r["ruleId"] == rule and r["level"] == "error" for r in results)
    for result in results:
        # The declaring line of a resource in the repository, else the stack file.
        location = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        assert location.endswith((f"Pulumi.{stack}-variant.yaml", ".py")), location
        assert not location.startswith("/")


def test_dev_violations_are_advisory(tmp_path, capsys):
    config_file = write_stack(
        tmp_path, "aws-dev", lambda p: p["artifacts"].update(customerManagedKey=False)
    )
    assert plan("--stack", "aws-dev", "--config-file", config_file) == 0
    out = capsys.readouterr().out
    assert "1 advisory violation(s)" in out and "mlops-storage-encrypted-cmk:" in out


def test_malformed_stack_file_exits_2_with_the_key_path(tmp_path, capsys):
    config_file = write_stack(tmp_path, "aws-prod", lambda p: p["training"].update(maxNodes=-3))
    assert plan("--stack", "aws-prod", "--config-file", config_file) == 2
    err = capsys.readouterr().err
    assert "mlops:platform.training.maxNodes: Input should be greater than or equal to 0" in err
    assert "Traceback" not in err


def test_unknown_stack_exits_2(capsys):
    assert plan("--stack", "nope") == 2
    err = capsys.readouterr().err
    assert "no stack file" in err and "known stacks: aws-dev, aws-prod," in err


def test_quiet_prints_only_findings_and_verdict(capsys):
    assert plan("--stack", "aws-dev", "--quiet") == 0
    out = capsys.readouterr().out
    assert "Stack mlops-platform" not in out
    assert "Preconditions (" not in out
    assert out.strip().splitlines()[-1].startswith("PASS:")


def test_policy_config_for_the_real_engine():
    # The aws-prod reference plan wrote it (test_reference_stacks_pass reads the same run).
    code, out, reports = reference_plan("aws-prod")
    assert code == 0, out
    document = reports["write-policy-config"]
    gate = document["mlops-approval-gate"]
    assert gate["enforcementLevel"] == "mandatory"
    assert gate["owner"] == "ml-platform@example.com"
    jane = next(a for a in gate["approvals"] if a["version"] == "7")
    verified_by = jane.pop("verifiedBy")  # which key and trusted file verified it
    assert jane == {
        "model": "fraud-detector",
        "version": "7",
        "approvedBy": "jane@example.com",
        "ticket": "CHG-1234",
        "approvedAt": "2026-11-20",
        "signatureStatus": "verified",
        "keyPath": "mlops:platform.governance.approvals[0]",  # where violations point
        "binding": "bound",  # the report's bindingStatus: its digests cover what is served
    }
    assert verified_by["principal"] == "jane@example.com"
    assert verified_by["signersFile"] == "governance/allowed_signers"
    assert verified_by["key"].startswith("SHA256:")
    assert verified_by["signersDigest"].startswith("sha256:")
    assert document["mlops-gpu-budget"]["nodeTypePrices"]["g5.xlarge"] == pytest.approx(1.006)


# Cloud Run service names carry a per-stack hash (components/gcp/_common.resource_id).
PROD_SVC, DEV_SVC = (
    resource_id("mlops-serving", "svc", limit=40, scope=f"mlops-platform/{stack}")
    for stack in ("gcp-prod", "gcp-dev")
)


@pytest.mark.parametrize("cloud", [pytest.param(c) for c in CLOUDS])
def test_staging_with_private_endpoints_passes(cloud, tmp_path):
    def staging(platform):
        platform.update(environment="staging")

    config_file = write_stack(tmp_path, f"{cloud}-dev", staging)
    extra = []
    if cloud == "gcp":
        # A running stack: its saved export shows v6's revision served, so Cloud Run keeps it
        # beside the current one (a first deploy, without state, passes with v7 alone).
        saved = json.loads((REPO / "stacks" / "state" / "gcp-prod.json").read_text())
        # gcp-prod's multi-region store key needs a regional key for Cloud SQL; gcp-dev's store
        # key is regional already, so that key is not part of this stack.
        saved["deployment"]["resources"] = [
            r for r in saved["deployment"]["resources"] if "mlops-tracking-sql-cmk" not in r["urn"]
        ]
        for resource in saved["deployment"]["resources"]:
            resource["urn"] = resource["urn"].replace("gcp-prod", "gcp-dev")
            for key in ("inputs", "outputs"):
                text = json.dumps(resource.get(key) or {})
                resource[key] = json.loads(text.replace(PROD_SVC, DEV_SVC))
        state = tmp_path / "state.json"
        state.write_text(json.dumps(saved))
        extra = ["--state", str(state)]
    assert plan("--stack", f"{cloud}-dev", "--config-file", config_file, "--quiet", *extra) == 0


@pytest.mark.parametrize(
    ("option", "target", "message"),
    [
        ("--sarif", ".", "--sarif {} is a directory"),
        ("--json", "missing/plan.json", "--json {}: directory"),
        ("--write-policy-config", "missing/config.json", "--write-policy-config {}: directory"),
    ],
)
def test_unwritable_report_paths_exit_2_before_running(option, target, message, tmp_path, capsys):
    path = tmp_path / target
    assert plan("--stack", "aws-dev", option, str(path)) == 2
    err = capsys.readouterr().err
    assert message.format(path) in err and "Traceback" not in err
    assert not (tmp_path / "missing").exists()


def test_a_saved_state_makes_the_plan_an_update_of_what_exists(tmp_path, capsys):
    """gcp-prod already serves v6: its saved export proves the revision the canary keeps exists."""
    from mlops_iac.plan.service import saved_state

    assert saved_state(REPO, "gcp-prod") == REPO / "stacks" / "state" / "gcp-prod.json"
    assert saved_state(REPO, "aws-new") is None
    assert main(["plan", "--stack", "gcp-prod", "--project", str(REPO), "--quiet"]) == 0
    # The same stack file against nothing deployed: a first deploy, v7 alone; its image and model
    # would come from the registry this update creates, which the bring-up rule refuses.
    empty = tmp_path / "empty.json"
    empty.write_text('{"deployment": {"resources": []}}')
    code = main(
        ["plan", "--stack", "gcp-prod", "--project", str(REPO), "--quiet", "--state", str(empty)]
    )
    captured = capsys.readouterr()
    assert code == 1, captured.out
    assert "this is the service's first deployment" in captured.err
    assert "artifact-not-pushed" in captured.out
    assert "gcp-run-traffic-unknown-revision" not in captured.out
    # Outputs that claim v6 was served, against a state without its revision: the traffic would
    # name a revision that does not exist, and the deploy catalogue refuses it.
    saved = json.loads((REPO / "stacks" / "state" / "gcp-prod.json").read_text())
    saved["deployment"]["resources"] = [
        r for r in saved["deployment"]["resources"] if r["type"] != "gcp:cloudrunv2/service:Service"
    ]
    claimed = tmp_path / "claimed.json"
    claimed.write_text(json.dumps(saved))
    code = main(
        ["plan", "--stack", "gcp-prod", "--project", str(REPO), "--quiet", "--state", str(claimed)]
    )
    assert code == 1
    assert "gcp-run-traffic-unknown-revision" in capsys.readouterr().out


def test_plan_lists_the_preconditions_its_resources_need():
    from mlops_iac.plan.preconditions import derive
    from tests.conftest import reference_recording

    code, out, reports = reference_plan("aws-prod")
    recording = reference_recording("aws-prod")
    expected = derive(recording.resources, recording.config)
    assert reports["json"]["preconditions"] == [p.as_dict() for p in expected]
    assert len(expected) == 9
    import jsonschema

    schema = json.loads((REPO / "docs/plan.schema.json").read_text())
    jsonschema.validate(reports["json"], schema)
    lines = out.splitlines()
    start = lines.index(
        "Preconditions (9): what the account must provide; "
        "`mlops-iac preflight --stack aws-prod` checks them live"
    )
    # After the GPU summary, the always-on estimate and the tracking URI, before the verdict;
    # one item and its source per precondition.
    gpu = next(i for i, line in enumerate(lines) if line.startswith("Max GPU spend:"))
    assert lines[gpu + 1].startswith("Always-on estimate:") and gpu < start
    assert lines[start - 2].startswith("Tracking: MLFLOW_TRACKING_URI=arn:aws:sagemaker:")
    assert lines[start - 1] == ""
    assert lines[-1].startswith("PASS:")
    assert lines[start + 1 : start + 1 + 2 * len(expected) : 2] == [
        f"  {p.id} ({p.seen_by}): {p.what}" for p in expected
    ]
    quota = [p.id for p in expected].index("aws-ec2-quota-L-3819A6DF")
    assert lines[start + 1 + 2 * quota] == (
        "  aws-ec2-quota-L-3819A6DF (preflight): EC2 quota 'All G and VT Spot Instance Requests' "
        "(L-3819A6DF) in us-east-1: at least 32 vCPUs for the GPU node groups at max size"
    )
    assert lines[start + 2] == (
        "    source: https://docs.aws.amazon.com/awsaccountbilling/latest/aboutv2/activating-tags.html"
    )


def test_a_secret_nested_in_a_list_does_not_redact_common_words():
    """The rollout action group's receiver list is secret as a whole (its URL carries the
    function key): the key is scrubbed, its plain neighbours (the receiver named ``rollout``)
    are not turned into ``[secret]`` wherever the word appears."""
    from mlops_iac.policies import report
    from tests.conftest import reference_recording

    recording = reference_recording("azure-dev")
    [receiver] = recording.named("mlops-rollout-actions").inputs["azureFunctionReceivers"]
    secrets = report.secret_values(recording)
    assert receiver["httpTriggerUrl"] in secrets
    assert receiver["name"] == "rollout" and "rollout" not in secrets
    document = {"name": "mlops-rollout-role", "note": f"url {receiver['httpTriggerUrl']}"}
    assert report.scrub(document, secrets) == {"name": "mlops-rollout-role", "note": "url [secret]"}
