"""Issue 14's deploy-failing defects (and classes the review did not reach) as minimal programs."""

from __future__ import annotations

import pulumi_aws as aws

from tests.fidelity._programs import as_state, recorded, rules_of

REGION = {"aws:region": "us-east-1"}
ROLE = "arn:aws:iam::123456789012:role/serving"
IMAGE = "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:2.3-cpu-py311"


def _config(name: str | None = None, instance_type: str = "ml.m5.large", count: int = 2):
    model = aws.sagemaker.Model(
        "model", execution_role_arn=ROLE, primary_container={"image": IMAGE}
    )
    return aws.sagemaker.EndpointConfiguration(
        "config",
        name=name,
        production_variants=[
            {
                "variant_name": "AllTraffic",
                "model_name": model.name,
                "instance_type": instance_type,
                "initial_instance_count": count,
            }
        ],
    )


def _endpoint(routing: dict, count: int = 2):
    config = _config(count=count)
    aws.sagemaker.Endpoint(
        "endpoint",
        name="serving",
        endpoint_config_name=config.name,
        deployment_config={
            "blue_green_update_policy": {"traffic_routing_configuration": routing},
        },
    )


def test_endpoint_config_name_over_the_api_length_is_refused():
    rule = "aws-api:sagemaker:CreateEndpointConfig.EndpointConfigName"
    assert rule in rules_of(lambda: _config(name="c" * 64), REGION)
    assert rule not in rules_of(lambda: _config(name="c" * 63), REGION)


def test_auto_name_is_checked_too():
    # pulumi-aws appends "-" and 7 hex characters: a 56-character logical name becomes 64.
    def program():
        aws.sagemaker.Model("m" * 56, execution_role_arn=ROLE, primary_container={"image": IMAGE})

    assert "aws-api:sagemaker:CreateModel.ModelName" in rules_of(program, REGION)


def test_model_monitor_is_refused_unless_opted_in():
    def program(tags=None):
        aws.sagemaker.MonitoringSchedule(
            "drift",
            monitoring_schedule_config={
                "monitoring_job_definition_name": "quality",
                "monitoring_type": "DataQuality",
            },
            tags=tags,
        )

    assert "aws-sagemaker-model-monitor-closed" in rules_of(program, REGION)
    opted = rules_of(lambda: program({"mlops:model-monitor": "opt-in"}), REGION)
    assert "aws-sagemaker-model-monitor-closed" not in opted
    by_config = rules_of(program, {**REGION, "mlops-iac:modelMonitorOptIn": "true"})
    assert "aws-sagemaker-model-monitor-closed" not in by_config


def test_canary_larger_than_half_the_fleet_is_refused():
    canary = {
        "type": "CANARY",
        "wait_interval_in_seconds": 600,
        "canary_size": {"type": "CAPACITY_PERCENT", "value": 10},
    }
    # 10% of one instance rounds up to one instance: 100% of the fleet.
    assert "aws-sagemaker-traffic-step-size" in rules_of(lambda: _endpoint(canary, 1), REGION)
    assert "aws-sagemaker-traffic-step-size" not in rules_of(lambda: _endpoint(canary, 2), REGION)


def test_linear_step_outside_10_to_50_percent_is_refused():
    def linear(value):
        return {
            "type": "LINEAR",
            "wait_interval_in_seconds": 600,
            "linear_step_size": {"type": "CAPACITY_PERCENT", "value": value},
        }

    assert "aws-sagemaker-traffic-step-size" in rules_of(lambda: _endpoint(linear(5), 10), REGION)
    assert "aws-sagemaker-traffic-step-size" not in rules_of(
        lambda: _endpoint(linear(20), 10), REGION
    )


def test_bake_time_over_an_hour_is_refused_from_the_api_model():
    routing = {
        "type": "ALL_AT_ONCE",
        "wait_interval_in_seconds": 7200,
    }
    rule = (
        "aws-api:sagemaker:CreateEndpoint.DeploymentConfig.BlueGreenUpdatePolicy."
        "TrafficRoutingConfiguration.WaitIntervalInSeconds"
    )
    assert rule in rules_of(lambda: _endpoint(routing), REGION)


