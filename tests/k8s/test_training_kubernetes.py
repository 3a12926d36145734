"""The Kubernetes side of TrainingCluster on EKS and GKE, recorded offline."""

from __future__ import annotations

import json

import pytest

from mlops_iac.components.aws import TrainingCluster as AwsCluster
from mlops_iac.components.aws import TrainingClusterArgs as AwsArgs
from mlops_iac.components.gcp import TrainingCluster as GcpCluster
from mlops_iac.components.gcp import TrainingClusterArgs as GcpArgs
from mlops_iac.components.kubernetes import charts
from mlops_iac.plan.testing import ProgramError, run
from tests.components.aws._helpers import REGION
from tests.components.gcp._helpers import run_component

RELEASE = "kubernetes:helm.sh/v3:Release"
NAMESPACE = "kubernetes:core/v1:Namespace"
PROVIDER = "pulumi:providers:kubernetes"
LABELS = {"mlops/project": "fraud", "mlops/environment": "prod"}
ROLE = "arn:aws:iam::123456789012:role/ci-deployer"
BUCKET = "arn:aws:s3:::artifacts"
KEY = "arn:aws:kms:us-east-1:123456789012:key/artifacts"


def aws(**kwargs):
    kwargs.setdefault("kubernetes_labels", LABELS)
    return run(lambda: AwsCluster("tc", AwsArgs(**kwargs)), config=REGION)


def gcp(**kwargs):
    kwargs.setdefault("kubernetes_labels", LABELS)
    return run_component(lambda: GcpCluster("tc", GcpArgs(**kwargs)))


@pytest.fixture(scope="module")
def eks():
    return aws(
        admin_role_arns=[ROLE],
        artifact_bucket_arn=BUCKET,
        artifact_key_arn=KEY,
        kubernetes_version="1.33",
    )


@pytest.fixture(scope="module")
def gke():
    return gcp(artifact_service_account="dvc@mlops-offline.iam.gserviceaccount.com")


def kubeconfig(recording):
    return json.loads(recording.named("tc-k8s", PROVIDER).inputs["kubeconfig"])


def test_eks_provider_is_built_from_the_cluster_with_exec_credentials(eks):
    cluster = eks.named("tc-cluster").outputs
    config = kubeconfig(eks)
    [entry] = config["clusters"]
    assert entry["cluster"] == {
        "server": cluster["endpoint"],
        "certificate-authority-data": cluster["certificateAuthority"]["data"],
    }
    [user] = config["users"]
    assert user["user"]["exec"]["command"] == "aws"
    assert user["user"]["exec"]["args"][:5] == [
        "--region",
        "us-east-1",
        "eks",
        "get-token",
        "--cluster-name",
    ]
    assert "token" not in json.dumps(user["user"]).replace("get-token", "")


def test_every_kubernetes_resource_is_under_the_cluster_and_uses_its_provider(eks):
    component = eks.named("tc", "mlops:aws:TrainingCluster")
    provider = eks.named("tc-k8s", PROVIDER)
    kube = [r for r in eks if r.type.startswith("kubernetes:")]
    assert len(kube) == 6
    for resource in kube:
        assert resource.parent == component.urn
        assert resource.provider is not None and resource.provider.startswith(provider.urn)
    assert provider.parent == component.urn


def test_releases_are_pinned_by_version_and_repository(eks):
    found = {r.inputs["name"]: r.inputs for r in eks.of_type(RELEASE)}
    assert set(found) == {"nvidia-device-plugin", "cluster-autoscaler", "kubeflow-trainer"}
    for chart in (charts.NVIDIA_DEVICE_PLUGIN, charts.CLUSTER_AUTOSCALER, charts.KUBEFLOW_TRAINER):
        inputs = found[chart.release]
        assert inputs["chart"] == chart.chart
        assert inputs["version"] == chart.version
        assert inputs["namespace"] == chart.namespace
        assert inputs.get("repositoryOpts", {}).get("repo") == chart.repo
        assert inputs["atomic"] is True
    assert found["kubeflow-trainer"]["chart"].startswith("oci://ghcr.io/kubeflow/")
    # The runtime installer's image (it also needs the Alpine package mirror) is stated, so the
    # plan shows the Docker Hub dependency.
    assert found["kubeflow-trainer"]["values"] == {
        "runtimes": {
            "torchDistributed": {"enabled": True},
            "installer": {
                "image": {"registry": "docker.io", "repository": "alpine", "tag": "3.21"}
            },
        }
    }


