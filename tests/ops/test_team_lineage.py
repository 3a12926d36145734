"""A team program registers lineage with only the governance keys, not the whole platform."""

from __future__ import annotations

import json
import textwrap

import pytest

PROGRAM = """
import pulumi_aws as aws

from mlops_iac.components import lineage, spec

lineage.register_lineage_transform(spec.load_team_governance())
aws.sns.Topic("team-events", kms_master_key_id="alias/team")
"""

STACK = """
config:
  aws:region: us-east-1
  mlops:platform:
    project: fraud-team
    environment: staging
    owner: team@example.com
    costCenter: cc-42
    lineage:
      gitSha: 4f2c1e9
      datasetVersion: md5:0123456789abcdef
"""


def test_team_program_tags_with_governance_keys_only(cli, tmp_path) -> None:
    program = tmp_path / "team"
    program.mkdir()
    (program / "Pulumi.yaml").write_text("name: team\nruntime: python\n")
    (program / "__main__.py").write_text(textwrap.dedent(PROGRAM))
    (program / "Pulumi.staging.yaml").write_text(textwrap.dedent(STACK))
    report = tmp_path / "plan.json"
    code = cli("plan", "-s", "staging", "--project", program, "-q", "--json", report)
    assert code == 0, cli.out + cli.err
    # Judged by the stack name (no governance/settings.yaml beside the program), which agrees.
    assert "Environment: staging (from the stack name's suffix -staging)" in cli.out
    document = json.loads(report.read_text())
    topic = next(r for r in document["resources"] if r["type"] == "aws:sns/topic:Topic")
    assert topic["inputs"]["tags"]["mlops:project"] == "fraud-team"
    assert topic["inputs"]["tags"]["mlops:dataset-version"] == "md5:0123456789abcdef"


def test_team_governance_keys_are_validated(cli, tmp_path) -> None:
    program = tmp_path / "team"
    program.mkdir()
    (program / "Pulumi.yaml").write_text("name: team\nruntime: python\n")
    (program / "__main__.py").write_text("import pulumi\n")
    bad = textwrap.dedent(STACK).replace(
        "datasetVersion: md5:0123456789abcdef", 'datasetVersion: " "'
    )
    (program / "Pulumi.staging.yaml").write_text(bad)
    assert cli("plan", "-s", "staging", "--project", program, "-q") == 2
    assert "mlops:platform.lineage.datasetVersion" in cli.err


# --- every taggable type, in a team program ------------------------------------------------------

LINEAGE_KEYS = ("project", "environment", "owner", "cost-center", "git-sha", "dataset-version")
EVERY_KEY = ", ".join(f"mlops:{k}" for k in LINEAGE_KEYS)
TAGGED = "from mlops_iac.components import lineage, spec\n" + (
    "lineage.register_lineage_transform(spec.load_team_governance())\n"
)
BLANK_TAGS = {f"mlops:{k}": " " for k in LINEAGE_KEYS}
# GCP labels as the transform writes them (lowercase, `@` and `.` become `_`).
GCP_LABELS = {
    "mlops-project": "fraud-team",
    "mlops-environment": "prod",
    "mlops-owner": "team_example_com",
    "mlops-cost-center": "cc-42",
    "mlops-git-sha": "4f2c1e9",
    "mlops-dataset-version": "md5_0123456789abcdef",
}


def _plan(cli, tmp_path, body: str, environment: str = "prod") -> tuple[int, list[dict]]:
    """Plan a team program (``body``) in ``environment``; the exit code and its findings."""
    program = tmp_path / "team"
    program.mkdir(parents=True)
    (program / "Pulumi.yaml").write_text("name: team\nruntime: python\n")
    (program / "__main__.py").write_text(body)
    stack = textwrap.dedent(STACK).replace("environment: staging", f"environment: {environment}")
    stack = stack.replace("aws:region: us-east-1", "aws:region: us-east-1\n  gcp:project: p")
    (program / f"Pulumi.{environment}.yaml").write_text(stack)
    report = tmp_path / "plan.json"
    code = cli("plan", "-s", environment, "--project", program, "-q", "--json", report)
    assert report.exists(), cli.out + cli.err
    return code, json.loads(report.read_text())["violations"]


def _lineage(violations: list[dict]) -> dict[str, tuple[str, str]]:
    """Resource name -> (level, message) of each mlops-lineage-tags finding."""
    return {
        v["resourceName"]: (v["level"], v["message"])
        for v in violations
        if v["policy"] == "mlops-lineage-tags"
    }


def test_raw_sqs_queue_without_tags_fails_in_prod(cli, tmp_path) -> None:
    code, violations = _plan(cli, tmp_path, 'import pulumi_aws as aws\naws.sqs.Queue("raw")\n')
    assert code == 1
    assert _lineage(violations) == {
        "raw": ("mandatory", f"missing or empty lineage tags: {EVERY_KEY}")
    }


