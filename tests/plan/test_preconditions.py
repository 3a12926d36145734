"""The account preconditions a plan derives from its recorded resources (``plan.preconditions``).

Every expectation comes from the reference recordings' own inputs: change a resource and the
precondition follows (a second GPU pool adds to the same quota, an on-demand pool changes the
quota code, a function without a reservation needs no concurrency).
"""

from __future__ import annotations

import pytest

from mlops_iac.plan.preconditions import SEEN_BY, Precondition, derive
from tests.conftest import reference_recording


def _derived(stack: str, edit=None) -> dict[str, Precondition]:
    recording = reference_recording(stack)
    if edit is not None:
        edit(recording.resources)
    return {p.id: p for p in derive(recording.resources, recording.config)}


def _resource(resources, name):
    return next(r for r in resources if r.name == name)


@pytest.mark.parametrize(
    "stack", ["aws-dev", "aws-prod", "azure-dev", "azure-prod", "gcp-dev", "gcp-prod"]
)
def test_every_precondition_is_cited_and_says_who_sees_it(stack):
    found = _derived(stack)
    assert found, stack
    for p in found.values():
        assert p.source_url.startswith("https://"), p
        assert p.seen_by in SEEN_BY, p
        assert p.cloud == stack.split("-")[0]
        # A live check names its kind; only a real deploy sees the others.
        assert bool(p.check.get("kind")) == (p.seen_by == "preflight"), p
        assert p.as_dict()["sourceUrl"] == p.source_url


def test_aws_prod_needs_gpu_spot_vcpus_endpoint_instances_concurrency_and_named_things():
    found = _derived("aws-prod")
    gpu = found["aws-ec2-quota-L-3819A6DF"]
    # mlops-training-gpu: SPOT, g5.xlarge (4 vCPUs) or g5.2xlarge (8), maxSize 4: spot may
    # launch the larger type, so 4 × 8.
    gpu_pool = reference_recording("aws-prod").named("mlops-training-gpu").inputs
    assert gpu_pool["instanceTypes"] == ["g5.xlarge", "g5.2xlarge"]
    assert gpu.check == {
        "kind": "aws-service-quota",
        "serviceCode": "ec2",
        "quotaCode": "L-3819A6DF",
        "quotaName": "All G and VT Spot Instance Requests",
        "region": "us-east-1",
        "need": 32,
        "instances": [
            {"pool": "mlops-training-gpu", "instanceType": "g5.xlarge", "count": 4, "vcpus": 4},
            {"pool": "mlops-training-gpu", "instanceType": "g5.2xlarge", "count": 4, "vcpus": 8},
        ],
        "vcpuSource": "https://docs.aws.amazon.com/ec2/latest/instancetypes/ac.html",
    }
    assert "aws-ec2-quota-L-DB2E81BA" not in found  # no on-demand GPU pool
    endpoint = found["aws-sagemaker-quota-ml.m5.large"]
    # Both configs start at 4 (= replicas.max) and blue/green runs two fleets.
    assert endpoint.check["quotaName"] == "ml.m5.large for endpoint usage"
    assert endpoint.check["need"] == 8
    assert "aws-lambda-unreserved-concurrency" not in found  # the drift function reserves none
    assert found["aws-s3-bucket-org-s3-access-logs-123456789012"].check == {
        "kind": "aws-s3-bucket",
        "bucket": "org-s3-access-logs-123456789012",
        "region": "us-east-1",
    }
    objects = sorted(
        p.check["key"] for p in found.values() if p.check.get("kind") == "aws-s3-object"
    )
    baseline = _baseline_uri("aws-prod")
    assert objects == sorted(
        [
            "fraud-detector/6/model.tar.gz",
            "fraud-detector/7/model.tar.gz",
            baseline.split("/", 3)[3],
        ]
    )
    assert {p.check.get("bucket") for p in found.values() if "s3-object" in p.id} == {
        "fraud-detection-models"
    }
    assert found["aws-cost-allocation-tag-mlops:project"].check == {
        "kind": "aws-cost-allocation-tag",
        "tagKey": "mlops:project",
    }
    image = (  # pinned by digest in the reference stack
        "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference@sha256:"
        "c47036387552897f897e0ff1f0111a555b43c495399845cc18d54d74abde2752"
    )
    assert found[f"aws-image-{image}"].seen_by == "deploy-only"
    assert found["aws-ec2-capacity-g-spot"].seen_by == "deploy-only"


def _baseline_uri(stack: str) -> str:
    function = reference_recording(stack).named("mlops-drift-function")
    return function.inputs["environment"]["variables"]["DRIFT_BASELINE_URI"]