def test_instance_type_change_on_an_autoscaled_variant_needs_the_previous_state():
    def program(instance_type):
        config = _config(instance_type=instance_type)
        endpoint = aws.sagemaker.Endpoint(
            "endpoint", name="serving", endpoint_config_name=config.name
        )
        aws.appautoscaling.Target(
            "target",
            service_namespace="sagemaker",
            scalable_dimension="sagemaker:variant:DesiredInstanceCount",
            resource_id=endpoint.name.apply(lambda n: f"endpoint/{n}/variant/AllTraffic"),
            min_capacity=1,
            max_capacity=4,
        )

    before = as_state(recorded(lambda: program("ml.m5.large"), REGION))
    rule = "aws-sagemaker-autoscaled-instance-type-change"
    assert rule not in rules_of(lambda: program("ml.m5.xlarge"), REGION)  # first deploy: fine
    assert rule in rules_of(lambda: program("ml.m5.xlarge"), REGION, state=before)
    assert rule not in rules_of(lambda: program("ml.m5.large"), REGION, state=before)


def test_image_in_an_ecr_repository_the_stack_does_not_create_is_refused():
    own = "123456789012.dkr.ecr.us-east-1.amazonaws.com/team-images:7"

    def program(create):
        if create:
            aws.ecr.Repository("repo", name="team-images")
        aws.sagemaker.Model("model", execution_role_arn=ROLE, primary_container={"image": own})

    assert "aws-image-repository-not-created" in rules_of(lambda: program(False), REGION)
    assert "aws-image-repository-not-created" not in rules_of(lambda: program(True), REGION)


# Classes the review did not reach.


def test_iam_role_name_over_64_characters_is_refused():
    def program():
        aws.iam.Role("r", name="r" * 65, assume_role_policy="{}")

    assert "aws-api:iam:CreateRole.RoleName" in rules_of(program, REGION)


def test_alarm_enum_and_tag_length_come_from_the_api_model():
    def program():
        aws.cloudwatch.MetricAlarm(
            "alarm",
            comparison_operator="GreaterThanThresholdd",
            evaluation_periods=1,
            metric_name="Invocation5XXErrors",
            namespace="AWS/SageMaker",
            period=60,
            statistic="Sum",
            threshold=1,
            tags={"k" * 129: "v"},
        )

    rules = rules_of(program, REGION)
    assert "aws-api:cloudwatch:PutMetricAlarm.ComparisonOperator" in rules
    assert "aws-api:cloudwatch:PutMetricAlarm.Tags.key" in rules


def test_s3_bucket_names_follow_the_documented_rules():
    # The mock no longer lowercases: an upper-case logical name auto-names an invalid bucket.
    assert "aws-rule:aws:s3/bucket:Bucket.bucket" in rules_of(
        lambda: aws.s3.Bucket("Models"), REGION
    )
    assert "aws-rule:aws:s3/bucket:Bucket.bucket" not in rules_of(
        lambda: aws.s3.Bucket("models"), REGION
    )


CREATOR_DUPLICATE = "aws-eks-access-entry-creator-duplicate"
DEPLOYER = "arn:aws:iam::123456789012:role/ci-deployer"


def _cluster_with_entry(access_config: dict | None, entry: bool = True):
    """A team's own EKS cluster and an access entry for its CI role."""

    def program():
        cluster = aws.eks.Cluster(
            "team-eks",
            role_arn="arn:aws:iam::123456789012:role/eks",
            vpc_config={"subnet_ids": ["subnet-a", "subnet-b"]},
            access_config=access_config,
        )
        if entry:
            aws.eks.AccessEntry("ci", cluster_name=cluster.name, principal_arn=DEPLOYER)

    return program


def test_access_entry_on_a_new_cluster_that_bootstraps_its_creator_is_refused():
    # The API default (true) and an explicit true both give the creator an entry of its own.
    assert CREATOR_DUPLICATE in rules_of(
        _cluster_with_entry({"authentication_mode": "API"}), REGION
    )
    explicit = {"authentication_mode": "API", "bootstrap_cluster_creator_admin_permissions": True}
    assert CREATOR_DUPLICATE in rules_of(_cluster_with_entry(explicit), REGION)
    assert CREATOR_DUPLICATE in rules_of(_cluster_with_entry(None), REGION)


def test_access_entry_is_fine_without_the_creator_entry_or_on_an_existing_cluster():
    off = {"authentication_mode": "API", "bootstrap_cluster_creator_admin_permissions": False}
    assert CREATOR_DUPLICATE not in rules_of(_cluster_with_entry(off), REGION)
    assert CREATOR_DUPLICATE not in rules_of(
        _cluster_with_entry({"authentication_mode": "API"}, entry=False), REGION
    )
    # On a deployed cluster the creator's entry (if any) exists already: nothing to predict.
    program = _cluster_with_entry({"authentication_mode": "API"})
    before = as_state(recorded(program, REGION))
    assert CREATOR_DUPLICATE not in rules_of(program, REGION, state=before)