def test_raw_sqs_queue_without_tags_is_advisory_in_dev(cli, tmp_path) -> None:
    body = 'import pulumi_aws as aws\naws.sqs.Queue("raw")\n'
    code, violations = _plan(cli, tmp_path, body, environment="dev")
    assert code == 0
    assert _lineage(violations) == {
        "raw": ("advisory", f"missing or empty lineage tags: {EVERY_KEY}")
    }


def test_sqs_queue_tagged_by_the_lineage_transform_passes(cli, tmp_path) -> None:
    body = f'import pulumi_aws as aws\n{TAGGED}aws.sqs.Queue("raw")\n'
    code, violations = _plan(cli, tmp_path, body)
    assert (code, _lineage(violations)) == (0, {})


def test_blank_lineage_values_fail(cli, tmp_path) -> None:
    body = f'import pulumi_aws as aws\naws.sqs.Queue("raw", tags={BLANK_TAGS!r})\n'
    code, violations = _plan(cli, tmp_path, body)
    assert code == 1
    assert _lineage(violations) == {
        "raw": ("mandatory", f"missing or empty lineage tags: {EVERY_KEY}")
    }


def test_autoscaling_group_tag_list(cli, tmp_path) -> None:
    # Its tags are a list of {key, value, propagateAtLaunch}, not a map.
    group = 'aws.autoscaling.Group("asg", min_size=0, max_size=1{})\n'
    code, violations = _plan(cli, tmp_path / "raw", "import pulumi_aws as aws\n" + group.format(""))
    assert (code, set(_lineage(violations))) == (1, {"asg"})
    blank = [{"key": k, "value": v, "propagate_at_launch": True} for k, v in BLANK_TAGS.items()]
    body = f"import pulumi_aws as aws\n{TAGGED}" + group.format(f", tags={blank!r}")
    code, violations = _plan(cli, tmp_path / "blank", body)
    assert code == 1  # explicit blank values win over the transform's
    assert _lineage(violations) == {
        "asg": ("mandatory", f"missing or empty lineage tags: {EVERY_KEY}")
    }


def test_autoscaling_group_tagged_by_the_transform_passes(cli, tmp_path) -> None:
    body = (
        f'import pulumi_aws as aws\n{TAGGED}aws.autoscaling.Group("asg", min_size=0, max_size=1)\n'
    )
    code, violations = _plan(cli, tmp_path, body)
    assert (code, _lineage(violations)) == (0, {})


def test_non_taggable_type_stays_quiet(cli, tmp_path) -> None:
    body = (
        "import pulumi_aws as aws\n"
        'aws.iam.RolePolicyAttachment("attach", role="team-role", '
        'policy_arn="arn:aws:iam::aws:policy/ReadOnlyAccess")\n'
    )
    code, violations = _plan(cli, tmp_path, body)
    assert (code, violations) == (0, [])


def test_azure_native_resource_without_tags_fails_and_with_them_passes(cli, tmp_path) -> None:
    raw = 'import pulumi_azure_native as azure\nazure.resources.ResourceGroup("rg")\n'
    code, violations = _plan(cli, tmp_path / "raw", raw)
    assert code == 1
    assert _lineage(violations) == {
        "rg": ("mandatory", f"missing or empty lineage tags: {EVERY_KEY}")
    }
    tagged = f'import pulumi_azure_native as azure\n{TAGGED}azure.resources.ResourceGroup("rg")\n'
    code, violations = _plan(cli, tmp_path / "tagged", tagged)
    assert (code, _lineage(violations)) == (0, {})


def test_gcp_resource_without_labels_fails_and_with_them_passes(cli, tmp_path) -> None:
    sub = (
        'import pulumi_gcp as gcp\ngcp.pubsub.Subscription("sub", topic="projects/p/topics/t"{})\n'
    )
    code, violations = _plan(cli, tmp_path / "raw", sub.format(""))
    assert code == 1
    assert _lineage(violations) == {
        "sub": ("mandatory", f"missing or empty lineage tags: {EVERY_KEY}")
    }
    code, violations = _plan(cli, tmp_path / "labelled", sub.format(f", labels={GCP_LABELS!r}"))
    assert (code, _lineage(violations)) == (0, {})


# --- serving types the approval gate used to skip ------------------------------------------------

