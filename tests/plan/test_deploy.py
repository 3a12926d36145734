"""The deploy-constraint catalogue itself: naming, botocore as the source, skips, state, reports."""

from __future__ import annotations

import copy
import json
from types import SimpleNamespace

import pulumi_aws as aws
import pulumi_gcp as gcp
import pytest

from mlops_iac.plan import deploy
from mlops_iac.plan.deploy import aws as aws_catalogue
from mlops_iac.plan.deploy import base, catalogue, naming
from mlops_iac.plan.deploy.catalogue import Report
from mlops_iac.plan.testing import run
from mlops_iac.policies import report
from mlops_iac.spec import clouds

PREFIX_TYPES_DIR = "tests/fidelity/prefix"


def _resource(type_token, logical, **inputs):
    return SimpleNamespace(
        urn=f"urn:pulumi:s::p::{type_token}::{logical}",
        type=type_token,
        name=logical,
        inputs=inputs,
    )


@pytest.fixture
def fresh_catalogue(tmp_path, monkeypatch):
    """A catalogue with an empty disk cache, forgotten again afterwards."""
    monkeypatch.setenv("MLOPS_IAC_CACHE_DIR", str(tmp_path / "cache"))
    catalogue.clear_caches()
    yield tmp_path / "cache"
    catalogue.clear_caches()


# ---------------------------------------------------------------- names


def test_auto_names_follow_each_provider():
    assert naming.autoname("aws:s3/bucket:Bucket", "data") == f"data-{naming.suffix('data', 7)}"
    assert (
        naming.autoname("gcp:storage/bucket:Bucket", "data") == f"data-{naming.suffix('data', 7)}"
    )
    azure = naming.autoname("azure-native:storage:StorageAccount", "team-data")
    assert azure == f"team-data{naming.suffix('team-data', 8)}"  # no dash, not lowercased
    assert len(naming.suffix("x", 7)) == 7 and naming.suffix("x", 7) == naming.suffix("x", 7)


def test_explicit_names_and_prefixes_are_honoured():
    assert naming.physical_name("aws:iam/role:Role", "r", {"name": "exact"}, "name") == "exact"
    prefixed = naming.physical_name("aws:kms/alias:Alias", "a", {"namePrefix": "alias/x-"}, "name")
    assert prefixed.startswith("alias/x-") and len(prefixed) == len("alias/x-") + 26


def test_mocks_never_sanitise_names():
    def program():
        aws.s3.Bucket("Upper")
        gcp.serviceaccount.Account("sa", account_id="a-service-account-id-longer-than-thirty")

    recording = run(program, config={"aws:region": "us-east-1"})
    [bucket] = recording.of_type("aws:s3/bucket:Bucket")
    [account] = recording.of_type("gcp:serviceaccount/account:Account")
    assert bucket.outputs["bucket"] == naming.autoname(bucket.type, "Upper")
    assert account.outputs["email"].startswith("a-service-account-id-longer-than-thirty@")


# ---------------------------------------------------------------- botocore is the source


def test_the_check_follows_the_botocore_model(fresh_catalogue, monkeypatch):
    config = _resource(
        "aws:sagemaker/endpointConfiguration:EndpointConfiguration",
        "c",
        name="twelve-chars",
        productionVariants=[{"variantName": "AllTraffic", "modelName": "m"}],
    )
    rule = "aws-api:sagemaker:CreateEndpointConfig.EndpointConfigName"
    assert rule not in {e.rule for e in deploy.check([config])}

    real = aws_catalogue.service_model("sagemaker")
    changed = copy.deepcopy(real)
    changed["shapes"]["EndpointConfigName"]["max"] = 10
    catalogue.clear_caches()
    monkeypatch.setenv("MLOPS_IAC_CACHE_DIR", str(fresh_catalogue / "changed"))
    monkeypatch.setattr(
        aws_catalogue, "service_model", lambda service: changed if service == "sagemaker" else real
    )
    [error] = [e for e in deploy.check([config]) if e.rule == rule]
    assert "the maximum is 10" in error.message
    assert error.source == "https://github.com/boto/botocore/tree/develop/botocore/data/sagemaker"


