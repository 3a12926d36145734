"""Secure defaults of the AWS components, in one place.

Each component resolves its Args through ``mlops_iac.components._component.secure_default`` against
these
values, so that turning one off is a conscious, logged decision.
"""

from __future__ import annotations

import datetime

from mlops_iac.drift import wire
from mlops_iac.spec import limits

# Cloud-neutral values are defined once, in mlops_iac.spec.defaults, and re-exported here.
from mlops_iac.spec.defaults import (  # noqa: F401
    BAKE_MINUTES,
    CANARY_PERCENT,
    CAPTURE_RETENTION_DAYS,
    CUSTOMER_MANAGED_KEY,
    DRIFT,
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

KMS_KEY_ROTATION = True
KMS_DELETION_WINDOW_DAYS = 30
BUCKET_KEY_ENABLED = True
BLOCK_PUBLIC_ACCESS = True
ENFORCE_TLS = True
REQUIRE_SSE_KMS_UPLOADS = True
OBJECT_OWNERSHIP = "BucketOwnerEnforced"
CAPTURE_PREFIX = "capture"
# Captured requests/responses (personal data, 100 % sampled) expire after CAPTURE_RETENTION_DAYS;
# their noncurrent versions a day later, so nothing outlives the retention by more than a day.
CAPTURE_NONCURRENT_DAYS = 1
LOG_RETENTION_DAYS = 365

# Training cluster (EKS)
# How the default is chosen: the newest EKS minor version that (1) has a cluster-autoscaler image
# pinned for it (mlops_iac.components.kubernetes.charts.CLUSTER_AUTOSCALER_IMAGES: the autoscaler's
# minor must match the cluster's) and (2) stays in standard support (14 months after its EKS
# release) at least three months after this library's release. Review at every release.
# https://docs.aws.amazon.com/eks/latest/userguide/kubernetes-versions.html (lifecycle: 14 months
# standard, 12 months extended, extended support on by default). Calendar checked 2026-12-07:
# 1.35 released 2026-01-28, standard support until 2027-03-27; 1.36 released 2026-06-02, standard
# support until 2027-08-02, not the default until an autoscaler 1.36 image is pinned.
KUBERNETES_VERSION = "1.35"
EKS_STANDARD_SUPPORT_ENDS = {
    "1.33": datetime.date(2026, 7, 29),
    "1.34": datetime.date(2026, 12, 2),
    "1.35": datetime.date(2027, 3, 27),
    "1.36": datetime.date(2027, 8, 2),
}
# STANDARD: at the end of standard support EKS upgrades the control plane to the next version
# instead of moving it into paid extended support (the API's default is EXTENDED).
# https://docs.aws.amazon.com/eks/latest/userguide/extended-support-control.html
EKS_SUPPORT_TYPE = "STANDARD"
VPC_CIDR = "10.0.0.0/16"
SYSTEM_INSTANCE_TYPE = "m6i.large"
# System pool: one node in dev; in staging/prod two (spread over the subnets' AZs by the node
# group's Auto Scaling group) so CoreDNS, the autoscaler and the operator's webhooks survive a node.
SYSTEM_MIN_NODES = {"dev": 1, "staging": 2, "prod": 2}
SYSTEM_MAX_NODES = {"dev": 2, "staging": 3, "prod": 3}
GPU_AMI_TYPE = "AL2023_x86_64_NVIDIA"
SYSTEM_AMI_TYPE = "AL2023_x86_64_STANDARD"
GPU_TAINT = {"key": "nvidia.com/gpu", "value": "true", "effect": "NO_SCHEDULE"}
# The label cluster-autoscaler reads to tell a GPU node whose GPUs are not advertised yet (device
# plugin starting) from one without GPUs, so it does not scale up twice.
# https://github.com/kubernetes/autoscaler/blob/master/cluster-autoscaler/FAQ.md (GPU nodes)
GPU_NODE_LABEL = "k8s.amazonaws.com/accelerator"
# GPU nodes: IMDSv2 only, and a hop limit of 1 so containers in pods cannot reach IMDS and the
# node role. Pods get AWS credentials from EKS Pod Identity (the agent on 169.254.170.23), which
# does not use IMDS. https://docs.aws.amazon.com/eks/latest/best-practices/identity-and-access-management.html
# https://docs.aws.amazon.com/eks/latest/userguide/pod-id-how-it-works.html
NODE_METADATA_OPTIONS = {
    "http_endpoint": "enabled",
    "http_tokens": "required",
    "http_put_response_hop_limit": 1,
}
# GPU nodes' root volume: with a launch template the node group's disk size no longer applies,
# and CUDA images are several GB. /dev/xvda is the root device of the EKS AL2023 AMIs.
# https://docs.aws.amazon.com/eks/latest/userguide/launch-templates.html
GPU_ROOT_DEVICE = "/dev/xvda"
GPU_ROOT_VOLUME_GIB = 100
GPU_ROOT_VOLUME_TYPE = "gp3"
CLUSTER_LOG_TYPES = ("api", "audit", "authenticator", "controllerManager", "scheduler")
# Only the AWS managed policies an EKS node needs (no inline policy, no wildcard Allow).
NODE_MANAGED_POLICIES = {
    "worker": "AmazonEKSWorkerNodePolicy",
    "ecr": "AmazonEC2ContainerRegistryReadOnly",
    "cni": "AmazonEKS_CNI_Policy",
}
CLUSTER_MANAGED_POLICY = "AmazonEKSClusterPolicy"

# Model registry
UNTAGGED_IMAGES_KEPT = 10

# Serving endpoint
SERVING_INSTANCE_TYPE = "ml.m5.large"
SERVING_AUTOSCALING = True
# TrafficRoutingConfig limits: mlops_iac.spec.limits.
VARIANT_NAME = "AllTraffic"
NETWORK_ISOLATION = True
CAPTURE_SAMPLING_PERCENT = 100
INVOCATIONS_PER_INSTANCE_TARGET = 100.0
# The old fleet stays this long after the last shift; the blue/green execution timeout is
# computed per rollout from the waits (mlops_iac.spec.limits.blue_green_timeout).
TERMINATION_WAIT_SECONDS = limits.SAGEMAKER_TERMINATION_WAIT_SECONDS
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
DRIFT_METRIC_NAMESPACE = wire.NAMESPACE
DRIFT_RUNTIME = "python3.12"
DRIFT_TIMEOUT_SECONDS = 900  # Lambda's maximum; a 1 GB capture takes well under it
DRIFT_MEMORY_MB = 512  # the job stays under 256 MiB; more memory also buys CPU on Lambda
MONITORING_MAX_RUNTIME_SECONDS = 3300
# SageMaker Model Monitor is closed to new customers: it runs only when a stack opts in.
MODEL_MONITOR = False
BUDGET_THRESHOLDS_PERCENT = (80, 100)
GPU_SATURATION_MINUTES = 60
# EC2 basic monitoring measures five samples per instance and metric in each 5-minute period
# ("The statistic set for this data point includes a SampleCount of 5"), also aggregated by
# AutoScalingGroupName: SampleCount / 5 per 5 minutes counts the running nodes.
# https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/ec2-metricscollected.html
GPU_NODES_PERIOD_SECONDS = 300
EC2_SAMPLES_PER_PERIOD = 5
# The prod endpoint alarms after a day without invocations (not a quiet hour or night).
ZERO_INVOCATIONS_HOURS = 24
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
# The account administers and uses the key: every KMS action on a key resource, written out (no
# "kms:*", which the toolkit's no-wildcard rule refuses). AWS's default key policy gives the
# account "kms:*" so that IAM policies can delegate any key action; this list is that set as of
# botocore's KMS model (a test compares it with the model, so a new key action is noticed).
# https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html
KEY_ADMIN_ACTIONS = (
    "kms:CancelKeyDeletion",
    "kms:CreateAlias",
    "kms:CreateGrant",
    "kms:Decrypt",
    "kms:DeleteAlias",
    "kms:DeleteImportedKeyMaterial",
    "kms:DeriveSharedSecret",
    "kms:DescribeKey",
    "kms:DisableKey",
    "kms:DisableKeyRotation",
    "kms:EnableKey",
    "kms:EnableKeyRotation",
    "kms:Encrypt",
    "kms:GenerateDataKey",
    "kms:GenerateDataKeyPair",
    "kms:GenerateDataKeyPairWithoutPlaintext",
    "kms:GenerateDataKeyWithoutPlaintext",
    "kms:GenerateMac",
    "kms:GetKeyLastUsage",
    "kms:GetKeyPolicy",
    "kms:GetKeyRotationStatus",
    "kms:GetParametersForImport",
    "kms:GetPublicKey",
    "kms:ImportKeyMaterial",
    "kms:ListGrants",
    "kms:ListKeyPolicies",
    "kms:ListKeyRotations",
    "kms:ListResourceTags",
    "kms:PutKeyPolicy",
    "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
    "kms:ReplicateKey",
    "kms:RetireGrant",
    "kms:RevokeGrant",
    "kms:RotateKeyOnDemand",
    "kms:ScheduleKeyDeletion",
    "kms:Sign",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:UpdateAlias",
    "kms:UpdateKeyDescription",
    "kms:UpdatePrimaryRegion",
    "kms:Verify",
    "kms:VerifyMac",
)
KEY_SERVICE_ACTIONS = ("kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey")
# The action set CloudWatch Logs documents for a log group's key ("kms:Encrypt*", "kms:Decrypt*",
# "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"), written out without wildcards.
# https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html
LOGS_KEY_ACTIONS = (
    "kms:Encrypt",
    "kms:Decrypt",
    "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
    "kms:GenerateDataKey",
    "kms:GenerateDataKeyWithoutPlaintext",
    "kms:GenerateDataKeyPair",
    "kms:GenerateDataKeyPairWithoutPlaintext",
    "kms:DescribeKey",
)
# The resources each publishing service acts for, by service principal: the aws:SourceArn
# patterns of the confused-deputy condition on a key they encrypt SNS messages with
# (``{region}``/``{account}`` filled in). https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html
SERVICE_SOURCE_ARNS = {
    "cloudwatch.amazonaws.com": "arn:aws:cloudwatch:{region}:{account}:alarm:*",
    "budgets.amazonaws.com": "arn:aws:budgets::{account}:budget/*",
}
# Services whose key statement is bound to the SNS topics instead: EventBridge delivering to an
# encrypted topic. AWS's statements for that path carry no aws:SourceArn / aws:SourceAccount
# (https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html, "Enable compatibility
# between event sources from AWS services and encrypted topics"; EventBridge "Amazon SNS
# permissions", https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-resource-based.html).
# SNS makes the KMS calls with the encryption context aws:sns:topicArn = the topic, whoever
# publishes (AWS documents that condition for service publishers, e.g.
# https://docs.aws.amazon.com/gamelift/latest/flexmatchguide/queue-notification-sns-sse.html),
# so the key serves this account's topics in this region only.
SERVICE_TOPIC_ARNS = {
    "events.amazonaws.com": "arn:aws:sns:{region}:{account}:*",
}

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

# Tracking (SageMaker managed MLflow)
TRACKING_MLFLOW_VERSION: str | None = None  # SageMaker's default version
# Weekly maintenance start, UTC (the API's pattern: Mon..Sun:HH:MM).
TRACKING_MAINTENANCE_WINDOW = "Tue:03:30"
# The MLflow calls of a training run that logs params, metrics, tags, artifacts and (MLflow 3)
# logged models: actions of the service prefix sagemaker-mlflow, scoped to the tracking server's
# ARN. MLflow 3's log_model goes through the LoggedModel calls (LogModel creates the model,
# then LogOutputs, LogLoggedModelParams, SetLoggedModelTags, FinalizeLoggedModel).
# https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonsagemakerwithmlflow.html
TRACKING_CLIENT_ACTIONS = (
    "CreateExperiment",
    "GetExperiment",
    "GetExperimentByName",
    "SearchExperiments",
    "SetExperimentTag",
    "CreateRun",
    "GetRun",
    "UpdateRun",
    "SearchRuns",
    "LogMetric",
    "LogParam",
    "LogBatch",
    "LogInputs",
    "LogOutputs",
    "LogModel",
    "SetTag",
    "DeleteTag",
    "GetMetricHistory",
    "ListArtifacts",
    "GetLoggedModel",
    "SearchLoggedModels",
    "FinalizeLoggedModel",
    "LogLoggedModelParams",
    "SetLoggedModelTags",
    "ListLoggedModelArtifacts",
)
# AccessUI has no resource type in that reference: it is granted on "*" only.
TRACKING_UI_ACTION = "AccessUI"
