"""The Kubernetes rules beyond the baseline's mutations: GKE, dev, and what stays quiet."""

from __future__ import annotations

from mlops_iac.policies import packs

from . import baseline
from .test_rules import fired, run

GKE = "gcp:container/cluster:Cluster"
SCOPED = {"overrides": {"mlops-network-private-endpoints": {"environments": ["prod"]}}}


def _with_gke(environment: str, **props) -> baseline.Rec:
    b = baseline.Builder(f"gcp-{environment}")
    tags = {"mlops-environment": environment}
    train = b.component("mlops:gcp:TrainingCluster", "training")
    b.add(
        GKE,
        "gke",
        {
            "privateClusterConfig": {"enablePrivateNodes": True, "enablePrivateEndpoint": True},
            "resourceLabels": tags,
            **props,
        },
        parent=train,
    )
    return baseline.Rec(b.resources, {}, b.stack, baseline.PROJECT)


def _allow_list(rec: baseline.Rec, environment: str) -> list[str]:
    result = packs.evaluate(rec, baseline.config(environment, **SCOPED), environment=environment)
    return [v.message for v in result.violations if v.policy == "mlops-kubernetes-api-allow-list"]


def test_gke_authorized_networks_open_to_all_fire_in_prod():
    rec = _with_gke(
        "prod",
        masterAuthorizedNetworksConfig={
            "cidrBlocks": [{"cidrBlock": "0.0.0.0/0"}],
            "gcpPublicCidrsAccessEnabled": True,
        },
    )
    messages = _allow_list(rec, "prod")
    assert any("allows 0.0.0.0/0" in m for m in messages)
    assert any("every Google Cloud public IP" in m for m in messages)


def test_gke_with_a_real_allow_list_is_quiet():
    rec = _with_gke(
        "prod", masterAuthorizedNetworksConfig={"cidrBlocks": [{"cidrBlock": "203.0.113.0/24"}]}
    )
    assert _allow_list(rec, "prod") == []


def test_eks_public_endpoint_without_cidrs_means_the_internet():
    rec = baseline.aws_platform("staging")
    rec.set("training-cluster", "vpcConfig.endpointPublicAccess", True)
    result = run(rec, "staging", **SCOPED)
    assert fired(result) == {"mlops-kubernetes-api-allow-list"}
    assert any("EKS then allows 0.0.0.0/0" in v.message for v in result.violations)


def test_eks_allow_list_is_quiet_with_named_cidrs_and_in_dev():
    rec = baseline.aws_platform("staging")
    rec.set("training-cluster", "vpcConfig.endpointPublicAccess", True)
    rec.set("training-cluster", "vpcConfig.publicAccessCidrs", ["203.0.113.0/24"])
    assert "mlops-kubernetes-api-allow-list" not in fired(run(rec, "staging", **SCOPED))
    dev = baseline.aws_platform("dev")
    dev.set("training-cluster", "vpcConfig.publicAccessCidrs", ["0.0.0.0/0"])
    assert "mlops-kubernetes-api-allow-list" not in fired(run(dev, "dev"))


def test_cpu_pools_need_no_taint():
    rec = baseline.aws_platform("prod")
    assert rec.get("training-system").inputs.get("taints") is None
    assert "mlops-kubernetes-gpu-taint" not in fired(run(rec))
