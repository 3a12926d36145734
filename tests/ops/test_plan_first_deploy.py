"""A new GCP prod stack plans (and deploys) with one revision; a running one cannot drop its
rollback target, whatever the stack file claims (issue 15, Cloud Run first deploy)."""

from __future__ import annotations

import hashlib
import json

import yaml

from mlops_iac.cli.main import main
from tests.conftest import REPO, stack_config

SERVICE = "gcp:cloudrunv2/service:Service"
ROLLBACK = "mlops-serving-rollback"


def _stack_file(tmp_path, mutate=None, extra=None) -> str:
    config = stack_config("gcp-prod")
    if mutate:
        mutate(config["mlops:platform"])
    config.update(extra or {})
    path = tmp_path / "Pulumi.gcp-prod-variant.yaml"
    path.write_text(yaml.safe_dump({"config": config}, sort_keys=False))
    return str(path)


def _plan(tmp_path, stack: str, *args: str) -> tuple[int, dict]:
    report = tmp_path / "plan.json"
    code = main(
        ["plan", "--project", str(REPO), "--no-color", "--quiet", "--stack", stack,
         "--json", str(report), *args]
    )  # fmt: skip
    return code, json.loads(report.read_text()) if report.exists() else {}


def _traffic(document: dict) -> list[tuple[str, float]]:
    # The serving service (the tracking server is a Cloud Run service without traffic).
    [service] = [
        r for r in document["resources"] if r["type"] == SERVICE and r["inputs"].get("traffics")
    ]
    return [(t["revision"].rsplit("-", 1)[-1], t["percent"]) for t in service["inputs"]["traffics"]]


def _rollback(document: dict) -> list[str]:
    return [v["message"] for v in document["violations"] if v["policy"] == ROLLBACK]


#: What `pulumi stack export` prints for a stack initialised but never deployed.
NEVER_DEPLOYED = {"version": 3, "deployment": {"manifest": {"time": "2026-11-02T10:00:00Z"}}}


def test_a_stack_without_saved_state_is_not_a_first_deployment(tmp_path):
    # gcp-prod's stack file under a stack name with no saved state: whether the stack was ever
    # deployed is unknown, so one revision does not pass as a "first deployment" (issue 24).
    code, document = _plan(tmp_path, "gcp-new", "--config-file", _stack_file(tmp_path))
    assert code == 1
    assert document["state"] is None
    assert _traffic(document) == [("v7", 100)]
    [message] = _rollback(document)
    assert "the stack's last deployment is unknown (no saved state)" in message
    [why] = [w for w in document["warnings"] if "no rollback target yet" in w]
    assert "first deployment" not in why and "unknown (no saved state)" in why


def _first_step_state(tmp_path, stack_file: str):
    """The export step 1 of the bring-up leaves (everything but serving), as a file."""
    from pathlib import Path

    from mlops_iac.plan import bringup, service

    first = service.plan(
        REPO,
        "gcp-new",
        Path(stack_file),
        state=bringup.empty_state("gcp-new"),
        overrides={"serving.enabled": False},
    )
    state = tmp_path / "gcp-new.json"
    state.write_text(json.dumps(bringup.export_document(bringup.state_after(first.recording, 1))))
    return state


def test_a_never_deployed_stack_cannot_serve_from_its_own_new_registry(tmp_path):
    # The export of the initialised, never deployed stack: the image and the model would come from
    # the repository and bucket this very update creates.
    state = tmp_path / "gcp-new.json"
    state.write_text(json.dumps(NEVER_DEPLOYED))
    code, document = _plan(
        tmp_path, "gcp-new", "--config-file", _stack_file(tmp_path), "--state", str(state)
    )
    assert code == 1
    assert {e["rule"] for e in document["deployErrors"]} == {"artifact-not-pushed"}


def test_a_new_prod_stack_plans_with_the_current_revision_alone_and_says_why(tmp_path):
    # Serving's first deployment: step 2 of the bring-up, after the registry was made (and the
    # first version pushed); nothing was ever served.
    stack_file = _stack_file(tmp_path)
    state = _first_step_state(tmp_path, stack_file)
    code, document = _plan(tmp_path, "gcp-new", "--config-file", stack_file, "--state", str(state))
    assert code == 0, document.get("deployErrors")
    assert document["passed"] is True and _rollback(document) == []
    assert _traffic(document) == [("v7", 100)]
    [why] = [w for w in document["warnings"] if "no rollback target yet" in w]
    assert "first deployment" in why and "-v6 does not exist yet" in why
    digest = hashlib.sha256(state.read_bytes()).hexdigest()
    assert document["state"]["digest"] == f"sha256:{digest}"
    assert document["state"]["source"] == "--state"


