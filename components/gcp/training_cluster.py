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

import pulumi
from pulumi_gcp import compute, container, projects, serviceaccount

from mlops_iac.components._component import (
    child_opts,
    component_opts,
    require_not_prod,
    secure_default,
    unset,
)
from mlops_iac.components.gcp import _defaults as defaults
from mlops_iac.components.gcp._common import (
    Labels,
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
class TrainingClusterArgs:
    """Inputs of ``TrainingCluster``. Every field is optional; defaults are the secure choice."""

    environment: str = defaults.ENVIRONMENT
    """``dev``, ``staging`` or ``prod``. Default ``dev``. Prod turns on deletion protection and
    refuses a public control-plane endpoint."""
    region: str | None = None
    """Region of the (regional) cluster. Default: ``gcp:region``, else us-central1."""
    gpu: str = defaults.GPU
    """Neutral GPU name from ``mlops_iac.spec.gpu``. Default ``t4``."""
    min_nodes: int = defaults.MIN_NODES
    """GPU nodes kept warm across the region. Default 0: scale to zero."""
    max_nodes: int = defaults.MAX_NODES
    """Upper bound of GPU nodes across the region. Default 2."""
    spot: bool = defaults.SPOT
    """Run GPU nodes on Spot VMs. Default: on-demand."""
    public_endpoint: bool | None = unset(defaults.PUBLIC_ENDPOINT)
    """Expose the control plane on a public IP (still limited to ``public_access_cidrs``).
    Default: private endpoint only; refused in prod."""
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
    tags: Labels | None = None
    """Extra tags on the cluster, its nodes and its key, as GCP labels (GCP-valid keys and
    values). Default: none."""
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


class TrainingCluster(pulumi.ComponentResource):
    """Private GKE cluster with a system pool and a GPU pool that scales to zero.

    Children: ``{name}-network``, ``{name}-subnet``, ``{name}-router``, ``{name}-nat`` (unless a
    network is given), ``{name}-secrets-key-ring``, ``{name}-secrets-key``,
    ``{name}-secrets-key-gke-agent`` (unless a key is given), ``{name}-nodes`` (node service
    account) and ``{name}-nodes-<role>`` (one project IAM member per role in
    ``_defaults.NODE_ROLES``), ``{name}-cluster``, ``{name}-system`` and ``{name}-gpu`` (node
    pools).

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
        prod = args.environment == "prod"
        region = region_or_default(args.region)
        offering = gpu_pool_caps.offering
        max_usd = gpu_pool_caps.max_usd_per_hour
        if args.budget_usd_per_hour is not None and max_usd > args.budget_usd_per_hour:
            pulumi.log.warn(
                f"{label}: the GPU pool can cost ${max_usd}/h, over the "
                f"${args.budget_usd_per_hour}/h budget"
            )
        project = project_info(self)

        network, subnetwork = args.network, args.subnetwork
        if network is None or subnetwork is None:
            network, subnetwork = self._network(name, region, args)

        key_id: pulumi.Input[str] = args.kms_key_id or ""
        grants: list[pulumi.Resource] = []
        if args.kms_key_id is None:
            key, grants = crypto_key(
                self,
                f"{name}-secrets-key",
                location=region,
                prod=prod,
                grants={"gke-agent": agent_member(project.number, "gke")},
                labels=args.tags,
            )
            key_id = key.id

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

        cluster = container.Cluster(
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
        system_pool = container.NodePool(
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
        gpu_pool = container.NodePool(
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

        if args.dns_endpoint:
            server = cluster.control_plane_endpoints_config.apply(
                lambda c: f"https://{c.dns_endpoint_config.endpoint}"
            )
            ca: pulumi.Input[str] | None = None
        else:
            server = pulumi.Output.concat("https://", cluster.endpoint)
            ca = cluster.master_auth.cluster_ca_certificate
        self.kubeconfig = kubeconfig.gke(cluster.name, server, ca)
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
                kubeconfig=self.kubeconfig,
                operator=args.operator,
                labels=dict(args.kubernetes_labels or {}),
                trainer_annotations=annotations,
                gpu_pool_label=("mlops-pool", "gpu"),
                depends_on=[system_pool],
            )

        self.cluster_name = cluster.name
        self.cluster_id = cluster.id
        self.gpu_pool_name = gpu_pool.name
        self.max_gpus = pulumi.Output.from_input(gpu_pool_caps.max_gpus)
        self.max_usd_per_hour = pulumi.Output.from_input(max_usd)
        self.node_service_account = account.email
        self.training_namespace = pulumi.Output.from_input(charts.TRAINING_NAMESPACE)
        self.training_service_account = pulumi.Output.from_input(charts.TRAINER_SERVICE_ACCOUNT)
        self.training_operator = pulumi.Output.from_input(args.operator)
        self.register_outputs(
            {
                "cluster_name": self.cluster_name,
                "cluster_id": self.cluster_id,
                "gpu_pool_name": self.gpu_pool_name,
                "max_gpus": self.max_gpus,
                "max_usd_per_hour": self.max_usd_per_hour,
                "node_service_account": self.node_service_account,
                "training_namespace": self.training_namespace,
                "training_service_account": self.training_service_account,
                "training_operator": self.training_operator,
                "kubeconfig": self.kubeconfig,
            }
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


def _check_public_access_cidrs(
    label: str, environment: str, public: bool, cidrs: Sequence[str]
) -> None:
    """A public endpoint needs an explicit allow-list, never the whole internet outside dev."""
    if public and not cidrs:
        raise ValueError(f"{label}: a public endpoint needs public_access_cidrs (an allow-list)")
    for cidr in cidrs:
        if ipaddress.ip_network(cidr, strict=True).prefixlen == 0 and environment != "dev":
            raise ValueError(f"{label}: public_access_cidrs {cidr} is refused in {environment}")