@pytest.mark.parametrize("stack", ["aws-dev", "aws-prod"])
def test_the_drift_baseline_the_function_reads_is_a_precondition(stack):
    uri = _baseline_uri(stack)
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    # The function's bucket is the stack's artifact bucket: absent before the first deploy.
    assert bucket == reference_recording(stack).named("mlops-artifacts-bucket").outputs["bucket"]
    baseline = _derived(stack)[f"aws-drift-baseline-{uri}"]
    assert baseline.seen_by == "preflight"
    assert baseline.check == {
        "kind": "aws-s3-object",
        "bucket": bucket,
        "key": key,
        "stackBucket": True,
    }
    assert "mlops-iac drift baseline" in baseline.detail


def test_no_drift_function_no_baseline_precondition():
    def no_drift(resources):
        resources[:] = [r for r in resources if r.name != "mlops-drift-function"]

    assert not [p for p in _derived("aws-prod", no_drift) if p.startswith("aws-drift-baseline-")]


def test_aws_dev_sizes_follow_its_stack():
    found = _derived("aws-dev")
    # 2 × g4dn.2xlarge (8 vCPUs), the larger of the pool's two spot types.
    assert found["aws-ec2-quota-L-3819A6DF"].check["need"] == 16
    assert found["aws-sagemaker-quota-ml.m5.large"].check["need"] == 4  # 2 × max 2
    # No access-log bucket is named in dev.
    assert not [p for p in found if p.startswith("aws-s3-bucket-")]


def test_an_on_demand_pool_of_unknown_size_uses_the_on_demand_quota_and_reads_vcpus_live():
    def on_demand(resources):
        gpu = _resource(resources, "mlops-training-gpu")
        gpu.inputs["capacityType"] = "ON_DEMAND"
        gpu.inputs["instanceTypes"] = ["g6e.2xlarge"]

    found = _derived("aws-prod", on_demand)
    quota = found["aws-ec2-quota-L-DB2E81BA"]
    assert quota.check["quotaName"] == "Running On-Demand G and VT instances"
    assert quota.check["need"] is None
    assert quota.check["instances"] == [
        {"pool": "mlops-training-gpu", "instanceType": "g6e.2xlarge", "count": 4, "vcpus": None}
    ]
    assert "aws-ec2-quota-L-3819A6DF" not in found


def test_a_second_gpu_pool_adds_to_the_same_quota():
    def second_pool(resources):
        import copy

        extra = copy.deepcopy(_resource(resources, "mlops-training-gpu"))
        extra.name, extra.urn = "team-gpu", extra.urn + "-team"
        extra.inputs["instanceTypes"] = ["p4d.24xlarge"]
        resources.append(extra)
        more = copy.deepcopy(_resource(resources, "mlops-training-gpu"))
        more.name, more.urn = "team-gpu-2", more.urn + "-team-2"
        more.inputs["scalingConfig"]["maxSize"] = 2.0
        resources.append(more)

    found = _derived("aws-prod", second_pool)
    # 4 × and 2 × g5.2xlarge (8 vCPUs, the larger spot type).
    assert found["aws-ec2-quota-L-3819A6DF"].check["need"] == 32 + 16
    assert found["aws-ec2-quota-L-7212CCBC"].check["need"] == 4 * 96


def test_a_reservation_needs_100_unreserved_beside_it():
    def reserved(resources):
        _resource(resources, "mlops-drift-function").inputs["reservedConcurrentExecutions"] = 1

    function = _resource(reference_recording("aws-prod").resources, "mlops-drift-function")
    assert "reservedConcurrentExecutions" not in function.inputs
    assert "aws-lambda-unreserved-concurrency" not in _derived("aws-prod")
    found = _derived("aws-prod", reserved)
    assert found["aws-lambda-unreserved-concurrency"].check["need"] == 101


def test_azure_providers_are_the_namespaces_of_the_planned_types():
    found = _derived("azure-prod")
    providers = sorted(
        p.check["namespace"] for p in found.values() if p.id.startswith("azure-provider-")
    )
    assert providers == [
        "Microsoft.Consumption",
        "Microsoft.ContainerRegistry",
        "Microsoft.Insights",
        "Microsoft.KeyVault",
        "Microsoft.MachineLearningServices",
        "Microsoft.ManagedIdentity",
        "Microsoft.Network",
        "Microsoft.OperationalInsights",
        "Microsoft.Portal",
        "Microsoft.Storage",
        "Microsoft.Web",
    ]
    assert (
        "machinelearningservices:Workspace"
        in found["azure-provider-Microsoft.MachineLearningServices"].detail
    )


