"""The fraud team's DVC remote: one ArtifactStore on the stack's cloud, exported as
``mlops-iac dvc-remote`` reads it.

``pulumi stack output --json > outputs.json`` prints ``dvc_remote_url`` and what the cloud's
remote needs (AWS ``kms_key_id``; Azure ``storage_account_name``); ``run.sh`` turns them into
the repository's default DVC remote and pushes the data. The stack file's ``cloud`` picks the
component, so the same program serves ``dev`` (AWS), ``azure-dev`` and ``gcp-dev``.
"""

import pulumi

from mlops_iac.components.lineage import register_lineage_transform
from mlops_iac.components.spec import SpecError, load_spec

try:
    spec = load_spec()
except SpecError as exc:
    raise pulumi.RunError(f"invalid stack file:\n{exc}") from None

register_lineage_transform(spec)
artifacts = spec.artifacts
common = {
    "environment": spec.environment,
    "noncurrent_version_days": artifacts.noncurrent_version_days,
}

if spec.cloud == "aws":
    from mlops_iac.components.aws import ArtifactStore, ArtifactStoreArgs

    store = ArtifactStore(
        "fraud-data",
        ArtifactStoreArgs(
            **common, incomplete_upload_days=artifacts.incomplete_upload_days, dvc_prefix="dvc"
        ),
    )
    pulumi.export("kms_key_id", store.kms_key_id)
    # Attach this to the CI role or the data scientists' group: read-write on dvc/ only.
    pulumi.export("dvc_policy_arn", store.dvc_policy_arn)
elif spec.cloud == "azure":
    from mlops_iac.components.azure import ArtifactStore, ArtifactStoreArgs

    store = ArtifactStore("fraud-data", ArtifactStoreArgs(**common))
    pulumi.export("storage_account_name", store.storage_account_name)
    # Storage Blob Data Contributor on the dvc container only; AZURE_CLIENT_ID for DVC.
    pulumi.export("dvc_identity_client_id", store.dvc_identity_client_id)
else:
    from mlops_iac.components.gcp import ArtifactStore, ArtifactStoreArgs

    store = ArtifactStore(
        "fraud-data",
        ArtifactStoreArgs(
            **common, incomplete_upload_days=artifacts.incomplete_upload_days, dvc_prefix="dvc"
        ),
    )
    pulumi.export("kms_key_id", store.kms_key_id)
    # Object admin under dvc/ only (IAM condition) + bucket listing: run DVC as this account.
    pulumi.export("dvc_service_account", store.dvc_service_account)

pulumi.export("artifact_bucket_name", store.bucket_name)
pulumi.export("artifact_bucket_uri", store.bucket_uri)
pulumi.export("dvc_remote_url", store.dvc_remote_url)
