from __future__ import annotations

import json

import pytest

from mlops_iac.components.aws import TrainingCluster, TrainingClusterArgs
from mlops_iac.plan.testing import ProgramError, run
from tests.components.aws._helpers import REGION, children_by_name, statements, wildcard_allows

COMPONENT = "mlops:aws:TrainingCluster"
CLUSTER_CHILDREN = {
    "tc-key": "aws:kms/key:Key",
    "tc-key-alias": "aws:kms/alias:Alias",
    "tc-cluster-logs": "aws:cloudwatch/logGroup:LogGroup",
    "tc-cluster-role": "aws:iam/role:Role",
    "tc-cluster-role-policy": "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
    "tc-cluster-role-kms": "aws:iam/rolePolicy:RolePolicy",
    "tc-node-role": "aws:iam/role:Role",
    "tc-node-worker-policy": "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
    "tc-node-ecr-policy": "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
    "tc-node-cni-policy": "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
    "tc-cluster": "aws:eks/cluster:Cluster",
    "tc-system": "aws:eks/nodeGroup:NodeGroup",
    "tc-gpu": "aws:eks/nodeGroup:NodeGroup",
    "tc-gpu-nodes": "aws:ec2/launchTemplate:LaunchTemplate",
    "tc-pod-identity-agent": "aws:eks/addon:Addon",
    "tc-autoscaler-role": "aws:iam/role:Role",
    "tc-autoscaler-policy": "aws:iam/rolePolicy:RolePolicy",
    "tc-autoscaler": "aws:eks/podIdentityAssociation:PodIdentityAssociation",
    "tc-trainer-role": "aws:iam/role:Role",
    "tc-trainer": "aws:eks/podIdentityAssociation:PodIdentityAssociation",
    "tc-k8s": "pulumi:providers:kubernetes",
    "tc-training-ns": "kubernetes:core/v1:Namespace",
    "tc-trainer-sa": "kubernetes:core/v1:ServiceAccount",
    "tc-device-plugin": "kubernetes:helm.sh/v3:Release",
    "tc-cluster-autoscaler": "kubernetes:helm.sh/v3:Release",
    "tc-operator-ns": "kubernetes:core/v1:Namespace",
    "tc-operator": "kubernetes:helm.sh/v3:Release",
}


def network_children(zones: int, nats: int) -> dict[str, str]:
    found = {
        "tc-vpc": "aws:ec2/vpc:Vpc",
        "tc-igw": "aws:ec2/internetGateway:InternetGateway",
        "tc-public-rt": "aws:ec2/routeTable:RouteTable",
        "tc-endpoints-sg": "aws:ec2/securityGroup:SecurityGroup",
        "tc-s3-endpoint": "aws:ec2/vpcEndpoint:VpcEndpoint",
        "tc-ecr-api-endpoint": "aws:ec2/vpcEndpoint:VpcEndpoint",
        "tc-ecr-dkr-endpoint": "aws:ec2/vpcEndpoint:VpcEndpoint",
        "tc-sts-endpoint": "aws:ec2/vpcEndpoint:VpcEndpoint",
        # HTTPS to the private API from the new VPC (the default private access CIDR).
        "tc-api-from-0": "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
    }
    for i in range(zones):
        found[f"tc-public-{i}"] = "aws:ec2/subnet:Subnet"
        found[f"tc-public-{i}-rta"] = "aws:ec2/routeTableAssociation:RouteTableAssociation"
        found[f"tc-private-{i}"] = "aws:ec2/subnet:Subnet"
        found[f"tc-private-{i}-rt"] = "aws:ec2/routeTable:RouteTable"
        found[f"tc-private-{i}-rta"] = "aws:ec2/routeTableAssociation:RouteTableAssociation"
    for i in range(nats):
        found[f"tc-nat-{i}-eip"] = "aws:ec2/eip:Eip"
        found[f"tc-nat-{i}"] = "aws:ec2/natGateway:NatGateway"
    return found


