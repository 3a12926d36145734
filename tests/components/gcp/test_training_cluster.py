from __future__ import annotations

import pulumi
import pytest

from mlops_iac.components.gcp import TrainingCluster, TrainingClusterArgs
from mlops_iac.plan.testing import ProgramError
from tests.components.gcp._helpers import KMS_ROLE, PROJECT, agent, children, run_component

COMPONENT = "mlops:gcp:TrainingCluster"
NETWORK = {
    "tc-network": "gcp:compute/network:Network",
    "tc-subnet": "gcp:compute/subnetwork:Subnetwork",
    "tc-router": "gcp:compute/router:Router",
    "tc-nat": "gcp:compute/routerNat:RouterNat",
}
CORE = {
    "tc-secrets-key-ring": "gcp:kms/keyRing:KeyRing",
    "tc-secrets-key": "gcp:kms/cryptoKey:CryptoKey",
    "tc-secrets-key-gke-agent": "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember",
    "tc-nodes": "gcp:serviceaccount/account:Account",
    "tc-nodes-default-node": "gcp:projects/iAMMember:IAMMember",
    "tc-nodes-registry-reader": "gcp:projects/iAMMember:IAMMember",
    "tc-cluster": "gcp:container/cluster:Cluster",
    "tc-webhooks": "gcp:compute/firewall:Firewall",
    "tc-system": "gcp:container/nodePool:NodePool",
    "tc-gpu": "gcp:container/nodePool:NodePool",
    "tc-k8s": "pulumi:providers:kubernetes",
    "tc-training-ns": "kubernetes:core/v1:Namespace",
    "tc-trainer-sa": "kubernetes:core/v1:ServiceAccount",
    "tc-operator-ns": "kubernetes:core/v1:Namespace",
    "tc-operator": "kubernetes:helm.sh/v3:Release",
}


def build(**kwargs):
    def program():
        cluster = TrainingCluster("tc", TrainingClusterArgs(**kwargs))
        for output in ("cluster_name", "gpu_pool_name", "max_gpus", "max_usd_per_hour"):
            pulumi.export(output, getattr(cluster, output))

    return run_component(program)


def test_children_are_exact_and_parented():
    recording = build()
    found = children(recording, "tc", COMPONENT)
    assert {name: r.type for name, r in found.items()} == {**NETWORK, **CORE}
    assert not any(r.protect for r in recording)


def test_existing_network_creates_no_network():
    recording = build(network="projects/p/global/networks/n", subnetwork="sub")
    found = children(recording, "tc", COMPONENT)
    assert {name: r.type for name, r in found.items()} == CORE
    cluster = recording.named("tc-cluster").inputs
    assert cluster["network"] == "projects/p/global/networks/n"
    assert cluster["subnetwork"] == "sub"
    assert recording.named("tc-webhooks").inputs["network"] == "projects/p/global/networks/n"


def test_the_control_plane_may_reach_the_operator_webhooks_on_the_nodes():
    # A private cluster's control plane reaches nodes on tcp 443 and 10250 only; Kubeflow
    # Trainer's and JobSet's webhooks listen on 9443 (failurePolicy: Fail).
    # https://cloud.google.com/kubernetes-engine/docs/how-to/latest/network-isolation#add_firewall_rules
    recording = build(master_cidr="172.16.8.0/28")
    rule = recording.named("tc-webhooks").inputs
    assert rule["network"] == recording.named("tc-network").id
    assert rule["direction"] == "INGRESS"
    assert rule["sourceRanges"] == ["172.16.8.0/28"]
    assert rule["allows"] == [{"protocol": "tcp", "ports": ["9443"]}]
    assert rule["targetServiceAccounts"] == [recording.named("tc-nodes").outputs["email"]]
    assert "tc-webhooks" not in {r.name for r in build(operator="none")}


