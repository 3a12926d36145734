from __future__ import annotations

import gc
import json
import re
import subprocess
import sys
import textwrap

import pulumi
import pulumi_aws as aws
import pytest

from mlops_iac.plan.engine import batched_gc
from mlops_iac.plan.testing import SECRET_PLACEHOLDER, ProgramError, Project, run, run_project
from tests.conftest import REPO


def test_records_parent_dependencies_and_invokes():
    def program():
        identity = aws.get_caller_identity()
        parent = pulumi.ComponentResource("test:index:Group", "group")
        key = aws.kms.Key("key", opts=pulumi.ResourceOptions(parent=parent))
        aws.kms.Alias(
            "alias",
            target_key_id=key.key_id,
            name="alias/x",
            opts=pulumi.ResourceOptions(parent=parent, protect=True),
        )
        pulumi.export("account", identity.account_id)
        pulumi.export("key_arn", key.arn)

    recording = run(program, config={"aws:region": "eu-west-1"})
    group = recording.named("group")
    key = recording.named("key")
    alias = recording.named("alias")
    assert not group.custom and key.custom
    assert key.parent == group.urn and alias.parent == group.urn
    assert recording.children_by_name(group) == {"key": key, "alias": alias}
    assert alias.property_dependencies["targetKeyId"] == [key.urn]
    assert key.urn in alias.dependencies
    assert alias.protect is True and key.protect is False
    assert alias.inputs["targetKeyId"] == key.outputs["keyId"]
    assert recording.exports == {
        "account": "123456789012",
        "key_arn": key.outputs["arn"],
    }
    assert key.outputs["arn"].startswith("arn:aws:kms:eu-west-1:123456789012:key/")
    assert recording.unmocked_invokes == []


def test_runs_are_isolated():
    def program():
        aws.s3.Bucket("only")

    first = run(program, config={"aws:region": "us-east-1"}, stack="a")
    second = run(program, config={"aws:region": "us-east-1"}, stack="b")
    assert len(first) == len(second) == 1
    assert first.resources[0].urn.startswith("urn:pulumi:a::")
    assert second.resources[0].urn.startswith("urn:pulumi:b::")


def test_gc_is_batched_during_a_run_and_restored_after():
    before = (gc.get_threshold(), gc.get_freeze_count())
    seen = []

    def program():
        seen.append((gc.get_threshold(), gc.get_freeze_count()))
        aws.s3.Bucket("only")

    def failing():
        program()
        raise ValueError("boom")

    run(program, config={"aws:region": "us-east-1"})
    with pytest.raises(ProgramError):
        run(failing, config={"aws:region": "us-east-1"})
    with batched_gc():
        outer = (gc.get_threshold(), gc.get_freeze_count())
        run(program, config={"aws:region": "us-east-1"})
        assert (gc.get_threshold(), gc.get_freeze_count()) == outer
    assert (gc.get_threshold(), gc.get_freeze_count()) == before
    for threshold, frozen in seen:
        assert threshold[0] >= 50_000
        assert threshold[1:] == before[0][1:]
        assert frozen > 0


def test_secure_config_reads_as_a_secret_placeholder():
    seen = {}

    def program():
        config = pulumi.Config("team")
        seen["token"] = config.get_secret("token")
        seen["object"] = config.get_object("settings")

    run(
        program,
        config={
            "team:token": {"secure": "AAEA"},
            "team:settings": {"url": {"secure": "AAEB"}, "n": 1},
        },
    )
    assert seen["object"] == {"url": SECRET_PLACEHOLDER, "n": 1}
    assert isinstance(seen["token"], pulumi.Output)


def test_program_errors_become_program_error():
    def program():
        raise pulumi.RunError("invalid stack file:\nmlops:platform.cloud: bad")

    with pytest.raises(ProgramError, match="mlops:platform.cloud: bad"):
        run(program)


def test_warnings_are_recorded():
    recording = run(lambda: pulumi.log.warn("careful"))
    assert recording.warnings == ["careful"]


