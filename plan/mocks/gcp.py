"""Realistic outputs and invoke answers for pulumi-gcp resource types."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from mlops_iac.plan.mocks.base import GCP_PROJECT, GCP_PROJECT_NUMBER, MockContext, live_resource


def _number(ctx: MockContext) -> str:
    return str(int(hashlib.sha1(ctx.name.encode()).hexdigest()[:10], 16))


def _name(ctx: MockContext) -> str:
    return str(ctx.inputs.get("name") or ctx.physical_name)


def _project(ctx: MockContext) -> str:
    return str(ctx.inputs.get("project") or ctx.gcp_project)


def _location(ctx: MockContext) -> str:
    return str(ctx.inputs.get("location") or ctx.inputs.get("region") or ctx.gcp_region)


def _dns_endpoint(ctx: MockContext, name: str, location: str) -> dict[str, Any]:
    """GKE fills in the DNS-based endpoint's hostname when the config enables it."""
    config = ctx.inputs.get("controlPlaneEndpointsConfig") or {}
    dns = dict(config.get("dnsEndpointConfig") or {})
    if not dns:
        return {}
    dns.setdefault("endpoint", f"gke-{_number(ctx)}.{location}.gke.goog")
    return {"controlPlaneEndpointsConfig": {**config, "dnsEndpointConfig": dns}}


def _per_type(ctx: MockContext, name: str) -> dict[str, Any]:
    project, location = _project(ctx), _location(ctx)
    kind = ctx.type.split(":")[1]
    if kind == "storage/bucket":
        return {
            "__id": name,
            "url": f"gs://{name}",
            "project": project,
            "selfLink": f"https://www.googleapis.com/storage/v1/b/{name}",
        }
    if kind == "kms/keyRing":
        return {"__id": f"projects/{project}/locations/{location}/keyRings/{name}"}
    if kind == "kms/cryptoKey":
        ring = ctx.inputs.get("keyRing", f"projects/{project}/locations/{location}/keyRings/ring")
        return {"__id": f"{ring}/cryptoKeys/{name}"}
    if kind == "serviceaccount/account":
        account = str(ctx.inputs.get("accountId") or name)
        email = f"{account}@{project}.iam.gserviceaccount.com"
        return {
            "__id": f"projects/{project}/serviceAccounts/{email}",
            "email": email,
            "member": f"serviceAccount:{email}",
            "uniqueId": _number(ctx),
            "name": f"projects/{project}/serviceAccounts/{email}",
        }
    if kind == "container/cluster":
        return {
            "__id": f"projects/{project}/locations/{location}/clusters/{name}",
            "endpoint": "10.0.0.2",
            "masterVersion": "1.31.1-gke.100",
            "masterAuth": {"clusterCaCertificate": "TU9DSy1DQQ=="},
            **_dns_endpoint(ctx, name, location),
            "selfLink": f"https://container.googleapis.com/v1/projects/{project}/locations/"
            f"{location}/clusters/{name}",
        }
    if kind == "container/nodePool":
        return {
            "__id": f"{location}/{ctx.inputs.get('cluster', 'cluster')}/{name}",
            "instanceGroupUrls": [],
            "managedInstanceGroupUrls": [],
        }
    if kind == "artifactregistry/repository":
        repo = str(ctx.inputs.get("repositoryId") or name)
        return {
            "__id": f"projects/{project}/locations/{location}/repositories/{repo}",
            "name": repo,
            "registryUri": f"{location}-docker.pkg.dev/{project}/{repo}",
        }
    if kind == "cloudrunv2/service":
        return {
            "__id": f"projects/{project}/locations/{location}/services/{name}",
            "uri": f"https://{name}-{_number(ctx)[:6]}-uc.a.run.app",
            # A template's explicit revision name is the revision Cloud Run creates.
            "latestReadyRevision": (ctx.inputs.get("template") or {}).get("revision")
            or f"{name}-00001-abc",
            # Every revision named in traffic is serving it (the update succeeded).
            "trafficStatuses": [
                {k: t[k] for k in ("type", "revision", "percent", "tag") if k in t}
                for t in ctx.inputs.get("traffics") or []
                if isinstance(t, Mapping)
            ],
            "uid": _number(ctx),
        }
    if kind == "cloudfunctionsv2/function":
        # A 2nd gen function is a Cloud Run service: its run.app URI is in service_config.
        service_config = dict(ctx.inputs.get("serviceConfig") or {})
        service_config.setdefault("uri", f"https://{name}-{_number(ctx)[:6]}-uc.a.run.app")
        return {
            "__id": f"projects/{project}/locations/{location}/functions/{name}",
            "url": f"https://{location}-{project}.cloudfunctions.net/{name}",
            "serviceConfig": service_config,
        }
    if kind == "projects/iAMCustomRole":
        # The provider's name output: projects/<project>/roles/<role_id>.
        full = f"projects/{project}/roles/{ctx.inputs.get('roleId', name)}"
        return {"__id": full, "name": full}
    if kind == "cloudscheduler/job":
        return {"__id": f"projects/{project}/locations/{location}/jobs/{name}"}
    if kind == "pubsub/topic":
        return {"__id": f"projects/{project}/topics/{name}"}
    if kind == "pubsub/subscription":
        return {"__id": f"projects/{project}/subscriptions/{name}"}
    if kind.startswith("monitoring/"):
        collection = {
            "monitoring/notificationChannel": "notificationChannels",
            "monitoring/alertPolicy": "alertPolicies",
            "monitoring/dashboard": "dashboards",
        }.get(kind)
        if collection:
            full = f"projects/{project}/{collection}/{_number(ctx)}"
            return {"__id": full, "name": full}
    if kind == "vertex/aiEndpoint":
        full = f"projects/{project}/locations/{location}/endpoints/{_number(ctx)}"
        return {"__id": full, "name": name}
    if kind == "compute/network":
        link = f"https://www.googleapis.com/compute/v1/projects/{project}/global/networks/{name}"
        return {"__id": f"projects/{project}/global/networks/{name}", "selfLink": link}
    if kind in ("compute/subnetwork", "compute/router"):
        collection = "subnetworks" if kind == "compute/subnetwork" else "routers"
        path = f"projects/{project}/regions/{location}/{collection}/{name}"
        return {"__id": path, "selfLink": f"https://www.googleapis.com/compute/v1/{path}"}
    if kind == "compute/routerNat":
        return {"__id": f"{project}/{location}/{ctx.inputs.get('router', 'router')}/{name}"}
    if kind == "storage/notification":
        return {"__id": f"{ctx.inputs.get('bucket', 'bucket')}/notificationConfigs/1"}
    if kind == "projects/serviceIdentity":
        service = str(ctx.inputs.get("service", "service.googleapis.com")).split(".")[0]
        domains = {"monitoring": "gcp-sa-monitoring-notification"}
        email = (
            f"service-{GCP_PROJECT_NUMBER}@{domains.get(service, f'gcp-sa-{service}')}"
            ".iam.gserviceaccount.com"
        )
        return {
            "__id": f"projects/{project}/services/{ctx.inputs.get('service')}",
            "email": email,
            "member": f"serviceAccount:{email}",
        }
    if kind == "billing/budget":
        account = ctx.inputs.get("billingAccount", "000000-000000-000000")
        full = f"billingAccounts/{account}/budgets/{_number(ctx)}"
        return {"__id": full, "name": full}
    return {}


