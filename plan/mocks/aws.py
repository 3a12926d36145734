"""Realistic outputs and invoke answers for pulumi-aws resource types."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping
from typing import Any

from mlops_iac.plan.mocks.base import ACCOUNT_ID, MockContext, physical_name


def _service(ctx: MockContext) -> str:
    return ctx.type.split(":")[1].split("/")[0]


def _arn(
    ctx: MockContext, resource: str, *, service: str | None = None, region: bool = True
) -> str:
    where = f"{ctx.aws_region}:{ACCOUNT_ID}" if region else f":{ACCOUNT_ID}"
    return f"arn:aws:{service or _service(ctx)}:{where}:{resource}"


def _named(ctx: MockContext, key: str = "name") -> str:
    value = ctx.inputs.get(key)
    return str(value) if value else ctx.physical_name


def _short_id(prefix: str, ctx: MockContext) -> str:
    return f"{prefix}-{hashlib.sha1(ctx.name.encode()).hexdigest()[:17]}"


def _bucket(ctx: MockContext) -> dict[str, Any]:
    name = _named(ctx, "bucket")  # as given: S3 refuses uppercase, the catalogue says so
    return {
        "__id": name,
        "bucket": name,
        "arn": f"arn:aws:s3:::{name}",
        "bucketDomainName": f"{name}.s3.amazonaws.com",
        "bucketRegionalDomainName": f"{name}.s3.{ctx.aws_region}.amazonaws.com",
        "region": ctx.aws_region,
    }


def _kms_key(ctx: MockContext) -> dict[str, Any]:
    key_id = str(uuid.uuid5(uuid.NAMESPACE_URL, ctx.name))
    return {"__id": key_id, "keyId": key_id, "arn": _arn(ctx, f"key/{key_id}")}


def _kms_alias(ctx: MockContext) -> dict[str, Any]:
    name = _named(ctx)
    return {"__id": name, "name": name, "arn": _arn(ctx, name)}


def _iam(kind: str) -> Any:
    def hook(ctx: MockContext) -> dict[str, Any]:
        name = _named(ctx)
        return {
            "__id": name,
            "name": name,
            "arn": _arn(ctx, f"{kind}/{name}", region=False),
            "uniqueId": _short_id("AROA", ctx).upper(),
        }

    return hook


def _sns_topic(ctx: MockContext) -> dict[str, Any]:
    name = _named(ctx)
    arn = _arn(ctx, name)
    return {"__id": arn, "name": name, "arn": arn}


def _ecr_repository(ctx: MockContext) -> dict[str, Any]:
    name = _named(ctx)
    return {
        "__id": name,
        "name": name,
        "arn": _arn(ctx, f"repository/{name}"),
        "registryId": ACCOUNT_ID,
        "repositoryUrl": f"{ACCOUNT_ID}.dkr.ecr.{ctx.aws_region}.amazonaws.com/{name}",
    }


def _eks_cluster(ctx: MockContext) -> dict[str, Any]:
    name = _named(ctx)
    host = hashlib.sha1(name.encode()).hexdigest()[:32].upper()
    vpc = dict(ctx.inputs.get("vpcConfig") or {})
    vpc.setdefault("clusterSecurityGroupId", _short_id("sg", ctx))
    vpc.setdefault("vpcId", _short_id("vpc", ctx))
    return {
        "__id": name,
        "name": name,
        "arn": _arn(ctx, f"cluster/{name}"),
        "endpoint": f"https://{host}.gr7.{ctx.aws_region}.eks.amazonaws.com",
        "certificateAuthority": {"data": "TU9DSy1DQQ=="},
        "identities": [
            {"oidcs": [{"issuer": f"https://oidc.eks.{ctx.aws_region}.amazonaws.com/id/{host}"}]}
        ],
        "vpcConfig": vpc,
        "version": ctx.inputs.get("version") or "1.31",
        "status": "ACTIVE",
        "platformVersion": "eks.1",
    }


def _eks_node_group(ctx: MockContext) -> dict[str, Any]:
    name = _named(ctx, "nodeGroupName")
    return {
        "__id": f"{ctx.inputs.get('clusterName', 'cluster')}:{name}",
        "nodeGroupName": name,
        "arn": _arn(ctx, f"nodegroup/{ctx.inputs.get('clusterName', 'cluster')}/{name}"),
        "resources": [
            {"autoscalingGroups": [{"name": f"eks-{name}"}], "remoteAccessSecurityGroupId": ""}
        ],
        "status": "ACTIVE",
    }


def _sagemaker(kind: str, name_key: str = "name") -> Any:
    def hook(ctx: MockContext) -> dict[str, Any]:
        name = _named(ctx, name_key)
        return {"__id": name, name_key: name, "arn": _arn(ctx, f"{kind}/{name}")}

    return hook


def _metric_alarm(ctx: MockContext) -> dict[str, Any]:
    name = _named(ctx)
    return {"__id": name, "name": name, "arn": _arn(ctx, f"alarm:{name}")}


def _named_with_arn(
    kind: str, name_key: str = "name", sep: str = "/", service: str | None = None
) -> Any:
    """Outputs of a resource named by ``name_key`` whose ARN is ``<kind><sep><name>`` in
    ``service`` (default: the type token's module, which is not always the ARN's service)."""

    def hook(ctx: MockContext) -> dict[str, Any]:
        name = _named(ctx, name_key)
        arn = _arn(ctx, f"{kind}{sep}{name}", service=service)
        return {"__id": name, name_key: name, "arn": arn}

    return hook


def _dashboard(ctx: MockContext) -> dict[str, Any]:
    name = _named(ctx, "dashboardName")
    return {
        "__id": name,
        "dashboardName": name,
        "dashboardArn": f"arn:aws:cloudwatch::{ACCOUNT_ID}:dashboard/{name}",
    }


def _ec2(prefix: str) -> Any:
    def hook(ctx: MockContext) -> dict[str, Any]:
        resource_id = _short_id(prefix, ctx)
        out: dict[str, Any] = {"__id": resource_id, "arn": _arn(ctx, f"{prefix}/{resource_id}")}
        if prefix == "vpc":
            out["defaultSecurityGroupId"] = _short_id("sg", ctx)
            out["mainRouteTableId"] = _short_id("rtb", ctx)
        if prefix == "lt":
            out["latestVersion"] = 1
            out["defaultVersion"] = 1
        if prefix == "eipalloc":
            out["publicIp"] = "198.51.100.10"
            out["allocationId"] = resource_id
        return out

    return hook


OUTPUT_HOOKS: dict[str, Any] = {
    "aws:s3/bucket:Bucket": _bucket,
    "aws:kms/key:Key": _kms_key,
    "aws:kms/alias:Alias": _kms_alias,
    "aws:iam/role:Role": _iam("role"),
    "aws:iam/policy:Policy": _iam("policy"),
    "aws:iam/instanceProfile:InstanceProfile": _iam("instance-profile"),
    "aws:sns/topic:Topic": _sns_topic,
    "aws:sqs/queue:Queue": _named_with_arn("", sep=""),
    "aws:ecr/repository:Repository": _ecr_repository,
    "aws:eks/cluster:Cluster": _eks_cluster,
    "aws:eks/nodeGroup:NodeGroup": _eks_node_group,
    "aws:sagemaker/model:Model": _sagemaker("model"),
    "aws:sagemaker/endpointConfiguration:EndpointConfiguration": _sagemaker("endpoint-config"),
    "aws:sagemaker/endpoint:Endpoint": _sagemaker("endpoint"),
    "aws:sagemaker/modelPackageGroup:ModelPackageGroup": _sagemaker(
        "model-package-group", "modelPackageGroupName"
    ),
    "aws:sagemaker/dataQualityJobDefinition:DataQualityJobDefinition": _sagemaker(
        "data-quality-job-definition"
    ),
    "aws:sagemaker/monitoringSchedule:MonitoringSchedule": _sagemaker("monitoring-schedule"),
    "aws:sagemaker/mlflowTrackingServer:MlflowTrackingServer": _sagemaker(
        "mlflow-tracking-server", "trackingServerName"
    ),
    "aws:cloudwatch/metricAlarm:MetricAlarm": _metric_alarm,
    "aws:cloudwatch/compositeAlarm:CompositeAlarm": _metric_alarm,
    "aws:cloudwatch/dashboard:Dashboard": _dashboard,
    "aws:cloudwatch/eventRule:EventRule": _named_with_arn("rule"),
    # Log groups are CloudWatch Logs resources: arn:aws:logs:<region>:<account>:log-group:<name>.
    # https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazoncloudwatchlogs.html
    "aws:cloudwatch/logGroup:LogGroup": _named_with_arn("log-group", sep=":", service="logs"),
    "aws:lambda/function:Function": _named_with_arn("function", sep=":"),
    "aws:scheduler/schedule:Schedule": _named_with_arn("schedule/default"),
    "aws:budgets/budget:Budget": _named_with_arn("budget"),
    "aws:ec2/vpc:Vpc": _ec2("vpc"),
    "aws:ec2/subnet:Subnet": _ec2("subnet"),
    "aws:ec2/securityGroup:SecurityGroup": _ec2("sg"),
    "aws:ec2/internetGateway:InternetGateway": _ec2("igw"),
    "aws:ec2/natGateway:NatGateway": _ec2("nat"),
    "aws:ec2/eip:Eip": _ec2("eipalloc"),
    "aws:ec2/routeTable:RouteTable": _ec2("rtb"),
    "aws:ec2/vpcEndpoint:VpcEndpoint": _ec2("vpce"),
    "aws:ec2/launchTemplate:LaunchTemplate": _ec2("lt"),
}


def outputs(ctx: MockContext) -> dict[str, Any]:
    """Outputs for one AWS resource: the per-type hook, else a generic name and ARN."""
    hook = OUTPUT_HOOKS.get(ctx.type)
    out = (
        hook(ctx)
        if hook
        else {"arn": _arn(ctx, f"{ctx.type.split(':')[-1].lower()}/{ctx.physical_name}")}
    )
    if "tags" in ctx.inputs:
        out.setdefault("tagsAll", ctx.inputs["tags"])
    return out


def _caller_identity(args: Mapping[str, Any], config: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "accountId": ACCOUNT_ID,
        "arn": f"arn:aws:iam::{ACCOUNT_ID}:user/offline",
        "userId": "AIDAOFFLINE",
        "id": ACCOUNT_ID,
    }


def _region(args: Mapping[str, Any], config: Mapping[str, Any]) -> dict[str, Any]:
    region = str(config.get("aws:region", "us-east-1"))
    return {
        "name": region,
        "region": region,
        "id": region,
        "endpoint": f"ec2.{region}.amazonaws.com",
        "description": region,
    }


def _zones(args: Mapping[str, Any], config: Mapping[str, Any]) -> dict[str, Any]:
    region = str(config.get("aws:region", "us-east-1"))
    names = [f"{region}{z}" for z in "abc"]
    return {
        "names": names,
        "zoneIds": [f"use1-az{i}" for i in (1, 2, 3)],
        "id": region,
        "state": "available",
        "groupNames": [region],
    }


def _partition(args: Mapping[str, Any], config: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "partition": "aws",
        "dnsSuffix": "amazonaws.com",
        "id": "aws",
        "reverseDnsPrefix": "com.amazonaws",
    }


def _policy_document(args: Mapping[str, Any], config: Mapping[str, Any]) -> dict[str, Any]:
    """Render ``get_policy_document`` statements the way the provider does."""
    keys = {
        "sid": "Sid",
        "effect": "Effect",
        "actions": "Action",
        "notActions": "NotAction",
        "resources": "Resource",
        "notResources": "NotResource",
    }
    statements = []
    for stmt in args.get("statements") or []:
        rendered: dict[str, Any] = {keys[k]: v for k, v in stmt.items() if k in keys and v}
        rendered.setdefault("Effect", "Allow")
        for principal in stmt.get("principals") or []:
            rendered.setdefault("Principal", {})[principal["type"]] = principal["identifiers"]
        for cond in stmt.get("conditions") or []:
            rendered.setdefault("Condition", {}).setdefault(cond["test"], {})[cond["variable"]] = (
                cond["values"]
            )
        statements.append(rendered)
    document = json.dumps({"Version": "2012-10-17", "Statement": statements})
    return {"json": document, "minifiedJson": document, "id": physical_name("policy")}


def _ssm_parameter(args: Mapping[str, Any], config: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "name": args.get("name"),
        "value": "ami-0123456789abcdef0",
        "type": "String",
        "id": args.get("name"),
        "arn": "arn:aws:ssm:us-east-1:123456789012:parameter/x",
        "version": 1,
        "insecureValue": "ami-0123456789abcdef0",
    }


INVOKES: dict[str, Any] = {
    "aws:index/getCallerIdentity:getCallerIdentity": _caller_identity,
    "aws:index/getRegion:getRegion": _region,
    "aws:index/getAvailabilityZones:getAvailabilityZones": _zones,
    "aws:index/getPartition:getPartition": _partition,
    "aws:iam/getPolicyDocument:getPolicyDocument": _policy_document,
    "aws:ssm/getParameter:getParameter": _ssm_parameter,
}