def test_derived_tables_are_cached_on_disk_per_botocore_version(fresh_catalogue):
    deploy.check([_resource("aws:sns/topic:Topic", "t")])
    [cached] = fresh_catalogue.glob("deploy-aws-sns-*.json")
    assert aws_catalogue._botocore_version() in cached.name
    assert "CreateTopic|Name" in json.loads(cached.read_text())["members"]


def test_a_pattern_python_cannot_compile_is_skipped_with_its_reason(fresh_catalogue, monkeypatch):
    real = aws_catalogue.service_model("sns")
    changed = copy.deepcopy(real)
    changed["shapes"]["topicName"]["pattern"] = r"[\p{L}]+"
    monkeypatch.setattr(
        aws_catalogue, "service_model", lambda service: changed if service == "sns" else real
    )
    found = Report()
    errors = deploy.check([_resource("aws:sns/topic:Topic", "t", name="1")], report=found)
    assert not [e for e in errors if e.rule.endswith("CreateTopic.Name")]
    assert any("not a Python regular expression" in s.reason for s in found.skipped)


def test_every_aws_mapping_resolves_in_the_shipped_models():
    unresolved = []
    for type_token, entry in catalogue.catalogue("aws").items():
        table = aws_catalogue.aws_table(entry["service"])
        calls = [(entry["operation"], entry.get("inputs") or {})]
        calls += [(c["operation"], c.get("inputs") or {}) for c in entry.get("also", ())]
        for operation, inputs in calls:
            for path, member in inputs.items():
                if table["members"].get(f"{operation}|{member}") is None:
                    unresolved.append(f"{type_token} {path} → {operation}.{member}")
    assert unresolved == []


def test_every_type_the_reference_stacks_create_is_in_the_catalogue():
    from pathlib import Path

    types = set()
    for path in Path(PREFIX_TYPES_DIR).glob("*.json"):
        types |= {r["type"] for r in json.loads(path.read_text())["resources"] if r["custom"]}
    aws_types = {t for t in types if t.startswith("aws:")}
    assert aws_types <= set(catalogue.catalogue("aws"))
    assert len(aws_types) >= 45
    # Azure/GCP: types whose names or values the clouds constrain have rules; these carry none
    # a plan can break (ids are ARM paths or generated), listed so a new type is a conscious choice.
    without_rules = {
        t
        for t in types - aws_types
        if t not in catalogue.catalogue("azure") and t not in catalogue.catalogue("gcp")
    }
    assert without_rules == {
        "azure-native:consumption:Budget",
        "azure-native:machinelearningservices:Compute",
        "azure-native:machinelearningservices:Registry",
        "azure-native:machinelearningservices:Schedule",
        "azure-native:monitor:ActivityLogAlert",
        "azure-native:monitor:AutoscaleSetting",
        "azure-native:monitor:DiagnosticSetting",
        "azure-native:monitor:ScheduledQueryRule",
        "azure-native:portal:Dashboard",
        "azure-native:storage:BlobServiceProperties",
        "azure-native:storage:ManagementPolicy",
        "gcp:billing/budget:Budget",
        "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember",
        "gcp:monitoring/alertPolicy:AlertPolicy",
        "gcp:monitoring/dashboard:Dashboard",
        "gcp:monitoring/notificationChannel:NotificationChannel",
        "gcp:projects/iAMMember:IAMMember",
        "gcp:pubsub/topicIAMMember:TopicIAMMember",
        "gcp:storage/bucketIAMMember:BucketIAMMember",
        "gcp:storage/notification:Notification",
    }


def test_every_documented_rule_names_its_source():
    for cloud in clouds.NAMES:
        for entry in catalogue.catalogue(cloud).values():
            for rule in entry.get("rules", ()):
                assert rule["source"].startswith("https://"), rule


def test_required_members_of_the_operation_are_checked():
    target = _resource("aws:appautoscaling/target:Target", "t", scalableDimension="x")
    rules = {e.rule for e in deploy.check([target])}
    assert "aws-api:application-autoscaling:RegisterScalableTarget.ResourceId.required" in rules


