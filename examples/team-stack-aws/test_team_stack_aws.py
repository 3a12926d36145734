"""The AWS team program under the offline engine: what it creates, its tags, and its plan."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops_iac.cli.main import main
from mlops_iac.plan.testing import Recording

HERE = Path(__file__).resolve().parent
STACK_TYPE = "pulumi:pulumi:Stack"
LINEAGE = {
    "mlops:project": "fraud-serving",
    "mlops:owner": "fraud-team@example.com",
    "mlops:cost-center": "cc-2001",
    "mlops:git-sha": "9c1e7a2",
    "mlops:dataset-version": "md5:5d41402abc4b2a76b9719d911017c592",
}
QUEUE = "aws:sqs/queue:Queue"


@pytest.fixture
def dev(offline) -> Recording:
    # `offline` is the fixture mlops-iac's pytest plugin installs: no CLI, no cloud.
    return offline.run_project(HERE, "dev")


@pytest.fixture
def prod(offline) -> Recording:
    return offline.run_project(HERE, "prod")


def _top_level(recording: Recording) -> list[tuple[str, str]]:
    return sorted(
        (r.type, r.name) for r in recording if r.parent and r.parent.split("::")[2] == STACK_TYPE
    )


def test_components_are_used_directly_plus_one_team_resource(dev):
    assert _top_level(dev) == [
        (QUEUE, "inference-requests"),
        ("mlops:aws:AlertChannel", "fraud-alerts"),
        ("mlops:aws:ArtifactStore", "fraud-artifacts"),
        ("mlops:aws:DriftJob", "fraud-drift"),
        ("mlops:aws:ModelRegistry", "fraud-registry"),
        ("mlops:aws:ServingEndpoint", "fraud-serving"),
    ]
    assert not dev.of_type("mlops:index:MlopsStack")
    assert not dev.of_type("mlops:aws:TrainingCluster")  # the team does not train here
    assert len(dev) == 59  # 43 + the drift job (its 15 children, its own retraining topic)


def test_team_queue_gets_lineage_tags_from_the_transform(dev):
    [queue] = dev.of_type(QUEUE)
    assert queue.inputs["tags"] == {**LINEAGE, "mlops:environment": "dev"}
    # Encrypted with the artifact store's key, not an AWS-managed one.
    [store_key] = [k for k in dev.of_type("aws:kms/key:Key") if k.name == "fraud-artifacts-key"]
    assert queue.inputs["kmsMasterKeyId"] == store_key.outputs["arn"]
    assert dev.exports["inference_queue_arn"] == queue.outputs["arn"]


def test_every_tagged_resource_carries_the_full_lineage(dev):
    tagged = [r for r in dev if r.custom and "tags" in r.inputs]
    assert len(tagged) >= 20
    for resource in tagged:
        tags = resource.inputs["tags"]
        missing = {k: v for k, v in LINEAGE.items() if tags.get(k) != v}
        assert not missing, f"{resource.type} {resource.name}: {missing}"


def test_endpoint_and_models_are_tagged_with_their_version(dev):
    [endpoint] = dev.of_type("aws:sagemaker/endpoint:Endpoint")
    assert endpoint.inputs["tags"]["mlops:model"] == "fraud-detector"
    assert endpoint.inputs["tags"]["mlops:model-version"] == "8"
    assert endpoint.inputs["tags"]["mlops:approved-by"] == "none"  # dev: no approval needed
    models = {
        m.name: m.inputs["tags"]["mlops:model-version"]
        for m in dev.of_type("aws:sagemaker/model:Model")
    }
    assert models == {"fraud-serving-model-v8": "8", "fraud-serving-model-v7": "7"}
    assert dev.exports["active_model_version"] == "8"
    assert dev.exports["previous_model_version"] == "7"


def test_prod_records_the_approval_isolates_and_protects(prod):
    [endpoint] = prod.of_type("aws:sagemaker/endpoint:Endpoint")
    assert endpoint.inputs["tags"]["mlops:approved-by"] == "jane@example.com"
    assert endpoint.inputs["tags"]["mlops:approval-ticket"] == "CHG-2417"
    for model in prod.of_type("aws:sagemaker/model:Model"):
        assert model.inputs["enableNetworkIsolation"] is True
        assert model.inputs["vpcConfig"]["subnets"] == [
            "subnet-0a1b2c3d4e5f60001",
            "subnet-0a1b2c3d4e5f60002",
        ]
    protected = {(r.type, r.name) for r in prod if r.protect}
    assert ("aws:s3/bucket:Bucket", "fraud-artifacts-bucket") in protected
    assert ("aws:kms/key:Key", "fraud-artifacts-key") in protected


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_plan_passes(stack, capsys):
    code = main(["plan", "--stack", stack, "--project", str(HERE), "--quiet", "--no-color"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "PASS: no mandatory violation, 0 advisory" in out