def test_project_directory_and_missing_stack(tmp_path):
    (tmp_path / "Pulumi.yaml").write_text("name: team\nruntime: python\n")
    (tmp_path / "__main__.py").write_text(
        textwrap.dedent("""
        import pulumi
        import pulumi_aws as aws
        import helper
        bucket = aws.s3.Bucket(helper.NAME)
        pulumi.export("who", pulumi.Config().require("who"))
    """)
    )
    (tmp_path / "helper.py").write_text("NAME = 'from-helper'\n")
    (tmp_path / "Pulumi.dev.yaml").write_text("config:\n  who: me\n  aws:region: us-east-1\n")
    recording = run_project(tmp_path, "dev")
    assert recording.project == "team"
    assert recording.named("from-helper").type == "aws:s3/bucket:Bucket"
    assert recording.exports == {"who": "me"}
    assert Project.load(tmp_path).stacks() == ["dev"]
    with pytest.raises(
        ProgramError, match=r"no stack file .*Pulumi.prod.yaml \(known stacks: dev\)"
    ):
        run_project(tmp_path, "prod")


def test_root_program_runs_the_dev_stack():
    recording = run_project(REPO, "aws-dev")
    assert recording.project == "mlops-platform"
    assert recording.named("mlops").type == "mlops:index:MlopsStack"
    assert recording.exports["dvc_remote_url"].startswith("s3://mlops-artifacts-bucket-")
    bucket = recording.named("mlops-artifacts-bucket")
    assert bucket.inputs["tags"]["mlops:environment"] == "dev"


def test_root_program_rejects_a_bad_stack_file(tmp_path):
    bad = tmp_path / "Pulumi.bad.yaml"
    bad.write_text("config:\n  mlops:platform:\n    cloud: aws\n    environment: qa\n")
    with pytest.raises(ProgramError) as excinfo:
        run_project(REPO, "bad", config_file=bad)
    message = str(excinfo.value)
    assert "mlops:platform.environment: Input should be 'dev', 'staging' or 'prod'" in message
    assert "mlops:platform.project: required key is missing" in message
    assert "Traceback" not in message


def test_importing_the_engine_or_the_spec_loads_no_cloud_sdk():
    # One interpreter, one import after the other, each followed by a look at sys.modules: the
    # first package to load an SDK is the one named. (Each cloud's components loading no other
    # cloud's SDK is tests/test_import_footprint.py's first check.)
    code = (
        "import importlib, json, sys\n"
        "sdks = ('pulumi_aws', 'pulumi_azure_native', 'pulumi_gcp')\n"
        "found = {}\n"
        "for package in ('mlops_iac.plan.testing', 'mlops_iac.components.spec'):\n"
        "    importlib.import_module(package)\n"
        "    found[package] = [m for m in sdks if m in sys.modules]\n"
        "print(json.dumps(found))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True
    )
    assert json.loads(result.stdout) == {
        "mlops_iac.plan.testing": [],
        "mlops_iac.components.spec": [],
    }


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("config: [a\n  b: c\n", r"not valid YAML: .*\(line \d+, column \d+\)$"),
        ("- a\n- b\n", r"must be a mapping with a 'config' key$"),
        ("config: [1, 2]\n", r"'config' must be a mapping$"),
    ],
)
def test_bad_stack_files_give_one_line(tmp_path, content, message):
    (tmp_path / "Pulumi.yaml").write_text("name: team\nruntime: python\n")
    bad = tmp_path / "bad.yaml"
    bad.write_text(content)
    with pytest.raises(ProgramError) as excinfo:
        Project.load(tmp_path).read_config("dev", bad)
    assert "\n" not in str(excinfo.value)
    assert re.search(message, str(excinfo.value))


def test_missing_config_file_is_named(tmp_path):
    (tmp_path / "Pulumi.yaml").write_text("name: team\nruntime: python\n")
    with pytest.raises(ProgramError, match=r"config file .*gone.yaml does not exist"):
        Project.load(tmp_path).read_config("dev", tmp_path / "gone.yaml")
