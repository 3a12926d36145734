"""Red-team probes after issue 24: each test asserts the SAFE behaviour, so a failure is a bypass.

The attacker authors a stack file, a team program or a file beside them; never governance/,
state/, policies/ or .ci/, and holds no approver's private key.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import yaml

from mlops_iac.components import stackyaml
from mlops_iac.policies import governance
from mlops_iac.spec.identities import impostor, looks_alike
from tests.conftest import REPO

PROD = REPO / "stacks" / "Pulumi.aws-prod.yaml"

TEAM_GOVERNANCE = """
config:
  aws:region: us-east-1
  mlops:platform:
    project: fraud-team
    environment: prod
    owner: team@example.com
    costCenter: cc-42
    lineage:
      gitSha: 4f2c1e9
      datasetVersion: md5:0123456789abcdef
"""

TAGGED = (
    "from mlops_iac.components import lineage, spec\n"
    "lineage.register_lineage_transform(spec.load_team_governance())\n"
)


def _team(tmp_path: Path, body: str, stack: str = "prod", manifest: str = "") -> Path:
    program = tmp_path / "team"
    program.mkdir(exist_ok=True)
    (program / "Pulumi.yaml").write_text(manifest or "name: team\nruntime: python\n")
    (program / "__main__.py").write_text(textwrap.dedent(body))
    (program / f"Pulumi.{stack}.yaml").write_text(textwrap.dedent(TEAM_GOVERNANCE))
    return program


def _prod_with(tmp_path: Path, edit) -> Path:
    """aws-prod's stack file after ``edit(platform)``, as a --config-file."""
    data = yaml.safe_load(PROD.read_text())
    edit(data["config"]["mlops:platform"])
    path = tmp_path / "Pulumi.aws-prod.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _plan_prod(cli, config_file: Path, *extra) -> int:
    return cli(
        "plan", "-s", "aws-prod", "--project", REPO, "--config-file", config_file, "-q", *extra
    )


# --- approval gate: what the approval binds -------------------------------------------------------


def test_an_approved_version_label_cannot_carry_other_artifacts(cli, tmp_path) -> None:
    """Approval of fraud-detector v7 is signed over (model, version, ticket, date, approver) only.
    The stack file's author keeps version "7" and points artifactUri/image at unapproved v8."""

    def swap(platform):
        model = platform["serving"]["model"]
        model["artifactUri"] = "s3://fraud-detection-models/fraud-detector/8/model.tar.gz"

    code = _plan_prod(cli, _prod_with(tmp_path, swap))
    assert code != 0, "v8's artifact serves in prod under v7's approval"


# --- approval gate: serving types it skips --------------------------------------------------------


AZURE_DEPLOYMENT = (
    TAGGED
    + """
import pulumi_azure_native as az
az.machinelearningservices.OnlineDeployment(
    "fraud-v8",
    endpoint_name="fraud",
    resource_group_name="rg",
    workspace_name="ws",
    properties={
        "endpoint_compute_type": "Managed",
        "model": "azureml:fraud-detector:8",
        "instance_type": "Standard_DS3_v2",
    },
)
"""
)

GCP_GARDEN = (
    TAGGED
    + """
import pulumi_gcp as gcp
gcp.vertex.AiEndpointWithModelGardenDeployment(
    "fraud-v8",
    location="us-central1",
    publisher_model_name="publishers/google/models/gemma3@gemma-3-1b-it",
)
"""
)


@pytest.mark.parametrize("body", [AZURE_DEPLOYMENT, GCP_GARDEN], ids=["azure-deploy", "gcp-garden"])
def test_a_team_program_serving_an_unapproved_model_in_prod_fails(cli, tmp_path, body) -> None:
    stack = TEAM_GOVERNANCE
    if "gcp" in body:
        stack = stack.replace("aws:region: us-east-1", "gcp:project: p\n  gcp:region: us-central1")
    else:
        stack = stack.replace("aws:region: us-east-1", "azure-native:location: westeurope")
    program = _team(tmp_path, body)
    (program / "Pulumi.prod.yaml").write_text(textwrap.dedent(stack))
    code = cli("plan", "-s", "prod", "--project", program, "-q")
    assert "Traceback" not in cli.err
    assert code == 1, "a model without an approval serves in prod: " + cli.out[-600:]