def test_device_plugin_runs_only_on_the_tainted_gpu_pool(eks):
    values = eks.named("tc-device-plugin").inputs["values"]
    assert values["tolerations"] == [
        {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
    ]
    term = values["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert term["nodeSelectorTerms"][0]["matchExpressions"] == [
        {"key": "mlops/pool", "operator": "In", "values": ["gpu"]}
    ]
    gpu = eks.named("tc-gpu").inputs
    assert gpu["labels"]["mlops/pool"] == "gpu"
    assert gpu["taints"] == [{"key": "nvidia.com/gpu", "value": "true", "effect": "NO_SCHEDULE"}]


def test_autoscaler_uses_the_pod_identity_and_matches_the_cluster_version(eks):
    values = eks.named("tc-cluster-autoscaler").inputs["values"]
    association = eks.named("tc-autoscaler").inputs
    assert values["rbac"]["serviceAccount"]["name"] == association["serviceAccount"]
    assert eks.named("tc-cluster-autoscaler").inputs["namespace"] == association["namespace"]
    assert values["autoDiscovery"]["clusterName"] == eks.named("tc-cluster").outputs["name"]
    assert values["image"]["tag"] == "v1.33.1"
    assert values["cloudProvider"] == "aws" and values["awsRegion"] == "us-east-1"
    assert eks.named("tc-autoscaler").urn in eks.named("tc-cluster-autoscaler").dependencies


def test_unpinned_kubernetes_version_is_refused():
    with pytest.raises(
        ProgramError, match="no cluster-autoscaler image is pinned for Kubernetes 1.28"
    ):
        aws(kubernetes_version="1.28")


def test_operator_waits_for_its_labelled_namespace(eks):
    namespace = eks.named("tc-operator-ns").inputs["metadata"]
    assert namespace["name"] == "kubeflow-system"
    assert namespace["labels"] == LABELS
    operator = eks.named("tc-operator")
    assert eks.named("tc-operator-ns").urn in operator.dependencies
    # Pods need the system nodes, and the deploying role may be an access entry.
    assert eks.named("tc-system").urn in operator.dependencies
    assert eks.named("tc-access-0-admin").urn in operator.dependencies


@pytest.mark.parametrize(
    "operator, release, namespace",
    [("kuberay", "kuberay-operator", "ray-system"), ("none", None, None)],
)
def test_operator_choice(operator, release, namespace):
    recording = aws(operator=operator)
    releases = {r.inputs["name"] for r in recording.of_type(RELEASE)}
    assert releases - {"nvidia-device-plugin", "cluster-autoscaler"} == ({release} - {None})
    names = {r.inputs["metadata"]["name"] for r in recording.of_type(NAMESPACE)}
    assert names == {"mlops-training"} | ({namespace} - {None})


def test_unknown_operator_is_refused():
    with pytest.raises(ProgramError, match="operator must be one of"):
        aws(operator="volcano")


def test_access_entries_name_only_the_given_roles(eks):
    entry = eks.named("tc-access-0").inputs
    assert entry["principalArn"] == ROLE
    assert entry["type"] == "STANDARD"
    admin = eks.named("tc-access-0-admin").inputs
    assert admin["policyArn"].endswith("cluster-access-policy/AmazonEKSClusterAdminPolicy")
    assert admin["accessScope"] == {"type": "cluster"}
    assert admin["principalArn"] == ROLE
    assert len(eks.of_type("aws:eks/accessEntry:AccessEntry")) == 1


def test_training_pods_get_the_artifact_store_role_by_pod_identity(eks):
    association = eks.named("tc-trainer").inputs
    assert (association["namespace"], association["serviceAccount"]) == (
        "mlops-training",
        "trainer",
    )
    assert association["roleArn"] == eks.named("tc-trainer-role").outputs["arn"]
    trust = json.loads(eks.named("tc-trainer-role").inputs["assumeRolePolicy"])["Statement"][0]
    assert trust["Principal"] == {"Service": "pods.eks.amazonaws.com"}
    namespace = eks.named("tc-training-ns").inputs["metadata"]
    assert namespace["labels"]["pod-security.kubernetes.io/enforce"] == "baseline"
    account = eks.named("tc-trainer-sa").inputs
    assert account["metadata"]["namespace"] == "mlops-training"
    assert account["automountServiceAccountToken"] is False


def test_kubernetes_side_can_be_left_out():
    recording = aws(manage_kubernetes=False)
    assert not [r for r in recording if r.type.startswith("kubernetes:") or r.type == PROVIDER]


def test_gke_provider_uses_the_dns_endpoint_and_the_auth_plugin(gke):
    cluster = gke.named("tc-cluster").outputs
    dns = cluster["controlPlaneEndpointsConfig"]["dnsEndpointConfig"]["endpoint"]
    config = kubeconfig(gke)
    assert config["clusters"][0]["cluster"] == {"server": f"https://{dns}"}
    assert config["users"][0]["user"]["exec"]["command"] == "gke-gcloud-auth-plugin"


def test_gke_private_endpoint_kubeconfig_carries_the_ca():
    recording = gcp(dns_endpoint=False)
    cluster = recording.named("tc-cluster").outputs
    assert kubeconfig(recording)["clusters"][0]["cluster"] == {
        "server": f"https://{cluster['endpoint']}",
        "certificate-authority-data": cluster["masterAuth"]["clusterCaCertificate"],
    }


def test_gke_installs_only_the_operator_and_binds_workload_identity(gke):
    assert {r.inputs["name"] for r in gke.of_type(RELEASE)} == {"kubeflow-trainer"}
    account = gke.named("tc-trainer-sa").inputs["metadata"]
    email = "dvc@mlops-offline.iam.gserviceaccount.com"
    assert account["annotations"] == {"iam.gke.io/gcp-service-account": email}
    binding = gke.named("tc-trainer-workload-identity").inputs
    assert binding["role"] == "roles/iam.workloadIdentityUser"
    assert binding["member"] == "serviceAccount:mlops-offline.svc.id.goog[mlops-training/trainer]"
    assert binding["serviceAccountId"] == f"projects/mlops-offline/serviceAccounts/{email}"
    gpu = gke.named("tc-gpu").inputs["nodeConfig"]
    # GKE installs the driver itself; the pool scales from zero.
    assert gpu["guestAccelerators"][0]["gpuDriverInstallationConfig"] == {
        "gpuDriverVersion": "DEFAULT"
    }
    assert gke.named("tc-gpu").inputs["autoscaling"]["totalMinNodeCount"] == 0


def test_training_pods_write_checkpoints_only_under_their_prefix():
    bucket = "arn:aws:s3:::artifacts"
    recording = aws(artifact_bucket_arn=bucket)
    policy = json.loads(recording.named("tc-trainer-checkpoints").inputs["policy"])
    by_sid = {s["Sid"]: s for s in policy["Statement"]}
    assert by_sid["ReadWriteCheckpoints"]["Resource"] == f"{bucket}/checkpoints/*"
    assert by_sid["ReadWriteCheckpoints"]["Action"] == [
        "s3:GetObject",
        "s3:PutObject",
        "s3:PutObjectTagging",
    ]
    assert by_sid["ListCheckpoints"]["Condition"] == {
        "StringLike": {"s3:prefix": ["checkpoints", "checkpoints/*"]}
    }


def test_training_pods_read_the_data_and_cannot_change_it(eks):
    role = eks.named("tc-trainer-role")
    policies = [
        r for r in eks.of_type("aws:iam/rolePolicy:RolePolicy") if r.inputs["role"] == role.id
    ]
    assert {p.name for p in policies} == {"tc-trainer-data", "tc-trainer-checkpoints"}
    assert not [
        a
        for a in eks.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
        if a.inputs["role"] == role.outputs["name"]
    ]
    data = {
        s["Sid"]: s for s in json.loads(eks.named("tc-trainer-data").inputs["policy"])["Statement"]
    }
    assert data["ReadData"]["Action"] == ["s3:GetObject"]
    assert data["ReadData"]["Resource"] == f"{BUCKET}/dvc/*"
    assert data["ListData"]["Condition"] == {"StringLike": {"s3:prefix": ["dvc", "dvc/*"]}}
    assert data["UseArtifactKey"] == {
        "Sid": "UseArtifactKey",
        "Effect": "Allow",
        "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
        "Resource": KEY,
    }
    # Writes (and no deletes) only under checkpoints/.
    writes = [
        (p.name, stmt["Resource"])
        for p in policies
        for stmt in json.loads(p.inputs["policy"])["Statement"]
        for action in stmt["Action"]
        if action.startswith("s3:") and not action.startswith(("s3:Get", "s3:List"))
    ]
    assert writes == [("tc-trainer-checkpoints", f"{BUCKET}/checkpoints/*")] * 2
    assert not any(
        "Delete" in action
        for p in policies
        for stmt in json.loads(p.inputs["policy"])["Statement"]
        for action in stmt["Action"]
    )


def _eks_token_args(recording):
    [user] = kubeconfig(recording)["users"]
    return user["user"]["exec"]


def test_eks_kubeconfig_authenticates_as_the_stack_aws_provider():
    deployer = "arn:aws:iam::123456789012:role/deployer"
    recording = run(
        lambda: AwsCluster("tc", AwsArgs(kubernetes_labels=LABELS)),
        config={**REGION, "aws:profile": "ci", "aws:assumeRoles": [{"roleArn": deployer}]},
    )
    exec_ = _eks_token_args(recording)
    assert exec_["args"][-4:] == ["--profile", "ci", "--role-arn", deployer]
    assert "getting-started-install" in exec_["installHint"]  # the AWS CLI must be on PATH
    registered = recording.named("tc", "mlops:aws:TrainingCluster").registered_outputs
    assert json.loads(registered["kubeconfig"]) == kubeconfig(recording)


def test_eks_kubeconfig_without_provider_identity_uses_the_credential_chain(eks):
    args = _eks_token_args(eks)["args"]
    assert "--profile" not in args and "--role-arn" not in args


def test_explicit_kubeconfig_identity_wins_over_the_stack_config():
    role = "arn:aws:iam::123456789012:role/operator"
    recording = run(
        lambda: AwsCluster(
            "tc",
            AwsArgs(kubernetes_labels=LABELS, kubeconfig_profile="ops", kubeconfig_role_arn=role),
        ),
        config={**REGION, "aws:profile": "ci"},
    )
    assert _eks_token_args(recording)["args"][-4:] == ["--profile", "ops", "--role-arn", role]


@pytest.mark.parametrize(
    ("roles", "message"),
    [
        (
            [{"roleArn": "arn:aws:iam::1:role/a"}, {"roleArn": "arn:aws:iam::1:role/b"}],
            "aws:assumeRoles chains 2 roles",
        ),
        ([{"roleArn": "arn:aws:iam::1:role/a", "externalId": "x"}], "has an externalId"),
    ],
)
def test_provider_identity_the_kubeconfig_cannot_reproduce_is_refused(roles, message):
    with pytest.raises(ProgramError, match=message):
        run(
            lambda: AwsCluster("tc", AwsArgs(kubernetes_labels=LABELS)),
            config={**REGION, "aws:assumeRoles": roles},
        )