# ---------------------------------------------------------------- state


ROOT = "pulumi:pulumi:Stack"


def test_state_from_a_stack_export_and_from_a_plan_report(tmp_path):
    export = tmp_path / "export.json"
    export.write_text(
        json.dumps(
            {
                "version": 3,
                "deployment": {
                    "resources": [
                        # A deployed stack's export always holds its root stack resource.
                        {"urn": "urn:pulumi:s::p::pulumi:pulumi:Stack::p-s", "type": ROOT},
                        {"urn": "urn:pulumi:s::p::t::n", "type": "t", "inputs": {"a": 1}},
                    ]
                },
            }
        )
    )
    plan = tmp_path / "plan.json"
    plan.write_text(
        json.dumps({"resources": [{"urn": "urn:pulumi:s::p::t::m", "type": "t", "name": "m"}]})
    )
    [_, from_export] = deploy.load_state(export)
    [from_plan] = deploy.load_state(plan)
    assert (from_export.name, from_export.inputs) == ("n", {"a": 1})
    assert from_plan.name == "m"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{", "not JSON"),
        ("[]", "neither a `pulumi stack export`"),
        ('{"resources": [{}]}', "without urn"),
    ],
)
def test_bad_state_files_are_one_line_errors(content, message, tmp_path):
    path = tmp_path / "state.json"
    path.write_text(content)
    with pytest.raises(ValueError, match=message):
        deploy.load_state(path)


def test_plan_with_an_unreadable_state_exits_2(tmp_path, capsys):
    from mlops_iac.cli.main import main

    code = main(
        ["plan", "--stack", "aws-dev", "--state", str(tmp_path / "missing.json"), "--quiet"]
    )
    assert code == 2
    assert "--state" in capsys.readouterr().err


# ---------------------------------------------------------------- reports


def _error():
    return catalogue.DeployError(
        rule="gcp-gcs-versioning-with-retention",
        urn="urn:pulumi:s::p::gcp:storage/bucket:Bucket::b",
        resource_name="b",
        resource_type="gcp:storage/bucket:Bucket",
        input="versioning.enabled",
        value=True,
        message="no",
        source="https://cloud.google.com/storage/docs/bucket-lock",
    )


def test_json_report_carries_deploy_errors_as_their_own_kind():
    document = {"passed": True, "summary": {}}
    report.add_deploy_errors(document, [_error()])
    assert document["passed"] is False
    assert document["summary"]["deployErrors"] == 1
    [item] = document["deployErrors"]
    assert item["kind"] == "deploy-error" and item["input"] == "versioning.enabled"
    assert item["source"].startswith("https://cloud.google.com/")


def test_sarif_carries_deploy_errors_as_error_results_of_their_own_rule():
    log = {"runs": [{"tool": {"driver": {"rules": []}}, "results": []}]}
    report.add_deploy_errors_sarif(log, [_error(), _error()], artifact_uri="Pulumi.dev.yaml")
    run_ = log["runs"][0]
    [rule] = run_["tool"]["driver"]["rules"]
    assert rule["id"] == "deploy/gcp-gcs-versioning-with-retention"
    assert rule["properties"]["kind"] == "deploy-error"
    assert rule["helpUri"] == "https://cloud.google.com/storage/docs/bucket-lock"
    assert [r["level"] for r in run_["results"]] == ["error", "error"]
    assert {r["ruleIndex"] for r in run_["results"]} == {0}


# ---------------------------------------------------------------- the offline fixture


TEAM_TEST = """
import pytest
import pulumi_gcp as gcp

def program():
    gcp.storage.Bucket("models", location="US-CENTRAL1", versioning={"enabled": True},
                       retention_policy={"retention_period": 60})

def test_default(offline):
    offline.run(program)

@pytest.mark.allow_deploy_errors
def test_marked(offline):
    recording = offline.run(program)
    assert [e.rule for e in recording.deploy_errors()] == ["gcp-gcs-versioning-with-retention"]

def test_argument(offline):
    offline.run(program, allow_deploy_errors=True)
"""


