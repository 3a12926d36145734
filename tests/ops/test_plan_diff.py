"""`plan` against saved state: create, update, replace, delete, same (`pulumi preview --diff`).

States are the reference stacks' saved exports (``stacks/state``) edited the way a later deploy
would find them.
"""

from __future__ import annotations

import copy
import json

import jsonschema
import pytest

from mlops_iac.plan import changes
from mlops_iac.plan.deploy.state import StateResource
from tests.conftest import REPO, reference_recording, reference_state
from tests.ops.test_plan import plan


def _edited(stack: str, name: str, edit) -> list[StateResource]:
    """The saved state of ``stack`` with resource ``name``'s inputs changed by ``edit``."""
    state = []
    for resource in reference_state(stack):
        if resource.name == name:
            inputs = copy.deepcopy(resource.inputs)
            edit(inputs)
            resource = StateResource(
                resource.urn, resource.type, resource.name, inputs, resource.outputs
            )
        state.append(resource)
    return state


def _change(diff: changes.Diff, name: str) -> changes.Change:
    (found,) = [c for c in diff.changes if c.name == name]
    return found


def test_the_saved_state_of_a_reference_stack_leaves_only_what_step_two_adds():
    diff = changes.diff(reference_recording("aws-dev").resources, reference_state("aws-dev"), REPO)
    counts = diff.counts()
    assert (counts["update"], counts["replace"], counts["delete"]) == (0, 0, 0)
    # The Kubernetes side waited for a machine inside the network: step 2 creates it.
    assert _change(diff, "mlops-training-k8s").action == "create"
    assert _change(diff, "mlops-training-cluster").action == "same"
    assert counts["same"] == len(reference_state("aws-dev")) - 1  # the root stack is not compared


def test_a_resource_missing_from_the_state_is_created():
    state = [r for r in reference_state("gcp-dev") if r.name != "mlops-training-nat"]
    diff = changes.diff(reference_recording("gcp-dev").resources, state, REPO)
    assert _change(diff, "mlops-training-nat").action == "create"
    assert diff.counts()["delete"] == 0


def test_a_changed_input_is_an_update_with_its_path():
    def edit(inputs):
        inputs["labels"]["mlops-owner"] = "someone-else"

    state = _edited("gcp-dev", "mlops-artifacts-bucket", edit)
    change = _change(
        changes.diff(reference_recording("gcp-dev").resources, state, REPO),
        "mlops-artifacts-bucket",
    )
    assert (change.action, change.paths) == ("update", ("labels.mlops-owner",))
    assert change.replaced_by == ()


def test_a_changed_location_replaces_the_bucket_and_names_the_input_and_its_source():
    def edit(inputs):
        inputs["location"] = "EU"

    state = _edited("gcp-dev", "mlops-artifacts-bucket", edit)
    diff = changes.diff(reference_recording("gcp-dev").resources, state, REPO)
    change = _change(diff, "mlops-artifacts-bucket")
    assert (change.action, change.replaced_by) == ("replace", ("location",))
    assert change.source.startswith("https://registry.terraform.io/")
    assert not change.protected and diff.deploy_errors() == []
    assert change.as_dict()["replaceBecause"] == ["location"]


def test_replacing_a_protected_resource_is_a_deploy_error():
    def edit(inputs):
        inputs["location"] = "EU"

    state = _edited("gcp-prod", "mlops-artifacts-bucket", edit)
    diff = changes.diff(reference_recording("gcp-prod").resources, state, REPO)
    change = _change(diff, "mlops-artifacts-bucket")
    assert (change.action, change.protected) == ("replace", True)
    (error,) = diff.deploy_errors()
    assert (error.rule, error.resource_name, error.input) == (
        changes.PROTECT_RULE,
        "mlops-artifacts-bucket",
        "location",
    )
    assert error.source == changes.PROTECT_SOURCE
    assert "protected" in error.message


def test_an_input_the_state_did_not_hold_is_an_update_not_a_replacement():
    # gcp-prod's saved Cloud Run service holds its template only: name and location are set
    # now, read back by the provider, not changed.
    diff = changes.diff(
        reference_recording("gcp-prod").resources, reference_state("gcp-prod"), REPO
    )
    change = _change(diff, "mlops-serving-service")
    assert change.action == "update"
    assert "name" in change.paths and change.replaced_by == ()


def test_a_resource_only_in_the_state_is_deleted_and_a_protected_one_refused():
    extra = StateResource(
        "urn:pulumi:gcp-dev::mlops-platform::gcp:storage/bucket:Bucket::old-bucket",
        "gcp:storage/bucket:Bucket",
        "old-bucket",
        {"name": "old"},
        {},
        protect=True,
    )
    diff = changes.diff(
        reference_recording("gcp-dev").resources, [*reference_state("gcp-dev"), extra], REPO
    )
    change = _change(diff, "old-bucket")
    assert (change.action, change.protected) == ("delete", True)
    assert [e.resource_name for e in diff.deploy_errors()] == ["old-bucket"]


def test_ignore_changes_paths_do_not_count():
    recording = reference_recording("gcp-dev")
    (bucket,) = [r for r in recording.resources if r.name == "mlops-artifacts-bucket"]
    bucket.ignore_changes = ["labels"]

    def edit(inputs):
        inputs["labels"]["mlops-owner"] = "someone-else"

    state = _edited("gcp-dev", "mlops-artifacts-bucket", edit)
    assert (
        _change(changes.diff(recording.resources, state, REPO), "mlops-artifacts-bucket").action
        == "same"
    )


