"""The approval gate sees every type that serves or deploys a model, whatever its tags say.

A serving resource in production must say which model version it serves (tags, or properties
that name the model and a pinned version); where tags and properties both say, they must agree.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from mlops_iac.policies import packs
from mlops_iac.policies.rules.approval import SERVING_TYPES

from . import baseline
from .baseline import Rec, Res

GATE = "mlops-approval-gate"
APPROVED = {
    "mlops:model": "fraud-detector",
    "mlops:model-version": "7",
    "mlops:approved-by": "jane@example.com",
    "mlops:approval-ticket": "CHG-1234",
}


def _gcp(tags: dict[str, str]) -> dict[str, str]:
    """Tags as the lineage transform writes GCP labels."""
    return {k.replace(":", "-"): v.replace("@", "_").replace(".", "_") for k, v in tags.items()}


def serving(
    type_: str, inputs: dict[str, Any] | None = None, *, model: bool = False, chain: str = ""
) -> Res:
    """A serving resource with the stack's lineage tags (and the approved model's, if asked)."""
    tags = baseline.lineage_tags("prod", **(APPROVED if model else {}))
    inputs = copy.deepcopy(inputs or {})
    if type_.startswith("gcp:cloudrun/"):
        inputs.setdefault("metadata", {})["labels"] = _gcp(tags)
    elif type_.startswith("gcp:"):
        inputs["labels"] = _gcp(tags)
    else:
        inputs["tags"] = tags
    return Res(
        urn=f"urn:pulumi:x-prod::proj::{chain}{type_}::served",
        type=type_,
        name="served",
        parent=None,
        inputs=inputs,
        outputs={"id": "served-id", **copy.deepcopy(inputs)},
    )


def gate(resource: Res, environment: str = "prod") -> list[str]:
    recording = Rec([resource], {}, f"x-{environment}", "proj")
    result = packs.evaluate(recording, baseline.config(environment), environment=environment)
    return [v.message for v in result.violations if v.policy == GATE]


ALWAYS = sorted(t for t, s in SERVING_TYPES.items() if s.always)
ROUTERS = sorted(t for t, s in SERVING_TYPES.items() if not s.always)


@pytest.mark.parametrize("type_", ALWAYS)
def test_a_serving_type_that_names_no_model_fails_in_prod(type_: str) -> None:
    # Only the lineage transform's tags: nothing says what is served. It used to pass unseen.
    (message,) = gate(serving(type_))
    assert message.startswith("cannot tell which model this serves: tags mlops:model and")


@pytest.mark.parametrize("type_", ALWAYS)
def test_a_serving_type_is_not_gated_in_dev(type_: str) -> None:
    assert gate(serving(type_), "dev") == []


@pytest.mark.parametrize("type_", ALWAYS)
def test_a_serving_type_tagged_with_an_approved_version_passes(type_: str) -> None:
    resource = serving(type_, model=True)
    assert gate(resource) == []
    tags = resource.inputs.get("tags") or resource.inputs.get("labels")
    if tags is not None:  # a type without tags cannot lie about its model
        tags["mlops-model-version" if "mlops-model-version" in tags else "mlops:model-version"] = (
            "8"
        )
        resource.outputs = copy.deepcopy(resource.inputs)
        assert gate(resource) == ["no approval is recorded for model 'fraud-detector' version '8'"]


@pytest.mark.parametrize("type_", ROUTERS)
def test_endpoints_that_serve_nothing_of_their_own_are_not_gated(type_: str) -> None:
    # An AzureML endpoint routes to deployments (gated themselves); Cloud Run runs other services.
    assert gate(serving(type_)) == []


@pytest.mark.parametrize(
    "type_", ["gcp:cloudrunv2/service:Service", "gcp:cloudrun/service:Service"]
)
def test_cloud_run_of_a_serving_component_is_gated_without_labels(type_: str) -> None:
    # A team program passing tags=None to mlops' ServingEndpoint still serves a model.
    resource = serving(type_, chain="mlops:gcp:ServingEndpoint$")
    (message,) = gate(resource)
    assert message.startswith("cannot tell which model this serves")


ONLINE = "azure-native:machinelearningservices:OnlineDeployment"


@pytest.mark.parametrize(
    "model",
    [
        "azureml:fraud-detector:7",
        "azureml://registries/reg/models/fraud-detector/versions/7",
        "azureml://locations/eastus/workspaces/ws/models/fraud-detector/versions/7",
        "/subscriptions/s/resourceGroups/rg/providers/Microsoft.MachineLearningServices/"
        "workspaces/ws/models/fraud-detector/versions/7",
    ],
)
def test_azure_model_reference_forms_that_agree_with_the_tags_pass(model: str) -> None:
    assert gate(serving(ONLINE, {"properties": {"model": model}}, model=True)) == []


@pytest.mark.parametrize(
    ("model", "problem"),
    [
        (
            "azureml:fraud-detector:8",
            "tag mlops:model-version is '7' but properties.model serves version '8'",
        ),
        (
            "azureml://registries/reg/models/fraud-detector/versions/8",
            "tag mlops:model-version is '7' but properties.model serves version '8'",
        ),
        ("azureml:other-model:7", "tag mlops:model is 'fraud-detector' but properties.model "),
        # Look-alike versions are other versions.
        ("azureml:fraud-detector:07", "serves version '07'"),
        ("azureml:fraud-detector:\uff17", "serves version '\uff17'"),
        ("azureml:fraud-detector:7.0", "serves version '7.0'"),
        # A label or a bare name pins nothing: what serves changes without a deployment.
        ("azureml:fraud-detector@latest", "which names no model version"),
        ("azureml://registries/reg/models/fraud-detector", "which names no model version"),
        ("azureml://registries/reg/models/fraud-detector/versions/", "names no model version"),
        ("fraud-detector", "which names no model version"),
        ("", "which names no model version"),
    ],
)
def test_azure_properties_that_disagree_with_the_tags_fail(model: str, problem: str) -> None:
    messages = gate(serving(ONLINE, {"properties": {"model": model}}, model=True))
    assert len(messages) == 1 and problem in messages[0], messages


def test_azure_deployment_without_model_tags_is_judged_by_its_properties() -> None:
    # The red-team probe: a team program's deployment of v8 carrying only the lineage tags.
    resource = serving(ONLINE, {"properties": {"model": "azureml:fraud-detector:8"}})
    assert gate(resource) == ["no approval is recorded for model 'fraud-detector' version '8'"]
    # An approved version still needs the approver's tag on a type that takes tags.
    resource = serving(ONLINE, {"properties": {"model": "azureml:fraud-detector:7"}})
    (message,) = gate(resource)
    assert "tag mlops:approved-by is None" in message


@pytest.mark.parametrize(
    ("type_", "inputs", "expected"),
    [
        (
            "azure-native:machinelearningservices:BatchDeployment",
            {"properties": {"model": {"referenceType": "Id",
                                      "assetId": "azureml:fraud-detector:8"}}},
            "version '8'",
        ),
        (
            "azure-native:machinelearningservices:ServerlessEndpoint",
            {"properties": {"modelSettings": {"modelId": "azureml://registries/r/models/fraud-detector"}}},
            "names no model version",
        ),
        (
            "azure-native:machinelearningservices:InferenceGroup",
            {
                "inferenceGroupProperties": {
                    "modelConfiguration": {"modelId": "azureml:fraud-detector:8"}
                }
            },
            "version '8'",
        ),
        (
            "aws:sagemaker/model:Model",
            {
                "primaryContainer": {
                    "modelPackageName": "arn:aws:sagemaker:r:1:model-package/fraud-detector/8"
                }
            },
            "primaryContainer.modelPackageName serves version '8'",
        ),
        (
            "aws:sagemaker/model:Model",
            {"containers": [{}, {"modelPackageName": "arn:aws:sagemaker:r:1:model-package/x/7"}]},
            "containers[1].modelPackageName serves model 'x'",
        ),
        (
            "gcp:cloudrunv2/service:Service",
            {
                "template": {
                    "containers": [
                        {"envs": [{"name": "MODEL_NAME", "value": "fraud-detector"},
                                  {"name": "MODEL_VERSION", "value": "8"}]}
                    ]
                }
            },
            "template.containers[0].envs serves version '8'",
        ),
        (
            "gcp:vertex/aiEndpoint:AiEndpoint",
            {"deployedModels": [{"model": "projects/p/locations/l/models/fraud-detector",
                                 "modelVersionId": "8"}]},
            "deployedModels[0] serves version '8'",
        ),
    ],
)  # fmt: skip
def test_tags_cannot_name_another_version_than_the_properties(type_, inputs, expected) -> None:
    messages = gate(serving(type_, inputs, model=True))
    assert len(messages) == 1 and expected in messages[0], messages


@pytest.mark.parametrize(
    "type_",
    [
        "azure-native:machinelearningservices:EndpointDeployment",
        "azure-native:machinelearningservices:ConnectionDeployment",
    ],
)
def test_a_type_without_tags_is_judged_by_its_properties_alone(type_: str) -> None:
    approved = {"properties": {"model": {"name": "fraud-detector", "version": "7"}}}
    assert gate(serving(type_, approved)) == []
    other = {"properties": {"model": {"name": "fraud-detector", "version": "8"}}}
    assert gate(serving(type_, other)) == [
        "no approval is recorded for model 'fraud-detector' version '8'"
    ]


GARDEN = "gcp:vertex/aiEndpointWithModelGardenDeployment:AiEndpointWithModelGardenDeployment"


@pytest.mark.parametrize(
    ("inputs", "expected"),
    [
        (
            {"publisherModelName": "publishers/google/models/gemma3@gemma-3-1b-it"},
            "no approval is recorded for model 'gemma3' version 'gemma-3-1b-it'",
        ),
        ({"publisherModelName": "publishers/google/models/gemma3"}, "cannot tell which model"),
        ({"huggingFaceModelId": "meta-llama/Llama-3-8B"}, "cannot tell which model"),
        ({}, "cannot tell which model"),
    ],
)
def test_model_garden_deployments_need_an_approved_pinned_model(inputs, expected) -> None:
    (message,) = gate(serving(GARDEN, inputs))
    assert message.startswith(expected), message