def build(**kwargs):
    def program():
        TrainingCluster("tc", TrainingClusterArgs(**kwargs))

    return run(program, config=REGION)


@pytest.fixture(scope="module")
def dev():
    return build(gpu="a10g", max_nodes=3, spot=True)


@pytest.fixture(scope="module")
def prod():
    return build(environment="prod", gpu="a100-40gb", max_nodes=2, availability_zones=3)


def test_dev_children_are_exact_and_parented(dev):
    component = dev.named("tc", COMPONENT)
    found = children_by_name(dev, component)
    expected = {**CLUSTER_CHILDREN, **network_children(zones=2, nats=1)}
    assert {name: r.type for name, r in found.items()} == expected
    assert len(dev) == len(expected) + 1
    assert not any(r.protect for r in dev)
    assert dev.unmocked_invokes == []


def test_prod_has_a_nat_per_zone_and_a_protected_key(prod):
    component = prod.named("tc", COMPONENT)
    found = children_by_name(prod, component)
    assert {name: r.type for name, r in found.items()} == {
        **CLUSTER_CHILDREN,
        **network_children(zones=3, nats=3),
    }
    assert {r.name for r in prod if r.protect} == {"tc-key"}
    zones = [prod.named(f"tc-private-{i}").inputs["availabilityZone"] for i in range(3)]
    assert zones == ["us-east-1a", "us-east-1b", "us-east-1c"]
    for i in range(3):
        [route] = prod.named(f"tc-private-{i}-rt").inputs["routes"]
        assert route["natGatewayId"] == prod.named(f"tc-nat-{i}").id


def test_private_subnets_route_through_nat_and_endpoints(dev):
    private_rts = [dev.named(f"tc-private-{i}-rt") for i in range(2)]
    nat = dev.named("tc-nat-0")
    for rt in private_rts:
        assert rt.inputs["routes"] == [{"cidrBlock": "0.0.0.0/0", "natGatewayId": nat.id}]
    for i in range(2):
        assert dev.named(f"tc-private-{i}").inputs["mapPublicIpOnLaunch"] is False
    s3 = dev.named("tc-s3-endpoint").inputs
    assert s3["vpcEndpointType"] == "Gateway"
    assert s3["serviceName"] == "com.amazonaws.us-east-1.s3"
    assert s3["routeTableIds"] == [rt.id for rt in private_rts]
    private_ids = [dev.named(f"tc-private-{i}").id for i in range(2)]
    sg = dev.named("tc-endpoints-sg")
    for role, service in (("ecr-api", "ecr.api"), ("ecr-dkr", "ecr.dkr"), ("sts", "sts")):
        endpoint = dev.named(f"tc-{role}-endpoint").inputs
        assert endpoint["serviceName"] == f"com.amazonaws.us-east-1.{service}"
        assert endpoint["vpcEndpointType"] == "Interface"
        assert endpoint["privateDnsEnabled"] is True
        assert endpoint["subnetIds"] == private_ids
        assert endpoint["securityGroupIds"] == [sg.id]
    [ingress] = sg.inputs["ingress"]
    assert (ingress["fromPort"], ingress["toPort"], ingress["cidrBlocks"]) == (
        443,
        443,
        ["10.0.0.0/16"],
    )


