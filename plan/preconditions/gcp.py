"""GCP preconditions of a plan: services (APIs) to enable, Cloud Run GPU quota and GKE GPU
quota, named as the Cloud Quotas API names them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mlops_iac.plan.preconditions import Precondition, get, number, of

ENABLE_APIS = "https://cloud.google.com/service-usage/docs/enable-disable"
RUN_GPU_QUOTA = "https://cloud.google.com/run/docs/configuring/services/gpu-zonal-redundancy"
GPU_QUOTAS = "https://cloud.google.com/compute/resource-usage#gpu_quota"
CLOUD_QUOTAS = (
    "https://cloud.google.com/docs/quotas/reference/rest/v1/"
    "projects.locations.services.quotaInfos/get"
)
RUN_IMAGES = "https://cloud.google.com/run/docs/deploying#images"
FUNCTIONS_APIS = "https://cloud.google.com/functions/docs/create-deploy-gcloud#before_you_begin"

# pulumi-gcp module → the services its resources call. Cloud Functions (2nd gen) builds with
# Cloud Build into Artifact Registry and runs on Cloud Run, so it needs those too.
SERVICES: dict[str, tuple[str, ...]] = {
    "artifactregistry": ("artifactregistry.googleapis.com",),
    "billing": ("billingbudgets.googleapis.com",),
    "cloudfunctionsv2": (
        "cloudfunctions.googleapis.com",
        "cloudbuild.googleapis.com",
        "run.googleapis.com",
        "artifactregistry.googleapis.com",
    ),
    "cloudrunv2": ("run.googleapis.com",),
    "cloudscheduler": ("cloudscheduler.googleapis.com",),
    "compute": ("compute.googleapis.com",),
    "container": ("container.googleapis.com",),
    "kms": ("cloudkms.googleapis.com",),
    "monitoring": ("monitoring.googleapis.com",),
    "logging": ("logging.googleapis.com",),
    "projects": ("cloudresourcemanager.googleapis.com",),
    "pubsub": ("pubsub.googleapis.com",),
    "serviceaccount": ("iam.googleapis.com",),
    "sql": ("sqladmin.googleapis.com",),
    "storage": ("storage.googleapis.com",),
    "secretmanager": ("secretmanager.googleapis.com",),
    "eventarc": ("eventarc.googleapis.com",),
    "vertex": ("aiplatform.googleapis.com",),
}

# Cloud Run accelerator → the quota id stem (run.googleapis.com ``Nvidia<X>GpuAlloc…``).
RUN_ACCELERATORS = {
    "nvidia-l4": "L4",
    "nvidia-rtx-pro-6000": "RtxPro6000",
    "nvidia-h100-80gb": "H100",
}
# GKE guest accelerator → the compute.googleapis.com quota id stem
# (``[PREEMPTIBLE-]<X>-GPUS-per-project-region``).
GKE_ACCELERATORS = {
    "nvidia-tesla-t4": "NVIDIA-T4",
    "nvidia-l4": "NVIDIA-L4",
    "nvidia-tesla-a100": "NVIDIA-A100",
    "nvidia-a100-80gb": "NVIDIA-A100-80GB",
    "nvidia-h100-80gb": "NVIDIA-H100",
    "nvidia-tesla-v100": "NVIDIA-V100",
}


def _project(config: Mapping[str, Any]) -> str | None:
    project = config.get("gcp:project")
    return str(project) if project else None


def services(resources: list[Any], project: str | None) -> list[Precondition]:
    """One enabled service per API the plan's resource types call."""
    needed: dict[str, set[str]] = {}
    for resource in resources:
        parts = resource.type.split(":")
        if parts[0] != "gcp" or len(parts) != 3:
            continue
        module = parts[1].split("/", 1)[0]
        for service in SERVICES.get(module, ()):
            needed.setdefault(service, set()).add(parts[1])
        # A log-match alert condition reads Cloud Logging.
        if parts[1] == "monitoring/alertPolicy" and any(
            isinstance(c, Mapping) and c.get("conditionMatchedLog")
            for c in resource.inputs.get("conditions") or []
        ):
            needed.setdefault("logging.googleapis.com", set()).add(parts[1])
    return [
        Precondition(
            id=f"gcp-service-{service}",
            cloud="gcp",
            what=f"service {service} is enabled in project {project or '(gcp:project)'}",
            detail=f"For {', '.join(sorted(types))}. The first call to a disabled API fails "
            "(SERVICE_DISABLED); the stack does not enable services.",
            source_url=FUNCTIONS_APIS if service == "cloudbuild.googleapis.com" else ENABLE_APIS,
            seen_by="preflight",
            check={"kind": "gcp-service", "project": project, "service": service},
        )
        for service, types in sorted(needed.items())
    ]


