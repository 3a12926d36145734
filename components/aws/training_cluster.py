"""TrainingCluster on AWS: a private EKS cluster with a GPU node group that scales to zero."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import ClassVar

import pulumi
import pulumi_aws as aws

from mlops_iac.components._component import (
    Component,
    child_opts,
    component_opts,
    require_not_prod,
    secure_default,
    unset,
)
from mlops_iac.components.aws import _defaults as defaults
from mlops_iac.components.aws._common import (
    Tags,
    account_id,
    assume_role_policy,
    customer_key,
    document,
    log_group_arn,
    managed_policy_arn,
    region,
    stable_name,
    statement,
)
from mlops_iac.components.contract_types import TrainingClusterArgsBase
from mlops_iac.components.kubernetes import addons, charts, kubeconfig
from mlops_iac.spec import gpu as gpu_catalogue
from mlops_iac.spec import limits

TYPE = "mlops:aws:TrainingCluster"

# What the cluster role needs on its secrets key (envelope encryption goes through grants).
CLUSTER_KEY_ACTIONS = ("kms:Encrypt", "kms:Decrypt", "kms:DescribeKey", "kms:CreateGrant")
INTERFACE_ENDPOINTS = {"ecr-api": "ecr.api", "ecr-dkr": "ecr.dkr", "sts": "sts"}
# EKS access policy for named CI/operator roles (Kubernetes cluster-admin equivalent):
# https://docs.aws.amazon.com/eks/latest/userguide/access-policies.html
CLUSTER_ADMIN_POLICY = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
# A private endpoint's ENIs carry only the EKS-created cluster security group, whose one inbound
# rule is itself: a runner, VPN or peered network reaches the API only through a rule on 443.
# https://docs.aws.amazon.com/eks/latest/userguide/sec-group-reqs.html
# https://docs.aws.amazon.com/eks/latest/userguide/cluster-endpoint.html
API_PORT = 443
GPU_POOL_LABEL = ("mlops/pool", "gpu")
AUTOSCALER_SERVICE_ACCOUNT = "cluster-autoscaler"


@dataclass(frozen=True, kw_only=True)
class TrainingClusterArgs(TrainingClusterArgsBase):
    """Inputs of ``TrainingCluster``. Every field is optional; defaults are the secure choice."""

    FIELD_NOTES: ClassVar[Mapping[str, str]] = {
        "environment": (
            "``dev``, ``staging`` or ``prod``. Default ``dev``. In prod the key is protected "
            "and a public API endpoint is refused."
        ),
        "gpu": ("Neutral GPU name from ``mlops_iac.spec.gpu``. Default ``t4`` (``g4dn.xlarge``)."),
        "min_nodes": ("GPU nodes kept running. Default 0: the pool scales to zero when idle."),
        "spot": ("Run GPU nodes on spot capacity. Default: on-demand."),
        "public_endpoint": (
            "Expose the Kubernetes API publicly. Default: private only; refused in prod."
        ),
        "tags": (
            "Extra tags on every child. Default: none (the stack's lineage transform adds lineage)."
        ),
    }

    vpc_id: pulumi.Input[str] | None = None
    """Existing VPC. Default: a new VPC with private subnets, NAT and VPC endpoints."""
    subnet_ids: Sequence[pulumi.Input[str]] | None = None
    """Existing private subnets (at least two AZs), with ``vpc_id``. Default: new subnets."""
    availability_zones: int = 2
    """AZs of a new VPC (at least 2). Default 2."""
    vpc_cidr: str = defaults.VPC_CIDR
    """CIDR of a new VPC. Default ``10.0.0.0/16``."""
    kubernetes_version: str | None = unset(defaults.KUBERNETES_VERSION)
    """EKS Kubernetes version. Default ``1.35``: the newest EKS version with a matching
    cluster-autoscaler image and at least three months of standard support left (see
    ``_defaults.KUBERNETES_VERSION``). At the end of standard support EKS upgrades the cluster
    (``upgrade_policy`` ``STANDARD``) instead of billing extended support."""
    system_instance_type: str = defaults.SYSTEM_INSTANCE_TYPE
    """Instance type of the on-demand system node group. Default ``m6i.large``."""
    log_retention_days: int = defaults.LOG_RETENTION_DAYS
    """Retention of the control-plane log group. Default 365."""
    node_tags: Mapping[str, str] = field(default_factory=dict)
    """Tags the GPU nodes' EC2 instances and volumes carry, through their launch template
    (``{name}-gpu-nodes``): node group tags do not reach the instances, so cost allocation and
    the GPU budget see only these. Default: none."""
    node_volume_kms_key_arn: pulumi.Input[str] | None = None
    """KMS key of the GPU nodes' encrypted root volumes. Its key policy must let the Auto Scaling
    service-linked role use it (docs/aws.md). Default: the account's default EBS encryption key
    (``aws/ebs`` unless the account set its own)."""
    public_access_cidrs: Sequence[str] = ()
    """CIDRs allowed to reach a public API endpoint. Required with ``public_endpoint``; never
    ``0.0.0.0/0`` outside dev. Default: none."""
    private_access_cidrs: Sequence[str] | None = None
    """Private CIDRs (CI runners, VPN, peered networks) allowed to reach the API on tcp/443
    through ingress rules on the EKS cluster security group. Only private address space
    (RFC 1918, 100.64.0.0/10, fc00::/7). Default: the new VPC's CIDR, so a runner in its
    subnets reaches the API; with ``vpc_id`` none (list your runners). An explicit list replaces
    the default; ``[]`` leaves only the cluster security group itself (its nodes)."""
    admin_role_arns: Sequence[str] = ()
    """IAM roles (CI, operators) given an EKS access entry with ``AmazonEKSClusterAdminPolicy``.
    With any, the cluster is created without the creator's implicit admin entry
    (``bootstrap_cluster_creator_admin_permissions`` false): list the deploying role too. Default:
    none (the identity that creates the cluster is its only admin, set explicitly). Going from
    none to some, or back, replaces the cluster (EKS sets this only at creation; ``plan --state``
    refuses it)."""
    operator: str = "kubeflow-trainer"
    """Training operator: ``kubeflow-trainer``, ``kuberay`` or ``none``. Default
    ``kubeflow-trainer``."""
    artifact_bucket_arn: pulumi.Input[str] | None = None
    """Artifact bucket: training pods may read (never write or delete) its DVC data under
    ``artifact_data_prefix`` and read and write its ``checkpoints/`` prefix (with tags).
    Default: none (the trainer role gets no data access)."""
    artifact_key_arn: pulumi.Input[str] | None = None
    """KMS key of the artifact bucket: training pods may decrypt and generate data keys with it.
    Default: none (an S3-managed-key bucket)."""
    artifact_data_prefix: str = defaults.DVC_PREFIX
    """Prefix of the DVC data in the artifact bucket. Default ``dvc``."""
    kubernetes_labels: Mapping[str, str] | None = None
    """Lineage labels for the namespaces the cluster creates. Default: none."""
    kubeconfig_profile: str | None = None
    """AWS CLI profile the kubeconfig's ``aws eks get-token`` uses. Default: the stack's
    ``aws:profile`` (the identity the AWS provider deploys with)."""
    kubeconfig_role_arn: str | None = None
    """Role the kubeconfig's ``aws eks get-token --role-arn`` assumes. Default: the role of the
    stack's ``aws:assumeRoles`` (one role without an external ID; anything else is refused)."""
    manage_kubernetes: bool = True
    """Declare the Kubernetes side (device plugin, autoscaler, operator, training namespace).
    Default: true; ``pulumi up`` must then reach the API (see docs/training-clusters.md)."""


