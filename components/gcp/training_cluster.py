"""TrainingCluster on GCP: a private, regional GKE cluster with a GPU node pool that scales to zero.

The GPU pool's bounds are totals across the region's zones (``total_min_node_count`` /
``total_max_node_count`` with location policy ``ANY``), so ``max_nodes`` caps the whole pool and
``max_gpus`` / ``max_usd_per_hour`` are true worst cases. GKE installs the NVIDIA driver
(``gpu_driver_installation_config``); pods need the ``nvidia.com/gpu`` toleration to land there.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import pulumi
from pulumi_gcp import compute, container, organizations, projects, serviceaccount

from mlops_iac.components._component import (
    Component,
    child_opts,
    component_opts,
    require_not_prod,
    secure_default,
)
from mlops_iac.components.contract_types import TrainingClusterArgsBase
from mlops_iac.components.gcp import _defaults as defaults
from mlops_iac.components.gcp._common import (
    agent_member,
    crypto_key,
    project_info,
    region_or_default,
    resource_id,
)
from mlops_iac.components.kubernetes import addons, charts, kubeconfig
from mlops_iac.spec import gpu as gpu_catalogue

TYPE = "mlops:gcp:TrainingCluster"


@dataclass(frozen=True, kw_only=True)
class TrainingClusterArgs(TrainingClusterArgsBase):
    """Inputs of ``TrainingCluster``. Every field is optional; defaults are the secure choice."""

    FIELD_NOTES: ClassVar[Mapping[str, str]] = {
        "environment": (
            "``dev``, ``staging`` or ``prod``. Default ``dev``. Prod turns on deletion "
            "protection and refuses a public control-plane endpoint."
        ),
        "min_nodes": ("GPU nodes kept warm across the region. Default 0: scale to zero."),
        "max_nodes": ("Upper bound of GPU nodes across the region. Default 2."),
        "spot": ("Run GPU nodes on Spot VMs. Default: on-demand."),
        "public_endpoint": (
            "Expose the control plane on a public IP (still limited to "
            "``public_access_cidrs``). Default: private endpoint only; refused in prod."
        ),
        "tags": (
            "Extra tags on the cluster, its nodes and its key, as GCP labels (GCP-valid keys "
            "and values). Default: none."
        ),
    }

    region: str | None = None
    """Region of the (regional) cluster. Default: ``gcp:region``, else us-central1."""
    gpu_zones: Sequence[str] = ()
    """Zones of the region where the GPU pool may place nodes (GPU models are not offered in
    every zone). Default: all zones of the cluster."""
    public_access_cidrs: Sequence[str] = ()
    """CIDRs allowed to reach the control plane (GKE master authorized networks). Required with
    ``public_endpoint``; never ``0.0.0.0/0`` outside dev. Default: none (only the VPC)."""
    network: pulumi.Input[str] | None = None
    """Existing VPC network id. Default: a new VPC with a subnet, Cloud Router and NAT."""
    subnetwork: pulumi.Input[str] | None = None
    """Existing subnetwork id (with ``pods`` and ``services`` secondary ranges). Default: new."""
    pods_range_name: str = "pods"
    """Secondary range of the subnetwork for pods. Default ``pods``."""
    services_range_name: str = "services"
    """Secondary range of the subnetwork for services. Default ``services``."""
    master_cidr: str = defaults.MASTER_CIDR
    """/28 for the control plane's private endpoint. Default 172.16.0.0/28."""
    kms_key_id: pulumi.Input[str] | None = None
    """Cloud KMS key for Kubernetes secrets (the GKE agent must hold it). Default: a new key."""
    system_instance_type: str = defaults.SYSTEM_MACHINE_TYPE
    """Machine type of the system node pool. Default e2-standard-4."""
    budget_usd_per_hour: float | None = None
    """Warn when the GPU pool's worst-case $/h exceeds this. Default: no cap."""
    dns_endpoint: bool = True
    """Enable the DNS-based control-plane endpoint (IAM-authorised, reachable wherever Google
    APIs are, no public IP): the way CI and ``pulumi up`` reach a private cluster. Default: on."""
    operator: str = "kubeflow-trainer"
    """Training operator: ``kubeflow-trainer``, ``kuberay`` or ``none``. Default
    ``kubeflow-trainer``."""
    artifact_service_account: pulumi.Input[str] | None = None
    """Email of the service account with read-write access to the artifact store; training
    pods (``mlops-training/trainer``) impersonate it through Workload Identity. Default: none."""
    kubernetes_labels: Mapping[str, str] | None = None
    """Lineage labels for the namespaces the cluster creates. Default: none."""
    manage_kubernetes: bool = True
    """Declare the Kubernetes side (training namespace, workload service account, operator).
    Default: true."""


