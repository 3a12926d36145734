"""What a real AWS account needs that the offline engine cannot see (issue 14).

One test (or a few) per defect; each failed on the code before its fix.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest

from mlops_iac.components.aws import _defaults as defaults
from mlops_iac.plan.mocks import PREVIOUS_OUTPUTS_KEY
from mlops_iac.plan.testing import ProgramError, run_project
from mlops_iac.spec.errors import SpecError
from mlops_iac.spec.parse import parse_spec
from tests.components.aws._helpers import statements
from tests.conftest import REPO, platform_raw, reference_recording


def _platform(stack: str, edit=None) -> dict:
    raw = platform_raw(stack)
    if edit is not None:
        edit(raw)
    return {"mlops:platform": raw}


@pytest.fixture(scope="module")
def prod():
    return reference_recording("aws-prod")


@pytest.fixture(scope="module")
def dev():
    return reference_recording("aws-dev")


def _by_sid(resource, key: str = "policy") -> dict:
    return {s.get("Sid"): s for s in statements(resource, key)}


# 1. Instance-type change on an autoscaled variant: the two-step switch.
def test_serving_autoscaling_can_be_suspended_for_an_instance_type_change():
    def edit(raw):
        raw["aws"] = {"servingAutoscaling": False}
        raw["serving"]["instanceType"] = "ml.c5.xlarge"

    # The second step of the documented procedure: the last deployment had autoscaling off.
    deployed = {"serving_instance_type": "ml.m5.large", "serving_autoscaling": False}
    extra = {**_platform("aws-prod", edit), PREVIOUS_OUTPUTS_KEY: deployed}
    recording = run_project(REPO, "aws-prod", extra_config=extra)
    assert not recording.of_type("aws:appautoscaling/target:Target")
    assert not recording.of_type("aws:appautoscaling/policy:Policy")
    variant = recording.named("mlops-serving-config-v7").inputs["productionVariants"][0]
    assert variant["instanceType"] == "ml.c5.xlarge"
    # Without autoscaling the fleet is fixed: it must carry the peak load.
    assert variant["initialInstanceCount"] == 4


# 2. Model Monitor is closed to new customers: opt-in only.
def test_model_monitor_is_off_by_default(prod, dev):
    for recording in (prod, dev):
        assert not recording.of_type(
            "aws:sagemaker/dataQualityJobDefinition:DataQualityJobDefinition"
        )
        assert not recording.of_type("aws:sagemaker/monitoringSchedule:MonitoringSchedule")
        assert "mlops-monitoring-monitor-role" not in {r.name for r in recording}


def test_model_monitor_is_an_explicit_opt_in():
    recording = run_project(
        REPO,
        "aws-prod",
        extra_config=_platform("aws-prod", lambda raw: raw.update(aws={"modelMonitor": True})),
    )
    job = recording.named("mlops-monitoring-data-quality").inputs
    assert (
        job["dataQualityJobInput"]["endpointInput"]["endpointName"]
        == (recording.exports["endpoint_name"])
    )
    assert recording.of_type("aws:sagemaker/monitoringSchedule:MonitoringSchedule")
    # The opt-in is on the resources, so the deploy checks accept them.
    assert not [e for e in recording.deploy_errors() if "model-monitor" in e.rule]
    # 7. SageMaker's namespaces start with "/aws/sagemaker/".
    found = _by_sid(recording.named("mlops-monitoring-monitor-role-policy"))
    assert found["PutMetrics"]["Condition"] == {
        "StringLike": {"cloudwatch:namespace": ["/aws/sagemaker/*"]}
    }


# 3. Deployment guardrails read the rollback alarms with the execution role.
def test_serving_role_may_describe_its_rollback_alarms(prod):
    endpoint = prod.named("mlops-serving-endpoint").inputs
    names = [
        a["alarmName"] for a in endpoint["deploymentConfig"]["autoRollbackConfiguration"]["alarms"]
    ]
    found = _by_sid(prod.named("mlops-serving-role-policy"))
    describe = found["DescribeRollbackAlarms"]
    assert describe["Action"] == ["cloudwatch:DescribeAlarms"]
    assert describe["Resource"] == [
        f"arn:aws:cloudwatch:us-east-1:123456789012:alarm:{name}" for name in names
    ]


# 4. Replication with an S3 Bucket Key needs Decrypt (and GenerateDataKey) on the replica key.
def test_replication_role_may_use_the_replica_key(prod):
    replica_key = prod.named("mlops-artifacts-replica-key").outputs["arn"]
    found = statements(prod.named("mlops-artifacts-replication-role-policy"))
    on_replica = [s for s in found if s["Resource"] == replica_key]
    assert len(on_replica) == 1
    assert sorted(on_replica[0]["Action"]) == [
        "kms:Decrypt",
        "kms:Encrypt",
        "kms:GenerateDataKey",
    ]


# 5. The GPU budget's tag filter matches the tags the GPU instances will carry.
@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_gpu_instances_carry_the_tag_the_budget_filters_on(stack, request):
    recording = request.getfixturevalue(stack)
    template = recording.named("mlops-training-gpu-nodes")
    assert template.type == "aws:ec2/launchTemplate:LaunchTemplate"
    specs = {s["resourceType"]: s["tags"] for s in template.inputs["tagSpecifications"]}
    assert set(specs) == {"instance", "volume"}
    pool = recording.named("mlops-training-gpu").inputs
    assert pool["launchTemplate"]["id"] == template.id
    assert pool["launchTemplate"]["version"] == str(template.outputs["latestVersion"])
    budget = recording.named("mlops-monitoring-gpu-budget").inputs
    tag_filters = [f for f in budget["costFilters"] if f["name"] == "TagKeyValue"]
    assert len(tag_filters) == 1
    for tags in specs.values():
        carried = {f"user:{key}${value}" for key, value in tags.items()}
        assert set(tag_filters[0]["values"]) <= carried
    # The lineage the rest of the platform carries, not just the project.
    assert specs["instance"]["mlops:environment"] == platform_raw(f"aws-{stack}")["environment"]


# 6. The GPU saturation alarm reads a metric EC2 publishes without a manual step.
def test_gpu_saturation_alarm_reads_a_metric_published_by_default(prod):
    alarm = prod.named("mlops-monitoring-gpu-saturation-alarm").inputs
    asg = prod.named("mlops-training-gpu").outputs["resources"][0]["autoscalingGroups"][0]["name"]
    samples, nodes = alarm["metricQueries"]
    assert samples["metric"]["namespace"] == "AWS/EC2"
    assert samples["metric"]["dimensions"] == {"AutoScalingGroupName": asg}
    assert samples["metric"]["stat"] == "SampleCount"
    assert samples["metric"]["period"] == 300
    assert nodes["expression"] == "samples / 5"
    assert alarm["threshold"] == 4
    body = json.loads(prod.named("mlops-monitoring-dashboard").inputs["dashboardBody"])
    assert "AWS/AutoScaling" not in json.dumps(body)


def _alarm_state(alarm: dict, samples_per_period: list[float]) -> str:
    """ALARM or OK for a run of 5-minute SampleCount values (oldest first), as CloudWatch
    evaluates the alarm: its expression per period, M of the newest N breaching."""
    queries = alarm.get("metricQueries")
    if queries:
        (expression,) = [q["expression"] for q in queries if q.get("returnData")]
        (name,) = [q["id"] for q in queries if "metric" in q]
        # The one shape of expression the alarm may have: "<metric id> / <number>".
        metric, divisor = (part.strip() for part in expression.split("/"))
        assert metric == name, expression
        values = [s / float(divisor) for s in samples_per_period]
    else:
        values = samples_per_period
    newest = values[-int(alarm["evaluationPeriods"]) :]
    breaching = [v >= alarm["threshold"] for v in newest]
    assert alarm["comparisonOperator"] == "GreaterThanOrEqualToThreshold"
    return "ALARM" if sum(breaching) >= int(alarm["datapointsToAlarm"]) else "OK"


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_gpu_saturation_alarm_fires_at_the_cap_only(stack, dev, prod):
    # Basic monitoring: five samples per running instance per 5-minute period.
    recording = {"dev": dev, "prod": prod}[stack]
    alarm = recording.named("mlops-monitoring-gpu-saturation-alarm").inputs
    cap = int(platform_raw(f"aws-{stack}")["training"]["maxNodes"])
    hour = 12
    assert _alarm_state(alarm, [5.0] * hour) == "OK"  # one node all hour
    assert _alarm_state(alarm, [5.0 * (cap - 1)] * hour) == "OK"
    assert _alarm_state(alarm, [5.0 * cap] * hour) == "ALARM"
    # At the cap, the newest period still filling (one sample per node so far) keeps ALARM.
    assert _alarm_state(alarm, [5.0 * cap] * (hour - 1) + [1.0 * cap]) == "ALARM"
    assert _alarm_state(alarm, [5.0 * cap] * (hour - 2) + [5.0 * (cap - 1)] * 2) == "OK"


# 8. A rollout or rollback starts the new fleet at a capacity that serves peak load.
def test_new_configs_start_at_the_autoscaling_maximum(prod):
    for version in ("7", "6"):
        config = prod.named(f"mlops-serving-config-v{version}").inputs
        assert config["productionVariants"][0]["initialInstanceCount"] == 4


# 10. Service principals on keys carry the confused-deputy conditions AWS documents.
def test_channel_key_grants_services_only_for_this_account(prod):
    key = prod.named("mlops-alerts-key")
    found = {s["Principal"]["Service"]: s for s in statements(key) if "Service" in s["Principal"]}
    assert set(found) == {
        "events.amazonaws.com",
        "cloudwatch.amazonaws.com",
        "budgets.amazonaws.com",
    }
    for service in ("cloudwatch.amazonaws.com", "budgets.amazonaws.com"):
        condition = found[service]["Condition"]
        assert condition["StringEquals"]["aws:SourceAccount"] == "123456789012"
        arns = condition["ArnLike"]["aws:SourceArn"]
        assert arns and all(":123456789012:" in arn for arn in arns)


# B5. EventBridge -> KMS-encrypted SNS: AWS's key statement for this path has no aws:SourceArn /
# aws:SourceAccount; the topics' encryption context binds the key to this account instead.
# (The drift job's key holds the same statement for its own retraining topic, which aws-prod does
# not create: it feeds the monitoring retraining topic, encrypted with the channel's key.)
@pytest.mark.parametrize("key", ["mlops-alerts-key", "mlops-registry-key", "mlops-drift-key"])
def test_eventbridge_may_use_the_key_of_the_topics_its_rules_target(prod, key):
    (events,) = [
        s
        for s in statements(prod.named(key))
        if s["Principal"] == {"Service": "events.amazonaws.com"}
    ]
    assert sorted(events["Action"]) == ["kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey"]
    assert events["Condition"] == {
        "ArnLike": {
            "kms:EncryptionContext:aws:sns:topicArn": ["arn:aws:sns:us-east-1:123456789012:*"]
        }
    }
    # Every topic an EventBridge rule of the plan targets with this key is within that pattern.
    key_arn = prod.named(key).outputs["arn"]
    topics = {t.outputs["arn"] for t in prod.of_type("aws:sns/topic:Topic")
              if t.inputs.get("kmsMasterKeyId") == key_arn}  # fmt: skip
    targeted = {t.inputs["arn"] for t in prod.of_type("aws:cloudwatch/eventTarget:EventTarget")}
    assert bool(topics & targeted) is (key != "mlops-drift-key")
    assert all(arn.startswith("arn:aws:sns:us-east-1:123456789012:") for arn in topics)


# M5. The account statement holds every action on a key resource that KMS has, as AWS's default
# key policy ("kms:*") does, without a wildcard.
def test_account_statement_holds_every_key_action_of_the_kms_model(prod):
    import botocore.session

    model = botocore.session.get_session().get_service_model("kms")
    key_members = {"KeyId", "TargetKeyId", "SourceKeyId", "DestinationKeyId"}
    on_keys = set()
    for operation in model.operation_names:
        shape = model.operation_model(operation).input_shape
        if shape is not None and key_members & set(shape.members):
            on_keys.add(f"kms:{operation}")
    # ListAliases filters by key but acts on "*" (IAM only); ReEncrypt is authorised as
    # ReEncryptFrom (source key) and ReEncryptTo (destination key); DeleteAlias needs the key.
    on_keys -= {"kms:ListAliases", "kms:ReEncrypt"}
    on_keys |= {"kms:ReEncryptFrom", "kms:ReEncryptTo", "kms:DeleteAlias"}
    assert set(defaults.KEY_ADMIN_ACTIONS) == on_keys
    # (The artifact keys set no policy: KMS gives them its default one, "kms:*" for the account.)
    with_policy = [key for key in prod.of_type("aws:kms/key:Key") if "policy" in key.inputs]
    assert len(with_policy) == 4
    for key in with_policy:
        (account,) = [s for s in statements(key) if s["Sid"] == "AccountAdministersKey"]
        assert account["Principal"] == {"AWS": "arn:aws:iam::123456789012:root"}
        assert account["Action"] == list(defaults.KEY_ADMIN_ACTIONS)


def test_log_key_is_bound_to_the_cluster_log_group(prod):
    key = prod.named("mlops-training-key")
    log_group = prod.named("mlops-training-cluster-logs").inputs["name"]
    found = [s for s in statements(key) if "Service" in s.get("Principal", {})]
    assert len(found) == 1
    stmt = found[0]
    assert stmt["Principal"] == {"Service": "logs.us-east-1.amazonaws.com"}
    assert sorted(stmt["Action"]) == sorted(defaults.LOGS_KEY_ACTIONS)
    assert stmt["Condition"] == {
        "ArnEquals": {
            "kms:EncryptionContext:aws:logs:arn": (
                f"arn:aws:logs:us-east-1:123456789012:log-group:{log_group}"
            )
        }
    }


# 11. The default EKS version follows its rule (_defaults.KUBERNETES_VERSION) on the day of the
# last calendar check: the newest version with an autoscaler image pinned and at least three months
# of standard support left.
def test_default_kubernetes_version_follows_its_rule():
    from mlops_iac.components.kubernetes.charts import CLUSTER_AUTOSCALER_IMAGES

    checked = dt.date(2026, 12, 7)
    eligible = [
        version
        for version, ends in defaults.EKS_STANDARD_SUPPORT_ENDS.items()
        if version in CLUSTER_AUTOSCALER_IMAGES and ends >= checked + dt.timedelta(days=90)
    ]
    assert max(eligible, key=lambda v: tuple(map(int, v.split(".")))) == "1.35"
    assert defaults.KUBERNETES_VERSION == "1.35"
    # A newer EKS version without a matching autoscaler image is listed, not the default.
    assert "1.36" in defaults.EKS_STANDARD_SUPPORT_ENDS
    assert "1.36" not in CLUSTER_AUTOSCALER_IMAGES


# 12 and 14. Rollout settings AWS rejects are refused with the key path.
@pytest.mark.parametrize(
    ("edit", "path"),
    [
        (
            lambda r: r["serving"]["rollout"].update(strategy="linear", linearStepPercent=5),
            "mlops:platform.serving.rollout.linearStepPercent",
        ),
        (
            lambda r: r["serving"]["rollout"].update(bakeMinutes=90),
            "mlops:platform.serving.rollout.bakeMinutes",
        ),
        (
            lambda r: r["serving"].update(replicas={"min": 1, "max": 1}),
            "mlops:platform.serving.rollout.canaryPercent",
        ),
        (
            lambda r: (
                r["serving"]["rollout"].update(canaryPercent=50)
                or r["serving"].update(replicas={"min": 1, "max": 3})
            ),
            "mlops:platform.serving.rollout.canaryPercent",
        ),
        (
            lambda r: (
                r["serving"]["rollout"].update(strategy="linear", linearStepPercent=40)
                or r["serving"].update(replicas={"min": 1, "max": 3})
            ),
            "mlops:platform.serving.rollout.linearStepPercent",
        ),
    ],
)
def test_rollouts_aws_rejects_are_refused(edit, path):
    raw = platform_raw("aws-dev")
    edit(raw)
    with pytest.raises(SpecError) as info:
        parse_spec(raw)
    assert [line.split(":", 2)[0] + ":" + line.split(":", 2)[1] for line in info.value.lines] == [
        path
    ]


def test_rollout_limits_are_aws_only():
    raw = platform_raw("aws-dev")
    raw["serving"]["rollout"].update(bakeMinutes=90)
    raw["cloud"] = "gcp"
    # The AWS stack's images and s3:// artifacts are brought from outside on GCP.
    raw.pop("aws", None)
    raw["gcp"] = {"externalArtifacts": True}
    for key in ("model", "previousModel"):
        if key in raw["serving"]:
            raw["serving"][key]["artifactUri"] = "gs://elsewhere/model/"
    parse_spec(raw)


def test_one_instance_fleet_deploys_all_at_once():
    raw = platform_raw("aws-dev")
    raw["serving"]["replicas"] = {"min": 1, "max": 1}
    raw["serving"]["rollout"] = {"strategy": "all-at-once", "bakeMinutes": 5}
    parse_spec(raw)


# 13. Changing the rollback alarms replaces the endpoint: refused in prod, by protection.
def test_prod_endpoint_cannot_be_replaced(prod, dev):
    endpoint = prod.named("mlops-serving-endpoint")
    assert endpoint.protect is True
    assert dev.named("mlops-serving-endpoint").protect is not True


def test_bad_rollout_fails_the_program_with_the_key_path():
    def edit(raw):
        raw["serving"]["rollout"]["bakeMinutes"] = 61

    with pytest.raises(ProgramError, match=r"mlops:platform\.serving\.rollout\.bakeMinutes"):
        run_project(REPO, "aws-dev", extra_config=_platform("aws-dev", edit))


# 1. ...and the change AWS refuses is refused before anything deploys.
PREVIOUS = "mlops-testing:previousOutputs"


def _resize(raw, autoscaling=None):
    raw["serving"]["instanceType"] = "ml.c5.xlarge"
    if autoscaling is not None:
        raw["aws"] = {"servingAutoscaling": autoscaling}


def test_instance_type_change_of_an_autoscaled_deployment_is_refused(prod):
    previous = {k: prod.exports[k] for k in ("serving_instance_type", "serving_autoscaling")}
    assert previous == {"serving_instance_type": "ml.m5.large", "serving_autoscaling": True}
    config = {**_platform("aws-prod", _resize), PREVIOUS: previous}
    with pytest.raises(ProgramError, match=r"instance_type ml\.m5\.large -> ml\.c5\.xlarge"):
        run_project(REPO, "aws-prod", extra_config=config)


def test_instance_type_change_after_suspending_autoscaling_deploys():
    previous = {"serving_instance_type": "ml.m5.large", "serving_autoscaling": False}
    config = {**_platform("aws-prod", lambda raw: _resize(raw, True)), PREVIOUS: previous}
    recording = run_project(REPO, "aws-prod", extra_config=config)
    variant = recording.named("mlops-serving-config-v7").inputs["productionVariants"][0]
    assert variant["instanceType"] == "ml.c5.xlarge"
    target = recording.named("mlops-serving-scaling-target")
    assert recording.named("mlops-serving-endpoint").urn in target.dependencies


def test_unchanged_instance_type_deploys_with_autoscaling(prod):
    previous = {"serving_instance_type": "ml.m5.large", "serving_autoscaling": True}
    recording = run_project(REPO, "aws-prod", extra_config={PREVIOUS: previous})
    assert recording.named("mlops-serving-scaling-target")


# The prod stack with a CI deployer named in adminRoleArns (the docs' example): the cluster gives
# its creator no entry of its own, so the deployer's entry is no duplicate; the committed stack
# keeps the creator as its (explicit) admin.
def test_prod_with_admin_roles_plans_without_a_duplicate_creator_entry(prod):
    deployer = "arn:aws:iam::123456789012:role/ci-deployer"

    def edit(raw):
        raw["training"]["access"] = {"adminRoleArns": [deployer]}

    recording = run_project(REPO, "aws-prod", extra_config=_platform("aws-prod", edit))
    access = recording.named("mlops-training-cluster").inputs["accessConfig"]
    assert access["bootstrapClusterCreatorAdminPermissions"] is False
    [entry] = recording.of_type("aws:eks/accessEntry:AccessEntry")
    assert entry.inputs["principalArn"] == deployer
    rules = {e.rule for e in recording.deploy_errors()}
    assert "aws-eks-access-entry-creator-duplicate" not in rules
    committed = prod.named("mlops-training-cluster").inputs["accessConfig"]
    assert committed["bootstrapClusterCreatorAdminPermissions"] is True
    assert not prod.of_type("aws:eks/accessEntry:AccessEntry")