class TrainingCluster(Component):
    """Private EKS cluster for distributed training, with a GPU pool that scales to zero.

    Children (names derive from ``name``): without ``vpc_id``, ``{name}-vpc``, ``-igw``,
    ``-public-{i}`` / ``-private-{i}`` subnets per AZ, ``-public-rt`` (+ ``-public-{i}-rta``),
    ``-nat-{i}-eip`` and ``-nat-{i}`` (one per AZ in prod, one shared in dev), ``-private-{i}-rt``
    (+ ``-private-{i}-rta``), ``-endpoints-sg``, ``-s3-endpoint`` (gateway) and
    ``-ecr-api-endpoint``, ``-ecr-dkr-endpoint``, ``-sts-endpoint`` (interface). Always:
    ``{name}-key`` (+ alias; secrets envelope encryption and log encryption), ``-cluster-logs``
    (``/aws/eks/<cluster>/cluster``), ``-cluster-role`` (+ ``-cluster-role-policy``,
    ``-cluster-role-kms``), ``-node-role`` (+ ``-node-worker-policy``, ``-node-ecr-policy``,
    ``-node-cni-policy``: AWS managed policies only), ``-cluster`` (EKS, private endpoint, all
    five log types), ``-system`` (on-demand node group) and ``-gpu`` (GPU node group, min 0,
    tainted ``nvidia.com/gpu=true:NoSchedule``; several instance types of the same GPU on spot)
    with its launch template ``-gpu-nodes`` (IMDSv2, hop limit 1, encrypted 100 GiB gp3 root).

    The cluster has an explicit deterministic name (``stable_name``) because its log group must
    exist, with retention and key, before EKS would create one of its own.

    Outputs: ``cluster_name``, ``gpu_pool_name``, ``max_gpus``, ``max_usd_per_hour``,
    ``cluster_endpoint``, ``kms_key_id``, ``vpc_id``, ``private_subnet_ids``, ``node_role_arn``,
    ``gpu_asg_name``, ``autoscaler_role_arn``.

    The Kubernetes side (``manage_kubernetes``, default on; ``mlops_iac.components.kubernetes``):
    ``{name}-k8s`` (provider from the cluster's endpoint, CA and an ``aws eks get-token`` exec, no
    kubeconfig file), ``-device-plugin`` (NVIDIA device plugin: the AL2023 NVIDIA AMI ships the
    driver, not the plugin), ``-cluster-autoscaler`` (scales the GPU node group from zero with the
    pod identity below), ``-training-ns`` / ``-trainer-sa`` (``mlops-training/trainer``) and, with
    an operator, ``-operator-ns`` / ``-operator`` (Helm release). The autoscaler's AWS identity:
    ``{name}-pod-identity-agent`` (EKS add-on), ``-autoscaler-role`` and ``-policy`` (describe,
    and resize only this cluster's groups) and ``-autoscaler`` (pod identity association for
    ``kube-system/cluster-autoscaler``). Training pods: ``-trainer-role`` (+ ``-trainer-data``:
    read-only DVC data and the bucket key, ``-trainer-checkpoints``: read/write ``checkpoints/``,
    with ``artifact_bucket_arn``) and ``-trainer`` (pod identity association). Pod identity roles
    trust ``pods.eks.amazonaws.com`` for this account and cluster only. Access: ``-access-{i}`` /
    ``-access-{i}-admin`` per ``admin_role_arns`` entry; ``-api-from-{i}`` (HTTPS ingress on the
    cluster security group) per private access CIDR.

    Outputs also: ``cluster_security_group_id``, ``trainer_role_arn``, ``training_namespace``,
    ``training_service_account``, ``training_operator``, ``kubeconfig`` (no secret: the token is
    minted per call).
    """

    cluster_name: pulumi.Output[str]
    gpu_pool_name: pulumi.Output[str]
    max_gpus: pulumi.Output[int]
    max_usd_per_hour: pulumi.Output[float]
    cluster_endpoint: pulumi.Output[str]
    cluster_security_group_id: pulumi.Output[str]
    kms_key_id: pulumi.Output[str]
    vpc_id: pulumi.Output[str]
    private_subnet_ids: pulumi.Output[list[str]]
    node_role_arn: pulumi.Output[str]
    gpu_asg_name: pulumi.Output[str]
    autoscaler_role_arn: pulumi.Output[str]
    trainer_role_arn: pulumi.Output[str]
    training_namespace: pulumi.Output[str]
    training_service_account: pulumi.Output[str]
    training_operator: pulumi.Output[str]
    kubeconfig: pulumi.Output[str]

    def __init__(
        self, name: str, args: TrainingClusterArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(TYPE, name, None, component_opts(opts))
        label = f"TrainingCluster {name}"
        kubernetes_version = args.kubernetes_version or defaults.KUBERNETES_VERSION
        prod = args.environment == "prod"
        endpoint_access = _endpoint_access(label, args)
        private_cidrs = _private_cidrs(label, args)
        gpu_pool_caps = gpu_catalogue.pool(
            args.gpu, "aws", args.min_nodes, args.max_nodes, label=label, spot=args.spot
        )
        if (args.vpc_id is None) != (not args.subnet_ids):
            raise ValueError(f"{label}: give vpc_id and subnet_ids together, or neither")
        vpc_id, subnet_ids = self._given_or_new_network(name, args, prod)
        cluster_name = stable_name(f"{name}-eks", 100)
        key, log_group = self._key_and_logs(name, args, cluster_name, prod)
        cluster_role, cluster_role_grants = self._control_plane_role(name, args, key)
        node_role, node_policies = self._node_role(name, args)
        settings = (cluster_name, kubernetes_version, endpoint_access)
        cluster_needs = [log_group, *cluster_role_grants]
        cluster = self._cluster(
            name, args, settings, cluster_role, subnet_ids, key, depends_on=cluster_needs
        )
        system_pool = self._system_pool(name, args, cluster, node_role, subnet_ids, node_policies)
        gpu_pool = self._gpu_pool(
            name, args, gpu_pool_caps.offering, cluster, node_role, subnet_ids, node_policies
        )
        autoscaler_role, autoscaler_link = self._autoscaler_identity(
            name, cluster, cluster_name, args.tags
        )
        access = self._access_entries(name, cluster, args.admin_role_arns, args.tags)
        api_rules = self._api_ingress(name, cluster, private_cidrs, args.tags)
        trainer_role = self._trainer_identity(name, cluster, args, args.tags)
        here = region(self)
        profile, role_arn = _provider_identity(label, args)
        config = kubeconfig.eks(
            cluster.name,
            cluster.endpoint,
            cluster.certificate_authority.data,
            here,
            profile=profile,
            role_arn=role_arn,
        )
        if args.manage_kubernetes:
            # Pods need nodes; the deploying role may be one of the access entries.
            # The API must also be reachable from where pulumi up runs (the ingress rules).
            pods_need = [system_pool, autoscaler_link, *access, *api_rules]
            self._kubernetes(name, args, cluster, config, here, kubernetes_version, pods_need)
        self.register(
            cluster_name=cluster.name,
            gpu_pool_name=gpu_pool.node_group_name,
            max_gpus=pulumi.Output.from_input(gpu_pool_caps.max_gpus),
            max_usd_per_hour=pulumi.Output.from_input(gpu_pool_caps.max_usd_per_hour),
            cluster_endpoint=cluster.endpoint,
            cluster_security_group_id=cluster.vpc_config.cluster_security_group_id,
            kms_key_id=key.arn,
            vpc_id=pulumi.Output.from_input(vpc_id),
            private_subnet_ids=pulumi.Output.all(*subnet_ids),
            node_role_arn=node_role.arn,
            gpu_asg_name=gpu_pool.resources.apply(_first_asg_name),
            autoscaler_role_arn=autoscaler_role.arn,
            trainer_role_arn=trainer_role.arn,
            training_namespace=pulumi.Output.from_input(charts.TRAINING_NAMESPACE),
            training_service_account=pulumi.Output.from_input(charts.TRAINER_SERVICE_ACCOUNT),
            training_operator=pulumi.Output.from_input(args.operator),
            kubeconfig=config,
        )

    def _given_or_new_network(
        self, name: str, args: TrainingClusterArgs, prod: bool
    ) -> tuple[pulumi.Input[str], list[pulumi.Input[str]]]:
        """The caller's VPC and subnets, or a new network (see ``_network``)."""
        if args.vpc_id is not None and args.subnet_ids:
            return args.vpc_id, list(args.subnet_ids)
        return self._network(name, args, prod)

    def _key_and_logs(
        self, name: str, args: TrainingClusterArgs, cluster_name: str, prod: bool
    ) -> tuple[aws.kms.Key, aws.cloudwatch.LogGroup]:
        """The cluster's customer key and the control-plane log group it encrypts."""
        tags = args.tags
        log_group_name = f"/aws/eks/{cluster_name}/cluster"
        key = customer_key(
            self,
            f"{name}-key",
            "EKS secrets and control-plane logs",
            prod=prod,
            tags=tags,
            # CloudWatch Logs may use the key for this cluster's log group only.
            log_group_arns=[log_group_arn(self, log_group_name)],
        )
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-cluster-logs",
            name=log_group_name,
            retention_in_days=args.log_retention_days,
            kms_key_id=key.arn,
            tags=tags,
            opts=child_opts(self),
        )
        return key, log_group

    def _control_plane_role(
        self, name: str, args: TrainingClusterArgs, key: aws.kms.Key
    ) -> tuple[aws.iam.Role, list[pulumi.Resource]]:
        """The EKS control plane's role and its grants (managed policy, envelope encryption)."""
        tags = args.tags
        cluster_role = aws.iam.Role(
            f"{name}-cluster-role",
            description=f"EKS control plane of {name}",
            assume_role_policy=assume_role_policy("eks.amazonaws.com"),
            tags=tags,
            opts=child_opts(self),
        )
        cluster_policy = aws.iam.RolePolicyAttachment(
            f"{name}-cluster-role-policy",
            role=cluster_role.name,
            policy_arn=managed_policy_arn(defaults.CLUSTER_MANAGED_POLICY),
            opts=child_opts(self),
        )
        cluster_kms = aws.iam.RolePolicy(
            f"{name}-cluster-role-kms",
            role=cluster_role.id,
            policy=document(
                [
                    statement(
                        Sid="EnvelopeEncryption",
                        Effect="Allow",
                        Action=list(CLUSTER_KEY_ACTIONS),
                        Resource=key.arn,
                    )
                ]
            ),
            opts=child_opts(self),
        )
        return cluster_role, [cluster_policy, cluster_kms]

    def _node_role(
        self, name: str, args: TrainingClusterArgs
    ) -> tuple[aws.iam.Role, list[aws.iam.RolePolicyAttachment]]:
        """The nodes' role and its AWS managed policies."""
        tags = args.tags
        node_role = aws.iam.Role(
            f"{name}-node-role",
            description=f"EKS nodes of {name}",
            assume_role_policy=assume_role_policy("ec2.amazonaws.com"),
            tags=tags,
            opts=child_opts(self),
        )
        node_policies = [
            aws.iam.RolePolicyAttachment(
                f"{name}-node-{role}-policy",
                role=node_role.name,
                policy_arn=managed_policy_arn(policy),
                opts=child_opts(self),
            )
            for role, policy in defaults.NODE_MANAGED_POLICIES.items()
        ]
        return node_role, node_policies

    def _cluster(
        self,
        name: str,
        args: TrainingClusterArgs,
        settings: tuple[str, str, tuple[bool, list[str] | None]],
        cluster_role: aws.iam.Role,
        subnet_ids: list[pulumi.Input[str]],
        key: aws.kms.Key,
        depends_on: list[pulumi.Resource],
    ) -> aws.eks.Cluster:
        """The EKS cluster: private endpoint, encrypted secrets, every control-plane log.

        ``settings`` is the resolved (cluster name, Kubernetes version, (public, allow-list)).
        """
        tags = args.tags
        cluster_name, kubernetes_version, (public, public_cidrs) = settings
        return aws.eks.Cluster(
            f"{name}-cluster",
            name=cluster_name,
            version=kubernetes_version,
            role_arn=cluster_role.arn,
            vpc_config={
                "subnet_ids": subnet_ids,
                "endpoint_private_access": True,
                "endpoint_public_access": public,
                # Without an explicit list EKS opens a public endpoint to 0.0.0.0/0.
                "public_access_cidrs": public_cidrs,
            },
            encryption_config={"provider": {"key_arn": key.arn}, "resources": ["secrets"]},
            enabled_cluster_log_types=list(defaults.CLUSTER_LOG_TYPES),
            access_config={
                "authentication_mode": "API",
                # Explicit, never the provider's default: with named admin roles the creator gets
                # no entry of its own (an entry for the same principal would fail to create);
                # without them the creator is the only admin. Fixed at creation (the provider
                # replaces the cluster when it changes).
                "bootstrap_cluster_creator_admin_permissions": not args.admin_role_arns,
            },
            # At the end of standard support EKS upgrades the control plane instead of billing
            # extended support. https://docs.aws.amazon.com/eks/latest/userguide/kubernetes-versions.html
            upgrade_policy={"support_type": defaults.EKS_SUPPORT_TYPE},
            tags=tags,
            # The name is explicit, so a replacement must delete the old cluster first.
            opts=child_opts(
                self,
                depends_on=depends_on,
                delete_before_replace=True,
            ),
        )

    def _system_pool(
        self,
        name: str,
        args: TrainingClusterArgs,
        cluster: aws.eks.Cluster,
        node_role: aws.iam.Role,
        subnet_ids: list[pulumi.Input[str]],
        node_policies: list[aws.iam.RolePolicyAttachment],
    ) -> aws.eks.NodeGroup:
        """The on-demand node group for system pods (autoscaler, device plugin, operator): one
        node in dev, two in staging/prod (the Auto Scaling group spreads them over the subnets'
        AZs)."""
        tags = args.tags
        return aws.eks.NodeGroup(
            f"{name}-system",
            cluster_name=cluster.name,
            node_role_arn=node_role.arn,
            subnet_ids=subnet_ids,
            instance_types=[args.system_instance_type],
            ami_type=defaults.SYSTEM_AMI_TYPE,
            capacity_type="ON_DEMAND",
            scaling_config={
                "min_size": defaults.SYSTEM_MIN_NODES[args.environment],
                "desired_size": defaults.SYSTEM_MIN_NODES[args.environment],
                "max_size": defaults.SYSTEM_MAX_NODES[args.environment],
            },
            labels={"mlops/pool": "system"},
            tags=tags,
            opts=child_opts(self, depends_on=node_policies),
        )

    def _gpu_pool(
        self,
        name: str,
        args: TrainingClusterArgs,
        offering: gpu_catalogue.GpuOffering,
        cluster: aws.eks.Cluster,
        node_role: aws.iam.Role,
        subnet_ids: list[pulumi.Input[str]],
        node_policies: list[aws.iam.RolePolicyAttachment],
    ) -> aws.eks.NodeGroup:
        """The GPU node group (tainted, scales from zero) and its launch template."""
        tags = args.tags
        # Tags: EKS managed node group tags stay on the node group; instance and volume tags come
        # from the launch template's tag specifications. The template also sets IMDS and the root
        # volume. https://docs.aws.amazon.com/eks/latest/userguide/launch-templates.html
        node_tags = dict(args.node_tags)
        ebs: dict[str, object] = {
            "volume_size": defaults.GPU_ROOT_VOLUME_GIB,
            "volume_type": defaults.GPU_ROOT_VOLUME_TYPE,
            "encrypted": "true",
            "delete_on_termination": "true",
        }
        if args.node_volume_kms_key_arn is not None:
            ebs["kms_key_id"] = args.node_volume_kms_key_arn
        template = aws.ec2.LaunchTemplate(
            f"{name}-gpu-nodes",
            description=f"GPU nodes of {name}: IMDSv2 with hop limit 1, encrypted root, tags",
            metadata_options=dict(defaults.NODE_METADATA_OPTIONS),
            block_device_mappings=[{"device_name": defaults.GPU_ROOT_DEVICE, "ebs": ebs}],
            tag_specifications=[
                {"resource_type": kind, "tags": node_tags} for kind in ("instance", "volume")
            ]
            if node_tags
            else None,
            tags=tags,
            opts=child_opts(self),
        )
        launch_template = {"id": template.id, "version": template.latest_version.apply(str)}
        return aws.eks.NodeGroup(
            f"{name}-gpu",
            launch_template=launch_template,
            cluster_name=cluster.name,
            node_role_arn=node_role.arn,
            subnet_ids=subnet_ids,
            instance_types=list(offering.node_types(args.spot)),
            ami_type=defaults.GPU_AMI_TYPE,
            capacity_type="SPOT" if args.spot else "ON_DEMAND",
            scaling_config={
                "min_size": args.min_nodes,
                "desired_size": args.min_nodes,
                "max_size": args.max_nodes,
            },
            taints=[dict(defaults.GPU_TAINT)],
            labels={
                "nvidia.com/gpu.product": offering.accelerator,
                "nvidia.com/gpu.count": str(offering.gpus_per_node),
                "mlops/gpu": offering.gpu,
                "mlops/pool": "gpu",
                defaults.GPU_NODE_LABEL: offering.accelerator,
            },
            tags=tags,
            # The cluster autoscaler owns the desired size once the pool exists.
            opts=child_opts(
                self, depends_on=node_policies, ignore_changes=["scalingConfig.desiredSize"]
            ),
        )

    def _kubernetes(
        self,
        name: str,
        args: TrainingClusterArgs,
        cluster: aws.eks.Cluster,
        config: pulumi.Output[str],
        here: pulumi.Output[str],
        kubernetes_version: str,
        depends_on: list[pulumi.Resource],
    ) -> None:
        """The Kubernetes side: device plugin, cluster autoscaler, training namespace, operator."""
        addons.install(
            self,
            name,
            kubeconfig=config,
            operator=args.operator,
            labels=dict(args.kubernetes_labels or {}),
            gpu_pool_label=GPU_POOL_LABEL,
            device_plugin=True,
            autoscaler=addons.Autoscaler(
                cluster_name=cluster.name,
                region=here,
                kubernetes_version=kubernetes_version,
                system_selector={"mlops/pool": "system"},
            ),
            depends_on=depends_on,
        )

    def _access_entries(
        self, name: str, cluster: aws.eks.Cluster, role_arns: Sequence[str], tags: Tags
    ) -> list[pulumi.Resource]:
        """Cluster-admin access entries for the named CI/operator roles (API auth mode)."""
        created: list[pulumi.Resource] = []
        for i, arn in enumerate(role_arns):
            entry = aws.eks.AccessEntry(
                f"{name}-access-{i}",
                cluster_name=cluster.name,
                principal_arn=arn,
                type="STANDARD",
                tags=tags,
                opts=child_opts(self),
            )
            created.append(
                aws.eks.AccessPolicyAssociation(
                    f"{name}-access-{i}-admin",
                    cluster_name=cluster.name,
                    principal_arn=entry.principal_arn,
                    policy_arn=CLUSTER_ADMIN_POLICY,
                    access_scope={"type": "cluster"},
                    opts=child_opts(self),
                )
            )
        return created

    def _api_ingress(
        self, name: str, cluster: aws.eks.Cluster, cidrs: Sequence[str], tags: Tags
    ) -> list[pulumi.Resource]:
        """HTTPS ingress to the API from each private CIDR, on the EKS-created cluster security
        group (the one the private endpoint's network interfaces carry)."""
        rules: list[pulumi.Resource] = []
        for i, cidr in enumerate(cidrs):
            v6 = ipaddress.ip_network(cidr).version == 6
            rules.append(
                aws.vpc.SecurityGroupIngressRule(
                    f"{name}-api-from-{i}",
                    security_group_id=cluster.vpc_config.cluster_security_group_id,
                    description=f"Kubernetes API (HTTPS) from {cidr}",
                    ip_protocol="tcp",
                    from_port=API_PORT,
                    to_port=API_PORT,
                    cidr_ipv4=None if v6 else cidr,
                    cidr_ipv6=cidr if v6 else None,
                    tags=tags,
                    opts=child_opts(self),
                )
            )
        return rules

    def _trainer_identity(
        self,
        name: str,
        cluster: aws.eks.Cluster,
        args: TrainingClusterArgs,
        tags: Tags,
    ) -> aws.iam.Role:
        """The role training pods run as (``mlops-training/trainer`` via EKS Pod Identity)."""
        role = aws.iam.Role(
            f"{name}-trainer-role",
            description=f"Training jobs on {name}: read data from and write checkpoints to the "
            "artifact store",
            assume_role_policy=_pod_identity_trust(
                self, cluster, charts.TRAINING_NAMESPACE, charts.TRAINER_SERVICE_ACCOUNT
            ),
            tags=tags,
            opts=child_opts(self),
        )
        if args.artifact_bucket_arn is not None:
            # Training reads the versioned data and never changes it: DVC pushes come from CI or
            # people with the store's DVC policy, not from pods.
            aws.iam.RolePolicy(
                f"{name}-trainer-data",
                role=role.id,
                policy=_data_policy(
                    args.artifact_bucket_arn, args.artifact_data_prefix, args.artifact_key_arn
                ),
                opts=child_opts(self),
            )
            aws.iam.RolePolicy(
                f"{name}-trainer-checkpoints",
                role=role.id,
                policy=_checkpoint_policy(args.artifact_bucket_arn),
                opts=child_opts(self),
            )
        aws.eks.PodIdentityAssociation(
            f"{name}-trainer",
            cluster_name=cluster.name,
            namespace=charts.TRAINING_NAMESPACE,
            service_account=charts.TRAINER_SERVICE_ACCOUNT,
            role_arn=role.arn,
            tags=tags,
            opts=child_opts(self),
        )
        return role

    def _autoscaler_identity(
        self, name: str, cluster: aws.eks.Cluster, cluster_name: str, tags: Tags
    ) -> tuple[aws.iam.Role, aws.eks.PodIdentityAssociation]:
        """The AWS identity of the cluster autoscaler that scales the GPU pool from zero.

        EKS Pod Identity (agent add-on plus an association) hands the role to the
        ``kube-system/cluster-autoscaler`` service account. Describe calls only support resource
        ``*``; changing a group's size is limited to the groups EKS tags as this cluster's.
        """
        agent = aws.eks.Addon(
            f"{name}-pod-identity-agent",
            cluster_name=cluster.name,
            addon_name="eks-pod-identity-agent",
            tags=tags,
            opts=child_opts(self),
        )
        role = aws.iam.Role(
            f"{name}-autoscaler-role",
            assume_role_policy=_pod_identity_trust(
                self, cluster, "kube-system", AUTOSCALER_SERVICE_ACCOUNT
            ),
            tags=tags,
            opts=child_opts(self),
        )
        aws.iam.RolePolicy(
            f"{name}-autoscaler-policy",
            role=role.id,
            policy=document(
                [
                    statement(
                        Sid="DiscoverNodeGroups",
                        Effect="Allow",
                        Action=list(defaults.AUTOSCALER_DESCRIBE_ACTIONS),
                        Resource="*",
                    ),
                    statement(
                        Sid="ScaleThisClustersGroups",
                        Effect="Allow",
                        Action=list(defaults.AUTOSCALER_SCALE_ACTIONS),
                        Resource="*",
                        Condition={
                            "StringEquals": {
                                f"aws:ResourceTag/k8s.io/cluster-autoscaler/{cluster_name}": (
                                    "owned"
                                )
                            }
                        },
                    ),
                ]
            ),
            opts=child_opts(self),
        )
        link = aws.eks.PodIdentityAssociation(
            f"{name}-autoscaler",
            cluster_name=cluster.name,
            namespace="kube-system",
            service_account=AUTOSCALER_SERVICE_ACCOUNT,
            role_arn=role.arn,
            tags=tags,
            opts=child_opts(self, depends_on=[agent]),
        )
        return role, link

    def _network(
        self, name: str, args: TrainingClusterArgs, prod: bool
    ) -> tuple[pulumi.Output[str], list[pulumi.Input[str]]]:
        """A VPC with public and private subnets per AZ, NAT, and endpoints for S3, ECR, STS."""
        if args.availability_zones < 2:
            raise ValueError(f"TrainingCluster {name}: availability_zones must be >= 2")
        tags = args.tags
        zones = aws.get_availability_zones_output(
            state="available", opts=pulumi.InvokeOptions(parent=self)
        ).names
        net = ipaddress.ip_network(args.vpc_cidr)
        # Private subnets get the large blocks (pods take VPC IPs); public ones only hold NAT.
        private_cidrs: list[ipaddress.IPv4Network | ipaddress.IPv6Network]
        private_cidrs = list(net.subnets(new_prefix=net.prefixlen + 3))
        public_cidrs = list(private_cidrs[-1].subnets(new_prefix=private_cidrs[-1].prefixlen + 3))
        vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=args.vpc_cidr,
            enable_dns_hostnames=True,
            enable_dns_support=True,
            tags=tags,
            opts=child_opts(self),
        )
        igw = aws.ec2.InternetGateway(
            f"{name}-igw", vpc_id=vpc.id, tags=tags, opts=child_opts(self)
        )
        public_rt = aws.ec2.RouteTable(
            f"{name}-public-rt",
            vpc_id=vpc.id,
            routes=[{"cidr_block": "0.0.0.0/0", "gateway_id": igw.id}],
            tags=tags,
            opts=child_opts(self),
        )
        nat_count = args.availability_zones if prod else 1
        nats: list[aws.ec2.NatGateway] = []
        private_subnets: list[aws.ec2.Subnet] = []
        private_rts: list[aws.ec2.RouteTable] = []
        for i in range(args.availability_zones):
            zone = zones.apply(lambda names, i=i: names[i % len(names)])
            public = aws.ec2.Subnet(
                f"{name}-public-{i}",
                vpc_id=vpc.id,
                cidr_block=str(public_cidrs[i]),
                availability_zone=zone,
                map_public_ip_on_launch=False,
                tags=tags,
                opts=child_opts(self),
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-public-{i}-rta",
                subnet_id=public.id,
                route_table_id=public_rt.id,
                opts=child_opts(self),
            )
            if i < nat_count:
                eip = aws.ec2.Eip(
                    f"{name}-nat-{i}-eip", domain="vpc", tags=tags, opts=child_opts(self)
                )
                nats.append(
                    aws.ec2.NatGateway(
                        f"{name}-nat-{i}",
                        allocation_id=eip.allocation_id,
                        subnet_id=public.id,
                        tags=tags,
                        opts=child_opts(self, depends_on=[igw]),
                    )
                )
            private = aws.ec2.Subnet(
                f"{name}-private-{i}",
                vpc_id=vpc.id,
                cidr_block=str(private_cidrs[i]),
                availability_zone=zone,
                map_public_ip_on_launch=False,
                tags=tags,
                opts=child_opts(self),
            )
            private_subnets.append(private)
            rt = aws.ec2.RouteTable(
                f"{name}-private-{i}-rt",
                vpc_id=vpc.id,
                routes=[{"cidr_block": "0.0.0.0/0", "nat_gateway_id": nats[i % nat_count].id}],
                tags=tags,
                opts=child_opts(self),
            )
            private_rts.append(rt)
            aws.ec2.RouteTableAssociation(
                f"{name}-private-{i}-rta",
                subnet_id=private.id,
                route_table_id=rt.id,
                opts=child_opts(self),
            )

        here = region(self)
        endpoints_sg = aws.ec2.SecurityGroup(
            f"{name}-endpoints-sg",
            description="HTTPS from the VPC to the interface endpoints",
            vpc_id=vpc.id,
            ingress=[
                {
                    "protocol": "tcp",
                    "from_port": 443,
                    "to_port": 443,
                    "cidr_blocks": [args.vpc_cidr],
                    "description": "HTTPS from the VPC",
                }
            ],
            tags=tags,
            opts=child_opts(self),
        )
        aws.ec2.VpcEndpoint(
            f"{name}-s3-endpoint",
            vpc_id=vpc.id,
            service_name=pulumi.Output.concat("com.amazonaws.", here, ".s3"),
            vpc_endpoint_type="Gateway",
            route_table_ids=[rt.id for rt in private_rts],
            tags=tags,
            opts=child_opts(self),
        )
        for role, service in INTERFACE_ENDPOINTS.items():
            aws.ec2.VpcEndpoint(
                f"{name}-{role}-endpoint",
                vpc_id=vpc.id,
                service_name=pulumi.Output.concat("com.amazonaws.", here, f".{service}"),
                vpc_endpoint_type="Interface",
                private_dns_enabled=True,
                subnet_ids=[s.id for s in private_subnets],
                security_group_ids=[endpoints_sg.id],
                tags=tags,
                opts=child_opts(self),
            )
        return vpc.id, [s.id for s in private_subnets]


