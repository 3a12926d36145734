"""The churn team's training environment on Azure, composed from mlops-iac components directly.

``ArtifactStore`` (storage account with a Key Vault key, the DVC remote) and ``TrainingCluster``
(AzureML workspace on that storage and vault, GPU compute that scales to zero), plus the team's
own user-assigned identity for its training jobs. The lineage transform tags all of it.
"""

import pulumi
import pulumi_azure_native.managedidentity as managedidentity

from mlops_iac.components.azure import (
    ArtifactStore,
    ArtifactStoreArgs,
    TrainingCluster,
    TrainingClusterArgs,
)
from mlops_iac.components.lineage import register_lineage_transform
from mlops_iac.components.spec import SpecError, load_spec

try:
    spec = load_spec()
except SpecError as exc:
    raise pulumi.RunError(f"invalid stack file:\n{exc}") from None

# Before any resource: the transform only sees resources registered after it.
register_lineage_transform(spec)
env = spec.environment
training = spec.training

store = ArtifactStore(
    "churn-artifacts",
    ArtifactStoreArgs(
        environment=env, noncurrent_version_days=spec.artifacts.noncurrent_version_days
    ),
)
cluster = TrainingCluster(
    "churn-training",
    TrainingClusterArgs(
        resource_group_name=store.resource_group_name,
        location=store.location,
        storage_account_id=store.storage_account_id,
        key_vault_id=store.key_vault_id,  # one vault for the data key and the workspace
        environment=env,
        gpu=training.gpu,
        min_nodes=training.min_nodes,
        max_nodes=training.max_nodes,
        spot=training.spot,
    ),
)

# The team's own resource: the identity its training jobs run as. No tags passed: the lineage
# transform adds them (Azure keys keep the `mlops:` spelling).
jobs_identity = managedidentity.UserAssignedIdentity(
    "churn-training-jobs",
    resource_group_name=store.resource_group_name,
    location=store.location,
)

pulumi.export("storage_account_name", store.storage_account_name)
pulumi.export("dvc_remote_url", store.dvc_remote_url)
pulumi.export("workspace_name", cluster.workspace_name)
pulumi.export("gpu_pool_name", cluster.gpu_pool_name)
pulumi.export("max_usd_per_hour", cluster.max_usd_per_hour)
pulumi.export("jobs_identity_client_id", jobs_identity.client_id)