def test_cluster_is_private_encrypted_and_logs_everything(dev):
    key = dev.named("tc-key")
    cluster = dev.named("tc-cluster")
    inputs = cluster.inputs
    assert inputs["vpcConfig"]["endpointPrivateAccess"] is True
    assert inputs["vpcConfig"]["endpointPublicAccess"] is False
    assert inputs["vpcConfig"]["subnetIds"] == [dev.named(f"tc-private-{i}").id for i in range(2)]
    assert inputs["encryptionConfig"] == {
        "provider": {"keyArn": key.outputs["arn"]},
        "resources": ["secrets"],
    }
    assert sorted(inputs["enabledClusterLogTypes"]) == sorted(
        ["api", "audit", "authenticator", "controllerManager", "scheduler"]
    )
    assert key.inputs["enableKeyRotation"] is True
    logs = dev.named("tc-cluster-logs")
    assert logs.inputs["name"] == f"/aws/eks/{inputs['name']}/cluster"
    assert logs.inputs["retentionInDays"] == 365
    assert logs.inputs["kmsKeyId"] == key.outputs["arn"]
    assert logs.urn in cluster.dependencies
    key_policy = {s["Sid"]: s for s in statements(key)}
    logs_key = key_policy["CloudWatchLogsUsesKeyForItsLogGroups"]
    assert logs_key["Principal"] == {"Service": "logs.us-east-1.amazonaws.com"}
    assert logs_key["Condition"] == {
        "ArnEquals": {
            "kms:EncryptionContext:aws:logs:arn": (
                f"arn:aws:logs:us-east-1:123456789012:log-group:/aws/eks/{inputs['name']}/cluster"
            )
        }
    }


def test_iam_is_least_privilege(dev):
    node_role = dev.named("tc-node-role")
    attached = {
        dev.named(f"tc-node-{role}-policy").inputs["policyArn"] for role in ("worker", "ecr", "cni")
    }
    assert attached == {
        "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
        "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly",
        "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy",
    }
    assert all(
        dev.named(f"tc-node-{role}-policy").inputs["role"] == node_role.outputs["name"]
        for role in ("worker", "ecr", "cni")
    )
    assert not [r for r in dev.of_type("aws:iam/rolePolicy:RolePolicy") if "node" in r.name]
    assert json.loads(node_role.inputs["assumeRolePolicy"])["Statement"][0]["Principal"] == {
        "Service": "ec2.amazonaws.com"
    }
    [kms] = statements(dev.named("tc-cluster-role-kms"))
    assert kms["Resource"] == dev.named("tc-key").outputs["arn"]
    assert wildcard_allows(dev) == []


def test_gpu_pool_scales_to_zero_and_is_tainted(dev):
    gpu = dev.named("tc-gpu").inputs
    assert gpu["amiType"] == "AL2023_x86_64_NVIDIA"
    # Spot: a second instance type with the same GPU model and count.
    assert gpu["instanceTypes"] == ["g5.xlarge", "g5.2xlarge"]
    assert gpu["capacityType"] == "SPOT"
    assert gpu["scalingConfig"] == {"minSize": 0, "desiredSize": 0, "maxSize": 3}
    assert gpu["taints"] == [{"key": "nvidia.com/gpu", "value": "true", "effect": "NO_SCHEDULE"}]
    assert gpu["labels"]["nvidia.com/gpu.product"] == "nvidia-a10g"
    assert gpu["labels"]["mlops/gpu"] == "a10g"
    assert gpu["labels"]["mlops/pool"] == "gpu"
    # cluster-autoscaler's GPU label: a node whose GPUs are not advertised yet counts as GPU.
    assert gpu["labels"]["k8s.amazonaws.com/accelerator"] == "nvidia-a10g"
    system = dev.named("tc-system").inputs
    assert system["capacityType"] == "ON_DEMAND"
    assert system["instanceTypes"] == ["m6i.large"]
    assert system["scalingConfig"] == {"minSize": 1, "desiredSize": 1, "maxSize": 2}
    assert "taints" not in system


