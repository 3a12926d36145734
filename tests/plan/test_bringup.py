"""From an empty account: the bring-up rules (toolkit and team programs) and the simulated
sequence of the six reference stacks."""

from __future__ import annotations

import json
from pathlib import Path

import pulumi
import pulumi_aws as aws
import pulumi_azure_native as azure_native
import pulumi_gcp as gcp
import pulumi_kubernetes as k8s
import pytest

from mlops_iac.plan.deploy.lifecycle.bringup import ARTIFACT_RULE, K8S_RULE
from mlops_iac.plan.testing import run_project
from tests.conftest import REPO, bring_up_sequence, reference_recording
from tests.fidelity._programs import as_state, recorded, rules_of

STACKS = ("aws-dev", "aws-prod", "azure-dev", "azure-prod", "gcp-dev", "gcp-prod")
WAIT = {
    "aws-dev": {"training.kubernetes": "deferred"},
    "aws-prod": {"training.kubernetes": "deferred"},
    "azure-dev": {"serving.enabled": False},
    "azure-prod": {"serving.enabled": False},
    "gcp-dev": {"serving.enabled": False},
    "gcp-prod": {"serving.enabled": False},
}
"""What each reference stack's first `pulumi up` leaves for the second."""
AR = "us-central1-docker.pkg.dev"
DLC = "763104351884.dkr.ecr.us-east-1.amazonaws.com"  # AWS Deep Learning Containers' account


# --- the six reference stacks ---------------------------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_reference_stack_as_written_fails_from_an_empty_account(stack) -> None:
    """Before the bring-up path, every reference stack's first `pulumi up` failed: the stack file
    as written, planned from nothing, has the bring-up deploy errors."""
    errors = reference_recording(stack).deploy_errors([])
    rules = {e.rule for e in errors}
    expected = K8S_RULE if stack.startswith("aws") else ARTIFACT_RULE
    assert expected in rules, [(e.rule, e.resource_name) for e in errors]
    named = {e.resource_name for e in errors if e.rule == expected}
    if stack.startswith("aws"):
        assert named == {"mlops-training-k8s"}
    elif stack.startswith("azure"):
        assert named == {"mlops-serving-blue", "mlops-serving-green"}
    else:
        assert named == {"mlops-serving-service"}


@pytest.mark.parametrize("stack", STACKS)
def test_reference_stack_brings_up_in_two_steps(stack) -> None:
    sequence = bring_up_sequence(stack)
    assert [s.number for s in sequence.steps] == [1, 2]
    first, second = sequence.steps
    assert first.overrides == WAIT[stack]
    assert {e.rule for e in sequence.waiting} <= {K8S_RULE, ARTIFACT_RULE}
    for step in sequence.steps:
        assert step.result.deploy_errors == (), [e.as_dict() for e in step.result.deploy_errors]
        assert not step.result.results.mandatory
    assert not sequence.failed
    # Step 1 leaves what is pending, and step 2 is told to do it first.
    pending = first.result.recording.exports["bring_up_pending"]
    assert [p["what"] for p in pending] == [
        "kubernetes" if "training.kubernetes" in WAIT[stack] else "serving"
    ]
    assert second.before == tuple(p["next"] for p in pending)
    assert second.result.recording.exports["bring_up_pending"] == []
    # Step 2 is judged against what step 1 made: the same stack grows, nothing is replaced.
    made = {r.urn for r in first.result.recording.resources}
    assert made < {r.urn for r in second.result.recording.resources}


@pytest.mark.parametrize("stack", STACKS)
def test_reference_stacks_are_planned_as_their_second_up(stack) -> None:
    """The committed states are what step 1 leaves: the stack file as written plans clean
    against them (the default `plan`), with the bring-up rules quiet."""
    state_file = REPO / "stacks" / "state" / f"{stack}.json"
    document = json.loads(state_file.read_text())
    urns = {r["urn"] for r in document["deployment"]["resources"]}
    first = bring_up_sequence(stack).steps[0].result.recording
    assert {r.urn for r in first.resources} <= urns
    from mlops_iac.plan import deploy

    state = deploy.read_state(state_file)
    errors = reference_recording(stack).deploy_errors(list(state.resources))
    assert not [e for e in errors if e.rule in (K8S_RULE, ARTIFACT_RULE)]