def test_cluster_is_private_hardened_and_encrypts_secrets():
    recording = build()
    cluster = recording.named("tc-cluster")
    inputs = cluster.inputs
    key = recording.named("tc-secrets-key")
    assert inputs["privateClusterConfig"] == {
        "enablePrivateNodes": True,
        "enablePrivateEndpoint": True,
        "masterIpv4CidrBlock": "172.16.0.0/28",
    }
    assert inputs["masterAuthorizedNetworksConfig"] == {"cidrBlocks": []}
    assert inputs["workloadIdentityConfig"] == {"workloadPool": f"{PROJECT}.svc.id.goog"}
    assert inputs["enableShieldedNodes"] is True
    assert inputs["enableLegacyAbac"] is False
    assert inputs["databaseEncryption"] == {"state": "ENCRYPTED", "keyName": key.id}
    assert inputs["releaseChannel"] == {"channel": "REGULAR"}
    assert inputs["datapathProvider"] == "ADVANCED_DATAPATH"
    assert inputs["removeDefaultNodePool"] is True and inputs["initialNodeCount"] == 1
    assert inputs["deletionProtection"] is False
    assert "APISERVER" in inputs["loggingConfig"]["enableComponents"]
    assert inputs["network"] == recording.named("tc-network").id
    assert inputs["subnetwork"] == recording.named("tc-subnet").id
    assert inputs["ipAllocationPolicy"] == {
        "clusterSecondaryRangeName": "pods",
        "servicesSecondaryRangeName": "services",
    }
    grant = recording.named("tc-secrets-key-gke-agent")
    assert grant.inputs == {
        "cryptoKeyId": key.id,
        "role": KMS_ROLE,
        "member": agent("container-engine-robot.iam.gserviceaccount.com"),
    }
    assert grant.urn in cluster.dependencies
    assert recording.named("tc-secrets-key").inputs["rotationPeriod"] == "7776000s"


def test_private_nodes_get_nat_and_secondary_ranges():
    recording = build()
    subnet = recording.named("tc-subnet").inputs
    assert subnet["privateIpGoogleAccess"] is True
    assert [r["rangeName"] for r in subnet["secondaryIpRanges"]] == ["pods", "services"]
    assert recording.named("tc-network").inputs["autoCreateSubnetworks"] is False
    nat = recording.named("tc-nat").inputs
    assert nat["router"] == recording.named("tc-router").outputs["name"]
    assert nat["sourceSubnetworkIpRangesToNat"] == "ALL_SUBNETWORKS_ALL_IP_RANGES"


def test_node_account_has_exactly_the_least_privilege_roles():
    recording = build()
    member = recording.named("tc-nodes").outputs["member"]
    grants = recording.of_type("gcp:projects/iAMMember:IAMMember")
    # GKE's predefined node role (logs, metrics, resource metadata) and image pulls.
    # https://cloud.google.com/kubernetes-engine/docs/how-to/hardening-your-cluster#use_least_privilege_sa
    assert {g.inputs["role"] for g in grants} == {
        "roles/container.defaultNodeServiceAccount",
        "roles/artifactregistry.reader",
    }
    assert all(g.inputs["member"] == member and g.inputs["project"] == PROJECT for g in grants)
    email = recording.named("tc-nodes").outputs["email"]
    for pool in ("tc-system", "tc-gpu"):
        config = recording.named(pool).inputs["nodeConfig"]
        assert config["serviceAccount"] == email
        assert config["workloadMetadataConfig"] == {"mode": "GKE_METADATA"}
        assert config["shieldedInstanceConfig"] == {
            "enableSecureBoot": True,
            "enableIntegrityMonitoring": True,
        }
    assert recording.named("tc-cluster").inputs["nodeConfig"]["serviceAccount"] == email