def test_outputs_come_from_the_catalogue():
    def program():
        import pulumi

        tc = TrainingCluster("tc", TrainingClusterArgs(gpu="a100-40gb", max_nodes=2))
        for key in ("cluster_name", "gpu_pool_name", "max_gpus", "max_usd_per_hour", "vpc_id"):
            pulumi.export(key, getattr(tc, key))
        pulumi.export("private_subnet_ids", tc.private_subnet_ids)

    recording = run(program, config=REGION)
    assert recording.exports["max_gpus"] == 16
    assert recording.exports["max_usd_per_hour"] == pytest.approx(43.92)
    assert recording.exports["cluster_name"] == recording.named("tc-cluster").inputs["name"]
    assert recording.exports["gpu_pool_name"] == recording.named("tc-gpu").outputs["nodeGroupName"]
    assert recording.exports["vpc_id"] == recording.named("tc-vpc").id
    assert len(recording.exports["private_subnet_ids"]) == 2
    assert recording.named("tc-gpu").inputs["capacityType"] == "ON_DEMAND"


def test_existing_network_creates_no_vpc():
    recording = build(vpc_id="vpc-0abc", subnet_ids=["subnet-a", "subnet-b"])
    assert not recording.of_type("aws:ec2/vpc:Vpc")
    assert not recording.of_type("aws:ec2/subnet:Subnet")
    cluster = recording.named("tc-cluster").inputs
    assert cluster["vpcConfig"]["subnetIds"] == ["subnet-a", "subnet-b"]
    assert recording.named("tc-gpu").inputs["subnetIds"] == ["subnet-a", "subnet-b"]


def _api_rules(recording) -> dict[str, dict]:
    rules = recording.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
    return {r.name: r.inputs for r in rules}


def test_private_api_admits_https_from_the_new_vpc(dev):
    # The private endpoint carries only the EKS cluster security group (inbound: itself), so a
    # runner in the VPC needs a rule on 443 for pulumi up to reach the API.
    sg = dev.named("tc-cluster").outputs["vpcConfig"]["clusterSecurityGroupId"]
    assert sg.startswith("sg-")
    assert _api_rules(dev) == {
        "tc-api-from-0": {
            "securityGroupId": sg,
            "description": "Kubernetes API (HTTPS) from 10.0.0.0/16",
            "ipProtocol": "tcp",
            "fromPort": 443,
            "toPort": 443,
            "cidrIpv4": "10.0.0.0/16",
        }
    }
    assert dev.named("tc", COMPONENT).registered_outputs["cluster_security_group_id"] == sg
    # The Kubernetes side waits for the rule (pulumi up reaches the API through it).
    assert dev.named("tc-api-from-0").urn in dev.named("tc-device-plugin").dependencies


def test_private_access_cidrs_replace_the_default_and_take_ipv6():
    recording = build(private_access_cidrs=["172.20.0.0/16", "fd00:10::/64"])
    rules = _api_rules(recording)
    assert {name: (r.get("cidrIpv4"), r.get("cidrIpv6")) for name, r in rules.items()} == {
        "tc-api-from-0": ("172.20.0.0/16", None),
        "tc-api-from-1": (None, "fd00:10::/64"),
    }
    assert {(r["fromPort"], r["toPort"], r["ipProtocol"]) for r in rules.values()} == {
        (443, 443, "tcp")
    }
    assert _api_rules(build(private_access_cidrs=[])) == {}


def test_existing_network_gets_no_default_private_access():
    given = {"vpc_id": "vpc-0abc", "subnet_ids": ["subnet-a", "subnet-b"]}
    assert _api_rules(build(**given)) == {}
    rules = _api_rules(build(**given, private_access_cidrs=["10.8.0.0/24"]))
    assert [r["cidrIpv4"] for r in rules.values()] == ["10.8.0.0/24"]


@pytest.mark.parametrize(
    "cidr, message",
    [
        ("0.0.0.0/0", "0.0.0.0/0 is not private address space"),
        ("203.0.113.0/24", "203.0.113.0/24 is not private address space"),
        ("10.0.0.1/8", "is not a CIDR block"),
    ],
)
def test_private_access_cidrs_refuse_public_and_invalid_blocks(cidr, message):
    with pytest.raises(ProgramError, match=f"private_access_cidrs .*{message}"):
        build(private_access_cidrs=[cidr])