def run_gpu(resources: list[Any], project: str | None, region: str | None) -> list[Precondition]:
    """Cloud Run GPUs: min instances × revisions serving during a canary, at least max."""
    found = []
    for service in of(resources, "gcp:cloudrunv2/service:Service"):
        template = service.inputs.get("template") or {}
        gpus = max(
            (
                number(get(c, "resources.limits")["nvidia.com/gpu"]) or 0
                for c in template.get("containers") or []
                if isinstance(get(c, "resources.limits"), Mapping)
                and "nvidia.com/gpu" in get(c, "resources.limits")
            ),
            default=0,
        )
        if not gpus:
            continue
        accelerator = str(get(template, "nodeSelector.accelerator") or "")
        stem = RUN_ACCELERATORS.get(accelerator)
        zonal_off = bool(template.get("gpuZonalRedundancyDisabled"))
        quota_id = (
            f"Nvidia{stem}GpuAlloc{'NoZonalRedundancy' if zonal_off else ''}PerProjectRegion"
            if stem
            else None
        )
        minimum = number(get(template, "scaling.minInstanceCount")) or 0
        maximum = number(get(template, "scaling.maxInstanceCount")) or minimum
        revisions = (
            len(
                {
                    t.get("revision") or t.get("type")
                    for t in service.inputs.get("traffics") or []
                    if (number(t.get("percent")) or 0) > 0
                }
            )
            or 1
        )
        need = gpus * max(minimum * revisions, maximum)
        location = str(service.inputs.get("location") or region or "")
        found.append(
            Precondition(
                id=f"gcp-run-gpu-quota-{service.name}",
                cloud="gcp",
                what=f"Cloud Run quota {quota_id or accelerator + ' GPUs'} in "
                f"{location or 'the stack region'}: at least {need} GPUs",
                detail=f"{service.name}: {gpus} × {accelerator or 'GPU'} per instance, min "
                f"{minimum} × {revisions} revision(s) serving (a canary keeps both revisions' "
                f"minimum warm), max {maximum}; zonal redundancy "
                f"{'off' if zonal_off else 'on'}. There is no GPU quota by default, with or "
                "without zonal redundancy: it must be requested.",
                source_url=RUN_GPU_QUOTA,
                seen_by="preflight" if quota_id else "deploy-only",
                check={
                    "kind": "gcp-quota",
                    "project": project,
                    "service": "run.googleapis.com",
                    "quotaId": quota_id,
                    "region": location,
                    "need": need,
                    "api": CLOUD_QUOTAS,
                }
                if quota_id
                else {},
            )
        )
    return found


def gke_gpu(resources: list[Any], project: str | None, region: str | None) -> list[Precondition]:
    """GKE GPU quota per accelerator and provisioning model, summed over pools at max size."""
    needs: dict[str, list[tuple[str, int]]] = {}
    locations: dict[str, str] = {}
    for pool in of(resources, "gcp:container/nodePool:NodePool"):
        config = pool.inputs.get("nodeConfig") or {}
        spot = bool(config.get("spot") or config.get("preemptible"))
        autoscaling = pool.inputs.get("autoscaling") or {}
        nodes = number(autoscaling.get("totalMaxNodeCount"))
        if nodes is None:
            zones = len(pool.inputs.get("nodeLocations") or []) or 1
            nodes = (number(autoscaling.get("maxNodeCount")) or 0) * zones
        for accelerator in config.get("guestAccelerators") or []:
            stem = GKE_ACCELERATORS.get(str(accelerator.get("type")))
            if stem is None:
                continue
            quota_id = f"{'PREEMPTIBLE-' if spot else ''}{stem}-GPUS-per-project-region"
            count = (number(accelerator.get("count")) or 1) * nodes
            needs.setdefault(quota_id, []).append((pool.name, count))
            locations[quota_id] = str(pool.inputs.get("location") or region or "")
    return [
        Precondition(
            id=f"gcp-gke-gpu-quota-{quota_id}",
            cloud="gcp",
            what=f"Compute Engine quota {quota_id} in {locations[quota_id] or 'the region'}: "
            f"at least {sum(n for _, n in pools)} GPUs",
            detail=", ".join(f"{pool}: {n} GPUs at max size" for pool, n in pools)
            + ". Spot nodes draw on the PREEMPTIBLE quota; new projects often have 0 and the "
            "autoscaler cannot add a node.",
            source_url=GPU_QUOTAS,
            seen_by="preflight",
            check={
                "kind": "gcp-quota",
                "project": project,
                "service": "compute.googleapis.com",
                "quotaId": quota_id,
                "region": locations[quota_id],
                "need": sum(n for _, n in pools),
                "api": CLOUD_QUOTAS,
            },
        )
        for quota_id, pools in sorted(needs.items())
    ]


def run_images(resources: list[Any]) -> list[Precondition]:
    """Cloud Run images the stack does not push: each must exist when the service is created
    (a sidecar's, a bring-your-own server's; through a remote repository, the upstream's)."""
    own = {
        str(r.inputs.get("repositoryId") or "")
        for r in of(resources, "gcp:artifactregistry/repository:Repository")
        if r.inputs.get("mode") != "REMOTE_REPOSITORY"
    }
    images: set[str] = set()
    for service in of(resources, "gcp:cloudrunv2/service:Service"):
        for container in get(service.inputs, "template.containers") or []:
            image = str(container.get("image") or "") if isinstance(container, Mapping) else ""
            parts = image.split("/")
            in_own = ".pkg.dev" in parts[0] and len(parts) > 2 and parts[2] in own
            if image and not in_own:
                images.add(image)
    return [
        Precondition(
            id=f"gcp-run-image-{image}",
            cloud="gcp",
            what=f"image {image} exists and Cloud Run may pull it",
            detail="The image is outside what the stack pushes; a remote repository fetches it "
            "from its upstream on first pull.",
            source_url=RUN_IMAGES,
            seen_by="deploy-only",
        )
        for image in sorted(images)
    ]


def derive(resources: list[Any], config: Mapping[str, Any]) -> list[Precondition]:
    """Every GCP precondition of the recorded resources."""
    project = _project(config)
    region = str(config.get("gcp:region") or "") or None
    return [
        *services(resources, project),
        *run_gpu(resources, project, region),
        *gke_gpu(resources, project, region),
        *run_images(resources),
    ]