SERVING = {
    # The red-team probes: v8 is approved by nobody, and no mlops:model tag says what is served.
    "azure-online-deployment": (
        "import pulumi_azure_native as az\n"
        "az.machinelearningservices.OnlineDeployment('fraud-v8', endpoint_name='fraud',\n"
        "    resource_group_name='rg', workspace_name='ws', properties={\n"
        "        'endpoint_compute_type': 'Managed', 'model': 'azureml:fraud-detector:8',\n"
        "        'instance_type': 'Standard_DS3_v2'})\n",
        "no approval is recorded for model 'fraud-detector' version '8'",
    ),
    "gcp-model-garden": (
        "import pulumi_gcp as gcp\n"
        "gcp.vertex.AiEndpointWithModelGardenDeployment('garden', location='us-central1',\n"
        "    publisher_model_name='publishers/google/models/gemma3@gemma-3-1b-it')\n",
        "no approval is recorded for model 'gemma3' version 'gemma-3-1b-it'",
    ),
    "azure-serverless": (
        "import pulumi_azure_native as az\n"
        "az.machinelearningservices.ServerlessEndpoint('llm', resource_group_name='rg',\n"
        "    workspace_name='ws', sku={'name': 'Consumption'}, properties={\n"
        "        'auth_mode': 'Key', 'model_settings': {\n"
        "            'model_id': 'azureml://registries/azureml-meta/models/Llama-2-7b'}})\n",
        "which names no model version",
    ),
    "sagemaker-serverless-config": (
        "import pulumi_aws as aws\n"
        "aws.sagemaker.EndpointConfiguration('cfg', production_variants=[{\n"
        "    'variant_name': 'v', 'model_name': 'anything',\n"
        "    'serverless_config': {'max_concurrency': 1, 'memory_size_in_mb': 2048}}])\n",
        "cannot tell which model this serves",
    ),
}


@pytest.mark.parametrize(("body", "problem"), SERVING.values(), ids=SERVING)
def test_a_team_program_serving_an_unapproved_model_fails_in_prod(
    cli, tmp_path, body: str, problem: str
) -> None:
    code, violations = _plan(cli, tmp_path, TAGGED + body)
    assert "Traceback" not in cli.err
    gate = [v for v in violations if v["policy"] == "mlops-approval-gate"]
    assert code == 1
    assert len(gate) == 1 and gate[0]["level"] == "mandatory", gate
    assert problem in gate[0]["message"]


# --- generic resources that would create governed objects unseen ---------------------------------

GENERIC = {
    "cloudcontrol": (
        "import json, pulumi_aws as aws\n"
        "aws.cloudcontrol.Resource('open-bucket', type_name='AWS::S3::Bucket',\n"
        "    desired_state=json.dumps({'PublicAccessBlockConfiguration': {\n"
        "        'BlockPublicAcls': False, 'BlockPublicPolicy': False}}))\n",
        "Resource 'open-bucket' creates any CloudFormation type, from desiredState",
    ),
    "cloudformation": (
        "import pulumi_aws as aws\n"
        "aws.cloudformation.Stack('wrapped',\n"
        '    template_body=\'{"Resources": {"B": {"Type": "AWS::S3::Bucket"}}}\')\n',
        "Stack 'wrapped' creates the resources of a CloudFormation template",
    ),
    "azure-generic": (
        "import pulumi_azure_native as az\n"
        "az.resources.Resource('store', resource_group_name='rg',\n"
        "    resource_provider_namespace='Microsoft.Storage', resource_type='storageAccounts',\n"
        "    resource_name_='openstore', parent_resource_path='', api_version='2023-01-01',\n"
        "    properties={'allowBlobPublicAccess': True, 'supportsHttpsTrafficOnly': False})\n",
        "Resource 'store' creates any Azure resource type",
    ),
    "arm-template": (
        "import pulumi_azure_native as az\n"
        "az.resources.Deployment('arm', resource_group_name='rg', properties={\n"
        "    'mode': 'Incremental', 'template': {'resources': [{\n"
        "        'type': 'Microsoft.Storage/storageAccounts', 'name': 'open',\n"
        "        'apiVersion': '2023-01-01', 'properties': {'allowBlobPublicAccess': True}}]}})\n",
        "not an AzureML online endpoint",
    ),
    "deployment-manager": (
        "import pulumi_gcp as gcp\n"
        "gcp.deploymentmanager.Deployment('dm', target={'config': {'content':\n"
        "    'resources: [{name: b, type: storage.v1.bucket}]'}})\n",
        "Deployment 'dm' creates the resources of a Deployment Manager config",
    ),
}


@pytest.mark.parametrize(("body", "problem"), GENERIC.values(), ids=GENERIC)
@pytest.mark.parametrize(("environment", "exit_code", "level"), [
    ("prod", 1, "mandatory"), ("staging", 1, "mandatory"), ("dev", 0, "advisory"),
])  # fmt: skip
def test_a_generic_resource_is_refused_where_rules_are_mandatory(
    cli, tmp_path, body: str, problem: str, environment: str, exit_code: int, level: str
) -> None:
    code, violations = _plan(cli, tmp_path, TAGGED + body, environment)
    assert "Traceback" not in cli.err
    found = [v for v in violations if v["policy"] == "mlops-generic-resources"]
    assert len(found) == 1 and found[0]["level"] == level, found
    assert problem in found[0]["message"]
    assert code == exit_code