def test_public_endpoint_warns_in_dev_and_is_refused_in_prod():
    recording = build(public_endpoint=True, public_access_cidrs=["203.0.113.0/24"])
    vpc = recording.named("tc-cluster").inputs["vpcConfig"]
    assert vpc["endpointPublicAccess"] is True
    assert vpc["publicAccessCidrs"] == ["203.0.113.0/24"]
    assert any("public_endpoint is True" in w for w in recording.warnings)
    with pytest.raises(ProgramError, match="public_endpoint is refused in prod"):
        build(environment="prod", public_endpoint=True, public_access_cidrs=["203.0.113.0/24"])


def test_private_endpoint_sends_no_allow_list(dev):
    vpc = dev.named("tc-cluster").inputs["vpcConfig"]
    assert vpc["endpointPublicAccess"] is False
    assert "publicAccessCidrs" not in vpc


def test_public_endpoint_needs_an_allow_list_and_never_the_internet_outside_dev():
    # Without publicAccessCidrs EKS opens the endpoint to 0.0.0.0/0.
    with pytest.raises(ProgramError, match="needs public_access_cidrs"):
        build(public_endpoint=True)
    with pytest.raises(ProgramError, match="0.0.0.0/0 is refused in staging"):
        build(environment="staging", public_endpoint=True, public_access_cidrs=["0.0.0.0/0"])


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"gpu": "a100-80gb-x"}, "unknown GPU"),
        ({"min_nodes": 3, "max_nodes": 2}, "min_nodes <= max_nodes"),
        ({"vpc_id": "vpc-1"}, "vpc_id and subnet_ids together"),
    ],
)
def test_bad_args_fail_clearly(kwargs, message):
    with pytest.raises(ProgramError, match=message):
        build(**kwargs)


def test_cluster_autoscaler_gets_a_scoped_pod_identity(dev):
    cluster = dev.named("tc-cluster")
    role = dev.named("tc-autoscaler-role")
    trust = json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]
    assert trust["Principal"] == {"Service": "pods.eks.amazonaws.com"}
    assert trust["Action"] == ["sts:AssumeRole", "sts:TagSession"]
    association = dev.named("tc-autoscaler").inputs
    assert association["clusterName"] == cluster.outputs["name"]
    assert (association["namespace"], association["serviceAccount"]) == (
        "kube-system",
        "cluster-autoscaler",
    )
    assert association["roleArn"] == role.outputs["arn"]
    assert dev.named("tc-pod-identity-agent").urn in dev.named("tc-autoscaler").dependencies
    assert dev.named("tc-pod-identity-agent").inputs["addonName"] == "eks-pod-identity-agent"
    policy = {s["Sid"]: s for s in statements(dev.named("tc-autoscaler-policy"))}
    scale = policy["ScaleThisClustersGroups"]
    assert scale["Action"] == [
        "autoscaling:SetDesiredCapacity",
        "autoscaling:TerminateInstanceInAutoScalingGroup",
    ]
    tag = f"aws:ResourceTag/k8s.io/cluster-autoscaler/{cluster.inputs['name']}"
    assert scale["Condition"] == {"StringEquals": {tag: "owned"}}
    assert "eks:DescribeNodegroup" in policy["DiscoverNodeGroups"]["Action"]
    assert not wildcard_allows([dev.named("tc-autoscaler-policy")])
    registered = dev.named("tc", "mlops:aws:TrainingCluster").registered_outputs
    assert registered["autoscaler_role_arn"] == role.outputs["arn"]


