"""The fraud team's DVC remote: one ArtifactStore, exported as ``mlops-iac dvc-remote`` reads it.

``pulumi stack output --json > outputs.json`` prints ``dvc_remote_url`` and ``kms_key_id``;
``run.sh`` turns them into the repository's default DVC remote and pushes the data.
"""

import pulumi

from mlops_iac.components.aws import ArtifactStore, ArtifactStoreArgs
from mlops_iac.components.lineage import register_lineage_transform
from mlops_iac.components.spec import SpecError, load_spec

try:
    spec = load_spec()
except SpecError as exc:
    raise pulumi.RunError(f"invalid stack file:\n{exc}") from None

register_lineage_transform(spec)
artifacts = spec.artifacts
store = ArtifactStore(
    "fraud-data",
    ArtifactStoreArgs(
        environment=spec.environment,
        noncurrent_version_days=artifacts.noncurrent_version_days,
        incomplete_upload_days=artifacts.incomplete_upload_days,
        dvc_prefix="dvc",
    ),
)

pulumi.export("artifact_bucket_name", store.bucket_name)
pulumi.export("artifact_bucket_uri", store.bucket_uri)
pulumi.export("dvc_remote_url", store.dvc_remote_url)
pulumi.export("kms_key_id", store.kms_key_id)
# Attach this to the CI role or the data scientists' group: read-write on the DVC prefix only.
pulumi.export("dvc_policy_arn", store.dvc_policy_arn)