# --- the stack-file switches ------------------------------------------------------------------


def _platform(stack: str, **changes) -> dict:
    from mlops_iac.plan import service
    from mlops_iac.plan.engine import Project
    from mlops_iac.spec.keys import ROOT

    raw = Project.load(REPO).read_config(stack)[ROOT]
    return service.with_overrides(raw, changes)


@pytest.mark.parametrize("stack", ["aws-prod", "azure-prod", "gcp-prod"])
def test_serving_disabled_creates_no_endpoint_and_no_drift_job(stack) -> None:
    from mlops_iac.spec.keys import ROOT

    platform = _platform(stack, **{"serving.enabled": False})
    recording = run_project(REPO, stack, extra_config={ROOT: platform})
    types = {r.type for r in recording.resources}
    cloud = stack.split("-")[0]
    assert f"mlops:{cloud}:ServingEndpoint" not in types
    assert f"mlops:{cloud}:DriftJob" not in types
    assert f"mlops:{cloud}:Monitoring" in types
    serving_types = {
        "aws": "aws:sagemaker/endpoint:Endpoint",
        "azure": "azure-native:machinelearningservices:OnlineEndpoint",
        "gcp": "gcp:cloudrunv2/service:Service",
    }
    # GCP's MLflow tracking server is a Cloud Run service too; it is no endpoint.
    served = [r.name for r in recording.resources if r.type == serving_types[cloud]]
    assert served == (["mlops-tracking-server"] if cloud == "gcp" else [])
    exports = recording.exports
    for key in ("endpoint_name", "active_model_version", "drift_job_function"):
        assert exports[key] is None, key
    assert [p["what"] for p in exports["bring_up_pending"]] == ["serving"]
    assert ARTIFACT_RULE not in {e.rule for e in recording.deploy_errors([])}


@pytest.mark.parametrize("stack", ["aws-prod", "gcp-prod"])
def test_kubernetes_deferred_creates_the_cluster_without_its_kubernetes_side(stack) -> None:
    from mlops_iac.spec.keys import ROOT

    platform = _platform(stack, **{"training.kubernetes": "deferred"})
    recording = run_project(REPO, stack, extra_config={ROOT: platform})
    types = [r.type for r in recording.resources]
    assert not [t for t in types if t.startswith("kubernetes:")]
    assert "pulumi:providers:kubernetes" not in types
    cluster = "aws:eks/cluster:Cluster" if stack == "aws-prod" else "gcp:container/cluster:Cluster"
    assert types.count(cluster) == 1
    assert [p["what"] for p in recording.exports["bring_up_pending"]] == ["kubernetes"]
    assert K8S_RULE not in {e.rule for e in recording.deploy_errors([])}


def test_kubernetes_switch_has_two_values_only() -> None:
    from mlops_iac.spec.errors import SpecError
    from mlops_iac.spec.parse import parse_spec

    raw = _platform("aws-dev", **{"training.kubernetes": "later"})
    with pytest.raises(SpecError) as caught:
        parse_spec(raw)
    assert any("training.kubernetes" in path for path, _ in caught.value.problems)


# --- team programs: the Kubernetes side of a cluster nobody can reach ---------------------------


def _eks(public: bool):
    def program():
        cluster = aws.eks.Cluster(
            "team-eks",
            name="team-eks",
            role_arn="arn:aws:iam::123456789012:role/eks",
            vpc_config={
                "subnet_ids": ["subnet-1", "subnet-2"],
                "endpoint_private_access": True,
                "endpoint_public_access": public,
            },
        )
        kubeconfig = cluster.name.apply(
            lambda n: json.dumps(
                {
                    "apiVersion": "v1",
                    "clusters": [{"name": n, "cluster": {"server": "https://x.eks"}}],
                    "contexts": [{"name": n, "context": {"cluster": n, "user": n}}],
                    "current-context": n,
                    "users": [{"name": n, "user": {"token": "t"}}],
                }
            )
        )
        provider = k8s.Provider("team-k8s", kubeconfig=kubeconfig)
        k8s.core.v1.Namespace("team-ns", opts=pulumi.ResourceOptions(provider=provider))

    return program