def test_creator_admin_is_explicit_and_off_when_admin_roles_are_named(dev):
    # Without named roles the creator is the only admin, and it says so.
    assert dev.named("tc-cluster").inputs["accessConfig"] == {
        "authenticationMode": "API",
        "bootstrapClusterCreatorAdminPermissions": True,
    }
    named = build(admin_role_arns=["arn:aws:iam::123456789012:role/ci-deployer"])
    assert named.named("tc-cluster").inputs["accessConfig"] == {
        "authenticationMode": "API",
        "bootstrapClusterCreatorAdminPermissions": False,
    }
    assert len(named.of_type("aws:eks/accessEntry:AccessEntry")) == 1


def test_cluster_never_slides_into_paid_extended_support(dev):
    assert dev.named("tc-cluster").inputs["upgradePolicy"] == {"supportType": "STANDARD"}


def test_gpu_nodes_block_imds_from_pods_and_get_an_encrypted_root(dev):
    template = dev.named("tc-gpu-nodes")
    assert template.inputs["metadataOptions"] == {
        "httpEndpoint": "enabled",
        "httpTokens": "required",
        "httpPutResponseHopLimit": 1,
    }
    [root] = template.inputs["blockDeviceMappings"]
    assert root["deviceName"] == "/dev/xvda"
    assert root["ebs"] == {
        "volumeSize": 100,
        "volumeType": "gp3",
        "encrypted": "true",
        "deleteOnTermination": "true",
    }
    assert "tagSpecifications" not in template.inputs  # no node tags given
    gpu = dev.named("tc-gpu").inputs
    assert gpu["launchTemplate"]["id"] == template.id
    assert gpu["launchTemplate"]["version"] == str(template.outputs["latestVersion"])


def test_gpu_root_volume_uses_a_given_key():
    key = "arn:aws:kms:us-east-1:123456789012:key/node-volumes"
    recording = build(node_volume_kms_key_arn=key)
    [root] = recording.named("tc-gpu-nodes").inputs["blockDeviceMappings"]
    assert root["ebs"]["kmsKeyId"] == key


def test_system_pool_has_two_nodes_in_prod(prod):
    system = prod.named("tc-system").inputs
    assert system["scalingConfig"] == {"minSize": 2, "desiredSize": 2, "maxSize": 3}
    assert system["subnetIds"] == [prod.named(f"tc-private-{i}").id for i in range(3)]


def test_on_demand_and_single_size_gpus_keep_one_instance_type(prod):
    assert prod.named("tc-gpu").inputs["instanceTypes"] == ["p4d.24xlarge"]
    on_demand = build(gpu="a10g", max_nodes=2)
    assert on_demand.named("tc-gpu").inputs["instanceTypes"] == ["g5.xlarge"]


def test_spot_cost_cap_uses_the_dearest_instance_type():
    def program():
        import pulumi

        tc = TrainingCluster("tc", TrainingClusterArgs(gpu="a10g", max_nodes=4, spot=True))
        pulumi.export("max_usd_per_hour", tc.max_usd_per_hour)

    recording = run(program, config=REGION)
    # g5.2xlarge lists at 1.212 USD/h, g5.xlarge at 1.006.
    assert recording.exports["max_usd_per_hour"] == pytest.approx(4.85)


@pytest.mark.parametrize(
    ("role", "namespace", "account"),
    [
        ("tc-autoscaler-role", "kube-system", "cluster-autoscaler"),
        ("tc-trainer-role", "mlops-training", "trainer"),
    ],
)
def test_pod_identity_roles_trust_only_this_account_cluster_and_service_account(
    dev, role, namespace, account
):
    [trust] = statements(dev.named(role), "assumeRolePolicy")
    assert trust["Principal"] == {"Service": "pods.eks.amazonaws.com"}
    assert trust["Action"] == ["sts:AssumeRole", "sts:TagSession"]
    assert trust["Condition"] == {
        "StringEquals": {
            "aws:SourceAccount": "123456789012",
            "aws:RequestTag/eks-cluster-arn": dev.named("tc-cluster").outputs["arn"],
            "aws:RequestTag/kubernetes-namespace": namespace,
            "aws:RequestTag/kubernetes-service-account": account,
        }
    }
