"""Tracking on GCP: an MLflow server on Cloud Run, Cloud SQL metadata, artifacts in the store."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar
from urllib.parse import quote

import pulumi
from pulumi_gcp import (
    artifactregistry,
    cloudrunv2,
    kms,
    organizations,
    projects,
    serviceaccount,
    sql,
    storage,
)

from mlops_iac.components._component import Component, child_opts, component_opts
from mlops_iac.components.contract_types import TrackingArgsBase
from mlops_iac.components.gcp import _defaults as defaults
from mlops_iac.components.gcp._common import (
    crypto_key,
    objects_under,
    project_info,
    region_or_default,
    resource_id,
    service_agent,
)

TYPE = "mlops:gcp:Tracking"


@dataclass(frozen=True, kw_only=True)
class TrackingArgs(TrackingArgsBase):
    """Inputs of ``Tracking``. Only ``artifact_bucket_name`` is required."""

    FIELD_NOTES: ClassVar[Mapping[str, str]] = {
        "size": "Cloud SQL tier and Cloud Run maximum instances: ``Small`` (1 vCPU, 2), "
        "``Medium`` (2 vCPU, 4), ``Large`` (4 vCPU, 8).",
        "ci_principals": (
            "IAM members of CI (``serviceAccount:ci@p.iam.gserviceaccount.com``), granted "
            "``roles/run.invoker`` on the server. Default: none."
        ),
    }

    kms_key_id: pulumi.Input[str] | None = None
    """The store's key: Cloud SQL encrypts the metadata with it. Default: Google-managed."""
    kms_key_location: str | None = None
    """Location of ``kms_key_id`` (a region or a multi-region such as ``us``). Cloud SQL takes a
    key in the instance's region only: when this is not ``region``, the component makes its own
    rotating key ``{name}-sql-cmk`` in ``region`` instead. Default: ``region``."""
    training_member: pulumi.Input[str] | None = None
    """IAM member the training pods act as; granted ``roles/run.invoker``. Default: none."""
    image: str | None = None
    """MLflow server image (psycopg2 and google-cloud-storage installed) that exists before the
    deploy. Default: ``ghcr.io/mlflow/mlflow:v3.17.2-full`` through a remote repository."""
    region: str | None = None
    """Region of the server and the database. Default: ``gcp:region``, else ``us-central1``."""


