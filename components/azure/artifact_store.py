"""ArtifactStore on Azure: versioned blob storage with a Key Vault CMK, the DVC remote."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar

import pulumi
from pulumi_azure_native import authorization, keyvault, managedidentity, resources, storage

from mlops_iac.components._component import (
    Component,
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
    key_vault_name,
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
    key_vault_incarnation: int = 1
    """Part of the vault's name: a deleted vault holds its name for 90 days (purge protection
    forbids purging it), so a store re-created after a destroy takes the next incarnation.
    Default: 1 (the first name)."""


class ArtifactStore(Component):
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
    ``resource_group_name``, ``location``, ``dvc_identity_id``, ``dvc_identity_client_id`` and
    ``dvc_identity_principal_id`` (the training cluster runs as this identity).
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
    dvc_identity_principal_id: pulumi.Output[str]

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
        config = client_config(self)
        rg_name, location = self._resource_group(name, args)
        key = self._customer_key(name, args, config, rg_name, location, prod) if cmk else None
        account = self._account(name, args, config, rg_name, location, sku, prod, key)
        container = self._dvc_container(name, args, rg_name, account, soft_delete_days)
        self._private_endpoints(name, args, rg_name, location, account, key)
        dvc_identity = self._dvc_identity(name, args, config, rg_name, location, container)
        self.register(
            bucket_name=account.name,
            storage_account_name=account.name,
            storage_account_id=account.id,
            container_name=container.name,
            bucket_uri=pulumi.Output.concat(
                "https://", account.name, f".blob.core.windows.net/{defaults.DVC_CONTAINER}"
            ),
            dvc_remote_url=pulumi.Output.from_input(f"azure://{defaults.DVC_CONTAINER}/"),
            kms_key_id=pulumi.Output.from_input(key.key.key_uri if key else None),
            key_vault_id=pulumi.Output.from_input(key.vault.id if key else None),
            identity_id=pulumi.Output.from_input(key.identity.id if key else None),
            resource_group_name=rg_name,
            location=account.location,
            dvc_identity_id=dvc_identity.id,
            dvc_identity_client_id=dvc_identity.client_id,
            dvc_identity_principal_id=dvc_identity.principal_id,
        )

    def _resource_group(
        self, name: str, args: ArtifactStoreArgs
    ) -> tuple[pulumi.Output[str], pulumi.Output[str]]:
        """Name and location of the given resource group, or of ``{name}-rg`` created here."""
        if args.resource_group_name is not None:
            return (
                pulumi.Output.from_input(args.resource_group_name),
                # Output[None] without a location (the provider's default region), which the
                # output type (str, every cloud's contract) does not say.
                pulumi.Output.from_input(args.location),  # type: ignore[arg-type]
            )
        group = resources.ResourceGroup(
            f"{name}-rg", location=args.location, tags=args.tags, opts=child_opts(self)
        )
        return group.name, group.location

    def _customer_key(
        self,
        name: str,
        args: ArtifactStoreArgs,
        config: pulumi.Output[authorization.GetClientConfigResult],
        rg_name: pulumi.Output[str],
        location: pulumi.Output[str],
        prod: bool,
    ) -> _CustomerKey:
        """The vault, its rotating key and the identity the account reaches the key with."""
        vault = secure_vault(
            self,
            f"{name}-vault",
            vault_name=key_vault_name(self, config, f"{name}-vault", args.key_vault_incarnation),
            resource_group_name=rg_name,
            location=location,
            tenant_id=config.tenant_id,
            tags=args.tags,
            protect=prod,
        )
        key = keyvault.Key(
            f"{name}-key",
            resource_group_name=rg_name,
            vault_name=vault.name,
            properties=_key_properties(),
            tags=args.tags,
            opts=child_opts(self, protect=prod),
        )
        identity = managedidentity.UserAssignedIdentity(
            f"{name}-identity",
            resource_group_name=rg_name,
            location=location,
            tags=args.tags,
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
        return _CustomerKey(vault=vault, key=key, identity=identity, grant=grant)

    def _account(
        self,
        name: str,
        args: ArtifactStoreArgs,
        config: pulumi.Output[authorization.GetClientConfigResult],
        rg_name: pulumi.Output[str],
        location: pulumi.Output[str],
        sku: str,
        prod: bool,
        key: _CustomerKey | None,
    ) -> storage.StorageAccount:
        """The storage account: encrypted (with the customer key when given), default-deny."""
        return storage.StorageAccount(
            f"{name}-account",
            account_name=unique_name(self, config, name, "st", limit=24),
            resource_group_name=rg_name,
            location=location,
            kind=defaults.STORAGE_KIND,
            sku={"name": sku},
            identity=(
                {"type": "UserAssigned", "user_assigned_identities": [key.identity.id]}
                if key
                else None
            ),
            enable_https_traffic_only=True,
            minimum_tls_version=defaults.MIN_TLS_VERSION,
            allow_blob_public_access=defaults.ALLOW_BLOB_PUBLIC_ACCESS,
            allow_shared_key_access=defaults.ALLOW_SHARED_KEY_ACCESS,
            default_to_o_auth_authentication=True,
            allow_cross_tenant_replication=False,
            encryption=_encryption(key),
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
            tags=args.tags,
            # The account validates key access at creation: the grant must exist first.
            opts=child_opts(self, protect=prod, depends_on=[key.grant] if key else None),
        )

    def _dvc_container(
        self,
        name: str,
        args: ArtifactStoreArgs,
        rg_name: pulumi.Output[str],
        account: storage.StorageAccount,
        soft_delete_days: int,
    ) -> storage.BlobContainer:
        """Versioning and soft delete, the private ``dvc`` container and its lifecycle rule."""
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
        # given(), spelt out: its one type variable cannot join int with Input[int].
        days = args.noncurrent_version_days
        if days is None:
            days = defaults.NONCURRENT_VERSION_DAYS
        storage.ManagementPolicy(
            f"{name}-lifecycle",
            resource_group_name=rg_name,
            account_name=account.name,
            management_policy_name="default",
            policy=_lifecycle_policy(days),
            opts=child_opts(self),
        )
        return container

    def _private_endpoints(
        self,
        name: str,
        args: ArtifactStoreArgs,
        rg_name: pulumi.Output[str],
        location: pulumi.Output[str],
        account: storage.StorageAccount,
        key: _CustomerKey | None,
    ) -> None:
        """With a subnet: ``{name}-blob-pe`` to the account and, with a customer key,
        ``{name}-vault-pe``."""
        subnet_id = args.private_endpoint_subnet_id
        if subnet_id is None:
            return
        zones = args.private_dns_zone_ids or {}
        targets = [("blob-pe", account.id, "blob")]
        if key is not None:
            targets.append(("vault-pe", key.vault.id, "vault"))
        for suffix, target_id, group_id in targets:
            private_endpoint(
                self,
                f"{name}-{suffix}",
                resource_group_name=rg_name,
                location=location,
                subnet_id=subnet_id,
                target_id=target_id,
                group_id=group_id,
                zone_ids=zones,
                tags=args.tags,
            )

    def _dvc_identity(
        self,
        name: str,
        args: ArtifactStoreArgs,
        config: pulumi.Output[authorization.GetClientConfigResult],
        rg_name: pulumi.Output[str],
        location: pulumi.Output[str],
        container: storage.BlobContainer,
    ) -> managedidentity.UserAssignedIdentity:
        """The scoped read-write identity for DVC and pipelines (the ``dvc`` container only)."""
        dvc_identity = managedidentity.UserAssignedIdentity(
            f"{name}-dvc-identity",
            resource_group_name=rg_name,
            location=location,
            tags=args.tags,
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
        return dvc_identity


@dataclass(frozen=True)
class _CustomerKey:
    """The customer-managed key's resources (the account's encryption reads them)."""

    vault: keyvault.Vault
    key: keyvault.Key
    identity: managedidentity.UserAssignedIdentity
    grant: authorization.RoleAssignment


def _encryption(key: _CustomerKey | None) -> dict[str, object]:
    """Infrastructure encryption of blobs and files, with the customer key when given."""
    encryption: dict[str, object] = {
        "key_source": "Microsoft.Storage",
        "require_infrastructure_encryption": defaults.INFRASTRUCTURE_ENCRYPTION,
        "services": _encrypted_services(),
    }
    if key is not None:
        encryption.update(
            key_source="Microsoft.Keyvault",
            key_vault_properties={
                "key_name": key.key.name,
                "key_vault_uri": key.vault.properties.vault_uri,
            },
            encryption_identity={"encryption_user_assigned_identity": key.identity.id},
        )
    return encryption


def _lifecycle_policy(noncurrent_version_days: pulumi.Input[int]) -> dict[str, object]:
    """Delete noncurrent versions of block blobs after ``noncurrent_version_days``."""
    return {
        "rules": [
            {
                "name": "expire-noncurrent-versions",
                "type": "Lifecycle",
                "enabled": True,
                "definition": {
                    "filters": {"blob_types": ["blockBlob"]},
                    "actions": {
                        "version": {
                            # Azure accepts 0 (delete once superseded).
                            "delete": {"days_after_creation_greater_than": noncurrent_version_days}
                        }
                    },
                },
            }
        ]
    }


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