def test_changed_paths_walk_maps_and_lists_and_leave_secrets_alone():
    assert changes.changed_paths({"a": [1, {"b": 2}]}, {"a": [1, {"b": 3}]}) == ["a[1].b"]
    assert changes.changed_paths({"a": 1}, {"a": 1.0, "c": 2}) == ["c"]
    secret = {changes.SECRET_SIG: "1b47061264138c4ac30d75fd1eb44270", "ciphertext": "x"}
    assert changes.changed_paths({"k": secret}, {"k": "anything"}) == []
    # A previous plan --json report (a --state) shows secrets redacted.
    assert changes.changed_paths({"k": "[secret]"}, {"k": "anything"}) == []


def test_every_replacement_entry_cites_a_page():
    table = changes.replacements()
    assert len(table) >= 40
    for token, (inputs, source) in table.items():
        assert inputs and source.startswith("https://"), token


def test_plan_prints_and_writes_the_diff_against_an_edited_state(tmp_path, capsys):
    """End to end: plan --state with a state edited for all four kinds of change."""
    document = json.loads((REPO / "stacks/state/gcp-prod.json").read_text())
    resources = document["deployment"]["resources"]
    by_name = {r["urn"].rsplit("::", 1)[-1]: r for r in resources}
    resources.remove(by_name["mlops-training-nat"])  # create
    by_name["mlops-registry-models"]["inputs"]["labels"]["mlops-owner"] = "x"  # update
    by_name["mlops-artifacts-bucket"]["inputs"]["location"] = "EU"  # replace (protected)
    gone = copy.deepcopy(by_name["mlops-registry-models"])
    gone["urn"] = gone["urn"].replace("mlops-registry-models", "mlops-old-models")
    gone.pop("protect", None)  # an unprotected delete (a protected one has its own test)
    resources.append(gone)  # delete
    state = tmp_path / "state.json"
    state.write_text(json.dumps(document))
    report = tmp_path / "plan.json"
    code = plan("--stack", "gcp-prod", "--state", str(state), "--json", str(report), "-q")
    out = capsys.readouterr().out
    assert code == 1  # the protected replacement would fail the deploy
    written = json.loads(report.read_text())
    jsonschema.validate(written, json.loads((REPO / "docs/plan.schema.json").read_text()))
    actions = {r["name"]: r for r in written["changes"]["resources"]}
    assert actions["mlops-training-nat"]["action"] == "create"
    assert actions["mlops-registry-models"]["changedInputs"] == ["labels.mlops-owner"]
    assert actions["mlops-artifacts-bucket"]["replaceBecause"] == ["location"]
    assert actions["mlops-artifacts-bucket"]["protected"] is True
    assert actions["mlops-old-models"]["action"] == "delete"
    assert [e["rule"] for e in written["deployErrors"]] == [changes.PROTECT_RULE]
    counts = written["changes"]["counts"]
    (line,) = [ln for ln in out.splitlines() if ln.startswith("Changes against the state")]
    assert line == (
        f"Changes against the state: {counts['create']} to create, {counts['update']} to update, "
        f"1 to replace, 1 to delete, {counts['same']} unchanged"
    )


def _console_block(path: str, command: str) -> list[str]:
    """The output lines of the console block of ``path`` that starts with ``$ command``."""
    text = (REPO / path).read_text()
    block = text.split(f"$ {command}", 1)[1].split("\n```", 1)[0]
    return block.splitlines()[1:]


@pytest.mark.parametrize(
    ("path", "command", "argv"),
    [
        ("README.md", "make plan", ["--stack", "aws-dev"]),
        ("docs/plan.md", "mlops-iac plan --stack gcp-dev --quiet", ["--stack", "gcp-dev", "-q"]),
    ],
)
def test_the_documented_plan_output_is_what_plan_prints(path, command, argv, capsys):
    """Every shown line without an ellipsis is printed as shown (the diff and cost blocks)."""
    shown = [
        ln.split("#")[0].rstrip() if ln.startswith("$") else ln
        for ln in _console_block(path, command)
    ]
    assert plan(*argv) == 0
    printed = capsys.readouterr().out.splitlines()
    expected = [ln for ln in shown if "…" not in ln]
    assert any(ln.startswith("Always-on estimate:") for ln in expected)
    assert any(ln.startswith("Changes against the state:") for ln in expected)
    for line in expected:
        assert line in printed, line


def test_an_export_keeps_protect_and_deleting_a_protected_resource_is_refused(tmp_path):
    from mlops_iac.plan import bringup, deploy

    recording = reference_recording("gcp-prod")
    path = tmp_path / "state.json"
    path.write_text(json.dumps(bringup.export_document(bringup.state_after(recording, 1))))
    state = deploy.read_state(path)
    protected = {r.name for r in state.resources if r.protect}
    assert protected == {r.name for r in recording.resources if r.protect}
    assert "mlops-artifacts-bucket" in protected
    kept = [r for r in recording.resources if r.name != "mlops-artifacts-bucket"]
    diff = changes.diff(kept, state.resources, REPO)
    assert _change(diff, "mlops-artifacts-bucket").action == "delete"
    (error,) = diff.deploy_errors()
    assert (error.rule, error.resource_name, error.input) == (
        changes.PROTECT_RULE,
        "mlops-artifacts-bucket",
        "",
    )
    assert "would delete this protected resource" in error.message
