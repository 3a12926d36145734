"""Lineage rule: every taggable resource says which project, owner, commit and dataset made it."""

from __future__ import annotations

from pulumi_policy import ReportViolation, ResourceValidationArgs

from ._base import LINEAGE_KEYS, TAG_KEYS, Rule, aliases, lineage_tag, tags_of, truthy_text

#: Resource types our components create that accept tags. Any other resource that already has a
#: ``tags``/``labels`` property (a team's own resources) is checked too.
TAGGABLE_TYPES: frozenset[str] = frozenset(
    {
        "aws:s3/bucket:Bucket",
        "aws:kms/key:Key",
        "aws:eks/cluster:Cluster",
        "aws:eks/nodeGroup:NodeGroup",
        "aws:iam/role:Role",
        "aws:iam/policy:Policy",
        "aws:ec2/vpc:Vpc",
        "aws:ec2/subnet:Subnet",
        "aws:ec2/securityGroup:SecurityGroup",
        "aws:ec2/internetGateway:InternetGateway",
        "aws:ec2/natGateway:NatGateway",
        "aws:ec2/routeTable:RouteTable",
        "aws:ec2/eip:Eip",
        "aws:cloudwatch/logGroup:LogGroup",
        "aws:cloudwatch/metricAlarm:MetricAlarm",
        "aws:cloudwatch/eventRule:EventRule",
        "aws:ecr/repository:Repository",
        "aws:sns/topic:Topic",
        "aws:sagemaker/modelPackageGroup:ModelPackageGroup",
        "aws:sagemaker/model:Model",
        "aws:sagemaker/endpointConfiguration:EndpointConfiguration",
        "aws:sagemaker/endpoint:Endpoint",
        "aws:sagemaker/dataQualityJobDefinition:DataQualityJobDefinition",
        "aws:sagemaker/monitoringSchedule:MonitoringSchedule",
        "aws:appautoscaling/target:Target",
        "aws:budgets/budget:Budget",
        "azure-native:storage:StorageAccount",
        "azure-native:keyvault:Vault",
        "azure-native:machinelearningservices:Workspace",
        "azure-native:machinelearningservices:OnlineEndpoint",
        "azure-native:containerregistry:Registry",
        "azure-native:insights:ActionGroup",
        "azure-native:monitor:ActionGroup",
        "gcp:storage/bucket:Bucket",
        "gcp:container/cluster:Cluster",
        "gcp:artifactregistry/repository:Repository",
        "gcp:vertex/aiEndpoint:AiEndpoint",
        "gcp:cloudrunv2/service:Service",
        "gcp:pubsub/topic:Topic",
    }
)
TAGGABLE_TYPES = frozenset(alias for t in TAGGABLE_TYPES for alias in aliases(t))


def _validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
    props = args.props
    tag_key = next((k for k in TAG_KEYS if k in props), None)
    if args.resource_type not in TAGGABLE_TYPES and tag_key is None:
        return
    tags = tags_of(props)
    required = args.get_config().get("requiredTags", LINEAGE_KEYS)
    missing = [key for key in required if not truthy_text(lineage_tag(tags, key))]
    if missing:
        report(f"missing or empty lineage tags: {', '.join('mlops:' + k for k in missing)}")


LINEAGE_TAGS = Rule(
    name="mlops-lineage-tags",
    description="Taggable resources carry non-empty lineage tags (project, owner, commit, data).",
    remediation=(
        "Register the lineage transform "
        "(mlops_iac.components.lineage.register_lineage_transform) before "
        "creating resources, or pass tags mlops:project, mlops:environment, mlops:owner, "
        "mlops:cost-center, mlops:git-sha and mlops:dataset-version (GCP labels: mlops-git-sha...)."
    ),
    kind="resource",
    validate=_validate,
    config={
        "requiredTags": {
            "type": "array",
            "items": {"type": "string", "pattern": "^[a-z0-9-]+$"},
            "default": list(LINEAGE_KEYS),
            "description": "Lineage keys without the mlops: prefix.",
        }
    },
)

RULES: tuple[Rule, ...] = (LINEAGE_TAGS,)
