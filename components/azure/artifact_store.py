"""ArtifactStore on Azure: versioned blob storage with a Key Vault CMK, the DVC remote."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar

import pulumi
from pulumi_azure_native import authorization, keyvault, managedidentity, resources, storage

from mlops_iac.components._component import (
    at_least,
    child_opts,
    component_opts,
    given,
    require_not_prod,
    secure_default,
)
from mlops_iac.components.azure import _defaults as defaults
from mlops_iac.components.azure._common import (
    client_config,
    private_endpoint,
    role_definition_id,
    secure_vault,
    unique_name,
)
from mlops_iac.components.contract_types import ArtifactStoreArgsBase

TYPE = "mlops:azure:ArtifactStore"


@dataclass(frozen=True, kw_only=True)
class ArtifactStoreArgs(ArtifactStoreArgsBase):
    """Inputs of ``ArtifactStore``. Every field is optional; defaults are the secure choice."""

    FIELD_NOTES: ClassVar[Mapping[str, str]] = {
        "environment": (
            "``dev``, ``staging`` or ``prod``. Default ``dev``. In prod the account, vault "
            "and key are protected and retained, and the account is zone-redundant "
            "(``Standard_ZRS``)."
        ),
        "customer_managed_key": (
            "Encrypt with a Key Vault key through a user-assigned identity. Default: true "
            "(``False`` falls back to Microsoft-managed keys, creates no vault, and logs a "
            "warning)."
        ),
        "noncurrent_version_days": (
            "Days before a noncurrent blob version is deleted. Default: 90."
        ),
        "force_destroy": (
            "Accepted for parity with AWS. Azure deletes a non-empty account anyway, so it "
            "changes no resource; true only logs a warning. Default: false; refused in prod."
        ),
        "tags": (
            "Extra tags on every child. Default: none (the stack's lineage transform adds lineage)."
        ),
    }

    resource_group_name: pulumi.Input[str] | None = None
    """Existing resource group. Default: a new one, ``{name}-rg``."""
    location: pulumi.Input[str] | None = None
    """Azure region. Default: the resource group's (the provider's ``azure-native:location``)."""
    soft_delete_days: int | None = None
    """Blob and container soft-delete retention. Default: 30 days."""
    allowed_cidrs: Sequence[str] = ()
    """Public IPv4 addresses or CIDR ranges (CI runners, offices) allowed through the account's
    firewall, so that ``dvc push`` reaches the remote. Default: none (trusted Azure services and
    private endpoints only).
    https://learn.microsoft.com/en-us/azure/storage/common/storage-network-security"""
    allowed_subnet_ids: Sequence[pulumi.Input[str]] = ()
    """Subnets (ARM ids, with the ``Microsoft.Storage`` service endpoint) the firewall admits by
    virtual network rules, e.g. the drift function's (``PrivateNetwork.functions_subnet_id``).
    Default: none.
    https://learn.microsoft.com/en-us/azure/storage/common/storage-network-security#grant-access-from-a-virtual-network"""
    private_endpoint_subnet_id: pulumi.Input[str] | None = None
    """Subnet for private endpoints (``PrivateNetwork.subnet_id``). Default: none (no private
    endpoint)."""
    private_dns_zone_ids: Mapping[str, pulumi.Input[str]] | None = None
    """Private DNS zone ids by zone name (``PrivateNetwork.dns_zone_ids``), required with
    ``private_endpoint_subnet_id``. Default: none."""
    sku: str | None = None
    """Storage redundancy. Default: ``Standard_ZRS`` in prod, ``Standard_LRS`` elsewhere."""