def test_team_kubernetes_on_a_private_eks_cluster_it_creates_is_refused() -> None:
    recording = recorded(_eks(public=False), {"aws:region": "us-east-1"})
    errors = [
        e for e in recording.deploy_errors(None) if e.rule == "kubernetes-cluster-unreachable"
    ]
    assert [(e.resource_name, e.value) for e in errors] == [("team-k8s", "team-eks")]
    assert "1 Kubernetes resource(s)" in errors[0].message
    assert errors[0].source.startswith("https://docs.aws.amazon.com/eks/")


def test_team_kubernetes_on_a_reachable_or_existing_cluster_passes() -> None:
    assert K8S_RULE not in rules_of(_eks(public=True), {"aws:region": "us-east-1"})
    existing = recorded(_eks(public=False), {"aws:region": "us-east-1"})
    assert K8S_RULE not in {e.rule for e in existing.deploy_errors(as_state(existing))}


def _gke(dns: bool):
    def program():
        cluster = gcp.container.Cluster(
            "team-gke",
            name="team-gke",
            location="us-central1",
            private_cluster_config={
                "enable_private_nodes": True,
                "enable_private_endpoint": True,
                "master_ipv4_cidr_block": "172.16.0.0/28",
            },
            control_plane_endpoints_config={"dns_endpoint_config": {"allow_external_traffic": dns}},
        )
        kubeconfig = cluster.name.apply(
            lambda n: json.dumps({"clusters": [{"name": n, "cluster": {"server": "https://g"}}]})
        )
        provider = k8s.Provider("team-gke-k8s", kubeconfig=kubeconfig)
        k8s.core.v1.Namespace("team-ns", opts=pulumi.ResourceOptions(provider=provider))

    return program


def test_team_kubernetes_on_a_private_gke_endpoint_needs_the_dns_endpoint() -> None:
    config = {"gcp:project": "team-prod", "gcp:region": "us-central1"}
    assert K8S_RULE in rules_of(_gke(dns=False), config)
    assert K8S_RULE not in rules_of(_gke(dns=True), config)


# --- team programs: an artifact nothing can have pushed ----------------------------------------


def _cloud_run(own_registry: bool):
    def program():
        repo = gcp.artifactregistry.Repository(
            "team-images", repository_id="team-images", location="us-central1", format="DOCKER"
        )
        bucket = gcp.storage.Bucket("team-models", name="team-models", location="US-CENTRAL1")
        image = (
            pulumi.Output.concat(
                "us-central1-docker.pkg.dev/team-prod/", repo.repository_id, "/m:1"
            )
            if own_registry
            else "us-docker.pkg.dev/cloudrun/container/hello:latest"
        )
        model = pulumi.Output.concat("gs://", bucket.name, "/m/1/") if own_registry else "gs://x/m"
        gcp.cloudrunv2.Service(
            "team-serving",
            location="us-central1",
            template={
                "containers": [{"image": image, "envs": [{"name": "MODEL_URI", "value": model}]}]
            },
        )

    return program


def test_team_cloud_run_serving_from_its_own_new_registry_is_refused() -> None:
    config = {"gcp:project": "team-prod", "gcp:region": "us-central1"}
    recording = recorded(_cloud_run(own_registry=True), config)
    errors = [e for e in recording.deploy_errors(None) if e.rule == "artifact-not-pushed"]
    assert sorted(e.input for e in errors) == [
        "template.containers[0].envs[0].value",
        "template.containers[0].image",
    ]
    assert {e.resource_name for e in errors} == {"team-serving"}
    # The registry existed before this update: the image may have been pushed (preflight says).
    assert ARTIFACT_RULE not in {e.rule for e in recording.deploy_errors(as_state(recording))}
    assert ARTIFACT_RULE not in rules_of(_cloud_run(own_registry=False), config)


def _sagemaker(own_bucket: bool):
    def program():
        bucket = aws.s3.BucketV2("team-models", bucket="team-models-123")
        url = (
            pulumi.Output.concat("s3://", bucket.bucket, "/m/1/model.tar.gz")
            if own_bucket
            else "s3://existing-models/m/1/model.tar.gz"
        )
        aws.sagemaker.Model(
            "team-model",
            execution_role_arn="arn:aws:iam::123456789012:role/sm",
            primary_container={
                "image": f"{DLC}/pytorch-inference:2.3-cpu-py311",
                "model_data_url": url,
            },
        )

    return program