# --- generic resources that create governed cloud objects ----------------------------------------

CLOUDCONTROL = """
import json
import pulumi_aws as aws
aws.cloudcontrol.Resource(
    "open-bucket",
    type_name="AWS::S3::Bucket",
    desired_state=json.dumps({"BucketName": "wide-open", "PublicAccessBlockConfiguration": {
        "BlockPublicAcls": False, "BlockPublicPolicy": False}}),
)
"""

CLOUDFORMATION = (
    TAGGED
    + """
import pulumi_aws as aws
aws.cloudformation.Stack(
    "wrapped",
    template_body='{"Resources": {"B": {"Type": "AWS::S3::Bucket"}}}',
)
"""
)

AZURE_GENERIC = (
    TAGGED
    + """
import pulumi_azure_native as az
az.resources.Resource(
    "generic-storage",
    resource_group_name="rg",
    resource_provider_namespace="Microsoft.Storage",
    resource_type="storageAccounts",
    resource_name_="openstore",
    parent_resource_path="",
    api_version="2023-01-01",
    properties={"allowBlobPublicAccess": True, "supportsHttpsTrafficOnly": False},
)
"""
)


@pytest.mark.parametrize(
    "body",
    [CLOUDCONTROL, CLOUDFORMATION, AZURE_GENERIC],
    ids=["cloudcontrol", "cloudformation", "azure-generic"],
)
def test_a_generic_resource_cannot_create_an_ungoverned_bucket_in_prod(cli, tmp_path, body) -> None:
    program = _team(tmp_path, body)
    if "azure" in body:
        (program / "Pulumi.prod.yaml").write_text(
            textwrap.dedent(TEAM_GOVERNANCE).replace(
                "aws:region: us-east-1", "azure-native:location: westeurope"
            )
        )
    code = cli("plan", "-s", "prod", "--project", program, "-q")
    assert "Traceback" not in cli.err
    assert code == 1, "an untagged/unencrypted/public store passes prod: " + cli.out[-600:]


# --- waiver patterns that are unbounded in practice ----------------------------------------------


@pytest.mark.parametrize("pattern", ["urn:*", "urn:pulumi:*", "*pulumi*", "*urn*", "*aws*"])
def test_a_pattern_matching_every_urn_is_refused(pattern) -> None:
    # Each has <= 3 '*' and >= 3 letters or digits, yet matches every resource of an AWS stack.
    urns = [
        "urn:pulumi:aws-prod::mlops-platform::aws:s3/bucketV2:BucketV2::artifacts",
        "urn:pulumi:aws-prod::mlops-platform::aws:kms/key:Key::artifacts-key",
    ]
    assert all(governance.glob_match(pattern, u) for u in urns)
    assert governance.pattern_problem(pattern) is not None, f"{pattern!r} waives every resource"


# --- saved state through the team's own Pulumi.yaml ----------------------------------------------


def test_state_dir_through_a_symlinked_parent_is_refused(tmp_path) -> None:
    from mlops_iac.components.testing.engine import ProgramError, Project

    outside = tmp_path / "attacker"
    (outside / "state").mkdir(parents=True)
    (outside / "state" / "prod.json").write_text("{}")
    program = tmp_path / "team"
    program.mkdir()
    (program / "cfg").symlink_to(outside)
    (program / "Pulumi.yaml").write_text("name: team\nruntime: python\nstackConfigDir: cfg\n")
    with pytest.raises(ProgramError):
        Project.load(program).saved_state("prod")


# --- stack-file key spellings -------------------------------------------------------------------

SPELLINGS = {
    "explicit-key": "? mlops:platform\n: {environment: dev}\n",
    "str-tag": "!!str mlops:platform: {environment: dev}\n",
    "hex-escape": '"mlops:\\x70latform": {environment: dev}\n',
    "utf32-escape": '"mlops:\\U00000070latform": {environment: dev}\n',
    "config-spelling": "mlops:config:platform: {environment: dev}\n",
    "upper-ns": "MLOPS:platform: {environment: dev}\n",
    "bare": "platform: {environment: dev}\n",
    "single-quoted": "'mlops:platform': {environment: dev}\n",
}