def outputs(ctx: MockContext) -> dict[str, Any]:
    """Outputs for one GCP resource: name, project, a full id and per-type outputs."""
    name = _name(ctx)
    out: dict[str, Any] = {"name": name, "project": _project(ctx)}
    out.update(_per_type(ctx, name))
    out.setdefault("__id", f"projects/{_project(ctx)}/{ctx.type.split(':')[1]}/{name}")
    if "labels" in ctx.inputs:
        out.setdefault("effectiveLabels", ctx.inputs["labels"])
        out.setdefault("pulumiLabels", ctx.inputs["labels"])
    return out


def _project_info(args: Mapping[str, Any], config: Mapping[str, Any]) -> dict[str, Any]:
    project = str(args.get("projectId") or config.get("gcp:project", GCP_PROJECT))
    return {
        "projectId": project,
        "number": GCP_PROJECT_NUMBER,
        "name": project,
        "id": f"projects/{project}",
    }


def _gcs_agent(args: Mapping[str, Any], config: Mapping[str, Any]) -> dict[str, Any]:
    email = f"service-{GCP_PROJECT_NUMBER}@gs-project-accounts.iam.gserviceaccount.com"
    return {
        "emailAddress": email,
        "member": f"serviceAccount:{email}",
        "id": email,
        "project": str(config.get("gcp:project", GCP_PROJECT)),
    }


def _client_config(args: Mapping[str, Any], config: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "project": str(config.get("gcp:project", GCP_PROJECT)),
        "region": str(config.get("gcp:region", "us-central1")),
        "zone": "us-central1-a",
        "accessToken": "offline",
        "id": "offline",
    }


def _run_service(args: Mapping[str, Any], config: Mapping[str, Any]) -> dict[str, Any]:
    """``cloudrunv2.getService``: the live service as the saved state shows it (annotations,
    including the rollout record); a service the state does not hold is not found."""
    name = str(args.get("name", ""))
    return live_resource(config, "gcp:cloudrunv2/service:Service", name)


INVOKES: dict[str, Any] = {
    "gcp:cloudrunv2/getService:getService": _run_service,
    "gcp:organizations/getProject:getProject": _project_info,
    "gcp:storage/getProjectServiceAccount:getProjectServiceAccount": _gcs_agent,
    "gcp:organizations/getClientConfig:getClientConfig": _client_config,
}