POD_IDENTITY_TRUST_DOC = "https://docs.aws.amazon.com/eks/latest/userguide/pod-id-role.html"


def _pod_identity_trust(
    parent: pulumi.Resource, cluster: aws.eks.Cluster, namespace: str, service_account: str
) -> pulumi.Output[str]:
    """Trust for EKS Pod Identity from this account, this cluster and one service account only.

    Pod Identity tags the session with the cluster ARN, namespace and service account (on by
    default); the trust matches them, so no other association in the account can use the role.
    """
    return document(
        [
            statement(
                Sid="EksPodIdentityForOneServiceAccount",
                Effect="Allow",
                Principal={"Service": "pods.eks.amazonaws.com"},
                Action=["sts:AssumeRole", "sts:TagSession"],
                Condition={
                    "StringEquals": {
                        "aws:SourceAccount": account_id(parent),
                        "aws:RequestTag/eks-cluster-arn": cluster.arn,
                        "aws:RequestTag/kubernetes-namespace": namespace,
                        "aws:RequestTag/kubernetes-service-account": service_account,
                    }
                },
            )
        ]
    )


def _provider_identity(label: str, args: TrainingClusterArgs) -> tuple[str | None, str | None]:
    """The (profile, role ARN) the stack's AWS provider authenticates with, for the kubeconfig.

    ``aws eks get-token`` takes one ``--role-arn`` and no external ID, so a role chain or an
    external ID cannot be reproduced: refused rather than authenticating as someone else.
    """
    config = pulumi.Config("aws")
    profile = args.kubeconfig_profile or config.get("profile")
    if args.kubeconfig_role_arn:
        return profile, args.kubeconfig_role_arn
    roles = config.get_object("assumeRoles") or []
    if isinstance(roles, Mapping):
        roles = [roles]
    if not isinstance(roles, list) or len(roles) > 1:
        raise ValueError(
            f"{label}: aws:assumeRoles chains {len(roles) if isinstance(roles, list) else '?'} "
            "roles; the kubeconfig's aws eks get-token assumes one: set kubeconfig_role_arn or "
            "use a profile that chains them (aws:profile)"
        )
    if not roles:
        return profile, None
    role = roles[0] if isinstance(roles[0], Mapping) else {}
    if role.get("externalId"):
        raise ValueError(
            f"{label}: aws:assumeRoles has an externalId, which aws eks get-token cannot pass: "
            "use a profile whose role_arn/external_id do it (aws:profile)"
        )
    arn = role.get("roleArn")
    return profile, str(arn) if arn else None