def test_gpu_pool_scales_from_zero_with_catalogue_accelerators_and_taint():
    recording = build(gpu="l4", max_nodes=3, spot=True)
    pool = recording.named("tc-gpu").inputs
    cluster = recording.named("tc-cluster")
    assert pool["cluster"] == cluster.id
    assert pool["autoscaling"] == {
        "totalMinNodeCount": 0,
        "totalMaxNodeCount": 3,
        "locationPolicy": "ANY",
    }
    assert pool["initialNodeCount"] == 0
    assert "nodeLocations" not in pool
    config = pool["nodeConfig"]
    assert config["machineType"] == "g2-standard-4"
    assert config["spot"] is True
    assert config["guestAccelerators"] == [
        {
            "type": "nvidia-l4",
            "count": 1,
            "gpuDriverInstallationConfig": {"gpuDriverVersion": "DEFAULT"},
        }
    ]
    assert config["taints"] == [
        {"key": "nvidia.com/gpu", "value": "present", "effect": "NO_SCHEDULE"}
    ]
    assert config["labels"] == {
        "mlops-pool": "gpu",
        "mlops-gpu": "l4",
        "mlops-accelerator": "nvidia-l4",
    }
    system = recording.named("tc-system").inputs
    assert system["autoscaling"]["totalMinNodeCount"] == 1
    assert "taints" not in system["nodeConfig"]


def test_gpu_pool_can_be_pinned_to_zones_that_offer_the_gpu():
    recording = build(gpu="a100-40gb", gpu_zones=["us-central1-a", "us-central1-b"])
    pool = recording.named("tc-gpu").inputs
    assert pool["nodeLocations"] == ["us-central1-a", "us-central1-b"]
    assert pool["nodeConfig"]["machineType"] == "a2-highgpu-1g"


def test_outputs_are_worst_case_caps():
    recording = build(gpu="h100", max_nodes=2)
    assert recording.exports == {
        "cluster_name": recording.named("tc-cluster").outputs["name"],
        "gpu_pool_name": recording.named("tc-gpu").outputs["name"],
        "max_gpus": 16,
        "max_usd_per_hour": 176.5,
    }


def test_budget_overrun_warns():
    recording = build(gpu="h100", max_nodes=2, budget_usd_per_hour=50)
    assert any("$176.5/h, over the $50/h budget" in w for w in recording.warnings)


def test_prod_has_deletion_protection_and_a_protected_key():
    recording = build(environment="prod")
    assert recording.named("tc-cluster").inputs["deletionProtection"] is True
    assert {r.name for r in recording if r.protect} == {"tc-secrets-key", "tc-secrets-key-ring"}


def test_public_endpoint_only_outside_prod_and_still_authorized():
    recording = build(public_endpoint=True, public_access_cidrs=["203.0.113.0/24"])
    inputs = recording.named("tc-cluster").inputs
    assert inputs["privateClusterConfig"]["enablePrivateEndpoint"] is False
    assert inputs["privateClusterConfig"]["enablePrivateNodes"] is True
    assert inputs["masterAuthorizedNetworksConfig"] == {
        "cidrBlocks": [{"cidrBlock": "203.0.113.0/24", "displayName": "authorized-0"}]
    }
    with pytest.raises(ProgramError, match="public_endpoint is refused in prod"):
        build(environment="prod", public_endpoint=True, public_access_cidrs=["203.0.113.0/24"])


def test_public_endpoint_needs_public_access_cidrs_never_the_internet_outside_dev():
    with pytest.raises(ProgramError, match="needs public_access_cidrs"):
        build(public_endpoint=True)
    with pytest.raises(ProgramError, match="0.0.0.0/0 is refused in staging"):
        build(environment="staging", public_access_cidrs=["0.0.0.0/0"])


def test_dns_endpoint_is_the_default_way_in_and_can_be_turned_off():
    inputs = build().named("tc-cluster").inputs
    assert inputs["controlPlaneEndpointsConfig"] == {
        "dnsEndpointConfig": {"allowExternalTraffic": True}
    }
    off = build(dns_endpoint=False).named("tc-cluster").inputs
    assert off["controlPlaneEndpointsConfig"]["dnsEndpointConfig"]["allowExternalTraffic"] is False


def test_unknown_gpu_and_bad_bounds_are_refused():
    with pytest.raises(ProgramError, match="not offered on gcp"):
        build(gpu="a10g")
    with pytest.raises(ProgramError, match="min_nodes <= max_nodes"):
        build(min_nodes=3, max_nodes=1)


def test_system_instance_type_sizes_the_system_pool_as_on_aws():
    recording = build(system_instance_type="e2-standard-8")
    assert recording.named("tc-system").inputs["nodeConfig"]["machineType"] == "e2-standard-8"