class TrainingCluster(Component):
    """Private GKE cluster with a system pool and a GPU pool that scales to zero.

    Children: ``{name}-network``, ``{name}-subnet``, ``{name}-router``, ``{name}-nat`` (unless a
    network is given), ``{name}-secrets-key-ring``, ``{name}-secrets-key``,
    ``{name}-secrets-key-gke-agent`` (unless a key is given), ``{name}-nodes`` (node service
    account) and ``{name}-nodes-<role>`` (one project IAM member per role in
    ``_defaults.NODE_ROLES``), ``{name}-cluster``, ``{name}-webhooks`` (firewall: the control
    plane's CIDR may reach the nodes on the operator's webhook port, tcp 9443; with an
    operator), ``{name}-system`` and ``{name}-gpu`` (node pools).

    Kubernetes side (``manage_kubernetes``): ``{name}-k8s`` (provider; kubeconfig built from the
    DNS endpoint, or the private endpoint and CA, with ``gke-gcloud-auth-plugin``),
    ``-training-ns`` / ``-trainer-sa`` (``mlops-training/trainer``, annotated with
    ``artifact_service_account``; ``-trainer-workload-identity`` lets it impersonate that
    account) and, with an operator, ``-operator-ns`` / ``-operator`` (Helm release). GKE itself
    installs the NVIDIA driver and device plugin and scales the GPU pool from zero.

    Outputs: ``cluster_name``, ``cluster_id``, ``gpu_pool_name``, ``max_gpus``,
    ``max_usd_per_hour``, ``node_service_account``, ``training_namespace``,
    ``training_service_account``, ``training_operator``, ``kubeconfig``.
    """

    cluster_name: pulumi.Output[str]
    cluster_id: pulumi.Output[str]
    gpu_pool_name: pulumi.Output[str]
    max_gpus: pulumi.Output[int]
    max_usd_per_hour: pulumi.Output[float]
    node_service_account: pulumi.Output[str]
    training_namespace: pulumi.Output[str]
    training_service_account: pulumi.Output[str]
    training_operator: pulumi.Output[str]
    kubeconfig: pulumi.Output[str]

    def __init__(
        self, name: str, args: TrainingClusterArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(TYPE, name, None, component_opts(opts))
        label = f"TrainingCluster {name}"
        public = secure_default(
            label, "public_endpoint", args.public_endpoint, defaults.PUBLIC_ENDPOINT
        )
        require_not_prod(label, args.environment, "public_endpoint", public)
        _check_public_access_cidrs(label, args.environment, public, args.public_access_cidrs)
        gpu_pool_caps = gpu_catalogue.pool(
            args.gpu, "gcp", args.min_nodes, args.max_nodes, label=label
        )
        max_usd = gpu_pool_caps.max_usd_per_hour
        _warn_over_budget(label, max_usd, args.budget_usd_per_hour)
        prod = args.environment == "prod"
        region = region_or_default(args.region)
        project = project_info(self)

        network, subnetwork = args.network, args.subnetwork
        if network is None or subnetwork is None:
            network, subnetwork = self._network(name, region, args)
        key_id, grants = self._secrets_key(name, args, region, prod, project)
        account, node_identity = self._node_identity(name, project)
        cluster = self._cluster(
            name,
            args,
            region=region,
            network=network,
            subnetwork=subnetwork,
            public=public,
            key_id=key_id,
            grants=grants,
            node_identity=node_identity,
            project=project,
            prod=prod,
        )
        if args.operator != "none":
            self._webhook_firewall(name, args, network, account)
        system_pool = self._system_pool(name, args, cluster, region, node_identity)
        gpu_pool = self._gpu_pool(
            name, args, cluster, region, node_identity, gpu_pool_caps.offering
        )
        config = _kubeconfig(cluster, args.dns_endpoint)
        self._kubernetes_side(name, args, project, cluster, system_pool, config)

        self.register(
            cluster_name=cluster.name,
            cluster_id=cluster.id,
            gpu_pool_name=gpu_pool.name,
            max_gpus=pulumi.Output.from_input(gpu_pool_caps.max_gpus),
            max_usd_per_hour=pulumi.Output.from_input(max_usd),
            node_service_account=account.email,
            training_namespace=pulumi.Output.from_input(charts.TRAINING_NAMESPACE),
            training_service_account=pulumi.Output.from_input(charts.TRAINER_SERVICE_ACCOUNT),
            training_operator=pulumi.Output.from_input(args.operator),
            kubeconfig=config,
        )

    def _secrets_key(
        self,
        name: str,
        args: TrainingClusterArgs,
        region: str,
        prod: bool,
        project: pulumi.Output[organizations.GetProjectResult],
    ) -> tuple[pulumi.Input[str], list[pulumi.Resource]]:
        """(key id, grants the cluster must wait for) of the Kubernetes secrets' key."""
        if args.kms_key_id is not None:
            return args.kms_key_id, []
        key, grants = crypto_key(
            self,
            f"{name}-secrets-key",
            location=region,
            prod=prod,
            grants={"gke-agent": agent_member(project.number, "gke")},
            labels=args.tags,
        )
        return key.id, grants

    def _node_identity(
        self, name: str, project: pulumi.Output[organizations.GetProjectResult]
    ) -> tuple[serviceaccount.Account, dict[str, Any]]:
        """``{name}-nodes`` with its project roles, and the node config every pool shares."""
        account = serviceaccount.Account(
            f"{name}-nodes",
            account_id=resource_id(name, "nodes", limit=30),
            display_name=f"GKE nodes of {name}",
            description="Least-privilege identity of the training cluster's nodes",
            opts=child_opts(self),
        )
        for role_name, role in defaults.NODE_ROLES.items():
            projects.IAMMember(
                f"{name}-nodes-{role_name}",
                project=project.project_id,
                role=role,
                member=account.member,
                opts=child_opts(self),
            )
        node_identity = {
            "service_account": account.email,
            "oauth_scopes": list(defaults.NODE_OAUTH_SCOPES),
            "shielded_instance_config": {
                "enable_secure_boot": True,
                "enable_integrity_monitoring": True,
            },
            "workload_metadata_config": {"mode": defaults.WORKLOAD_METADATA_MODE},
        }
        return account, node_identity

    def _cluster(
        self,
        name: str,
        args: TrainingClusterArgs,
        *,
        region: str,
        network: pulumi.Input[str],
        subnetwork: pulumi.Input[str],
        public: bool,
        key_id: pulumi.Input[str],
        grants: list[pulumi.Resource],
        node_identity: dict[str, Any],
        project: pulumi.Output[organizations.GetProjectResult],
        prod: bool,
    ) -> container.Cluster:
        """``{name}-cluster``: private nodes, Workload Identity, encrypted secrets."""
        return container.Cluster(
            f"{name}-cluster",
            location=region,
            network=network,
            subnetwork=subnetwork,
            networking_mode="VPC_NATIVE",
            ip_allocation_policy={
                "cluster_secondary_range_name": args.pods_range_name,
                "services_secondary_range_name": args.services_range_name,
            },
            private_cluster_config={
                "enable_private_nodes": True,
                "enable_private_endpoint": not public,
                "master_ipv4_cidr_block": args.master_cidr,
            },
            # The DNS endpoint is authorised by IAM (container.clusters.connect), not by IP.
            control_plane_endpoints_config={
                "dns_endpoint_config": {"allow_external_traffic": args.dns_endpoint}
            },
            master_authorized_networks_config={
                "cidr_blocks": [
                    {"cidr_block": cidr, "display_name": f"authorized-{i}"}
                    for i, cidr in enumerate(args.public_access_cidrs)
                ],
            },
            workload_identity_config={
                "workload_pool": project.project_id.apply(lambda p: f"{p}.svc.id.goog")
            },
            enable_shielded_nodes=True,
            enable_legacy_abac=False,
            database_encryption={"state": "ENCRYPTED", "key_name": key_id},
            release_channel={"channel": defaults.RELEASE_CHANNEL},
            datapath_provider=defaults.DATAPATH_PROVIDER,
            logging_config={"enable_components": list(defaults.CLUSTER_LOG_COMPONENTS)},
            # The default pool is created and removed at once; give it the node identity so that
            # not even it runs as the Compute Engine default service account.
            remove_default_node_pool=True,
            initial_node_count=1,
            node_config=node_identity,
            deletion_protection=prod,
            resource_labels=args.tags,
            opts=child_opts(self, depends_on=grants or None),
        )

    def _webhook_firewall(
        self,
        name: str,
        args: TrainingClusterArgs,
        network: pulumi.Input[str],
        account: serviceaccount.Account,
    ) -> compute.Firewall:
        """``{name}-webhooks``: the control plane may call the operator's admission webhooks.

        GKE's own rules let a private cluster's control plane reach nodes on tcp 443 and 10250
        only; the Kubeflow Trainer and JobSet webhooks (``failurePolicy: Fail``) listen on 9443,
        so without this rule every TrainJob is refused on a webhook timeout.
        https://cloud.google.com/kubernetes-engine/docs/how-to/latest/network-isolation#add_firewall_rules
        """
        return compute.Firewall(
            f"{name}-webhooks",
            network=network,
            direction="INGRESS",
            description=f"Control plane of {name} to the training operator's webhooks",
            source_ranges=[args.master_cidr],
            target_service_accounts=[account.email],
            allows=[{"protocol": "tcp", "ports": list(defaults.WEBHOOK_PORTS)}],
            log_config={"metadata": "INCLUDE_ALL_METADATA"},
            opts=child_opts(self),
        )

    def _system_pool(
        self,
        name: str,
        args: TrainingClusterArgs,
        cluster: container.Cluster,
        region: str,
        node_identity: dict[str, Any],
    ) -> container.NodePool:
        """``{name}-system``: the always-on pool for system pods and the operator."""
        return container.NodePool(
            f"{name}-system",
            cluster=cluster.id,
            location=region,
            initial_node_count=defaults.SYSTEM_MIN_NODES,
            autoscaling={
                "total_min_node_count": defaults.SYSTEM_MIN_NODES,
                "total_max_node_count": defaults.SYSTEM_MAX_NODES,
                "location_policy": "BALANCED",
            },
            management={"auto_repair": True, "auto_upgrade": True},
            node_config={
                **node_identity,
                "machine_type": args.system_instance_type,
                "labels": {"mlops-pool": "system"},
                "resource_labels": args.tags,
            },
            opts=child_opts(self),
        )

    def _gpu_pool(
        self,
        name: str,
        args: TrainingClusterArgs,
        cluster: container.Cluster,
        region: str,
        node_identity: dict[str, Any],
        offering: gpu_catalogue.GpuOffering,
    ) -> container.NodePool:
        """``{name}-gpu``: tainted GPU nodes, bounded across the region, GKE-installed driver."""
        return container.NodePool(
            f"{name}-gpu",
            cluster=cluster.id,
            location=region,
            initial_node_count=args.min_nodes,
            node_locations=list(args.gpu_zones) or None,
            autoscaling={
                "total_min_node_count": args.min_nodes,
                "total_max_node_count": args.max_nodes,
                "location_policy": "ANY",
            },
            management={"auto_repair": True, "auto_upgrade": True},
            node_config={
                **node_identity,
                "machine_type": offering.node_type,
                "spot": args.spot,
                "guest_accelerators": [
                    {
                        "type": offering.accelerator,
                        "count": offering.gpus_per_node,
                        "gpu_driver_installation_config": {
                            "gpu_driver_version": defaults.GPU_DRIVER_VERSION
                        },
                    }
                ],
                "taints": [dict(defaults.GPU_TAINT)],
                "labels": {
                    "mlops-pool": "gpu",
                    "mlops-gpu": args.gpu,
                    "mlops-accelerator": offering.accelerator,
                },
                "resource_labels": args.tags,
            },
            opts=child_opts(self),
        )

    def _kubernetes_side(
        self,
        name: str,
        args: TrainingClusterArgs,
        project: pulumi.Output[organizations.GetProjectResult],
        cluster: container.Cluster,
        system_pool: container.NodePool,
        config: pulumi.Output[str],
    ) -> None:
        """The trainer's Workload Identity grant and (``manage_kubernetes``) the addons."""
        annotations: dict[str, pulumi.Input[str]] = {}
        if args.artifact_service_account is not None:
            annotations["iam.gke.io/gcp-service-account"] = args.artifact_service_account
            serviceaccount.IAMMember(
                f"{name}-trainer-workload-identity",
                service_account_id=pulumi.Output.concat(
                    "projects/",
                    project.project_id,
                    "/serviceAccounts/",
                    args.artifact_service_account,
                ),
                role="roles/iam.workloadIdentityUser",
                member=project.project_id.apply(
                    lambda p: (
                        f"serviceAccount:{p}.svc.id.goog"
                        f"[{charts.TRAINING_NAMESPACE}/{charts.TRAINER_SERVICE_ACCOUNT}]"
                    )
                ),
                opts=child_opts(self, depends_on=[cluster]),
            )
        if args.manage_kubernetes:
            # GKE installs the NVIDIA driver (gpu_driver_installation_config) and runs its own
            # device plugin and cluster autoscaler: only the operator and namespaces remain.
            addons.install(
                self,
                name,
                kubeconfig=config,
                operator=args.operator,
                labels=dict(args.kubernetes_labels or {}),
                trainer_annotations=annotations,
                gpu_pool_label=("mlops-pool", "gpu"),
                depends_on=[system_pool],
            )

    def _network(
        self, name: str, region: str, args: TrainingClusterArgs
    ) -> tuple[pulumi.Output[str], pulumi.Output[str]]:
        """A VPC for private nodes: subnet with secondary ranges, and NAT for egress."""
        network = compute.Network(
            f"{name}-network",
            auto_create_subnetworks=False,
            routing_mode="REGIONAL",
            opts=child_opts(self),
        )
        subnet = compute.Subnetwork(
            f"{name}-subnet",
            network=network.id,
            region=region,
            ip_cidr_range=defaults.SUBNET_CIDR,
            private_ip_google_access=True,
            secondary_ip_ranges=[
                {"range_name": args.pods_range_name, "ip_cidr_range": defaults.PODS_CIDR},
                {"range_name": args.services_range_name, "ip_cidr_range": defaults.SERVICES_CIDR},
            ],
            log_config={
                "aggregation_interval": "INTERVAL_5_SEC",
                "flow_sampling": 0.5,
                "metadata": "INCLUDE_ALL_METADATA",
            },
            opts=child_opts(self),
        )
        router = compute.Router(
            f"{name}-router", network=network.id, region=region, opts=child_opts(self)
        )
        compute.RouterNat(
            f"{name}-nat",
            router=router.name,
            region=region,
            nat_ip_allocate_option="AUTO_ONLY",
            source_subnetwork_ip_ranges_to_nat="ALL_SUBNETWORKS_ALL_IP_RANGES",
            log_config={"enable": True, "filter": "ERRORS_ONLY"},
            opts=child_opts(self),
        )
        return network.id, subnet.id


def _warn_over_budget(label: str, max_usd: float, budget: float | None) -> None:
    """A warning (not a refusal) when the GPU pool's worst case exceeds the hourly budget."""
    if budget is not None and max_usd > budget:
        pulumi.log.warn(f"{label}: the GPU pool can cost ${max_usd}/h, over the ${budget}/h budget")


def _check_public_access_cidrs(
    label: str, environment: str, public: bool, cidrs: Sequence[str]
) -> None:
    """A public endpoint needs an explicit allow-list, never the whole internet outside dev."""
    if public and not cidrs:
        raise ValueError(f"{label}: a public endpoint needs public_access_cidrs (an allow-list)")
    for cidr in cidrs:
        if ipaddress.ip_network(cidr, strict=True).prefixlen == 0 and environment != "dev":
            raise ValueError(f"{label}: public_access_cidrs {cidr} is refused in {environment}")


def _kubeconfig(cluster: container.Cluster, dns_endpoint: bool) -> pulumi.Output[str]:
    """The cluster's kubeconfig: through the DNS endpoint, else the private endpoint and CA."""
    if dns_endpoint:
        server = cluster.control_plane_endpoints_config.apply(
            lambda c: f"https://{c.dns_endpoint_config.endpoint}"
        )
        ca: pulumi.Input[str] | None = None
    else:
        server = pulumi.Output.concat("https://", cluster.endpoint)
        ca = cluster.master_auth.cluster_ca_certificate
    return kubeconfig.gke(cluster.name, server, ca)
