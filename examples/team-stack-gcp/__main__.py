"""The recommendations team's serving on GCP, composed from mlops-iac components directly.

``ArtifactStore`` (GCS with a Cloud KMS key; the DVC remote and the capture bucket) and
``ServingEndpoint`` (Cloud Run with a traffic split between the current and previous revision),
plus the team's own Pub/Sub topic for batch scoring requests. The lineage transform labels all of
it with GCP-valid keys (``mlops-git-sha``, not ``mlops:git-sha``).
"""

import pulumi
import pulumi_gcp as gcp

from mlops_iac.components.gcp import (
    ArtifactStore,
    ArtifactStoreArgs,
    ModelVersion,
    ServingEndpoint,
    ServingEndpointArgs,
)
from mlops_iac.components.lineage import register_lineage_transform, sanitise, serving_tags
from mlops_iac.components.spec import SpecError, load_spec

try:
    spec = load_spec()
except SpecError as exc:
    raise pulumi.RunError(f"invalid stack file:\n{exc}") from None

# Before any resource: the transform only sees resources registered after it.
register_lineage_transform(spec)
env = spec.environment
serving = spec.serving
model, previous = serving.model, serving.previous_model

store = ArtifactStore(
    "recsys-artifacts",
    ArtifactStoreArgs(
        environment=env, noncurrent_version_days=spec.artifacts.noncurrent_version_days
    ),
)
# The model server reads its artifact as the service's identity: grant that version's folder
# (plan proves every call the server is told to make against the plan's grants).
model_bucket, _, model_key = (model.artifact_uri or "gs:///").removeprefix("gs://").partition("/")
endpoint = ServingEndpoint(
    "recsys-serving",
    ServingEndpointArgs(
        environment=env,
        # The stack file names the image (no ModelRegistry in this program).
        active_model=ModelVersion(
            name=model.name,
            version=model.version,
            image=model.image,
            artifact_uri=model.artifact_uri,
        ),
        previous_model=ModelVersion(name=previous.name, version=previous.version)
        if previous
        else None,
        rollback=serving.rollback,
        rollout_strategy=serving.rollout.strategy,
        canary_percent=serving.rollout.canary_percent,
        min_replicas=serving.replicas.min,
        max_replicas=serving.replicas.max,
        capture_bucket=store.bucket_name,
        model_bucket=model_bucket or None,
        model_prefix=model_key.rsplit("/", 1)[0] + "/" if model_key else None,
        # Which model version the service runs, and its approval: GCP label spelling.
        tags=sanitise(serving_tags(spec, serving.active_model), "gcp"),
    ),
)

# The team's own resource: batch scoring requests. No labels passed: the transform adds them.
requests = gcp.pubsub.Topic("scoring-requests", message_retention_duration="86400s")

pulumi.export("artifact_bucket_name", store.bucket_name)
pulumi.export("dvc_remote_url", store.dvc_remote_url)
pulumi.export("endpoint_url", endpoint.endpoint_url)
pulumi.export("active_model_version", endpoint.active_model_version)
pulumi.export("previous_model_version", endpoint.previous_model_version)
pulumi.export("scoring_topic", requests.name)
# Read back by the next deployment (ServingEndpoint's reference to this stack): which revisions
# exist, so the previous one is kept in traffic once it has been served.
pulumi.export("serving_revisions", endpoint.serving_revisions)
