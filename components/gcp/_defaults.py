"""Secure defaults of the GCP components, in one place.

Each component resolves its Args through ``mlops_iac.components._component.secure_default`` against
these
values, so that turning one off is a conscious, logged decision.
"""

from __future__ import annotations

# Cloud-neutral values are defined once, in mlops_iac.spec.defaults, and re-exported here.
from mlops_iac.spec.defaults import (  # noqa: F401
    BAKE_MINUTES,
    CANARY_PERCENT,
    CUSTOMER_MANAGED_KEY,
    DRIFT,
    DRIFT_CRON,
    DRIFT_JENSEN_SHANNON,
    DRIFT_KS,
    DRIFT_MIN_ROWS,
    DRIFT_PSI,
    DRIFT_WINDOW_HOURS,
    DVC_PREFIX,
    ENVIRONMENT,
    ERROR_RATE_PERCENT,
    FORCE_DESTROY,
    GPU,
    HOURS_PER_MONTH,
    IMMUTABLE_TAGS,
    INCOMPLETE_UPLOAD_DAYS,
    LATENCY_P99_MS,
    LINEAR_STEP_PERCENT,
    MAX_NODES,
    MAX_REPLICAS,
    MIN_NODES,
    MIN_REPLICAS,
    NONCURRENT_VERSION_DAYS,
    PUBLIC_ENDPOINT,
    ROLLOUT_STRATEGY,
    SCAN_ON_PUSH,
    SPOT,
    TRACKING_PREFIX,
    TRACKING_SIZE,
)

DEFAULT_REGION = "us-central1"

# Cloud KMS
KMS_ROTATION_PERIOD = "7776000s"
"""90 days: the longest rotation period the policy pack accepts."""
KMS_DESTROY_SCHEDULED_DURATION = "2592000s"
"""30 days between 'destroy' and the key material being gone (the AWS deletion window)."""

# Cloud Storage
UNIFORM_BUCKET_LEVEL_ACCESS = True
PUBLIC_ACCESS_PREVENTION = "enforced"
SOFT_DELETE_SECONDS = 7 * 24 * 3600
CAPTURE_PREFIX = "capture"
DVC_ROLE = "roles/storage.objectAdmin"  # on objects under the DVC prefix only (IAM condition)
DVC_LIST_ROLE = "roles/storage.objectViewer"  # on the bucket resource only: object listing
# Training writes (and overwrites) its checkpoints under this prefix with the DVC account.
CHECKPOINT_PREFIX = "checkpoints"
KMS_ROLE = "roles/cloudkms.cryptoKeyEncrypterDecrypter"

# GKE
RELEASE_CHANNEL = "REGULAR"
DATAPATH_PROVIDER = "ADVANCED_DATAPATH"
"""Dataplane V2: Kubernetes network policy is enforced without a separate add-on."""
WORKLOAD_METADATA_MODE = "GKE_METADATA"
GPU_TAINT = {"key": "nvidia.com/gpu", "value": "present", "effect": "NO_SCHEDULE"}
GPU_DRIVER_VERSION = "DEFAULT"
SYSTEM_MACHINE_TYPE = "e2-standard-4"
SYSTEM_MIN_NODES = 1
SYSTEM_MAX_NODES = 3
SUBNET_CIDR = "10.10.0.0/20"
PODS_CIDR = "10.20.0.0/14"
SERVICES_CIDR = "10.24.0.0/20"
MASTER_CIDR = "172.16.0.0/28"
NODE_ROLES = {
    "default-node": "roles/container.defaultNodeServiceAccount",
    "registry-reader": "roles/artifactregistry.reader",
}
"""The least-privilege node identity GKE documents (its predefined node role: logs, metrics,
resource metadata; plus pulling images), and nothing else runs as the node account.
https://cloud.google.com/kubernetes-engine/docs/how-to/hardening-your-cluster#use_least_privilege_sa"""
NODE_OAUTH_SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)
CLUSTER_LOG_COMPONENTS = (
    "SYSTEM_COMPONENTS",
    "WORKLOADS",
    "APISERVER",
    "CONTROLLER_MANAGER",
    "SCHEDULER",
)

# Artifact Registry and the model bucket
UNTAGGED_IMAGE_DAYS = 30
KEEP_IMAGE_VERSIONS = 20
MODEL_RETENTION_DAYS = 30

