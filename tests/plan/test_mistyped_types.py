"""Instance types the APIs enumerate: a typo is a deploy error that names the nearest value."""

from __future__ import annotations

from types import SimpleNamespace

from mlops_iac.plan.deploy import aws as aws_catalogue
from mlops_iac.plan.deploy import base, catalogue
from mlops_iac.plan.deploy.catalogue import Report
from mlops_iac.spec import gpu

NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
ENDPOINT_CONFIG = "aws:sagemaker/endpointConfiguration:EndpointConfiguration"


def _check(type_token: str, **inputs) -> Report:
    resource = SimpleNamespace(
        urn=f"urn:x::{type_token}::r", type=type_token, name="r", inputs=inputs
    )
    report = Report()
    aws_catalogue.check(resource, catalogue.catalogue("aws")[type_token], report)
    return report


def _node_group(*types: str) -> Report:
    return _check(
        NODE_GROUP,
        nodeGroupName="gpu",
        clusterName="c",
        nodeRoleArn="arn:aws:iam::123456789012:role/n",
        instanceTypes=list(types),
    )


def test_an_eks_node_group_instance_type_is_checked_against_ec2s_enum() -> None:
    [found] = _node_group("m5.large", "g5.xlarg").errors
    assert found.rule == "aws-api:ec2:InstanceType"
    assert found.input == "instanceTypes[1]" and found.value == "g5.xlarg"
    assert "did you mean 'g5.xlarge'?" in found.message
    enum = aws_catalogue.service_model("ec2")["shapes"]["InstanceType"]["enum"]
    assert f"is not one of the {len(enum)} values" in found.message


def test_every_gpu_node_type_of_the_catalogue_is_an_ec2_instance_type() -> None:
    aws_types = sorted({o.node_type for o in gpu.CATALOGUE.values() if o.cloud == "aws"})
    assert aws_types and _node_group(*aws_types).errors == []


def test_a_sagemaker_instance_type_typo_names_the_nearest() -> None:
    report = _check(
        ENDPOINT_CONFIG,
        name="cfg",
        productionVariants=[{"variantName": "v", "modelName": "m", "instanceType": "ml.m5.larg"}],
    )
    [found] = [e for e in report.errors if e.input == "productionVariants[0].instanceType"]
    assert "did you mean 'ml.m5.large'?" in found.message
    assert "ml.t2.medium" not in found.message  # hundreds of values are not listed
    ok = _check(
        ENDPOINT_CONFIG,
        name="cfg",
        productionVariants=[{"variantName": "v", "modelName": "m", "instanceType": "ml.m5.large"}],
    )
    assert not [e for e in ok.errors if "instanceType" in e.input]


def test_a_short_enum_is_still_listed_whole() -> None:
    assert base.value_problems("x", {"kind": "string", "enum": ["a", "b"]}, "r", Report()) == [
        "must be one of a, b"
    ]
