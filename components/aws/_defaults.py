"""Secure defaults of the AWS components, in one place.

Each component resolves its Args through ``mlops_iac.components._component.secure_default`` against
these
values, so that turning one off is a conscious, logged decision.
"""

from __future__ import annotations

KMS_KEY_ROTATION = True
KMS_DELETION_WINDOW_DAYS = 30
CUSTOMER_MANAGED_KEY = True
BUCKET_KEY_ENABLED = True
BLOCK_PUBLIC_ACCESS = True
ENFORCE_TLS = True
REQUIRE_SSE_KMS_UPLOADS = True
FORCE_DESTROY = False
OBJECT_OWNERSHIP = "BucketOwnerEnforced"
NONCURRENT_VERSION_DAYS = 90
INCOMPLETE_UPLOAD_DAYS = 7
DVC_PREFIX = "dvc"
CAPTURE_PREFIX = "capture"
LOG_RETENTION_DAYS = 365

# Training cluster (EKS)
KUBERNETES_VERSION = "1.31"
VPC_CIDR = "10.0.0.0/16"
SYSTEM_INSTANCE_TYPE = "m6i.large"
SYSTEM_MIN_NODES = 1
SYSTEM_MAX_NODES = 2
GPU_AMI_TYPE = "AL2023_x86_64_NVIDIA"
SYSTEM_AMI_TYPE = "AL2023_x86_64_STANDARD"
GPU_TAINT = {"key": "nvidia.com/gpu", "value": "true", "effect": "NO_SCHEDULE"}
CLUSTER_LOG_TYPES = ("api", "audit", "authenticator", "controllerManager", "scheduler")
PUBLIC_CLUSTER_ENDPOINT = False
# Only the AWS managed policies an EKS node needs (no inline policy, no wildcard Allow).
NODE_MANAGED_POLICIES = {
    "worker": "AmazonEKSWorkerNodePolicy",
    "ecr": "AmazonEC2ContainerRegistryReadOnly",
    "cni": "AmazonEKS_CNI_Policy",
}
CLUSTER_MANAGED_POLICY = "AmazonEKSClusterPolicy"

# Model registry
UNTAGGED_IMAGES_KEPT = 10
IMMUTABLE_TAGS = True
SCAN_ON_PUSH = True

# Serving endpoint
SERVING_INSTANCE_TYPE = "ml.m5.large"
VARIANT_NAME = "AllTraffic"
NETWORK_ISOLATION = True
CAPTURE_SAMPLING_PERCENT = 100
INVOCATIONS_PER_INSTANCE_TARGET = 100.0
TERMINATION_WAIT_SECONDS = 300
MAX_EXECUTION_TIMEOUT_SECONDS = 3600
LATENCY_P99_MS = 500
ERROR_RATE_PERCENT = 1.0
ALARM_PERIOD_SECONDS = 60
ALARM_EVALUATION_PERIODS = 3

# Monitoring
DRIFT_SCHEDULES = {
    "hourly": "cron(0 * ? * * *)",
    "daily": "cron(0 0 ? * * *)",
    "weekly": "cron(0 0 ? * 1 *)",
}
MONITORING_INSTANCE_TYPE = "ml.m5.large"
# The toolkit's drift job (DriftJob): a Lambda packaged from mlops_iac.drift, no build step.
DRIFT_METRIC_NAMESPACE = "mlops/drift"
DRIFT_RUNTIME = "python3.12"
DRIFT_TIMEOUT_SECONDS = 900  # Lambda's maximum; a 1 GB capture takes well under it
DRIFT_MEMORY_MB = 512  # the job stays under 256 MiB; more memory also buys CPU on Lambda
MONITORING_MAX_RUNTIME_SECONDS = 3300
HOURS_PER_MONTH = 730
BUDGET_THRESHOLDS_PERCENT = (80, 100)
GPU_SATURATION_MINUTES = 60
# Account that publishes the SageMaker Model Monitor analyzer image, per region.
MODEL_MONITOR_IMAGE_ACCOUNTS = {
    "us-east-1": "156813124566",
    "us-east-2": "777275614652",
    "us-west-1": "890145073186",
    "us-west-2": "159807026194",
    "eu-west-1": "468650794304",
    "eu-west-2": "749857270468",
    "eu-central-1": "048819808253",
    "ap-northeast-1": "574779866223",
    "ap-southeast-1": "245545462676",
    "ap-southeast-2": "563025443158",
}
# Key administration without "kms:*": the account can manage and use the key explicitly.
KEY_ADMIN_ACTIONS = (
    "kms:CancelKeyDeletion",
    "kms:CreateAlias",
    "kms:CreateGrant",
    "kms:Decrypt",
    "kms:DeleteAlias",
    "kms:DescribeKey",
    "kms:DisableKey",
    "kms:EnableKey",
    "kms:EnableKeyRotation",
    "kms:Encrypt",
    "kms:GenerateDataKey",
    "kms:GetKeyPolicy",
    "kms:GetKeyRotationStatus",
    "kms:ListGrants",
    "kms:ListResourceTags",
    "kms:PutKeyPolicy",
    "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
    "kms:RetireGrant",
    "kms:RevokeGrant",
    "kms:ScheduleKeyDeletion",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:UpdateAlias",
    "kms:UpdateKeyDescription",
)
KEY_SERVICE_ACTIONS = ("kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey")

# What the Kubernetes cluster autoscaler calls (its documented minimum for auto-discovery and
# scale-from-zero on managed node groups); describe calls support only resource "*".
AUTOSCALER_DESCRIBE_ACTIONS = (
    "autoscaling:DescribeAutoScalingGroups",
    "autoscaling:DescribeAutoScalingInstances",
    "autoscaling:DescribeLaunchConfigurations",
    "autoscaling:DescribeScalingActivities",
    "autoscaling:DescribeTags",
    "ec2:DescribeImages",
    "ec2:DescribeInstanceTypes",
    "ec2:DescribeLaunchTemplateVersions",
    "ec2:GetInstanceTypesFromInstanceRequirements",
    "eks:DescribeNodegroup",
)
AUTOSCALER_SCALE_ACTIONS = (
    "autoscaling:SetDesiredCapacity",
    "autoscaling:TerminateInstanceInAutoScalingGroup",
)