# Serving (Cloud Run v2)
PRIVATE_INGRESS = "INGRESS_TRAFFIC_INTERNAL_ONLY"
PUBLIC_INGRESS = "INGRESS_TRAFFIC_ALL"
SERVING_CPU = "2"
SERVING_MEMORY = "4Gi"
GPU_SERVING_CPU = "4"
GPU_SERVING_MEMORY = "16Gi"
PUBLIC_MEMBERS = ("allUsers", "allAuthenticatedUsers")

# Training cluster: Kubeflow Trainer's and JobSet's admission webhooks listen on this pod port; a
# private cluster's control plane reaches nodes on 443 and 10250 only unless a rule opens more.
# https://cloud.google.com/kubernetes-engine/docs/how-to/latest/network-isolation#add_firewall_rules
WEBHOOK_PORTS = ("9443",)

# Monitoring
ALERT_WINDOW = "300s"
BUDGET_THRESHOLDS = (0.8, 1.0)
DRIFT_PERIODS = {"hourly": "3600s", "daily": "86400s", "weekly": "604800s"}
# The toolkit's drift job (DriftJob): Cloud Functions 2nd gen built from mlops_iac.drift's source.
DRIFT_RUNTIME = "python312"
DRIFT_TIMEOUT_SECONDS = 1800  # HTTP functions (2nd gen) may run up to 60 minutes
TOPIC_MESSAGE_RETENTION = "604800s"

# Tracking: MLflow on Cloud Run, metadata in Cloud SQL for PostgreSQL, artifacts in the store.
# The default image is MLflow's own "full" image (it has psycopg2 and google-cloud-storage:
# https://github.com/mlflow/mlflow/issues/20926), pulled through an Artifact Registry remote
# repository because Cloud Run runs images from Artifact Registry or Docker Hub only
# (https://cloud.google.com/run/docs/deploying#images); the remote repository fetches it from
# ghcr.io on first pull (https://cloud.google.com/artifact-registry/docs/repositories/remote-repo).
TRACKING_UPSTREAM = "https://ghcr.io"
TRACKING_IMAGE_PATH = "mlflow/mlflow:v3.17.2-full"
# Cloud SQL Auth Proxy sidecar: IAM database login (no password), TLS to the instance.
# https://cloud.google.com/sql/docs/postgres/connect-run#connect-sidecar
TRACKING_PROXY_IMAGE = "gcr.io/cloud-sql-connectors/cloud-sql-proxy:2.18.2"
TRACKING_DATABASE_VERSION = "POSTGRES_16"
TRACKING_DATABASE = "mlflow"
# TrackingServerSize → (Cloud SQL tier, Cloud Run maximum instances).
# https://cloud.google.com/sql/docs/postgres/instance-settings
TRACKING_SIZES = {
    "Small": ("db-custom-1-3840", 2),
    "Medium": ("db-custom-2-7680", 4),
    "Large": ("db-custom-4-15360", 8),
}
TRACKING_PORT = 8080
# Cloud Run's default (512 MiB per container) is too small for `mlflow server` on the full image,
# whose every worker imports the MLflow server stack: 2 GiB and 1 vCPU for MLflow with 2 workers
# (`mlflow server --workers`, default 4), the proxy at Cloud Run's per-container default.
# https://cloud.google.com/run/docs/configuring/services/memory-limits
TRACKING_SERVER_LIMITS = {"cpu": "1", "memory": "2Gi"}
TRACKING_WORKERS = 2
TRACKING_PROXY_LIMITS = {"cpu": "1", "memory": "512Mi"}
# Scale to zero throttles CPU between requests: the proxy refreshes its certificate when a
# connection needs it rather than in the background (proxy v2.11+).
# https://github.com/GoogleCloudPlatform/cloud-sql-proxy#configuring-lazy-refresh
TRACKING_PROXY_FLAGS = ("--auto-iam-authn", "--lazy-refresh", "--port=5432")
# The server's project roles: connect through the connector, log in as an IAM database user.
# https://cloud.google.com/sql/docs/postgres/iam-roles
TRACKING_SQL_ROLES = {
    "sql-client": "roles/cloudsql.client",
    "sql-login": "roles/cloudsql.instanceUser",
}