def test_training_cluster_with_admin_roles_plans_without_a_duplicate_creator_entry():
    from mlops_iac.components.aws import TrainingCluster, TrainingClusterArgs

    def program(roles):
        TrainingCluster("tc", TrainingClusterArgs(admin_role_arns=roles, manage_kubernetes=False))

    assert CREATOR_DUPLICATE not in rules_of(lambda: program([DEPLOYER]), REGION)
    assert CREATOR_DUPLICATE not in rules_of(lambda: program([]), REGION)


def test_changing_the_creator_admin_bootstrap_of_a_deployed_cluster_is_refused():
    rule = "aws-eks-creator-admin-change-replaces-cluster"

    def config(bootstrap):
        return {
            "authentication_mode": "API",
            "bootstrap_cluster_creator_admin_permissions": bootstrap,
        }

    deployed = as_state(recorded(_cluster_with_entry(config(True), entry=False), REGION))
    assert rule in rules_of(_cluster_with_entry(config(False)), REGION, state=deployed)
    assert rule not in rules_of(
        _cluster_with_entry(config(True), entry=False), REGION, state=deployed
    )
    assert rule not in rules_of(_cluster_with_entry(config(False)), REGION)  # first deploy


def _blue_green(routing: dict, timeout: int, count: int = 4):
    config = _config(count=count)
    aws.sagemaker.Endpoint(
        "endpoint",
        name="serving",
        endpoint_config_name=config.name,
        deployment_config={
            "blue_green_update_policy": {
                "traffic_routing_configuration": routing,
                "termination_wait_in_seconds": 300,
                "maximum_execution_timeout_in_seconds": timeout,
            },
        },
    )


def test_blue_green_timeout_shorter_than_the_waits_is_refused():
    rule = "aws-sagemaker-bluegreen-timeout"
    canary = {
        "type": "CANARY",
        "wait_interval_in_seconds": 3600,
        "canary_size": {"type": "CAPACITY_PERCENT", "value": 25},
    }
    # The old fixed 3600 s with an hour's canary bake: two waits of 3600 s + 300 s.
    assert rule in rules_of(lambda: _blue_green(canary, 3600), REGION)
    assert rule not in rules_of(lambda: _blue_green(canary, 2 * 3600 + 300 + 1), REGION)
    # Linear 10 % of 10 instances, 10 minutes a step: ten shifts, 6300 s of waits.
    linear = {
        "type": "LINEAR",
        "wait_interval_in_seconds": 600,
        "linear_step_size": {"type": "CAPACITY_PERCENT", "value": 10},
    }
    assert rule in rules_of(lambda: _blue_green(linear, 6300, count=10), REGION)
    assert rule not in rules_of(lambda: _blue_green(linear, 6301, count=10), REGION)
    by_count = {**linear, "linear_step_size": {"type": "INSTANCE_COUNT", "value": 5}}
    assert rule in rules_of(lambda: _blue_green(by_count, 1500, count=10), REGION)
    assert rule not in rules_of(lambda: _blue_green(by_count, 1501, count=10), REGION)


def _drift_function(reserved: int | None):
    aws.lambda_.Function(
        "job",
        runtime="python3.12",
        handler="job.handler",
        role=ROLE,
        code=None,
        reserved_concurrent_executions=reserved,
    )


def test_reserved_concurrency_on_a_first_deploy_is_refused():
    rule = "aws-lambda-reserved-concurrency-new-account"
    assert rule in rules_of(lambda: _drift_function(1), REGION)
    assert rule not in rules_of(lambda: _drift_function(None), REGION)
    assert rule not in rules_of(lambda: _drift_function(-1), REGION)  # the provider's "none"
    # A stack that deployed before has an account that is not new.
    before = as_state(recorded(lambda: _drift_function(None), REGION))
    assert rule not in rules_of(lambda: _drift_function(1), REGION, state=before)
    # The account's limit, when known, decides: 1000 - 100 leaves room; 100 - 100 does not.
    limit = "mlops-iac:lambdaConcurrencyLimit"
    assert rule not in rules_of(lambda: _drift_function(5), {**REGION, limit: "1000"})
    assert rule in rules_of(lambda: _drift_function(5), {**REGION, limit: "100"}, state=before)


def test_the_reference_drift_job_reserves_no_concurrency():
    from tests.conftest import reference_recording

    for stack in ("aws-dev", "aws-prod"):
        recording = reference_recording(stack)
        errors = {e.rule for e in recording.deploy_errors()}
        assert "aws-lambda-reserved-concurrency-new-account" not in errors
        assert "aws-sagemaker-bluegreen-timeout" not in errors
        (function,) = recording.of_type("aws:lambda/function:Function")
        assert function.inputs.get("reservedConcurrentExecutions") is None
