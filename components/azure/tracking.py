"""Tracking on Azure: the AzureML workspace's own MLflow endpoint, granted to training and CI."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

import pulumi
from pulumi_azure_native import authorization

from mlops_iac.components._component import Component, child_opts, component_opts
from mlops_iac.components.azure import _defaults as defaults
from mlops_iac.components.azure._common import client_config, role_definition_id
from mlops_iac.components.contract_types import TrackingArgsBase

TYPE = "mlops:azure:Tracking"


@dataclass(frozen=True, kw_only=True)
class TrackingArgs(TrackingArgsBase):
    """Inputs of ``Tracking``. ``workspace_id``, ``location`` and ``artifact_bucket_name`` are
    required."""

    FIELD_NOTES: ClassVar[Mapping[str, str]] = {
        "artifact_bucket_name": (
            "The artifact store's storage account: the workspace keeps MLflow artifacts in its "
            "default datastore, which is in that account (encrypted with the store's key)."
        ),
        "size": "Not used: the workspace's endpoint has no size.",
        "ci_principals": "Entra object ids of CI's service principals. Default: none.",
    }

    workspace_id: pulumi.Input[str]
    """ARM id of the AzureML workspace whose MLflow endpoint is used. Required."""
    location: pulumi.Input[str]
    """Region of the workspace (the endpoint's host). Required."""
    training_principal_id: pulumi.Input[str] | None = None
    """Object id of the identity the training cluster runs as. Default: none."""
    storage_account_id: pulumi.Input[str] | None = None
    """ARM id of the workspace's default storage account (the artifact store's). With
    ``blob_store_container``, each principal gets Storage Blob Data Contributor on that container.
    Default: none (no data role: artifact uploads need one)."""
    blob_store_container: pulumi.Input[str] | None = None
    """The workspace's default blob container (``azureml-blobstore-<workspace id>``), where
    MLflow artifacts go. Default: none."""


class Tracking(Component):
    """The workspace's MLflow endpoint: no new server, role assignments for who logs to it.

    Children (names derive from ``name``): ``{name}-training`` (AzureML Data Scientist on the
    workspace for ``training_principal_id``) and one ``{name}-ci-{i}`` per CI principal; with
    ``storage_account_id`` and ``blob_store_container`` also ``{name}-training-artifacts`` and
    ``{name}-ci-{i}-artifacts`` (Storage Blob Data Contributor on that container: with shared
    keys disabled and identity-based datastores, MLflow uploads artifacts as the caller). The
    endpoint answers on the workspace's network path (private endpoint in staging and prod) and
    needs an Entra token: clients install ``azureml-mlflow``.

    Outputs: ``tracking_uri``
    (``azureml://<region>.api.azureml.ms/mlflow/v1.0/subscriptions/…/workspaces/<ws>``) and
    ``artifact_uri`` (the workspace's default datastore).
    """

    tracking_uri: pulumi.Output[str]
    artifact_uri: pulumi.Output[str]

    def __init__(
        self, name: str, args: TrackingArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(TYPE, name, None, component_opts(opts))
        config = client_config(self)
        role = role_definition_id(config, defaults.ROLE_AZUREML_DATA_SCIENTIST)
        grants: list[tuple[str, pulumi.Input[str]]] = []
        if args.training_principal_id is not None:
            grants.append((f"{name}-training", args.training_principal_id))
        grants.extend((f"{name}-ci-{i}", p) for i, p in enumerate(args.ci_principals))
        container_scope = None
        if args.storage_account_id is not None and args.blob_store_container is not None:
            container_scope = pulumi.Output.concat(
                args.storage_account_id,
                "/blobServices/default/containers/",
                args.blob_store_container,
            )
        blob_role = role_definition_id(config, defaults.ROLE_STORAGE_BLOB_DATA_CONTRIBUTOR)
        for child, principal in grants:
            authorization.RoleAssignment(
                child,
                scope=args.workspace_id,
                principal_id=principal,
                principal_type="ServicePrincipal",
                role_definition_id=role,
                description=f"Log experiments to the workspace's MLflow endpoint ({name})",
                opts=child_opts(self),
            )
            if container_scope is not None:
                # The workspace's datastores authenticate as the caller (shared keys are off),
                # so the MLflow client needs a data role on the default container.
                # https://learn.microsoft.com/en-us/azure/machine-learning/how-to-disable-local-auth-storage
                authorization.RoleAssignment(
                    f"{child}-artifacts",
                    scope=container_scope,
                    principal_id=principal,
                    principal_type="ServicePrincipal",
                    role_definition_id=blob_role,
                    description=f"Write MLflow artifacts to the workspace's default store ({name})",
                    opts=child_opts(self),
                )
        workspace = pulumi.Output.from_input(args.workspace_id)
        self.register(
            tracking_uri=pulumi.Output.all(args.location, workspace).apply(
                lambda v: defaults.TRACKING_URI_FORMAT.format(
                    location=str(v[0]).replace(" ", "").lower(), workspace_id=v[1]
                )
            ),
            artifact_uri=workspace.apply(
                lambda ws: f"azureml:/{_datastore_path(ws)}/datastores/workspaceblobstore/paths/"
            ),
        )


def _datastore_path(workspace_id: str) -> str:
    """``/subscriptions/<s>/resourcegroups/<rg>/workspaces/<ws>`` of a workspace ARM id (the
    datastore URI form of ``azureml://``)."""
    parts = workspace_id.strip("/").split("/")
    values = dict(zip(parts[0::2], parts[1::2], strict=False))
    lower = {k.lower(): v for k, v in values.items()}
    return (
        f"/subscriptions/{lower.get('subscriptions', '')}/resourcegroups/"
        f"{lower.get('resourcegroups', '')}/workspaces/{lower.get('workspaces', '')}"
    )
