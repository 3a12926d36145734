"""Secure defaults of the Azure components, in one place.

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

# Built-in role definition ids (the same GUID in every tenant).
ROLE_KEY_VAULT_CRYPTO_SERVICE_ENCRYPTION_USER = "e147488a-f6f5-4113-8e2d-b22465e65bf6"
ROLE_STORAGE_BLOB_DATA_CONTRIBUTOR = "ba92f5b4-2d11-453d-a403-e96b0029c9fe"
ROLE_STORAGE_QUEUE_DATA_MESSAGE_SENDER = "c6a89b2d-59bc-44d0-9896-0f6e12d7b80a"
ROLE_STORAGE_BLOB_DATA_OWNER = "b7e6dc6d-f1e8-4753-8033-0f276bb0955b"
ROLE_STORAGE_BLOB_DATA_READER = "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1"
ROLE_MONITORING_METRICS_PUBLISHER = "3913510d-42f4-4e42-8a64-420c390055eb"
# AzureML Data Scientist: every workspace action except compute, workspace and role management;
# the narrowest built-in role that creates experiments and runs and logs to them through the
# workspace's MLflow endpoint (no narrower built-in covers MLflow logging).
# https://learn.microsoft.com/en-us/azure/role-based-access-control/built-in-roles/ai-machine-learning#azureml-data-scientist
# https://learn.microsoft.com/en-us/azure/machine-learning/how-to-use-mlflow-configure-tracking
ROLE_AZUREML_DATA_SCIENTIST = "f6c7c914-8db3-469d-8ca1-694a8f32e121"

# Key Vault and its customer-managed key.
KEY_VAULT_SKU = "standard"
KEY_VAULT_SOFT_DELETE_DAYS = 90
KEY_VAULT_PURGE_PROTECTION = True
KEY_TYPE = "RSA"
KEY_SIZE = 3072
KEY_EXPIRY = "P2Y"
"""Keys expire two years after creation; the rotation policy renews them well before that."""
KEY_ROTATE_AFTER = "P1Y"
KEY_NOTIFY_BEFORE_EXPIRY = "P30D"

# Storage account.
STORAGE_KIND = "StorageV2"
STORAGE_SKU_PROD = "Standard_ZRS"
STORAGE_SKU_DEV = "Standard_LRS"
MIN_TLS_VERSION = "TLS1_2"
ALLOW_BLOB_PUBLIC_ACCESS = False
ALLOW_SHARED_KEY_ACCESS = False
INFRASTRUCTURE_ENCRYPTION = True
NETWORK_DEFAULT_ACTION = "Deny"
NETWORK_BYPASS = "AzureServices"
BLOB_SOFT_DELETE_DAYS = 30
CONTAINER_SOFT_DELETE_DAYS = 30
CHANGE_FEED_RETENTION_DAYS = 90
DVC_CONTAINER = "dvc"

# Private endpoints: the private DNS zones of each private-link group id.
# https://learn.microsoft.com/azure/private-link/private-endpoint-dns
PRIVATE_DNS_ZONES = {
    "blob": ("privatelink.blob.core.windows.net",),
    "vault": ("privatelink.vaultcore.azure.net",),
    "amlworkspace": ("privatelink.api.azureml.ms", "privatelink.notebooks.azure.net"),
    "amlregistry": ("privatelink.api.azureml.ms",),
    "registry": ("privatelink.azurecr.io",),
}
PRIVATE_NETWORK_CIDR = "10.90.0.0/24"
PRIVATE_ENDPOINT_SUBNET = "private-endpoints"
# The Functions subnet (VNet integration of the drift job): a second address range of the same
# network, /26 as recommended for Linux Elastic Premium, delegated to Microsoft.Web/serverFarms,
# with the Microsoft.Storage service endpoint the artifact account's firewall admits.
# https://learn.microsoft.com/en-us/azure/azure-functions/functions-networking-options#subnets
FUNCTIONS_SUBNET = "functions"
FUNCTIONS_SUBNET_CIDR = "10.90.1.0/26"
FUNCTIONS_SUBNET_MIN_PREFIX = 28
FUNCTIONS_SUBNET_DELEGATION = "Microsoft.Web/serverFarms"
STORAGE_SERVICE_ENDPOINT = "Microsoft.Storage"

# Logs.
LOG_RETENTION_DAYS = 90

# Training.
AML_IDLE_SCALE_DOWN = "PT10M"
# The CPU cluster that builds environment images where the workspace's registry is private.
IMAGE_BUILD_VM_SIZE = "Standard_DS3_v2"
# Identity-based AzureML datastore on the artifact store (names: lowercase, digits, underscores).
ARTIFACT_DATASTORE = "artifacts"

# Registry.
ACR_SKU_PROD = "Premium"
ACR_SKU_DEV = "Standard"
ACR_ADMIN_USER = False
ACR_ANONYMOUS_PULL = False
ACR_UNTAGGED_RETENTION_DAYS = 30
ACTION_GROUP_LOCATION = "global"

# Serving.
SERVING_INSTANCE_TYPE = "Standard_DS3_v2"
SCALE_OUT_CPU_PERCENT = 70
SCALE_IN_CPU_PERCENT = 25
SCALE_COOLDOWN = "PT5M"

# Monitoring.
DRIFT_THRESHOLD = 0.1
DRIFT_COMPUTE_INSTANCE = "standard_e4s_v3"
DRIFT_SPARK_RUNTIME = "3.4"
BUDGET_THRESHOLDS = (80, 100)
# The drift job's Function App (Python versions it runs:
# https://learn.microsoft.com/en-us/azure/azure-functions/supported-languages). With a Functions
# subnet it runs on Elastic Premium EP1 (the smallest plan with VNet integration that runs a
# package from a blob URL), one instance: the job is one timer.
DRIFT_FUNCTION_RUNTIME = "Python|3.11"
DRIFT_PLAN_SKU = {"name": "EP1", "tier": "ElasticPremium"}
DRIFT_PLAN_MAX_WORKERS = 1
DRIFT_CONSUMPTION_SKU = {"name": "Y1", "tier": "Dynamic"}

# Tracking: the workspace's own MLflow endpoint, by its documented URI format
# (azureml://<region>.api.azureml.ms/mlflow/v1.0/<workspace ARM id>).
# https://learn.microsoft.com/en-us/azure/machine-learning/how-to-use-mlflow-configure-tracking
TRACKING_URI_FORMAT = "azureml://{location}.api.azureml.ms/mlflow/v1.0{workspace_id}"