def test_team_sagemaker_model_from_its_own_new_bucket_is_refused() -> None:
    config = {"aws:region": "us-east-1"}
    recording = recorded(_sagemaker(own_bucket=True), config)
    errors = [e for e in recording.deploy_errors(None) if e.rule == ARTIFACT_RULE]
    assert [(e.resource_name, e.input) for e in errors] == [
        ("team-model", "primaryContainer.modelDataUrl")
    ]
    assert ARTIFACT_RULE not in rules_of(_sagemaker(own_bucket=False), config)


def _azure_deployment(own_registry: bool):
    def program():
        registry = azure_native.machinelearningservices.Registry(
            "team-registry",
            resource_group_name="rg",
            location="eastus",
            registry_name="teamregistry",
            region_details=[{"location": "eastus"}],
        )
        model = (
            pulumi.Output.concat("azureml://registries/", registry.name, "/models/m/versions/1")
            if own_registry
            else "azureml://registries/azureml/models/sklearn-demo/versions/1"
        )
        azure_native.machinelearningservices.OnlineDeployment(
            "team-blue",
            resource_group_name="rg",
            workspace_name="ws",
            endpoint_name="ep",
            location="eastus",
            properties={"endpoint_compute_type": "Managed", "model": model},
        )

    return program


def test_team_azure_deployment_from_its_own_new_registry_is_refused() -> None:
    config = {"azure-native:location": "eastus"}
    assert ARTIFACT_RULE in rules_of(_azure_deployment(own_registry=True), config)
    assert ARTIFACT_RULE not in rules_of(_azure_deployment(own_registry=False), config)


def test_bring_up_states_are_plain_exports() -> None:
    """The committed states read strictly (the reader refuses anything not exact)."""
    from mlops_iac.plan import deploy

    for stack in STACKS:
        state = deploy.read_state(Path(REPO / "stacks" / "state" / f"{stack}.json"))
        assert state.kind == "export"
        roots = [r for r in state.resources if r.type == "pulumi:pulumi:Stack"]
        assert len(roots) == 1 and "bring_up_pending" in roots[0].outputs


def test_a_dev_cluster_with_an_allow_listed_public_api_comes_up_in_one_step(tmp_path) -> None:
    """Where the cloud allows it, one `pulumi up`: aws-dev with a public, allow-listed API."""
    import yaml

    from mlops_iac.plan import bringup

    config = yaml.safe_load((REPO / "stacks" / "Pulumi.aws-dev.yaml").read_text())
    training = config["config"]["mlops:platform"]["training"]
    training["publicEndpoint"] = True
    training["access"] = {"publicCidrs": ["198.51.100.0/24"]}
    stack_file = tmp_path / "Pulumi.aws-dev.yaml"
    stack_file.write_text(yaml.safe_dump(config))
    sequence = bringup.simulate(REPO, "aws-dev", stack_file)
    assert [s.overrides for s in sequence.steps] == [{}]
    assert sequence.steps[0].result.deploy_errors == ()
    assert not sequence.failed


def _through_remote(mode: str):
    """A Cloud Run service running an image of a repository this deployment creates in
    ``mode`` (the tracking server's default image comes through a remote repository)."""

    def program():
        repo = gcp.artifactregistry.Repository(
            "upstream",
            repository_id="upstream",
            location="us-central1",
            format="DOCKER",
            mode=mode,
            remote_repository_config=(
                {"docker_repository": {"custom_repository": {"uri": "https://ghcr.io"}}}
                if mode == "REMOTE_REPOSITORY"
                else None
            ),
        )
        gcp.cloudrunv2.Service(
            "tracking",
            location="us-central1",
            template={
                "containers": [
                    {
                        "image": pulumi.Output.concat(
                            "us-central1-docker.pkg.dev/team-prod/",
                            repo.repository_id,
                            "/mlflow/mlflow:v3.17.2-full",
                        )
                    }
                ]
            },
        )

    return program


def test_an_image_through_a_new_remote_repository_needs_no_push() -> None:
    config = {"gcp:project": "team-prod", "gcp:region": "us-central1"}
    assert ARTIFACT_RULE not in rules_of(_through_remote("REMOTE_REPOSITORY"), config)
    assert ARTIFACT_RULE in rules_of(_through_remote("STANDARD_REPOSITORY"), config)