def _first_asg_name(resources: Sequence[aws.eks.outputs.NodeGroupResource]) -> str:
    """The node group's Auto Scaling group name (empty until EKS reports one)."""
    return resources[0].autoscaling_groups[0].name if resources else ""


def _endpoint_access(label: str, args: TrainingClusterArgs) -> tuple[bool, list[str] | None]:
    """Whether the API endpoint is public (a warned, dev-only choice) and its allow-list."""
    public = secure_default(
        label, "public_endpoint", args.public_endpoint, defaults.PUBLIC_ENDPOINT
    )
    require_not_prod(label, args.environment, "public_endpoint", public)
    return public, _public_cidrs(label, args.environment, public, args.public_access_cidrs)


def _public_cidrs(
    label: str, environment: str, public: bool, cidrs: Sequence[str]
) -> list[str] | None:
    """The public endpoint's allow-list: required when public, never the whole internet in
    staging/prod. None when the endpoint is private (the field is then meaningless)."""
    if not public:
        return None
    if not cidrs:
        raise ValueError(f"{label}: a public endpoint needs public_access_cidrs (an allow-list)")
    for cidr in cidrs:
        if ipaddress.ip_network(cidr, strict=True).prefixlen == 0 and environment != "dev":
            raise ValueError(f"{label}: public_access_cidrs {cidr} is refused in {environment}")
    return list(cidrs)


