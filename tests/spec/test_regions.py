"""Regions a stack names: the lists, their sources, and the did-you-mean for each cloud."""

from __future__ import annotations

import json
import re
from pathlib import Path

import botocore
import pytest
import yaml

from mlops_iac.plan import service
from mlops_iac.plan.deploy import aws as deploy_aws
from mlops_iac.spec import regions, suggest
from tests.conftest import STACKS, stack_config

REFERENCE_STACKS = sorted(
    p.name[len("Pulumi.") : -len(".yaml")] for p in STACKS.glob("Pulumi.*.yaml")
)


def test_the_six_reference_stacks_name_known_regions_and_instance_types() -> None:
    assert len(REFERENCE_STACKS) == 6
    for stack in REFERENCE_STACKS:
        config = stack_config(stack)
        assert regions.misspelled_keys(config) == [], stack
        assert regions.unknown_regions(config) == [], stack
        assert service._instance_type_problems(config["mlops:platform"]) == [], stack


def test_aws_regions_are_botocores_partitions_without_pseudo_regions() -> None:
    data = json.loads((Path(botocore.__file__).parent / "data" / "partitions.json").read_text())
    expected = {r for p in data["partitions"] for r in p["regions"] if not r.endswith("-global")}
    known = regions.known("aws")
    assert known is not None
    assert known.names == expected
    assert {"us-east-1", "eu-west-1", "cn-north-1", "us-gov-west-1"} <= known.names
    assert "aws-global" not in known.names
    assert known.source == f"botocore {botocore.__version__} partitions.json"


def test_the_azure_and_gcp_lists_are_well_formed_and_sourced() -> None:
    data = yaml.safe_load((Path(regions.__file__).with_name("regions.yaml")).read_text())
    assert set(data) == {"azure", "gcp"}
    shapes = {"azure": r"^[a-z]+[a-z0-9]*$", "gcp": r"^[a-z]+-[a-z]+[0-9]+$"}
    for cloud, entry in data.items():
        assert entry["source"].startswith("https://"), cloud
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(entry["read"])), cloud
        names = entry["regions"]
        assert len(names) == len(set(names)) >= 40, cloud
        assert all(re.match(shapes[cloud], n) for n in names), cloud
    assert {"eastus", "westeurope", "swedencentral"} <= set(data["azure"]["regions"])
    assert {"us-central1", "europe-west4", "asia-southeast1"} <= set(data["gcp"]["regions"])


@pytest.mark.parametrize(
    ("key", "value", "guess"),
    [
        ("aws:region", "us-esat-1", "us-east-1"),  # two letters swapped: not us-west-1
        ("aws:region", "ap-southeast-22", "ap-southeast-2"),
        ("azure-native:location", "westeruope", "westeurope"),
        ("azure-native:location", "swedencentrl", "swedencentral"),
        ("gcp:region", "us-centrl1", "us-central1"),
        ("gcp:region", "europe-wset4", "europe-west4"),
        ("gcp:zone", "us-centrl1-a", "us-central1-a"),
    ],
)
def test_a_misspelled_region_fails_with_the_suggestion(key: str, value: str, guess: str) -> None:
    [(path, message)] = regions.unknown_regions({key: value})
    assert path == key
    assert f"{value!r}" in message and f"did you mean {guess!r}?" in message
    assert "--allow-unknown-region" in message


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("aws:region", "us-east-1"),
        ("aws:region", "cn-northwest-1"),
        ("azure-native:location", "eastus2"),
        ("azure-native:location", "East US 2"),  # the display name is the same region
        ("gcp:region", "us-central1"),
        ("gcp:zone", "europe-west4-b"),
    ],
)
def test_a_known_region_is_quiet(key: str, value: str) -> None:
    assert regions.unknown_regions({key: value}) == []


def test_nothing_close_gives_no_guess() -> None:
    [(_, message)] = regions.unknown_regions({"aws:region": "mars-north-9"})
    assert "did you mean" not in message and "'mars-north-9'" in message


def test_platform_region_settings_are_checked() -> None:
    config = {
        "mlops:platform": {"cloud": "aws", "artifacts": {"replicaRegion": "us-wset-2"}},
    }
    [(path, message)] = regions.unknown_regions(config)
    assert path == "mlops:platform.artifacts.replicaRegion"
    assert "did you mean 'us-west-2'?" in message
    gcp = {"mlops:platform": {"cloud": "gcp", "gcp": {"gpuZones": ["us-central1-a", "uscentral1"]}}}
    [(path, message)] = regions.unknown_regions(gcp)
    assert path == "mlops:platform.gcp.gpuZones[1]" and "is not a zone" in message
    ok = {"mlops:platform": {"cloud": "gcp", "gcp": {"gpuZones": ["us-central1-a"]}}}
    assert regions.unknown_regions(ok) == []


def test_a_misspelled_region_key_is_named() -> None:
    assert regions.misspelled_keys({"aws:regoin": "us-east-1"}) == [
        ("aws:regoin", "unknown key; did you mean 'aws:region'?")
    ]
    assert regions.misspelled_keys({"gcp:zoen": "us-central1-a"}) == [
        ("gcp:zoen", "unknown key; did you mean 'gcp:zone'?")
    ]
    # Other provider settings are the provider's business.
    assert regions.misspelled_keys({"aws:profile": "x", "gcp:project": "p", "mlops:x": 1}) == []


def test_sagemaker_instance_types_come_from_the_botocore_enum() -> None:
    model = deploy_aws.service_model("sagemaker")
    assert model is not None
    accepted = model["shapes"]["ProductionVariantInstanceType"]["enum"]
    assert "ml.m5.large" in accepted
    message = deploy_aws.enum_problem(deploy_aws.SERVING_INSTANCE_TYPE, "ml.m5.larg")
    assert message is not None
    assert "did you mean 'ml.m5.large'?" in message
    assert f"{len(accepted)} accepted" in message and "ProductionVariantInstanceType" in message
    assert deploy_aws.enum_problem(deploy_aws.SERVING_INSTANCE_TYPE, "ml.m5.large") is None
    platform = {"cloud": "aws", "serving": {"instanceType": "ml.g5.xlarg"}}
    [(path, text)] = service._instance_type_problems(platform)
    assert path == "mlops:platform.serving.instanceType" and "'ml.g5.xlarge'" in text
    # Azure's and GCP's serving types are not SageMaker's.
    [(_, azure)] = service._instance_type_problems({**platform, "cloud": "azure"})
    assert "Azure VM size" in azure and "sagemaker" not in azure


def test_suggestions_count_a_swap_as_one_edit() -> None:
    assert suggest.closest("us-esat-1", ["us-east-1", "us-west-1"]) == "us-east-1"
    assert suggest.closest("abc", ["xyz"]) is None
    assert suggest.closest("", []) is None