@pytest.mark.parametrize("second", SPELLINGS.values(), ids=SPELLINGS.keys())
def test_a_second_platform_key_in_any_spelling_is_refused(second) -> None:
    text = "config:\n  mlops:platform: {environment: prod}\n" + textwrap.indent(second, "  ")
    with pytest.raises(stackyaml.StackYamlError):
        stackyaml.load(text.encode(), project="mlops")


@pytest.mark.parametrize(
    "text",
    [
        "config: {a: 1}\n---\nconfig: {mlops:platform: {environment: dev}}\n",
        "config: &c {mlops:platform: {environment: prod}}\nother: *c\n",
        "config:\n  ? [a, b]\n  : 1\n",
        "%YAML 1.1\n---\nconfig: {}\n",
        "%TAG !e! tag:yaml.org,2002:\n---\nconfig: {mlops:platform: !e!python/none x}\n",
    ],
    ids=["second-doc", "alias", "complex-key", "directive", "tag-directive"],
)
def test_odd_yaml_is_refused_or_harmless(text) -> None:
    try:
        data = stackyaml.load(text.encode(), project="mlops")
    except stackyaml.StackYamlError:
        return
    platform = (data or {}).get("config", {}).get("mlops:platform")
    assert not (isinstance(platform, dict) and platform.get("environment") == "dev"), data


def test_pulumi_yaml_project_config_is_not_ignored(cli, tmp_path) -> None:
    """Pulumi merges a project-level ``config:`` block of Pulumi.yaml into every stack; a plan
    that ignores it judges a program other than the one ``pulumi up`` runs."""
    body = TAGGED + (
        "import pulumi, pulumi_aws as aws\n"
        "cfg = pulumi.Config()\n"
        "if cfg.get('public') == 'yes':\n"
        "    aws.s3.BucketV2('open')\n"
    )
    manifest = "name: team\nruntime: python\nconfig:\n  team:public: yes\n"
    program = _team(tmp_path, body, manifest=manifest)
    (program / "Pulumi.prod.yaml").write_text(textwrap.dedent(TEAM_GOVERNANCE))
    code = cli("plan", "-s", "prod", "--project", program, "-q")
    assert code != 0 or "public" in cli.err, "Pulumi.yaml config defaults are invisible to plan"


# --- identities ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "owner"),
    [
        ("jane@example.com", "jane@example.com."),
        ("jane@example.com", '"jane"@example.com'),
        ("jane@example.com", "𝚓𝚊𝚗𝚎@example.com"),
        ("jane@example.com", "ꭻane@example.com"),
        ("jane@example.com", "jane@ｅxample.com"),
    ],
)
def test_owner_spellings_of_the_approver_look_alike(who, owner) -> None:
    assert looks_alike(who, owner), f"{owner!r} does not look like {who!r}"


def test_impostor_of_a_listed_approver(tmp_path) -> None:
    assert impostor("jane@example.com.", ["jane@example.com"]) is not None


# --- CLI robustness -----------------------------------------------------------------------------


def test_docs_url_with_control_chars_is_ignored(cli, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("MLOPS_IAC_DOCS_URL", "https://docs.example.com/\x1b[31m")
    assert cli("policies", "--json") == 0
    assert "\x1b" not in cli.out


@pytest.mark.parametrize("option", ["--json", "--sarif", "--junit", "--write-policy-config"])
def test_plan_reports_are_never_written_through_a_symlink(cli, tmp_path, option) -> None:
    """A committed ``plan.sarif -> ~/.bashrc`` (dangling here) in the checkout CI runs in."""
    target = tmp_path / "outside" / "victim"
    target.parent.mkdir()
    link = tmp_path / "plan.out"
    link.symlink_to(target)
    code = cli("plan", "-s", "aws-dev", "--project", REPO, "-q", option, link)
    assert not target.exists(), f"{option} wrote through a symlink (exit {code})"
    assert code == 2


def test_stack_name_with_path_separator(cli, tmp_path) -> None:
    code = cli("plan", "-s", "../stacks/Pulumi.aws-dev", "--project", REPO, "-q")
    assert code == 2
    assert "Traceback" not in cli.err


def test_policy_pack_out_through_symlink(cli, tmp_path) -> None:
    target = tmp_path / "victim"
    target.mkdir()
    link = tmp_path / "out"
    link.symlink_to(target)
    code = cli("policy-pack", "--out", link)
    assert code == 2, cli.out + cli.err
    assert not any(target.iterdir())
