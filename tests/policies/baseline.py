"""A hand-built recording of the AWS platform, compliant with every rule, and tools to break it.

It mirrors what the AWS components create (types, logical names, camelCase inputs) so the rules
are tested against the shapes the offline engine will record. Outputs are the inputs plus the
computed ids and ARNs a provider returns; an input that refers to another resource's output is
written as ``Ref(resource, "field")`` and recorded as a property dependency, like the engine does.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mlops_iac.policies import packs

PROJECT = "fraud-detection"
OWNER = "ml-platform@example.com"
APPROVERS = ["jane@example.com", "raj@example.com"]
APPROVALS = [
    {
        "model": "fraud-detector",
        "version": "7",
        "approvedBy": "jane@example.com",
        "ticket": "CHG-1234",
        "approvedAt": dt.date(2026, 11, 20),
    },
    # The rollback target is deployable (its SageMaker model exists), so it is approved too.
    {
        "model": "fraud-detector",
        "version": "6",
        "approvedBy": "raj@example.com",
        "ticket": "CHG-1101",
        "approvedAt": dt.date(2026, 10, 2),
    },
]
PRICES = {"g5.xlarge": 1.006, "g4dn.xlarge": 0.526}
ACCOUNT = "123456789012"
IMAGE = (
    "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference@sha256:"
    "c47036387552897f897e0ff1f0111a555b43c495399845cc18d54d74abde2752"
)
MONITOR_IMAGE = "156813124566.dkr.ecr.us-east-1.amazonaws.com/sagemaker-model-monitor-analyzer"
REGION = "us-east-1"


@dataclass
class Res:
    urn: str
    type: str
    name: str
    parent: str | None
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    dependencies: list[str] = field(default_factory=list)
    property_dependencies: dict[str, list[str]] = field(default_factory=dict)
    protect: bool = False
    custom: bool = True
    provider: str | None = None


@dataclass
class Rec:
    resources: list[Res]
    exports: dict[str, Any]
    stack: str
    project: str

    def get(self, name: str) -> Res:
        return next(r for r in self.resources if r.name == name)

    def set(self, name: str, path: str, value: Any) -> Rec:
        """Set a dotted path in both inputs and outputs (``None`` deletes the key)."""
        resource = self.get(name)
        for props in (resource.inputs, resource.outputs):
            *parents, last = path.split(".")
            target: Any = props
            for key in parents:
                target = (
                    target[int(key)] if isinstance(target, list) else target.setdefault(key, {})
                )
            if value is None:
                target.pop(last, None)
            else:
                target[last] = copy.deepcopy(value)
        return self

    def remove(self, name: str) -> Rec:
        self.resources = [r for r in self.resources if r.name != name]
        return self


@dataclass(frozen=True)
class Ref:
    resource: Res
    field: str = "id"


class Builder:
    def __init__(self, stack: str) -> None:
        self.stack = stack
        self.resources: list[Res] = []
        root = self._make("pulumi:pulumi:Stack", f"{PROJECT}-{stack}", None, {}, {}, custom=False)
        self.root = root
        provider = self._make(
            "pulumi:providers:aws", "default_7_51_1", None, {"region": REGION}, {}
        )
        self.provider_ref = f"{provider.urn}::04da6b54-80e4-46f7-96ec-b56ff0331ba9"

    def _urn(self, type_: str, name: str, parent: Res | None) -> str:
        chain = type_
        node = parent
        types = []
        while node is not None and node.type != "pulumi:pulumi:Stack":
            types.append(node.type)
            node = next((r for r in self.resources if r.urn == node.parent), None)
        if types:
            chain = "$".join(reversed(types)) + "$" + type_
        return f"urn:pulumi:{self.stack}::{PROJECT}::{chain}::{name}"

    def _make(
        self,
        type_: str,
        name: str,
        parent: Res | None,
        inputs: dict[str, Any],
        outputs: dict[str, Any],
        **kwargs: Any,
    ) -> Res:
        res = Res(
            self._urn(type_, name, parent),
            type_,
            name,
            parent.urn if parent else None,
            inputs,
            outputs,
            **kwargs,
        )
        self.resources.append(res)
        return res

    def component(self, type_: str, name: str) -> Res:
        return self._make(type_, name, self.root, {}, {}, custom=False)

    def add(
        self,
        type_: str,
        name: str,
        inputs: dict[str, Any],
        *,
        parent: Res,
        outputs: Mapping[str, Any] | None = None,
        protect: bool = False,
        depends_on: tuple[Res, ...] = (),
    ) -> Res:
        deps: dict[str, list[str]] = {}

        def resolve(value: Any, key: str) -> Any:
            if isinstance(value, Ref):
                deps.setdefault(key, []).append(value.resource.urn)
                return value.resource.outputs[value.field]
            if isinstance(value, dict):
                return {k: resolve(v, key) for k, v in value.items()}
            if isinstance(value, list):
                return [resolve(v, key) for v in value]
            return value

        resolved = {k: resolve(v, k) for k, v in inputs.items()}
        service = type_.split(":")[1].split("/")[0]
        computed = {
            "id": f"{name}-{abs(hash(name)) % 10**6:06d}",
            "arn": f"arn:aws:{service}:{REGION}:{ACCOUNT}:{name}",
        }
        all_outputs = {**computed, **copy.deepcopy(resolved), **dict(outputs or {})}
        if "tags" in resolved:
            all_outputs["tagsAll"] = copy.deepcopy(resolved["tags"])
        dependencies = sorted(
            {u for urns in deps.values() for u in urns} | {d.urn for d in depends_on}
        )
        return self._make(
            type_,
            name,
            parent,
            resolved,
            all_outputs,
            dependencies=dependencies,
            property_dependencies=deps,
            protect=protect,
            provider=self.provider_ref,
        )


def lineage_tags(environment: str, **extra: str) -> dict[str, str]:
    return {
        "mlops:project": PROJECT,
        "mlops:environment": environment,
        "mlops:owner": OWNER,
        "mlops:cost-center": "cc-1234",
        "mlops:git-sha": "4f2c1e9",
        "mlops:dataset-version": "md5:3b1f0c2d9e8a7b6c5d4e3f2a1b0c9d8e",
        **extra,
    }


def _doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def aws_platform(environment: str = "prod") -> Rec:
    """The five AWS components of one stack, as they should come out of the mlops_iac.components."""
    b = Builder(f"aws-{environment}")
    prod = environment == "prod"
    tags = lineage_tags(environment)
    model_tags = lineage_tags(
        environment,
        **{
            "mlops:model": "fraud-detector",
            "mlops:model-version": "7",
            "mlops:approved-by": "jane@example.com",
            "mlops:approval-ticket": "CHG-1234",
        },
    )

    # ArtifactStore
    store = b.component("mlops:aws:ArtifactStore", "artifacts")
    key = b.add(
        "aws:kms/key:Key",
        "artifacts-key",
        {"enableKeyRotation": True, "deletionWindowInDays": 30, "tags": tags},
        parent=store,
        protect=prod,
        outputs={"keyId": "artifacts-key-id"},
    )
    b.add(
        "aws:kms/alias:Alias",
        "artifacts-key-alias",
        {"name": "alias/fraud-detection-artifacts", "targetKeyId": Ref(key, "keyId")},
        parent=store,
    )
    bucket = b.add(
        "aws:s3/bucket:Bucket",
        "artifacts-bucket",
        {"forceDestroy": False, "tags": tags},
        parent=store,
        protect=prod,
        outputs={"bucket": "artifacts-bucket-5e1f2a"},
    )
    # A provider returns the bucket name as its id.
    bucket.outputs["id"] = bucket.outputs["bucket"]
    bucket.outputs["arn"] = "arn:aws:s3:::artifacts-bucket-5e1f2a"
    b.add(
        "aws:s3/bucketVersioning:BucketVersioning",
        "artifacts-versioning",
        {"bucket": Ref(bucket), "versioningConfiguration": {"status": "Enabled"}},
        parent=store,
    )
    b.add(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        "artifacts-encryption",
        {
            "bucket": Ref(bucket),
            "rules": [
                {
                    "applyServerSideEncryptionByDefault": {
                        "sseAlgorithm": "aws:kms",
                        "kmsMasterKeyId": Ref(key, "arn"),
                    },
                    "bucketKeyEnabled": True,
                }
            ],
        },
        parent=store,
    )
    b.add(
        "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
        "artifacts-public-access",
        {
            "bucket": Ref(bucket),
            "blockPublicAcls": True,
            "blockPublicPolicy": True,
            "ignorePublicAcls": True,
            "restrictPublicBuckets": True,
        },
        parent=store,
    )
    b.add(
        "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
        "artifacts-ownership",
        {"bucket": Ref(bucket), "rule": {"objectOwnership": "BucketOwnerEnforced"}},
        parent=store,
    )
    b.add(
        "aws:s3/bucketPolicy:BucketPolicy",
        "artifacts-tls-only",
        {
            "bucket": Ref(bucket),
            "policy": _doc(
                {
                    "Sid": "DenyInsecureTransport",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": [bucket.outputs["arn"], bucket.outputs["arn"] + "/*"],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                }
            ),
        },
        parent=store,
    )
    b.add(
        "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
        "artifacts-lifecycle",
        {
            "bucket": Ref(bucket),
            "rules": [
                {
                    "id": "noncurrent-versions",
                    "status": "Enabled",
                    "filter": {},
                    "noncurrentVersionExpiration": {"noncurrentDays": 90},
                },
                {
                    "id": "incomplete-uploads",
                    "status": "Enabled",
                    "filter": {},
                    "abortIncompleteMultipartUpload": {"daysAfterInitiation": 7},
                },
            ],
        },
        parent=store,
    )
    b.add(
        "aws:iam/policy:Policy",
        "artifacts-dvc",
        {
            "policy": _doc(
                {
                    "Effect": "Allow",
                    "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
                    "Resource": bucket.outputs["arn"] + "/dvc/*",
                },
                {
                    "Effect": "Allow",
                    "Action": "s3:ListBucket",
                    "Resource": bucket.outputs["arn"],
                    "Condition": {"StringLike": {"s3:prefix": ["dvc/*"]}},
                },
                {
                    "Effect": "Allow",
                    "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
                    "Resource": key.outputs["arn"],
                },
            ),
            "tags": tags,
        },
        parent=store,
    )

    # Monitoring's alert topic receives every alarm.
    mon = b.component("mlops:aws:Monitoring", "monitoring")
    alerts = b.add(
        "aws:sns/topic:Topic",
        "monitoring-alerts",
        {"kmsMasterKeyId": Ref(key, "arn"), "tags": tags},
        parent=mon,
    )
    b.add(
        "aws:sns/topicSubscription:TopicSubscription",
        "monitoring-alerts-oncall",
        {"topic": Ref(alerts, "arn"), "protocol": "email", "endpoint": "ml-oncall@example.com"},
        parent=mon,
    )

    # TrainingCluster
    train = b.component("mlops:aws:TrainingCluster", "training")
    vpc = b.add(
        "aws:ec2/vpc:Vpc",
        "training-vpc",
        {"cidrBlock": "10.0.0.0/16", "enableDnsHostnames": True, "tags": tags},
        parent=train,
    )
    subnets = [
        b.add(
            "aws:ec2/subnet:Subnet",
            f"training-private-{i}",
            {"vpcId": Ref(vpc), "cidrBlock": f"10.0.{i}.0/24", "tags": tags},
            parent=train,
        )
        for i in (1, 2)
    ]
    sg = b.add(
        "aws:ec2/securityGroup:SecurityGroup",
        "training-nodes",
        {"vpcId": Ref(vpc), "description": "EKS nodes", "tags": tags},
        parent=train,
    )
    cluster_role = b.add(
        "aws:iam/role:Role",
        "training-cluster-role",
        {
            "assumeRolePolicy": _doc(
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "eks.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                }
            ),
            "tags": tags,
        },
        parent=train,
    )
    b.add(
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
        "training-cluster-policy",
        {
            "role": Ref(cluster_role, "id"),
            "policyArn": "arn:aws:iam::aws:policy/AmazonEKSClusterPolicy",
        },
        parent=train,
    )
    b.add(
        "aws:cloudwatch/logGroup:LogGroup",
        "training-cluster-logs",
        {"retentionInDays": 90, "kmsKeyId": Ref(key, "arn"), "tags": tags},
        parent=train,
    )
    cluster = b.add(
        "aws:eks/cluster:Cluster",
        "training-cluster",
        {
            "roleArn": Ref(cluster_role, "arn"),
            "vpcConfig": {
                "subnetIds": [Ref(s) for s in subnets],
                "securityGroupIds": [Ref(sg)],
                "endpointPrivateAccess": True,
                "endpointPublicAccess": environment == "dev",
            },
            "encryptionConfig": {"provider": {"keyArn": Ref(key, "arn")}, "resources": ["secrets"]},
            "enabledClusterLogTypes": [
                "api",
                "audit",
                "authenticator",
                "controllerManager",
                "scheduler",
            ],
            "tags": tags,
        },
        parent=train,
    )
    node_role = b.add(
        "aws:iam/role:Role",
        "training-node-role",
        {
            "assumeRolePolicy": _doc(
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "ec2.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                }
            ),
            "tags": tags,
        },
        parent=train,
    )
    b.add(
        "aws:eks/nodeGroup:NodeGroup",
        "training-system",
        {
            "clusterName": Ref(cluster, "name")
            if "name" in cluster.outputs
            else cluster.outputs["id"],
            "nodeRoleArn": Ref(node_role, "arn"),
            "subnetIds": [Ref(s) for s in subnets],
            "instanceTypes": ["m5.large"],
            "scalingConfig": {"minSize": 1, "maxSize": 2, "desiredSize": 1},
            "tags": tags,
        },
        parent=train,
    )
    b.add(
        "aws:eks/nodeGroup:NodeGroup",
        "training-gpu",
        {
            "clusterName": cluster.outputs["id"],
            "nodeRoleArn": Ref(node_role, "arn"),
            "subnetIds": [Ref(s) for s in subnets],
            "instanceTypes": ["g5.xlarge"],
            "amiType": "AL2023_x86_64_NVIDIA",
            "capacityType": "SPOT",
            "scalingConfig": {"minSize": 0, "maxSize": 4, "desiredSize": 0},
            "taints": [{"key": "nvidia.com/gpu", "value": "true", "effect": "NO_SCHEDULE"}],
            "labels": {"mlops/gpu": "a10g"},
            "tags": tags,
        },
        parent=train,
    )
    b.add(
        "kubernetes:core/v1:Namespace",
        "training-operator-ns",
        {
            "metadata": {
                "name": "kubeflow-system",
                "labels": {
                    k.replace("mlops:", "mlops/"): re.sub(r"[^A-Za-z0-9_.-]", "_", v)
                    for k, v in tags.items()
                },
            }
        },
        parent=train,
    )

    # ModelRegistry
    reg = b.component("mlops:aws:ModelRegistry", "registry")
    b.add(
        "aws:sagemaker/modelPackageGroup:ModelPackageGroup",
        "registry-group",
        {"modelPackageGroupName": "fraud-detector", "tags": tags},
        parent=reg,
    )
    repo = b.add(
        "aws:ecr/repository:Repository",
        "registry-images",
        {
            "imageTagMutability": "IMMUTABLE",
            "imageScanningConfiguration": {"scanOnPush": True},
            "encryptionConfigurations": [{"encryptionType": "KMS", "kmsKey": Ref(key, "arn")}],
            "tags": tags,
        },
        parent=reg,
    )
    b.add(
        "aws:ecr/lifecyclePolicy:LifecyclePolicy",
        "registry-images-lifecycle",
        {"repository": Ref(repo, "id"), "policy": json.dumps({"rules": []})},
        parent=reg,
    )
    approvals_topic = b.add(
        "aws:sns/topic:Topic",
        "registry-approvals",
        {"kmsMasterKeyId": Ref(key, "arn"), "tags": tags},
        parent=reg,
    )
    b.add(
        "aws:sns/topicSubscription:TopicSubscription",
        "registry-approvals-jane",
        {"topic": Ref(approvals_topic, "arn"), "protocol": "email", "endpoint": APPROVERS[0]},
        parent=reg,
    )
    registered = b.add(
        "aws:cloudwatch/eventRule:EventRule",
        "registry-registered",
        {"eventPattern": json.dumps({"source": ["aws.sagemaker"]}), "tags": tags},
        parent=reg,
    )
    b.add(
        "aws:cloudwatch/eventTarget:EventTarget",
        "registry-registered-notify",
        {"rule": Ref(registered, "id"), "arn": Ref(approvals_topic, "arn")},
        parent=reg,
    )

    # ServingEndpoint
    serve = b.component("mlops:aws:ServingEndpoint", "serving")
    role = b.add(
        "aws:iam/role:Role",
        "serving-role",
        {
            "assumeRolePolicy": _doc(
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "sagemaker.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                }
            ),
            "tags": tags,
        },
        parent=serve,
    )
    b.add(
        "aws:iam/rolePolicy:RolePolicy",
        "serving-role-policy",
        {
            "role": Ref(role, "id"),
            "policy": _doc(
                {
                    "Effect": "Allow",
                    "Action": ["s3:GetObject", "s3:PutObject"],
                    "Resource": bucket.outputs["arn"] + "/*",
                },
                {
                    "Effect": "Allow",
                    "Action": ["ecr:GetAuthorizationToken", "ecr:BatchGetImage"],
                    "Resource": "*",
                },
            ),
        },
        parent=serve,
    )
    vpc_config = (
        {"subnets": [Ref(s) for s in subnets], "securityGroupIds": [Ref(sg)]} if prod else None
    )
    models = []
    for version in ("7", "6"):
        inputs: dict[str, Any] = {
            "executionRoleArn": Ref(role, "arn"),
            "enableNetworkIsolation": True,
            "primaryContainer": {
                "image": IMAGE,
                "modelDataUrl": f"s3://fraud-detection-models/fraud-detector/{version}/model.tar.gz",
            },
            "tags": lineage_tags(
                environment,
                **{
                    "mlops:model": "fraud-detector",
                    "mlops:model-version": version,
                    "mlops:approved-by": APPROVALS[version == "6"]["approvedBy"],
                    "mlops:approval-ticket": APPROVALS[version == "6"]["ticket"],
                },
            ),
        }
        if vpc_config:
            inputs["vpcConfig"] = vpc_config
        models.append(
            b.add("aws:sagemaker/model:Model", f"serving-model-v{version}", inputs, parent=serve)
        )
    endpoint_config = b.add(
        "aws:sagemaker/endpointConfiguration:EndpointConfiguration",
        "serving-config",
        {
            "kmsKeyArn": Ref(key, "arn"),
            "productionVariants": [
                {
                    "variantName": "primary",
                    "modelName": Ref(models[0], "id"),
                    "initialInstanceCount": 2 if prod else 1,
                    "instanceType": "ml.m5.large",
                }
            ],
            "dataCaptureConfig": {
                "enableCapture": True,
                "initialSamplingPercentage": 100,
                "destinationS3Uri": f"s3://{bucket.outputs['bucket']}/capture",
                "captureOptions": [{"captureMode": "Input"}, {"captureMode": "Output"}],
            },
            "tags": model_tags,
        },
        parent=serve,
    )
    alarms = [
        b.add(
            "aws:cloudwatch/metricAlarm:MetricAlarm",
            f"serving-{kind}",
            {
                "alarmName": f"fraud-detection-{environment}-{kind}",
                "comparisonOperator": "GreaterThanThreshold",
                "evaluationPeriods": 2,
                "metricName": metric,
                "namespace": "AWS/SageMaker",
                "period": 60,
                "statistic": "Average",
                "threshold": threshold,
                "alarmActions": [Ref(alerts, "arn")],
                "okActions": [Ref(alerts, "arn")],
                "tags": tags,
            },
            parent=serve,
        )
        for kind, metric, threshold in (
            ("latency", "ModelLatency", 250000),
            ("errors", "Invocation5XXErrors", 1),
        )
    ]
    for alarm in alarms:
        alarm.outputs["id"] = alarm.outputs["alarmName"]
    endpoint = b.add(
        "aws:sagemaker/endpoint:Endpoint",
        "serving-endpoint",
        {
            "endpointConfigName": Ref(endpoint_config, "id"),
            "deploymentConfig": {
                "blueGreenUpdatePolicy": {
                    "trafficRoutingConfiguration": {
                        "type": "CANARY",
                        "canarySize": {"type": "CAPACITY_PERCENT", "value": 10},
                        "waitIntervalInSeconds": 600,
                    },
                    "terminationWaitInSeconds": 600,
                },
                "autoRollbackConfiguration": {
                    "alarms": [{"alarmName": Ref(a, "alarmName")} for a in alarms]
                },
            },
            "tags": model_tags,
        },
        parent=serve,
    )
    target = b.add(
        "aws:appautoscaling/target:Target",
        "serving-scaling",
        {
            "serviceNamespace": "sagemaker",
            "scalableDimension": "sagemaker:variant:DesiredInstanceCount",
            "resourceId": f"endpoint/{endpoint.outputs['id']}/variant/primary",
            "minCapacity": 2 if prod else 1,
            "maxCapacity": 4 if prod else 2,
            "tags": tags,
        },
        parent=serve,
    )
    b.add(
        "aws:appautoscaling/policy:Policy",
        "serving-scaling-policy",
        {
            "policyType": "TargetTrackingScaling",
            "resourceId": Ref(target, "resourceId"),
            "scalableDimension": Ref(target, "scalableDimension"),
            "serviceNamespace": Ref(target, "serviceNamespace"),
            "targetTrackingScalingPolicyConfiguration": {"targetValue": 70},
        },
        parent=serve,
    )

    # The drift job (mlops_iac DriftJob): scheduled function, alarm to the channel, retraining.
    drift_fn = b.add(
        "aws:lambda/function:Function",
        "drift-function",
        {
            "runtime": "python3.12",
            "handler": "drift_lambda.handler",
            "environment": {
                "variables": {
                    "DRIFT_ENDPOINT": Ref(endpoint, "id"),
                    "DRIFT_BASELINE_URI": "s3://bucket/drift/baselines/md5_ab/baseline.json",
                }
            },
            "tags": tags,
        },
        parent=mon,
    )
    b.add(
        "aws:scheduler/schedule:Schedule",
        "drift-schedule",
        {
            "scheduleExpression": "cron(0 0 ? * * *)",
            "flexibleTimeWindow": {"mode": "OFF"},
            "target": {"arn": Ref(drift_fn, "arn")},
        },
        parent=mon,
    )
    drift_alarm = b.add(
        "aws:cloudwatch/metricAlarm:MetricAlarm",
        "drift-alarm",
        {
            "alarmName": f"fraud-detection-{environment}-drifted-features",
            "comparisonOperator": "GreaterThanOrEqualToThreshold",
            "evaluationPeriods": 1,
            "metricName": "DriftedFeatures",
            "namespace": "mlops/drift",
            "dimensions": {"Endpoint": Ref(endpoint, "id")},
            "period": 86400,
            "statistic": "Maximum",
            "threshold": 1,
            "alarmActions": [Ref(alerts, "arn")],
            "tags": tags,
        },
        parent=mon,
    )
    drift_rule = b.add(
        "aws:cloudwatch/eventRule:EventRule",
        "drift-retrain-rule",
        {
            "eventPattern": json.dumps(
                {"source": ["aws.cloudwatch"], "resources": [drift_alarm.outputs["arn"]]}
            ),
            "tags": tags,
        },
        parent=mon,
    )
    b.add(
        "aws:cloudwatch/eventTarget:EventTarget",
        "drift-retrain-target",
        {"rule": Ref(drift_rule, "id"), "arn": Ref(alerts, "arn")},
        parent=mon,
    )

    # Monitoring (continued): drift detection, retraining trigger, dashboard, budget.
    b.add(
        "aws:cloudwatch/metricAlarm:MetricAlarm",
        "monitoring-drift",
        {
            "alarmName": f"fraud-detection-{environment}-drift",
            "comparisonOperator": "GreaterThanThreshold",
            "evaluationPeriods": 1,
            "metricName": "feature_baseline_drift_total",
            "namespace": "aws/sagemaker/Endpoints/data-metrics",
            "period": 3600,
            "statistic": "Maximum",
            "threshold": 0,
            "alarmActions": [Ref(alerts, "arn")],
            "tags": tags,
        },
        parent=mon,
    )
    quality = b.add(
        "aws:sagemaker/dataQualityJobDefinition:DataQualityJobDefinition",
        "monitoring-quality",
        {
            "roleArn": Ref(role, "arn"),
            "dataQualityAppSpecification": {"imageUri": MONITOR_IMAGE},
            "tags": tags,
        },
        parent=mon,
    )
    b.add(
        "aws:sagemaker/monitoringSchedule:MonitoringSchedule",
        "monitoring-schedule",
        {
            "monitoringScheduleConfig": {
                "monitoringJobDefinitionName": Ref(quality, "id"),
                "monitoringType": "DataQuality",
                "scheduleConfig": {"scheduleExpression": "cron(0 0 * * ? *)"},
            },
            "tags": tags,
        },
        parent=mon,
    )
    retrain = b.add(
        "aws:cloudwatch/eventRule:EventRule",
        "monitoring-retrain",
        {"eventPattern": json.dumps({"source": ["aws.cloudwatch"]}), "tags": tags},
        parent=mon,
    )
    b.add(
        "aws:cloudwatch/eventTarget:EventTarget",
        "monitoring-retrain-target",
        {"rule": Ref(retrain, "id"), "arn": Ref(alerts, "arn")},
        parent=mon,
    )
    b.add(
        "aws:cloudwatch/dashboard:Dashboard",
        "monitoring-dashboard",
        {
            "dashboardName": f"fraud-detection-{environment}",
            "dashboardBody": json.dumps({"widgets": []}),
        },
        parent=mon,
    )
    b.add(
        "aws:budgets/budget:Budget",
        "monitoring-gpu-budget",
        {
            "budgetType": "COST",
            "limitAmount": "1000",
            "limitUnit": "USD",
            "timeUnit": "MONTHLY",
            "tags": tags,
        },
        parent=mon,
    )
    return Rec(b.resources, {"bucketName": bucket.outputs["bucket"]}, b.stack, PROJECT)


def config(environment: str = "prod", **overrides: Any) -> dict[str, dict[str, Any]]:
    """The pack config ``mlops-iac plan`` would build for the reference stack."""
    values: dict[str, Any] = {
        "owner": OWNER,
        "approvers": APPROVERS,
        "approvals": APPROVALS,
        "gpu_budget": 50 if environment == "prod" else 5,
        "node_type_prices": PRICES,
    }
    values.update(overrides)
    return packs.pack_config(environment, **values)


def scaled(copies: int, environment: str = "prod") -> Rec:
    """``copies`` platforms in one stack (renamed apart), for timing the evaluator at scale."""
    resources: list[Res] = []
    for i in range(copies):
        rec = aws_platform(environment)
        shared = {r.urn for r in rec.resources if r.type.startswith("pulumi:")}
        if i:
            rec.resources = [r for r in rec.resources if r.urn not in shared]
        renamed = {r.urn: r.urn if r.urn in shared else f"{r.urn}-c{i}" for r in rec.resources}

        def new(urn: str) -> str:
            return renamed.get(urn, urn)  # noqa: B023 - used within this iteration only

        for r in rec.resources:
            r.urn, r.parent = new(r.urn), new(r.parent) if r.parent else None
            r.name = r.name if r.urn in shared else f"{r.name}-c{i}"
            r.dependencies = [new(d) for d in r.dependencies]
            r.property_dependencies = {
                k: [new(d) for d in v] for k, v in r.property_dependencies.items()
            }
        resources.extend(rec.resources)
    return Rec(resources, {}, f"aws-{environment}", PROJECT)