def _private_cidrs(label: str, args: TrainingClusterArgs) -> list[str]:
    """The private sources of API ingress: the given list, else the new VPC's CIDR (none with
    an existing VPC). Refuses anything outside private address space."""
    if args.private_access_cidrs is None:
        return [args.vpc_cidr] if args.vpc_id is None else []
    cidrs = list(args.private_access_cidrs)
    for cidr in cidrs:
        problem = limits.private_cidr_problem(cidr)
        if problem is not None:
            raise ValueError(f"{label}: private_access_cidrs {problem}")
    return cidrs


CHECKPOINT_PREFIX = "checkpoints"
CHECKPOINT_OBJECT_ACTIONS = ("s3:GetObject", "s3:PutObject", "s3:PutObjectTagging")


DATA_OBJECT_ACTIONS = ("s3:GetObject",)
DATA_KEY_ACTIONS = ("kms:Decrypt", "kms:GenerateDataKey")


def _data_policy(
    bucket_arn: pulumi.Input[str], prefix: str, key_arn: pulumi.Input[str] | None
) -> pulumi.Output[str]:
    """Read-only DVC data (list and get under ``prefix``), and the bucket key: decrypt to read,
    generate data keys to write checkpoints (SSE-KMS)."""
    statements = [
        statement(
            Sid="ListData",
            Effect="Allow",
            Action=["s3:ListBucket"],
            Resource=bucket_arn,
            Condition={"StringLike": {"s3:prefix": [prefix, f"{prefix}/*"]}},
        ),
        statement(
            Sid="ReadData",
            Effect="Allow",
            Action=list(DATA_OBJECT_ACTIONS),
            Resource=pulumi.Output.concat(bucket_arn, f"/{prefix}/*"),
        ),
    ]
    if key_arn is not None:
        statements.append(
            statement(
                Sid="UseArtifactKey",
                Effect="Allow",
                Action=list(DATA_KEY_ACTIONS),
                Resource=key_arn,
            )
        )
    return document(statements)


def _checkpoint_policy(bucket_arn: pulumi.Input[str]) -> pulumi.Output[str]:
    """Training pods write checkpoints (tagged with lineage) under ``checkpoints/`` only."""
    return document(
        [
            statement(
                Sid="ListCheckpoints",
                Effect="Allow",
                Action=["s3:ListBucket"],
                Resource=bucket_arn,
                Condition={
                    "StringLike": {"s3:prefix": [CHECKPOINT_PREFIX, f"{CHECKPOINT_PREFIX}/*"]}
                },
            ),
            statement(
                Sid="ReadWriteCheckpoints",
                Effect="Allow",
                Action=list(CHECKPOINT_OBJECT_ACTIONS),
                Resource=pulumi.Output.concat(bucket_arn, f"/{CHECKPOINT_PREFIX}/*"),
            ),
        ]
    )