def test_offline_fixture_fails_a_test_on_a_deploy_error_with_an_opt_out(pytester):
    pytester.makepyfile(TEAM_TEST)
    # In a subprocess: pytester drops the modules an in-process run imports, which leaves the
    # SDK and the deploy rules half-removed for the next offline run in this process.
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*1 deploy error(s)*",
            "*gcp-gcs-versioning-with-retention*",
            "*source: https://cloud.google.com/storage/docs/bucket-lock*",
        ]
    )


@pytest.mark.parametrize("cloud", clouds.NAMES)
def test_data_files_read_the_same_with_and_without_libyaml(cloud):
    import yaml

    text = (base._DATA / f"{cloud}.yaml").read_text()
    pure = yaml.load(text, Loader=yaml.SafeLoader)  # noqa: S506
    assert pure == yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506


def test_mocks_and_catalogue_agree_on_physical_names():
    import pulumi_azure_native as azure

    def program():
        aws.sagemaker.Model("model", execution_role_arn="arn:aws:iam::1:role/r")
        aws.sagemaker.Model("named", name="exact-name", execution_role_arn="arn:aws:iam::1:role/r")
        aws.kms.Alias("alias", name_prefix="alias/team-", target_key_id="k")
        azure.storage.StorageAccount(
            "account", resource_group_name="rg", kind="StorageV2", sku={"name": "Standard_LRS"}
        )
        gcp.storage.Bucket("bucket", location="US-CENTRAL1")

    recording = run(program, config={"aws:region": "us-east-1"})
    for resource in recording:
        expected = catalogue.physical_name_of(resource)
        assert resource.outputs["name"] == expected, resource.type


# ---------------------------------------------------------------- tracking servers


def test_a_sagemaker_mlflow_server_is_checked_against_the_botocore_model():
    """Name charset/length, size (TrackingServerSize) and maintenance window come from
    CreateMlflowTrackingServer; the Tracking component's own values pass."""
    good = _resource(
        "aws:sagemaker/mlflowTrackingServer:MlflowTrackingServer",
        "t",
        trackingServerName="mlops-tracking-5e5b8c4",
        artifactStoreUri="s3://b/mlflow/",
        roleArn="arn:aws:iam::123456789012:role/tracking",
        trackingServerSize="Small",
        weeklyMaintenanceWindowStart="Tue:03:30",
    )
    assert [e.rule for e in deploy.check([good])] == []
    bad = copy.deepcopy(good)
    bad.inputs |= {
        "trackingServerName": "mlops_tracking",
        "trackingServerSize": "XLarge",
        "weeklyMaintenanceWindowStart": "TUE:3:30",
    }
    rules = {e.rule for e in deploy.check([bad])}
    assert rules == {
        "aws-api:sagemaker:CreateMlflowTrackingServer.TrackingServerName",
        "aws-api:sagemaker:CreateMlflowTrackingServer.TrackingServerSize",
        "aws-api:sagemaker:CreateMlflowTrackingServer.WeeklyMaintenanceWindowStart",
    }


def test_a_cloud_sql_instance_is_checked_for_name_tier_version_and_labels():
    good = _resource(
        "gcp:sql/databaseInstance:DatabaseInstance",
        "db",
        name="mlops-tracking-db-0a1b2c",
        databaseVersion="POSTGRES_16",
        settings={"tier": "db-custom-2-7680", "userLabels": {"mlops-project": "fraud"}},
    )
    assert [e.rule for e in deploy.check([good])] == []
    bad = copy.deepcopy(good)
    bad.inputs |= {
        "name": "Tracking_DB",
        "databaseVersion": "POSTGRES_9_6",
        "settings": {"tier": "db-custom-128-7680", "userLabels": {"Mlops:Project": "x"}},
    }
    rules = {e.rule for e in deploy.check([bad])}
    assert {
        "gcp-rule:gcp:sql/databaseInstance:DatabaseInstance.name",
        "gcp-rule:gcp:sql/databaseInstance:DatabaseInstance.settings.tier",
        "gcp-rule:gcp:sql/databaseInstance:DatabaseInstance.databaseVersion",
    } <= rules
    assert any("label" in r for r in rules), rules