def test_the_running_prod_stack_keeps_the_revision_it_served(tmp_path):
    code, document = _plan(tmp_path, "gcp-prod")
    assert code == 0
    assert _traffic(document) == [("v7", 10), ("v6", 90)]
    assert document["exports"]["serving_revisions"][1].endswith("-v6")


def _drop_previous(platform):
    platform["serving"].pop("previousModel")


def test_a_running_stack_cannot_drop_the_revision_it_served(tmp_path):
    # The saved export (stacks/state/gcp-prod.json) shows v6 served; the spec lacks it.
    config = _stack_file(tmp_path, _drop_previous)
    code, document = _plan(tmp_path, "gcp-prod", "--config-file", config)
    assert code == 1
    assert _traffic(document) == [("v7", 100)]
    [message] = _rollback(document)
    assert "-v6 exist (the stack's last deployment served them)" in message


def test_outputs_claimed_in_the_stack_file_do_not_override_the_saved_export(tmp_path):
    # The stack file claims the last deployment's outputs were empty (a first deploy); the
    # saved export wins. (A label claiming a first deploy: tests/policies/test_other_clouds.py.)
    claim = {"mlops-testing:previousOutputs": {}}
    config = _stack_file(tmp_path, _drop_previous, claim)
    code, document = _plan(tmp_path, "gcp-prod", "--config-file", config)
    assert code == 1
    assert len(_rollback(document)) == 1


def test_the_retired_flag_cannot_claim_a_first_deploy(tmp_path, capsys):
    def claim(platform):
        _drop_previous(platform)
        platform["gcp"]["previousRevisionExists"] = False

    code = main(
        ["plan", "--project", str(REPO), "--no-color", "--quiet", "--stack", "gcp-prod",
         "--config-file", _stack_file(tmp_path, claim)]
    )  # fmt: skip
    assert code == 2
    assert "mlops:platform.gcp.previousRevisionExists: removed" in capsys.readouterr().err


def _saved_without(tmp_path, keep) -> str:
    saved = json.loads((REPO / "stacks" / "state" / "gcp-prod.json").read_text())
    saved["deployment"]["resources"] = [r for r in saved["deployment"]["resources"] if keep(r)]
    state = tmp_path / "state.json"
    state.write_text(json.dumps(saved))
    return str(state)


def test_an_export_without_its_root_stack_resource_is_refused(tmp_path, capsys):
    # A real export of a deployed stack always holds pulumi:pulumi:Stack; one without it was cut.
    state = _saved_without(tmp_path, lambda r: r["type"] != "pulumi:pulumi:Stack")
    code, document = _plan(tmp_path, "gcp-prod", "--state", state)
    assert code == 2 and document == {}
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line == (
        f"mlops-iac plan: error: --state {state}: deployment.resources has no root "
        "pulumi:pulumi:Stack resource; the export of a deployed stack has exactly one"
    )


def test_a_state_without_its_stack_outputs_is_not_a_first_deploy(tmp_path):
    # The export lists the service, and the root stack resource without outputs: deployed, so
    # empty outputs are "not saved", not "served nothing".
    saved = json.loads((REPO / "stacks" / "state" / "gcp-prod.json").read_text())
    for resource in saved["deployment"]["resources"]:
        if resource["type"] == "pulumi:pulumi:Stack":
            resource["outputs"] = {}
    state = tmp_path / "state.json"
    state.write_text(json.dumps(saved))
    code, document = _plan(tmp_path, "gcp-prod", "--state", str(state))
    assert code == 1
    assert _traffic(document) == [("v7", 100)]
    [message] = _rollback(document)
    assert "exported no serving_revisions" in message


def test_outputs_edited_to_hide_a_served_revision_do_not_make_a_first_deployment(tmp_path):
    # The export's root outputs say nothing was served, but its own service shows v6 was.
    saved = json.loads((REPO / "stacks" / "state" / "gcp-prod.json").read_text())
    for resource in saved["deployment"]["resources"]:
        if resource["type"] == "pulumi:pulumi:Stack":
            resource["outputs"]["serving_revisions"] = []
    state = tmp_path / "state.json"
    state.write_text(json.dumps(saved))
    config = _stack_file(tmp_path, _drop_previous)
    code, document = _plan(tmp_path, "gcp-prod", "--config-file", config, "--state", str(state))
    assert code == 1
    [message] = _rollback(document)
    assert "-v6 exist (the stack's last deployment served them)" in message
