"""The Google APIs a stack's resources need, enabled before the resources that call them.

A fresh project has few APIs enabled, and the first call to a disabled one fails ("… API has not
been used in project … before or it is disabled"). :class:`ProjectApis` is a transformation: given
to a component's options, it sees every resource the component (and its children) create, enables
the API each one needs with a ``projects.Service`` (created on first need, one per API) and makes
the resource depend on it. What a resource needs is decided here only, by its type
(:data:`API_OF_TYPE`).

Each ``projects.Service`` keeps the API on when the stack is destroyed (``disable_on_destroy``
false: other workloads of the project may use it) and never disables dependent services.
https://www.pulumi.com/registry/packages/gcp/api-docs/projects/service/

What this cannot cover: the Service Usage API itself (which enables the others) and the Cloud
Resource Manager and Cloud Storage APIs, which the program's own look-ups (the project number, the
Cloud Storage service agent) call before any resource exists. A new project has Service Usage and
Cloud Storage on; enable Cloud Resource Manager once with
``gcloud services enable cloudresourcemanager.googleapis.com``.
https://cloud.google.com/service-usage/docs/enabled-service#default
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi
from pulumi_gcp import projects

API_OF_TYPE: Mapping[str, tuple[str, ...]] = {
    # https://cloud.google.com/compute/docs/reference/rest/v1
    "gcp:compute/": ("compute.googleapis.com",),
    # https://cloud.google.com/kubernetes-engine/docs/reference/rest
    "gcp:container/": ("container.googleapis.com",),
    # https://cloud.google.com/kms/docs/reference/rest
    "gcp:kms/": ("cloudkms.googleapis.com",),
    # https://cloud.google.com/storage/docs/json_api
    "gcp:storage/": ("storage.googleapis.com",),
    # https://cloud.google.com/artifact-registry/docs/reference/rest
    "gcp:artifactregistry/": ("artifactregistry.googleapis.com",),
    # https://cloud.google.com/run/docs/reference/rest
    "gcp:cloudrunv2/": ("run.googleapis.com",),
    # "Enable the Cloud Functions, Cloud Build, Artifact Registry, Cloud Run, and Cloud Logging
    # APIs": a 2nd gen function is built by Cloud Build into Artifact Registry and runs on
    # Cloud Run. https://cloud.google.com/functions/docs/create-deploy-gcloud
    "gcp:cloudfunctionsv2/": (
        "cloudfunctions.googleapis.com",
        "cloudbuild.googleapis.com",
        "artifactregistry.googleapis.com",
        "run.googleapis.com",
        "logging.googleapis.com",
        # An event-driven function (the rollout function's Pub/Sub trigger) is an Eventarc
        # trigger: https://cloud.google.com/functions/docs/calling/pubsub
        "eventarc.googleapis.com",
    ),
    # https://cloud.google.com/iam/docs/reference/rest/v1/projects.roles
    "gcp:projects/iAMCustomRole:": ("iam.googleapis.com",),
    # https://cloud.google.com/scheduler/docs/reference/rest
    "gcp:cloudscheduler/": ("cloudscheduler.googleapis.com",),
    # https://cloud.google.com/pubsub/docs/reference/rest
    "gcp:pubsub/": ("pubsub.googleapis.com",),
    # https://cloud.google.com/monitoring/api/ref_v3/rest
    "gcp:monitoring/": ("monitoring.googleapis.com",),
    # https://cloud.google.com/logging/docs/reference/v2/rest
    "gcp:logging/": ("logging.googleapis.com",),
    # https://cloud.google.com/iam/docs/reference/rest
    "gcp:serviceaccount/": ("iam.googleapis.com",),
    # Cloud SQL instances, databases and users: the Cloud SQL Admin API.
    # https://cloud.google.com/sql/docs/postgres/admin-api
    "gcp:sql/": ("sqladmin.googleapis.com",),
    # https://cloud.google.com/billing/docs/how-to/budget-api-overview
    "gcp:billing/budget:": ("billingbudgets.googleapis.com",),
}
"""Resource type prefix → the APIs a resource of that type calls (or needs enabled)."""

SERVICE_IDENTITY = "gcp:projects/serviceIdentity:ServiceIdentity"
KMS_GRANT = "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember"
AGENT_GRANT_APIS: Mapping[str, str] = {
    "-gke-agent": "container.googleapis.com",
    "-run-agent": "run.googleapis.com",
}
"""Key grants (``_common.crypto_key`` names them ``<key>-<agent>-agent``) to a service agent that
Google creates when its API is enabled: the grant waits for that API, or it names an account
that does not exist yet. https://cloud.google.com/iam/docs/service-agents"""


def apis_of(type_: str, name: str, props: Mapping[str, Any]) -> tuple[str, ...]:
    """The APIs a resource of ``type_`` (logical ``name``, inputs ``props``) needs enabled."""
    found: list[str] = []
    for prefix, apis in API_OF_TYPE.items():
        if type_.startswith(prefix):
            found.extend(apis)
    if type_ == SERVICE_IDENTITY and isinstance(props.get("service"), str):
        # A service agent is generated for an API that is on.
        found.append(props["service"])
    if type_ == KMS_GRANT:
        found.extend(api for suffix, api in AGENT_GRANT_APIS.items() if name.endswith(suffix))
    return tuple(dict.fromkeys(found))


class ProjectApis:
    """Enables, once each, the APIs of the resources it transforms; they wait for them.

    ``ProjectApis(parent, name).transformation`` goes into the ``transformations`` option of the
    components of a stack; every API becomes ``{name}-api-<api>`` (a ``projects.Service`` child
    of ``parent``, or of the stack with ``parent`` None), created the first time a resource needs
    it. A team program that builds the components itself does the same::

        apis = ProjectApis(None, "team")
        ArtifactStore("artifacts", args, opts=pulumi.ResourceOptions(
            transformations=[apis.transformation]))
    """

    def __init__(self, parent: pulumi.Resource | None, name: str) -> None:
        self.parent = parent
        self.name = name
        self.services: dict[str, projects.Service] = {}

    def service(self, api: str) -> projects.Service:
        """``{name}-api-<api>``: ``api`` enabled, and left on when the stack goes."""
        if api not in self.services:
            self.services[api] = projects.Service(
                f"{self.name}-api-{api.split('.')[0]}",
                service=api,
                disable_on_destroy=False,
                disable_dependent_services=False,
                opts=pulumi.ResourceOptions(parent=self.parent),
            )
        return self.services[api]

    def transformation(
        self, args: pulumi.ResourceTransformationArgs
    ) -> pulumi.ResourceTransformationResult | None:
        apis = apis_of(args.type_, args.name, args.props)
        if not apis:
            return None
        needed: list[pulumi.Resource] = [self.service(api) for api in apis]
        return pulumi.ResourceTransformationResult(
            args.props,
            pulumi.ResourceOptions.merge(args.opts, pulumi.ResourceOptions(depends_on=needed)),
        )