class ArtifactStore(pulumi.ComponentResource):
    """Versioned blob storage encrypted with a rotating customer-managed key: the DVC remote.

    Children (names derive from ``name``): ``{name}-rg`` (unless a resource group is given),
    ``{name}-vault`` (RBAC, purge protection, 90-day soft delete, network default deny with
    trusted-services bypass), ``{name}-key`` (RSA 3072 with a rotation policy),
    ``{name}-identity`` (user-assigned, used by the account to reach the key) and its role
    assignment ``{name}-identity-key-access`` (Key Vault Crypto Service Encryption User on the
    vault), ``{name}-account`` (StorageV2, HTTPS only, TLS 1.2, no public blobs, no shared keys,
    infrastructure encryption, CMK, default-deny network), ``{name}-blob-service`` (versioning,
    blob and container soft delete, change feed), ``{name}-dvc`` (the private ``dvc`` container),
    ``{name}-lifecycle`` (deletes noncurrent versions), and ``{name}-dvc-identity`` with
    ``{name}-dvc-access`` (Storage Blob Data Contributor on the ``dvc`` container only: the
    scoped read-write identity for DVC and pipelines). With ``private_endpoint_subnet_id``:
    ``{name}-blob-pe`` and ``{name}-vault-pe`` (private endpoints, each with a ``-dns`` zone
    group). ``allowed_cidrs`` become the account's IP rules, ``allowed_subnet_ids`` its virtual
    network rules.

    Incomplete uploads: Azure discards uncommitted blocks after 7 days by itself, so there is no
    rule for them (the S3 equivalent needs one).

    Outputs: ``bucket_name`` (the storage account name, the store's globally unique name; the
    container is always ``dvc``), ``storage_account_name`` (same), ``storage_account_id``,
    ``container_name``, ``bucket_uri`` (``https://<account>.blob.core.windows.net/dvc``),
    ``dvc_remote_url`` (``azure://dvc/``: DVC's form, with ``account_name`` set in the DVC config),
    ``kms_key_id`` (versionless key URI, so rotation is picked up; None without a CMK),
    ``key_vault_id`` and ``identity_id`` (the CMK identity; None without a CMK),
    ``resource_group_name``, ``location``, ``dvc_identity_id`` and ``dvc_identity_client_id``.
    """

    bucket_name: pulumi.Output[str]
    storage_account_name: pulumi.Output[str]
    storage_account_id: pulumi.Output[str]
    container_name: pulumi.Output[str]
    bucket_uri: pulumi.Output[str]
    dvc_remote_url: pulumi.Output[str]
    kms_key_id: pulumi.Output[str | None]
    key_vault_id: pulumi.Output[str | None]
    identity_id: pulumi.Output[str | None]
    resource_group_name: pulumi.Output[str]
    location: pulumi.Output[str]
    dvc_identity_id: pulumi.Output[str]
    dvc_identity_client_id: pulumi.Output[str]

    def __init__(
        self, name: str, args: ArtifactStoreArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(TYPE, name, None, component_opts(opts))
        label = f"ArtifactStore {name}"
        require_not_prod(label, args.environment, "force_destroy", bool(args.force_destroy))
        prod = args.environment == "prod"
        cmk = secure_default(
            label, "customer_managed_key", args.customer_managed_key, defaults.CUSTOMER_MANAGED_KEY
        )
        sku = secure_default(
            label,
            "sku",
            args.sku,
            defaults.STORAGE_SKU_PROD if prod else defaults.STORAGE_SKU_DEV,
        )
        secure_default(label, "force_destroy", args.force_destroy, defaults.FORCE_DESTROY)
        # Blob soft delete keeps deleted data 1 to 365 days.
        soft_delete_days = at_least(
            label,
            "soft_delete_days",
            given(args.soft_delete_days, defaults.BLOB_SOFT_DELETE_DAYS),
            1,
        )
        tags = args.tags
        config = client_config(self)

        if args.resource_group_name is not None:
            rg_name = pulumi.Output.from_input(args.resource_group_name)
            location = pulumi.Output.from_input(args.location)
        else:
            group = resources.ResourceGroup(
                f"{name}-rg", location=args.location, tags=tags, opts=child_opts(self)
            )
            rg_name = group.name
            location = group.location

        identity_id: pulumi.Output[str] | None = None
        key_uri: pulumi.Output[str] | None = None
        vault_id: pulumi.Output[str] | None = None
        encryption: dict[str, object] = {
            "key_source": "Microsoft.Storage",
            "require_infrastructure_encryption": defaults.INFRASTRUCTURE_ENCRYPTION,
            "services": _encrypted_services(),
        }
        account_identity = None
        account_deps: list[pulumi.Resource] = []
        if cmk:
            vault = secure_vault(
                self,
                f"{name}-vault",
                resource_group_name=rg_name,
                location=location,
                tenant_id=config.tenant_id,
                tags=tags,
                protect=prod,
            )
            key = keyvault.Key(
                f"{name}-key",
                resource_group_name=rg_name,
                vault_name=vault.name,
                properties=_key_properties(),
                tags=tags,
                opts=child_opts(self, protect=prod),
            )
            identity = managedidentity.UserAssignedIdentity(
                f"{name}-identity",
                resource_group_name=rg_name,
                location=location,
                tags=tags,
                opts=child_opts(self),
            )
            grant = authorization.RoleAssignment(
                f"{name}-identity-key-access",
                scope=vault.id,
                principal_id=identity.principal_id,
                principal_type="ServicePrincipal",
                role_definition_id=role_definition_id(
                    config, defaults.ROLE_KEY_VAULT_CRYPTO_SERVICE_ENCRYPTION_USER
                ),
                description="Storage account CMK access (wrap/unwrap) for the artifact store",
                opts=child_opts(self),
            )
            identity_id = identity.id
            vault_id = vault.id
            key_uri = key.key_uri
            account_identity = {"type": "UserAssigned", "user_assigned_identities": [identity.id]}
            encryption.update(
                key_source="Microsoft.Keyvault",
                key_vault_properties={
                    "key_name": key.name,
                    "key_vault_uri": vault.properties.vault_uri,
                },
                encryption_identity={"encryption_user_assigned_identity": identity.id},
            )
            # The account validates key access at creation: the grant must exist first.
            account_deps.append(grant)

        account = storage.StorageAccount(
            f"{name}-account",
            account_name=unique_name(self, config, name, "st", limit=24),
            resource_group_name=rg_name,
            location=location,
            kind=defaults.STORAGE_KIND,
            sku={"name": sku},
            identity=account_identity,
            enable_https_traffic_only=True,
            minimum_tls_version=defaults.MIN_TLS_VERSION,
            allow_blob_public_access=defaults.ALLOW_BLOB_PUBLIC_ACCESS,
            allow_shared_key_access=defaults.ALLOW_SHARED_KEY_ACCESS,
            default_to_o_auth_authentication=True,
            allow_cross_tenant_replication=False,
            encryption=encryption,
            network_rule_set={
                "default_action": defaults.NETWORK_DEFAULT_ACTION,
                "bypass": defaults.NETWORK_BYPASS,
                "ip_rules": [{"value": cidr, "action": "Allow"} for cidr in args.allowed_cidrs]
                or None,
                "virtual_network_rules": [
                    {"virtual_network_resource_id": subnet, "action": "Allow"}
                    for subnet in args.allowed_subnet_ids
                ]
                or None,
            },
            tags=tags,
            opts=child_opts(self, protect=prod, depends_on=account_deps or None),
        )
        storage.BlobServiceProperties(
            f"{name}-blob-service",
            resource_group_name=rg_name,
            account_name=account.name,
            blob_services_name="default",
            is_versioning_enabled=True,
            delete_retention_policy={"enabled": True, "days": soft_delete_days},
            container_delete_retention_policy={"enabled": True, "days": soft_delete_days},
            change_feed={
                "enabled": True,
                "retention_in_days": defaults.CHANGE_FEED_RETENTION_DAYS,
            },
            opts=child_opts(self),
        )
        container = storage.BlobContainer(
            f"{name}-dvc",
            resource_group_name=rg_name,
            account_name=account.name,
            container_name=defaults.DVC_CONTAINER,
            public_access="None",
            opts=child_opts(self),
        )
        storage.ManagementPolicy(
            f"{name}-lifecycle",
            resource_group_name=rg_name,
            account_name=account.name,
            management_policy_name="default",
            policy={
                "rules": [
                    {
                        "name": "expire-noncurrent-versions",
                        "type": "Lifecycle",
                        "enabled": True,
                        "definition": {
                            "filters": {"blob_types": ["blockBlob"]},
                            "actions": {
                                "version": {
                                    "delete": {
                                        # Azure accepts 0 (delete once superseded).
                                        "days_after_creation_greater_than": given(
                                            args.noncurrent_version_days,
                                            defaults.NONCURRENT_VERSION_DAYS,
                                        )
                                    }
                                }
                            },
                        },
                    }
                ]
            },
            opts=child_opts(self),
        )
        if args.private_endpoint_subnet_id is not None:
            zones = args.private_dns_zone_ids or {}
            private_endpoint(
                self,
                f"{name}-blob-pe",
                resource_group_name=rg_name,
                location=location,
                subnet_id=args.private_endpoint_subnet_id,
                target_id=account.id,
                group_id="blob",
                zone_ids=zones,
                tags=tags,
            )
            if vault_id is not None:
                private_endpoint(
                    self,
                    f"{name}-vault-pe",
                    resource_group_name=rg_name,
                    location=location,
                    subnet_id=args.private_endpoint_subnet_id,
                    target_id=vault_id,
                    group_id="vault",
                    zone_ids=zones,
                    tags=tags,
                )
        dvc_identity = managedidentity.UserAssignedIdentity(
            f"{name}-dvc-identity",
            resource_group_name=rg_name,
            location=location,
            tags=tags,
            opts=child_opts(self),
        )
        authorization.RoleAssignment(
            f"{name}-dvc-access",
            scope=container.id,
            principal_id=dvc_identity.principal_id,
            principal_type="ServicePrincipal",
            role_definition_id=role_definition_id(
                config, defaults.ROLE_STORAGE_BLOB_DATA_CONTRIBUTOR
            ),
            description="Read/write access to the DVC container of the artifact store",
            opts=child_opts(self),
        )

        self.bucket_name = account.name
        self.storage_account_name = account.name
        self.storage_account_id = account.id
        self.container_name = container.name
        self.bucket_uri = pulumi.Output.concat(
            "https://", account.name, f".blob.core.windows.net/{defaults.DVC_CONTAINER}"
        )
        self.dvc_remote_url = pulumi.Output.from_input(f"azure://{defaults.DVC_CONTAINER}/")
        self.kms_key_id = pulumi.Output.from_input(key_uri)
        self.key_vault_id = pulumi.Output.from_input(vault_id)
        self.identity_id = pulumi.Output.from_input(identity_id)
        self.resource_group_name = rg_name
        self.location = account.location
        self.dvc_identity_id = dvc_identity.id
        self.dvc_identity_client_id = dvc_identity.client_id
        self.register_outputs(
            {
                "bucket_name": self.bucket_name,
                "storage_account_name": self.storage_account_name,
                "storage_account_id": self.storage_account_id,
                "container_name": self.container_name,
                "bucket_uri": self.bucket_uri,
                "dvc_remote_url": self.dvc_remote_url,
                "kms_key_id": self.kms_key_id,
                "key_vault_id": self.key_vault_id,
                "identity_id": self.identity_id,
                "resource_group_name": self.resource_group_name,
                "location": self.location,
                "dvc_identity_id": self.dvc_identity_id,
                "dvc_identity_client_id": self.dvc_identity_client_id,
            }
        )


def _encrypted_services() -> dict[str, dict[str, object]]:
    return {
        "blob": {"enabled": True, "key_type": "Account"},
        "file": {"enabled": True, "key_type": "Account"},
    }


def _key_properties() -> keyvault.KeyPropertiesArgs:
    """RSA key that rotates yearly and expires after two years (a rotated key never expires)."""
    return keyvault.KeyPropertiesArgs(
        kty=defaults.KEY_TYPE,
        key_size=defaults.KEY_SIZE,
        key_ops=["wrapKey", "unwrapKey"],
        rotation_policy={
            "attributes": {"expiry_time": defaults.KEY_EXPIRY},
            "lifetime_actions": [
                {
                    "action": {"type": "rotate"},
                    "trigger": {"time_after_create": defaults.KEY_ROTATE_AFTER},
                },
                {
                    "action": {"type": "notify"},
                    "trigger": {"time_before_expiry": defaults.KEY_NOTIFY_BEFORE_EXPIRY},
                },
            ],
        },
    )