class Tracking(Component):
    """MLflow on Cloud Run with internal ingress, reached with an IAM identity token.

    Children (names derive from ``name``): ``{name}-server-sa`` (the server's service account)
    with ``-sa-artifacts`` (objects under ``mlflow/`` of the store only), ``-sa-list`` (listing
    names under ``mlflow/``), ``-sa-sql-client`` and ``-sa-sql-login`` (Cloud SQL connection and
    IAM database login); ``{name}-db`` (Cloud SQL for PostgreSQL, no authorised networks, TLS
    only, IAM authentication, the store's key with ``{name}-sql-agent`` and ``-sql-key``; when
    the store's key is not in ``region``, its own key ``{name}-sql-cmk`` in
    ``{name}-sql-cmk-ring`` with ``-sql-cmk-agent`` instead), ``{name}-db-mlflow`` (database) and
    ``{name}-db-user`` (the service account as IAM user); without ``image`` ``{name}-upstream``
    (remote repository of ghcr.io); ``{name}-server`` (Cloud Run, created after the database,
    its user and the grants: MLflow with 2 GiB, 1 vCPU and 2 workers serving artifacts itself
    to ``gs://<bucket>/mlflow/``, the Cloud SQL Auth Proxy beside it with ``--lazy-refresh``)
    and one ``{name}-invoker-{i}`` per member (training first, then CI).

    Outputs: ``tracking_uri`` (the service URL), ``artifact_uri``, ``server_service_account``.
    Clients send ``MLFLOW_TRACKING_TOKEN`` = an identity token for the URL
    (https://cloud.google.com/run/docs/authenticating/service-to-service).
    """

    tracking_uri: pulumi.Output[str]
    artifact_uri: pulumi.Output[str]
    server_service_account: pulumi.Output[str]

    def __init__(
        self, name: str, args: TrackingArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(TYPE, name, None, component_opts(opts))
        prod = args.environment == "prod"
        region = region_or_default(args.region)
        project = project_info(self)
        bucket = pulumi.Output.from_input(args.artifact_bucket_name)
        artifact_uri = bucket.apply(lambda b: f"gs://{b}/{defaults.TRACKING_PREFIX}/")
        tier, max_instances = defaults.TRACKING_SIZES.get(
            args.size, defaults.TRACKING_SIZES["Small"]
        )

        account = serviceaccount.Account(
            f"{name}-server-sa",
            account_id=resource_id(name, "srv", limit=30),
            display_name=f"MLflow tracking server {name}",
            opts=child_opts(self),
        )
        member = account.email.apply(lambda e: f"serviceAccount:{e}")
        grants: list[pulumi.Resource] = []
        grants.append(
            storage.BucketIAMMember(
                f"{name}-sa-artifacts",
                bucket=bucket,
                role="roles/storage.objectUser",
                member=member,
                condition={
                    "title": "mlflow-artifacts",
                    "expression": objects_under(bucket, [f"{defaults.TRACKING_PREFIX}/"]),
                },
                opts=child_opts(self),
            )
        )
        # Listing is authorised on the bucket, which object conditions never match: MLflow lists
        # a run's artifacts with a prefix under mlflow/ (list_blobs(prefix=..., delimiter="/")),
        # so this binding allows exactly listings whose prefix is in mlflow/.
        # https://cloud.google.com/storage/docs/access-control/iam#conditions
        grants.append(
            storage.BucketIAMMember(
                f"{name}-sa-list",
                bucket=bucket,
                role="roles/storage.objectViewer",
                member=member,
                condition={
                    "title": "mlflow-listing",
                    "description": f"List object names under {defaults.TRACKING_PREFIX}/",
                    "expression": (
                        'resource.type == "storage.googleapis.com/Bucket" && api.getAttribute('
                        '"storage.googleapis.com/objectListPrefix", "")'
                        f'.startsWith("{defaults.TRACKING_PREFIX}/")'
                    ),
                },
                opts=child_opts(self),
            )
        )
        for suffix, role in defaults.TRACKING_SQL_ROLES.items():
            grants.append(
                projects.IAMMember(
                    f"{name}-sa-{suffix}",
                    project=project.project_id,
                    role=role,
                    member=member,
                    opts=child_opts(self),
                )
            )
        database = self._database(name, args, region, tier, project, prod)
        grants.append(
            sql.Database(
                f"{name}-db-mlflow",
                name=defaults.TRACKING_DATABASE,
                instance=database.name,
                opts=child_opts(self, protect=prod),
            )
        )
        # An IAM user is the account's email without ".gserviceaccount.com"; it owns the tables
        # MLflow's migrations create (cloudsqlsuperuser: PostgreSQL 15+ lets no one else create
        # in the public schema). https://cloud.google.com/sql/docs/postgres/add-manage-iam-users
        db_user = account.email.apply(lambda e: e.removesuffix(".gserviceaccount.com"))
        grants.append(
            sql.User(
                f"{name}-db-user",
                name=db_user,
                instance=database.name,
                type="CLOUD_IAM_SERVICE_ACCOUNT",
                database_roles=["cloudsqlsuperuser"],
                opts=child_opts(self),
            )
        )
        image = args.image or self._upstream_image(name, region, project)
        # `mlflow server` exits when its first database login fails and the revision never gets
        # ready: the service waits for the database, its IAM user and the server's grants.
        # https://cloud.google.com/run/docs/troubleshooting#container-failed-to-start
        service = self._server(
            name,
            args,
            region,
            image,
            account.email,
            db_user,
            database,
            artifact_uri,
            max_instances,
            grants,
        )
        members: list[pulumi.Input[str]] = []
        if args.training_member is not None:
            members.append(args.training_member)
        members.extend(args.ci_principals)
        for i, who in enumerate(members):
            cloudrunv2.ServiceIamMember(
                f"{name}-invoker-{i}",
                name=service.name,
                location=region,
                role="roles/run.invoker",
                member=who,
                opts=child_opts(self),
            )
        self.register(
            tracking_uri=service.uri,
            artifact_uri=artifact_uri,
            server_service_account=account.email,
        )

    def _database(
        self,
        name: str,
        args: TrackingArgs,
        region: str,
        tier: str,
        project: pulumi.Output[organizations.GetProjectResult],
        prod: bool,
    ) -> sql.DatabaseInstance:
        """Cloud SQL for PostgreSQL: no public path (connector only), TLS, IAM login, CMEK."""
        depends: list[pulumi.Resource] = []
        key_id = args.kms_key_id
        if key_id is not None:
            agent = service_agent(self, f"{name}-sql-agent", "sqladmin.googleapis.com", project)
            if (args.kms_key_location or region).lower() != region.lower():
                # Cloud SQL refuses a key outside the instance's region (a multi-region store's
                # key included). https://cloud.google.com/sql/docs/postgres/configure-cmek
                key, key_grants = crypto_key(
                    self,
                    f"{name}-sql-cmk",
                    location=region,
                    prod=prod,
                    grants={"agent": agent.member},
                    labels=args.tags,
                )
                key_id = key.id
                depends.extend(key_grants)
            else:
                depends.append(
                    kms.CryptoKeyIAMMember(
                        f"{name}-sql-key",
                        crypto_key_id=key_id,
                        role=defaults.KMS_ROLE,
                        member=agent.member,
                        opts=child_opts(self),
                    )
                )
        return sql.DatabaseInstance(
            f"{name}-db",
            name=resource_id(name, "db", limit=63),
            region=region,
            database_version=defaults.TRACKING_DATABASE_VERSION,
            encryption_key_name=key_id,
            deletion_protection=prod,
            settings={
                "tier": tier,
                "availability_type": "REGIONAL" if prod else "ZONAL",
                "deletion_protection_enabled": prod,
                "backup_configuration": {"enabled": True, "point_in_time_recovery_enabled": prod},
                "ip_configuration": {
                    # No authorised networks: only the Cloud SQL connector (IAM-authorised) gets
                    # in. https://cloud.google.com/sql/docs/postgres/connect-auth-proxy
                    "ipv4_enabled": True,
                    "authorized_networks": [],
                    "ssl_mode": "ENCRYPTED_ONLY",
                },
                "database_flags": [{"name": "cloudsql.iam_authentication", "value": "on"}],
                "user_labels": args.tags,
            },
            opts=child_opts(self, protect=prod, depends_on=depends),
        )

    def _upstream_image(
        self, name: str, region: str, project: pulumi.Output[organizations.GetProjectResult]
    ) -> pulumi.Output[str]:
        """The default image through a remote repository of ghcr.io (fetched on first pull)."""
        repo_id = resource_id(name, "upstream", limit=63)
        repository = artifactregistry.Repository(
            f"{name}-upstream",
            repository_id=repo_id,
            location=region,
            format="DOCKER",
            mode="REMOTE_REPOSITORY",
            description="ghcr.io, for the MLflow tracking server image",
            remote_repository_config={
                "description": "ghcr.io",
                "docker_repository": {"custom_repository": {"uri": defaults.TRACKING_UPSTREAM}},
            },
            opts=child_opts(self),
        )
        # From the repository's outputs, so that Cloud Run waits for the repository.
        return pulumi.Output.all(project.project_id, repository.repository_id).apply(
            lambda v: f"{region}-docker.pkg.dev/{v[0]}/{v[1]}/{defaults.TRACKING_IMAGE_PATH}"
        )

    def _server(
        self,
        name: str,
        args: TrackingArgs,
        region: str,
        image: pulumi.Input[str],
        email: pulumi.Output[str],
        db_user: pulumi.Output[str],
        database: sql.DatabaseInstance,
        artifact_uri: pulumi.Output[str],
        max_instances: int,
        depends_on: list[pulumi.Resource],
    ) -> cloudrunv2.Service:
        """Cloud Run: MLflow (proxying artifacts) and the Auth Proxy sidecar on 127.0.0.1."""
        backend = db_user.apply(
            lambda u: (
                f"postgresql+psycopg2://{quote(u, safe='')}@127.0.0.1:5432/"
                f"{defaults.TRACKING_DATABASE}"
            )
        )
        mlflow_args = pulumi.Output.all(backend, artifact_uri).apply(
            lambda v: [
                "server",
                "--host=0.0.0.0",
                f"--port={defaults.TRACKING_PORT}",
                f"--backend-store-uri={v[0]}",
                "--serve-artifacts",
                f"--artifacts-destination={v[1].rstrip('/')}",
                f"--workers={defaults.TRACKING_WORKERS}",
                # Reached only through internal ingress and IAM: the host check adds nothing.
                "--allowed-hosts=*",
            ]
        )
        return cloudrunv2.Service(
            f"{name}-server",
            name=resource_id(name, "server", limit=49),
            location=region,
            ingress="INGRESS_TRAFFIC_INTERNAL_ONLY",
            deletion_protection=args.environment == "prod",
            labels=args.tags,
            template={
                "service_account": email,
                "scaling": {"min_instance_count": 0, "max_instance_count": max_instances},
                "containers": [
                    {
                        "name": "mlflow",
                        "image": image,
                        "commands": ["mlflow"],
                        "args": mlflow_args,
                        "ports": {"container_port": defaults.TRACKING_PORT},
                        "resources": {"limits": defaults.TRACKING_SERVER_LIMITS},
                        "depends_ons": ["sql-proxy"],
                    },
                    {
                        "name": "sql-proxy",
                        "image": defaults.TRACKING_PROXY_IMAGE,
                        "args": database.connection_name.apply(
                            lambda c: [*defaults.TRACKING_PROXY_FLAGS, c]
                        ),
                        "resources": {"limits": defaults.TRACKING_PROXY_LIMITS},
                        "startup_probe": {"tcp_socket": {"port": 5432}},
                    },
                ],
            },
            opts=child_opts(self, depends_on=depends_on),
        )