def test_azure_cores_for_the_cluster_at_max_and_both_deployments():
    found = _derived("azure-prod")
    # mlops-training-gpu: LowPriority, 4 × Standard_NC24ads_A100_v4 (24 vCPUs).
    assert found["azure-aml-quota-TotalLowPriorityCores"].check == {
        "kind": "azure-aml-usage",
        "location": "eastus",
        "quota": "TotalLowPriorityCores",
        "need": 96,
    }
    # The image-build cluster at max nodes, and blue and green: Standard_DS3_v2 (4 vCPUs),
    # autoscale max 4 each, 20% reserved: 2 × 20.
    build = _resource(reference_recording("azure-prod").resources, "mlops-training-image-build")
    props = build.inputs["properties"]["properties"]
    assert props["vmSize"] == "Standard_DS3_v2" and props["vmPriority"] == "Dedicated"
    build_nodes = int(props["scaleSettings"]["maxNodeCount"])
    need = found["azure-aml-quota-standardDSv2Family"].check["need"]
    assert need == build_nodes * 4 + 40 == 44
    dev = _derived("azure-dev")
    assert dev["azure-aml-quota-TotalLowPriorityCores"].check["need"] == 8  # 2 × NC4as_T4_v3


def test_a_dedicated_cluster_draws_on_its_family():
    def dedicated(resources):
        compute = _resource(resources, "mlops-training-gpu")
        compute.inputs["properties"]["properties"]["vmPriority"] = "Dedicated"

    found = _derived("azure-prod", dedicated)
    assert found["azure-aml-quota-standardNCADSA100v4Family"].check["need"] == 96
    assert "azure-aml-quota-TotalLowPriorityCores" not in found


def test_gcp_services_are_the_apis_the_planned_types_call():
    found = _derived("gcp-prod")
    services = sorted(p.check["service"] for p in found.values() if p.id.startswith("gcp-service-"))
    assert services == [
        "artifactregistry.googleapis.com",
        "billingbudgets.googleapis.com",
        "cloudbuild.googleapis.com",
        "cloudfunctions.googleapis.com",
        "cloudkms.googleapis.com",
        "cloudresourcemanager.googleapis.com",
        "cloudscheduler.googleapis.com",
        "compute.googleapis.com",
        "container.googleapis.com",
        "iam.googleapis.com",
        "logging.googleapis.com",
        "monitoring.googleapis.com",
        "pubsub.googleapis.com",
        "run.googleapis.com",
        "sqladmin.googleapis.com",  # the tracking server's Cloud SQL
        "storage.googleapis.com",
    ]
    assert {p.check["project"] for p in found.values() if p.id.startswith("gcp-service-")} == {
        "fraud-detection-prod"
    }


def test_gcp_gpu_quotas_name_the_cloud_quotas_ids():
    found = _derived("gcp-prod")
    run = found["gcp-run-gpu-quota-mlops-serving-service"]
    # 1 L4 per instance, zonal redundancy off, min 2 × 2 revisions in the canary, max 4.
    assert run.check["service"] == "run.googleapis.com"
    assert run.check["quotaId"] == "NvidiaL4GpuAllocNoZonalRedundancyPerProjectRegion"
    assert (run.check["region"], run.check["need"]) == ("us-central1", 4)
    gke = found["gcp-gke-gpu-quota-PREEMPTIBLE-NVIDIA-A100-GPUS-per-project-region"]
    assert gke.check["service"] == "compute.googleapis.com"
    assert gke.check["need"] == 4  # totalMaxNodeCount 4 × 1 A100
    dev = _derived("gcp-dev")
    assert not [p for p in dev if p.startswith("gcp-run-gpu-quota-")]  # dev serves on CPU
    assert dev["gcp-gke-gpu-quota-PREEMPTIBLE-NVIDIA-L4-GPUS-per-project-region"].check["need"] == 2


def test_zonal_redundancy_on_and_a_bigger_canary_change_the_run_quota():
    def zonal(resources):
        service = _resource(resources, "mlops-serving-service")
        service.inputs["template"].pop("gpuZonalRedundancyDisabled")
        service.inputs["template"]["scaling"]["minInstanceCount"] = 3.0

    run = _derived("gcp-prod", zonal)["gcp-run-gpu-quota-mlops-serving-service"]
    assert run.check["quotaId"] == "NvidiaL4GpuAllocPerProjectRegion"
    assert run.check["need"] == 6  # min 3 × 2 revisions serving


def test_on_demand_gke_pool_uses_the_non_preemptible_quota():
    def on_demand(resources):
        _resource(resources, "mlops-training-gpu").inputs["nodeConfig"]["spot"] = False

    found = _derived("gcp-prod", on_demand)
    assert "gcp-gke-gpu-quota-NVIDIA-A100-GPUS-per-project-region" in found


def test_gcp_run_images_the_stack_does_not_push_are_deploy_only_preconditions():
    """The tracking server's sidecar and its image through the stack's remote repository must
    exist upstream; the serving image in the stack's own repository is bring-up's business."""
    found = _derived("gcp-prod")
    images = sorted(p.id for p in found.values() if p.id.startswith("gcp-run-image-"))
    assert [i.split("/")[-1] for i in images] == [
        "cloud-sql-proxy:2.18.2",
        "mlflow:v3.17.2-full",
    ]
    assert {found[i].seen_by for i in images} == {"deploy-only"}
    assert all(found[i].source_url.startswith("https://cloud.google.com/run/") for i in images)
