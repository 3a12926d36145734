"""What the GCP components share: service agents, account ids and the CMEK helper."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence

import pulumi
from pulumi_gcp import kms, organizations, projects, pubsub

from mlops_iac.components._component import child_opts
from mlops_iac.components.gcp import _defaults as defaults

# Google-managed service agents (service-<project number>@<domain>) that need CMEK grants and
# that Google creates when their API is enabled (``apis.AGENT_GRANT_APIS`` orders the grant after
# it). The ``gcp-sa-*`` agents are created on first use only: those are made explicitly with
# :func:`service_agent`. https://cloud.google.com/iam/docs/service-agents
AGENT_DOMAINS = {
    "gke": "container-engine-robot.iam.gserviceaccount.com",
    "cloudrun": "serverless-robot-prod.iam.gserviceaccount.com",
}
Labels = pulumi.Input[Mapping[str, pulumi.Input[str]]]


def objects_under(bucket: pulumi.Input[str], prefixes: Sequence[str]) -> pulumi.Output[str]:
    """CEL of an IAM condition: the object's name starts with one of ``prefixes`` (each as given,
    a folder ends with ``/``) in ``bucket``. Object conditions never match the bucket itself,
    where listing is authorised.
    https://cloud.google.com/storage/docs/access-control/iam#conditions"""
    return pulumi.Output.from_input(bucket).apply(
        lambda b: " || ".join(
            f'resource.name.startsWith("projects/_/buckets/{b}/objects/{prefix}")'
            for prefix in dict.fromkeys(prefixes)
        )
    )


def region_or_default(region: str | None) -> str:
    """``region``, else the provider's ``gcp:region``, else us-central1."""
    return region or pulumi.Config("gcp").get("region") or defaults.DEFAULT_REGION


def project_info(parent: pulumi.Resource) -> pulumi.Output[organizations.GetProjectResult]:
    """The provider project (id and number), looked up once per component."""
    return organizations.get_project_output(opts=pulumi.InvokeOutputOptions(parent=parent))


def agent_member(project_number: pulumi.Input[str], service: str) -> pulumi.Output[str]:
    """``serviceAccount:`` member of a Google service agent of the project."""
    return pulumi.Output.concat(
        "serviceAccount:service-", project_number, "@", AGENT_DOMAINS[service]
    )


def service_agent(
    parent: pulumi.Resource,
    name: str,
    service: str,
    project: pulumi.Output[organizations.GetProjectResult],
) -> projects.ServiceIdentity:
    """The service agent of ``service`` (``…googleapis.com``), created if it does not exist yet.

    Grant its ``member``: an agent named from the project number may not exist in a new project,
    and the grant then fails with "Service account … does not exist"
    (https://github.com/hashicorp/terraform-provider-google/issues/15572).
    """
    return projects.ServiceIdentity(
        name, project=project.project_id, service=service, opts=child_opts(parent)
    )


def monitoring_may_publish(
    parent: pulumi.Resource,
    name: str,
    topic: pubsub.Topic,
    publisher_name: str,
    project: pulumi.Output[organizations.GetProjectResult],
) -> pulumi.Output[str]:
    """``{name}-monitoring-agent`` and the grant ``publisher_name`` letting it publish on
    ``topic``; returns the topic's id, resolved once the grant exists.

    The Monitoring notification service agent exists only once something creates it: make it
    explicitly (projects.ServiceIdentity) so that the publish grant names a real account.
    https://cloud.google.com/monitoring/support/notification-options#pubsub
    """
    agent = service_agent(parent, f"{name}-monitoring-agent", "monitoring.googleapis.com", project)
    publisher = pubsub.TopicIAMMember(
        publisher_name,
        topic=topic.id,
        role="roles/pubsub.publisher",
        member=agent.member,
        opts=child_opts(parent),
    )
    # A pubsub channel on the topic must wait for the grant: the id carries it along.
    return pulumi.Output.all(topic.id, publisher.id).apply(lambda ids: ids[0])


def resource_id(name: str, role: str, *, limit: int, scope: str | None = None) -> str:
    """A GCP-valid id (``[a-z][a-z0-9-]``, at most ``limit`` characters): ``{name}-{role}-<hash>``.

    Service accounts, repositories and Cloud Run services (whose revision names must start with
    the service name) have no auto-naming in pulumi-gcp. Like Pulumi's auto-names, the suffix
    makes the id unique per stack, so two stacks can share a GCP project; it is a hash of
    ``scope`` (default: ``<pulumi project>/<stack>``) and the name, so it is stable across runs.
    """
    scope = scope if scope is not None else f"{pulumi.get_project()}/{pulumi.get_stack()}"
    digest = hashlib.sha1(f"{scope}/{name}/{role}".encode()).hexdigest()[:6]
    base = re.sub(r"[^a-z0-9-]+", "-", f"{name}-{role}".lower()).strip("-")
    if not base[:1].isalpha():
        base = f"m-{base}"
    return f"{base[: limit - 7].rstrip('-')}-{digest}"


def crypto_key(
    parent: pulumi.Resource,
    name: str,
    *,
    location: str,
    prod: bool,
    grants: Mapping[str, pulumi.Input[str]],
    labels: Labels | None = None,
) -> tuple[kms.CryptoKey, list[kms.CryptoKeyIAMMember]]:
    """Key ring ``{name}-ring`` and rotating key ``{name}`` with encrypt/decrypt grants.

    ``grants`` maps a role suffix to a member: each becomes ``{name}-<suffix>``. Resources that
    encrypt with the key must depend on the grants, or their creation fails on permissions. In
    prod the key and its ring are protected and retained (the ``prevent_destroy`` of Terraform;
    GCP cannot delete a key ring anyway, so a prod ``pulumi destroy`` must not pretend to).
    """
    ring = kms.KeyRing(f"{name}-ring", location=location, opts=child_opts(parent, protect=prod))
    key = kms.CryptoKey(
        name,
        key_ring=ring.id,
        purpose="ENCRYPT_DECRYPT",
        rotation_period=defaults.KMS_ROTATION_PERIOD,
        destroy_scheduled_duration=defaults.KMS_DESTROY_SCHEDULED_DURATION,
        labels=labels,
        opts=child_opts(parent, protect=prod),
    )
    members = [
        kms.CryptoKeyIAMMember(
            f"{name}-{suffix}",
            crypto_key_id=key.id,
            role=defaults.KMS_ROLE,
            member=member,
            opts=child_opts(parent),
        )
        for suffix, member in grants.items()
    ]
    return key, members


def pubsub_topic_key(
    parent: pulumi.Resource,
    name: str,
    *,
    location: str,
    prod: bool,
    project: pulumi.Output[organizations.GetProjectResult],
    labels: Labels | None = None,
) -> tuple[kms.CryptoKey, list[kms.CryptoKeyIAMMember]]:
    """:func:`crypto_key` ``{name}-key`` for a Pub/Sub topic of the component ``name``: the
    project's Pub/Sub service agent (``{name}-pubsub-agent``) may encrypt and decrypt with it."""
    agent = service_agent(parent, f"{name}-pubsub-agent", "pubsub.googleapis.com", project)
    return crypto_key(
        parent,
        f"{name}-key",
        location=location,
        prod=prod,
        grants={"pubsub-agent": agent.member},
        labels=labels,
    )
