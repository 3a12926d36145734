"""Every rule fires on one mutation of the compliant baseline and stays quiet on the baseline."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from mlops_iac.policies import packs
from mlops_iac.policies.offline import ResultSet
from mlops_iac.policies.rules import BY_NAME, RULES
from tests.conftest import reference_recording

from . import baseline
from .baseline import Rec
from .test_real_stacks import _config as stack_config


def run(rec: Rec, environment: str = "prod", **config: Any) -> ResultSet:
    return packs.evaluate(rec, baseline.config(environment, **config), environment=environment)


def fired(result: ResultSet) -> set[str]:
    return {v.policy for v in result.violations}


@dataclass(frozen=True)
class Mutation:
    rule: str
    id: str
    mutate: Callable[[Rec], Any]
    fragment: str
    config: dict[str, Any] = field(default_factory=dict)
    environment: str = "prod"
    stack: str | None = None
    """A reference stack whose recording is mutated instead of the AWS baseline (a rule about
    Azure or GCP resources), evaluated with that stack file's config."""


def _policy(rec: Rec, name: str, statement: dict[str, Any]) -> None:
    document = json.loads(rec.get(name).inputs["policy"])
    document["Statement"].append(statement)
    rec.set(name, "policy", json.dumps(document))


def _dvc_prefix(rec: Rec) -> str:
    """The DVC prefix of the baseline's store (a DVC grant that stays in its prefix)."""
    return rec.get("artifacts-bucket").outputs["arn"] + "/dvc/*"


def _endpoint_tag(key: str, value: str | None) -> Callable[[Rec], Any]:
    return lambda rec: rec.set("serving-endpoint", f"tags.{key}", value)


def _cloudformation_bucket(rec: Rec) -> None:
    """A tagged CloudFormation stack whose template holds a bucket no storage rule sees."""
    bucket = rec.get("artifacts-bucket")
    inputs = {
        "templateBody": json.dumps({"Resources": {"B": {"Type": "AWS::S3::Bucket"}}}),
        "tags": baseline.lineage_tags("prod"),
    }
    rec.resources.append(
        baseline.Res(
            urn=bucket.urn.replace(bucket.type, "aws:cloudformation/stack:Stack").replace(
                "::artifacts-bucket", "::wrapped"
            ),
            type="aws:cloudformation/stack:Stack",
            name="wrapped",
            parent=bucket.parent,
            inputs=inputs,
            outputs={"id": "wrapped", **json.loads(json.dumps(inputs))},
        )
    )


APPROVAL_BY_OWNER = [
    {**baseline.APPROVALS[0], "approvedBy": baseline.OWNER},
]
APPROVAL_BY_STRANGER = [
    {**baseline.APPROVALS[0], "approvedBy": "mallory@example.com"},
]


def _append(rec: Rec, type_: str, name: str, inputs: dict[str, Any], protect: bool = False) -> None:
    """A resource of ``type_`` beside the artifact bucket (same parent and provider)."""
    bucket = rec.get("artifacts-bucket")
    rec.resources.append(
        baseline.Res(
            urn=bucket.urn.replace(bucket.type, type_).replace("::artifacts-bucket", f"::{name}"),
            type=type_,
            name=name,
            parent=bucket.parent,
            inputs=inputs,
            outputs={"id": name, **json.loads(json.dumps(inputs))},
            protect=protect,
            provider=bucket.provider,
        )
    )


def _tracking_database(**ip: Any) -> Callable[[Rec], Any]:
    """A tracking Cloud SQL instance, compliant but for ``ip`` / a missing key."""

    def mutate(rec: Rec) -> None:
        settings = {
            "tier": "db-custom-1-3840",
            "ipConfiguration": {
                "ipv4Enabled": True,
                "authorizedNetworks": [],
                "sslMode": "ENCRYPTED_ONLY",
                **{k: v for k, v in ip.items() if k != "encryptionKeyName"},
            },
            "userLabels": baseline.lineage_tags("prod"),
        }
        inputs = {"databaseVersion": "POSTGRES_16", "region": "us-central1", "settings": settings}
        key = ip.get(
            "encryptionKeyName", "projects/p/locations/us-central1/keyRings/r/cryptoKeys/k"
        )
        if key:
            inputs["encryptionKeyName"] = key
        _append(rec, "gcp:sql/databaseInstance:DatabaseInstance", "tracking-db", inputs, True)

    return mutate


def _tracking_invoker(member: str, type_: str = "ServiceIamMember") -> Callable[[Rec], Any]:
    def mutate(rec: Rec) -> None:
        key = "member" if type_ == "ServiceIamMember" else "members"
        value: Any = member if type_ == "ServiceIamMember" else [member]
        inputs = {"name": "tracking", "location": "us-central1", "role": "roles/run.invoker"}
        _append(
            rec,
            f"gcp:cloudrunv2/service{type_[7:]}:{type_}",
            "tracking-invoker",
            {**inputs, key: value},
        )

    return mutate


def _sagemaker_mlflow(uri: str) -> Callable[[Rec], Any]:
    def mutate(rec: Rec) -> None:
        inputs = {
            "trackingServerName": "tracking",
            "artifactStoreUri": uri,
            "roleArn": "arn:aws:iam::123456789012:role/tracking",
            "tags": baseline.lineage_tags("prod"),
        }
        _append(rec, "aws:sagemaker/mlflowTrackingServer:MlflowTrackingServer", "tracking", inputs)

    return mutate


MUTATIONS: list[Mutation] = [
    # experiment tracking
    Mutation(
        "mlops-tracking-private-encrypted",
        "cloud-sql-open-to-the-internet",
        _tracking_database(authorizedNetworks=[{"name": "any", "value": "0.0.0.0/0"}]),
        "authorizedNetworks admits 0.0.0.0/0",
    ),
    Mutation(
        "mlops-tracking-private-encrypted",
        "cloud-sql-unencrypted-connections",
        _tracking_database(sslMode="ALLOW_UNENCRYPTED_AND_ENCRYPTED"),
        "unencrypted connections are accepted",
    ),
    Mutation(
        "mlops-tracking-private-encrypted",
        "cloud-sql-without-customer-key",
        _tracking_database(encryptionKeyName=""),
        "encryptionKeyName is not set",
    ),
    Mutation(
        "mlops-tracking-private-encrypted",
        "tracking-server-invokable-by-anyone",
        _tracking_invoker("allUsers"),
        "granted to allUsers",
    ),
    Mutation(
        "mlops-tracking-private-encrypted",
        "tracking-server-binding-to-all-authenticated-users",
        _tracking_invoker("allAuthenticatedUsers", "ServiceIamBinding"),
        "granted to allAuthenticatedUsers",
    ),
    Mutation(
        "mlops-tracking-private-encrypted",
        "sagemaker-mlflow-artifacts-outside-s3",
        _sagemaker_mlflow("https://example.com/mlflow/"),
        "is not an s3:// location",
    ),
    # the continuous-training loop
    Mutation(
        "mlops-drift-loop-closed",
        "drift-job-not-scheduled",
        lambda r: r.remove("drift-schedule"),
        "its drift job is not scheduled",
    ),
    Mutation(
        "mlops-drift-loop-closed",
        "drift-alarm-feeds-no-retraining",
        lambda r: r.remove("drift-retrain-target"),
        "no retraining trigger is fed by the drift alarm",
    ),
    # storage
    Mutation(
        "mlops-storage-encrypted-cmk",
        "sse-s3-instead-of-kms",
        lambda r: r.set(
            "artifacts-encryption",
            "rules",
            [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}],
        ),
        "not SSE-KMS",
    ),
    Mutation(
        "mlops-storage-encrypted-cmk",
        "no-encryption-resource",
        lambda r: r.remove("artifacts-encryption"),
        "no BucketServerSideEncryptionConfiguration resource refers to it",
    ),
    Mutation(
        "mlops-storage-versioned",
        "suspended",
        lambda r: r.set("artifacts-versioning", "versioningConfiguration.status", "Suspended"),
        "'Suspended'",
    ),
    Mutation(
        "mlops-storage-versioned",
        "versioning-for-another-bucket",
        lambda r: (
            r.set("artifacts-versioning", "bucket", "someone-elses-bucket"),
            r.get("artifacts-versioning").property_dependencies.clear(),
        ),
        "no BucketVersioning resource refers to it",
    ),
    Mutation(
        "mlops-storage-public-access-blocked",
        "policy-not-blocked",
        lambda r: r.set("artifacts-public-access", "blockPublicPolicy", False),
        "blockPublicPolicy",
    ),
    Mutation(
        "mlops-storage-tls-only",
        "no-secure-transport-deny",
        lambda r: r.set(
            "artifacts-tls-only",
            "policy",
            json.dumps({"Statement": [{"Effect": "Deny", "Principal": "*", "Action": "s3:*"}]}),
        ),
        "aws:SecureTransport",
    ),
    Mutation(
        "mlops-storage-lifecycle",
        "no-abort-incomplete-uploads",
        lambda r: r.set(
            "artifacts-lifecycle", "rules", [r.get("artifacts-lifecycle").inputs["rules"][0]]
        ),
        "abortIncompleteMultipartUpload",
    ),
    # kms
    Mutation(
        "mlops-kms-rotation",
        "rotation-off",
        lambda r: r.set("artifacts-key", "enableKeyRotation", False),
        "enableKeyRotation is not true",
    ),
    Mutation(
        "mlops-kms-rotation",
        "period-too-long",
        lambda r: r.set("artifacts-key", "rotationPeriodInDays", 730),
        "rotationPeriodInDays 730 exceeds 365",
    ),
    Mutation(
        "mlops-kms-encrypted-at-rest",
        "topic-unencrypted",
        lambda r: r.set("monitoring-alerts", "kmsMasterKeyId", None),
        "kmsMasterKeyId is not set",
    ),
    Mutation(
        "mlops-kms-encrypted-at-rest",
        "eks-secrets-unencrypted",
        lambda r: r.set("training-cluster", "encryptionConfig", None),
        "Kubernetes secrets are not encrypted",
    ),
    # lineage
    Mutation(
        "mlops-lineage-tags",
        "empty-git-sha",
        lambda r: r.set("artifacts-bucket", "tags.mlops:git-sha", ""),
        "mlops:git-sha",
    ),
    Mutation(
        "mlops-lineage-tags",
        "untagged-role",
        lambda r: r.set("serving-role", "tags", None),
        "mlops:project",
    ),
    # approval gate
    Mutation(
        "mlops-approval-gate",
        "no-approval",
        lambda r: None,
        "no approval is recorded for model 'fraud-detector' version '7'",
        config={"approvals": []},
    ),
    Mutation(
        "mlops-approval-gate",
        "unapproved-version",
        lambda r: (_endpoint_tag("mlops:model-version", "8")(r),),
        "version '8'",
    ),
    Mutation(
        "mlops-approval-gate",
        "self-approval-by-owner",
        _endpoint_tag("mlops:approved-by", baseline.OWNER),
        "does not count, by 'ml-platform@example.com': the owner cannot approve their own model",
        config={"approvals": APPROVAL_BY_OWNER, "approvers": [*baseline.APPROVERS, baseline.OWNER]},
    ),
    Mutation(
        "mlops-approval-gate",
        "approver-not-listed",
        _endpoint_tag("mlops:approved-by", "mallory@example.com"),
        "not a listed approver",
        config={"approvals": APPROVAL_BY_STRANGER},
    ),
    Mutation(
        "mlops-approval-gate",
        "tag-cannot-approve",
        _endpoint_tag("mlops:approved-by", "raj@example.com"),
        "the recorded approval is by 'jane@example.com'",
    ),
    Mutation(
        "mlops-approval-gate",
        "no-model-tags",
        _endpoint_tag("mlops:model", None),
        "mlops:model",
    ),
    # serving
    Mutation(
        "mlops-serving-rollback",
        "alarm-not-in-stack",
        lambda r: r.set(
            "serving-endpoint",
            "deploymentConfig.autoRollbackConfiguration.alarms",
            [{"alarmName": "fraud-detection-prod-latency"}, {"alarmName": "made-up-alarm"}],
        ),
        "rollback alarms not defined in this stack: made-up-alarm",
    ),
    Mutation(
        "mlops-serving-rollback",
        "no-alarms",
        lambda r: r.set("serving-endpoint", "deploymentConfig.autoRollbackConfiguration", None),
        "autoRollbackConfiguration has no alarms",
    ),
    Mutation(
        "mlops-serving-rollback",
        "no-blue-green",
        lambda r: r.set("serving-endpoint", "deploymentConfig", None),
        "blueGreenUpdatePolicy",
    ),
    Mutation(
        "mlops-serving-auto-rollback",
        "azure-guard-without-traffic-grant",
        lambda r: setattr(
            r, "resources", [x for x in r.resources if x.name != "mlops-rollout-endpoint"]
        ),
        "holds no role assignment on this endpoint",
        stack="azure-prod",
    ),
    Mutation(
        "mlops-serving-auto-rollback",
        "gcp-guard-alerts-removed",
        lambda r: setattr(
            r,
            "resources",
            [
                x
                for x in r.resources
                if x.name not in ("mlops-rollout-errors", "mlops-rollout-latency")
            ],
        ),
        "no enabled alert policy on this service notifies rollout function",
        stack="gcp-prod",
    ),
    Mutation(
        "mlops-serving-autoscaling-bounds",
        "max-over-limit",
        lambda r: r.set("serving-scaling", "maxCapacity", 50),
        "maximum capacity 50 exceeds the limit of 20",
    ),
    Mutation(
        "mlops-serving-autoscaling-bounds",
        "min-zero",
        lambda r: r.set("serving-scaling", "minCapacity", 0),
        "minimum capacity 0 is below 1",
    ),
    # network
    Mutation(
        "mlops-network-isolation",
        "model-not-isolated",
        lambda r: r.set("serving-model-v7", "enableNetworkIsolation", False),
        "enableNetworkIsolation is not true",
    ),
    Mutation(
        "mlops-network-private-endpoints",
        "public-control-plane",
        # With an allow-list, so that only the private-endpoint rule fires (without one the
        # endpoint is open to 0.0.0.0/0: mlops-kubernetes-api-allow-list).
        lambda r: (
            r.set("training-cluster", "vpcConfig.endpointPublicAccess", True),
            r.set("training-cluster", "vpcConfig.publicAccessCidrs", ["203.0.113.0/24"]),
        ),
        "endpointPublicAccess is not false",
    ),
    # gpu
    Mutation(
        "mlops-gpu-pool-caps",
        "does-not-scale-to-zero",
        lambda r: r.set("training-gpu", "scalingConfig.minSize", 1),
        "must scale to zero",
    ),
    Mutation(
        "mlops-gpu-pool-caps",
        "too-many-nodes",
        lambda r: r.set("training-gpu", "scalingConfig.maxSize", 40),
        "maximum size 40 exceeds the cap of 16 nodes",
        config={"gpu_budget": 1000},
    ),
    Mutation(
        "mlops-gpu-budget",
        "over-budget",
        lambda r: None,
        "max GPU spend 4.02 $/h exceeds the budget of 3 $/h",
        config={"gpu_budget": 3},
    ),
    Mutation(
        "mlops-gpu-budget",
        "unpriced-node-type-fails-closed",
        lambda r: r.set("training-gpu", "instanceTypes", ["p5.48xlarge"]),
        "no price for node type 'p5.48xlarge'",
    ),
    # cost: the always-on estimate `mlops-iac plan` writes into the config, over the budget
    Mutation(
        "mlops-cost-monthly-budget",
        "over-budget",
        lambda r: None,
        "the always-on estimate of 1,200.00 $/month exceeds the budget of 1000 $/month",
        config={
            "monthly_budget": 1000,
            "overrides": {"mlops-cost-monthly-budget": {"estimatedUsdPerMonth": 1200}},
        },
    ),
    # alarms
    Mutation(
        "mlops-alarms-routed",
        "no-actions",
        lambda r: r.set("monitoring-drift", "alarmActions", []),
        "alarmActions is empty",
    ),
    Mutation(
        "mlops-alarms-routed",
        "topic-outside-stack",
        lambda r: (
            r.set("serving-errors", "alarmActions", ["arn:aws:sns:us-east-1:1:elsewhere"]),
            r.get("serving-errors").property_dependencies.pop("alarmActions"),
        ),
        "none of its alarmActions is an alert channel in this stack",
    ),
    Mutation(
        "mlops-alarms-routed",
        "actions-disabled",
        lambda r: r.set("serving-latency", "actionsEnabled", False),
        "actionsEnabled is false",
    ),
    # images
    Mutation(
        "mlops-images-immutable-scanned",
        "mutable-tags",
        lambda r: r.set("registry-images", "imageTagMutability", "MUTABLE"),
        "'MUTABLE', not 'IMMUTABLE'",
    ),
    Mutation(
        "mlops-images-immutable-scanned",
        "not-scanned",
        lambda r: r.set("registry-images", "imageScanningConfiguration.scanOnPush", False),
        "scanOnPush is not true",
    ),
    Mutation(
        "mlops-serving-image-digest",
        "served-by-tag",
        lambda r: r.set(
            "serving-model-v7",
            "primaryContainer.image",
            "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:2.3-cpu-py311",
        ),
        "primaryContainer.image is '763104351884.dkr.ecr.us-east-1.amazonaws.com/"
        "pytorch-inference:2.3-cpu-py311', a tag: reference the served image by digest",
    ),
    # logs
    Mutation(
        "mlops-logs-retention-encrypted",
        "never-expires",
        lambda r: r.set("training-cluster-logs", "retentionInDays", None),
        "logs never expire",
    ),
    Mutation(
        "mlops-logs-retention-encrypted",
        "short-retention",
        lambda r: r.set("training-cluster-logs", "retentionInDays", 7),
        "retentionInDays 7 is below the minimum of 30",
    ),
    Mutation(
        "mlops-logs-retention-encrypted",
        "no-key",
        lambda r: r.set("training-cluster-logs", "kmsKeyId", None),
        "kmsKeyId is not set",
    ),
    Mutation(
        "mlops-logs-cluster-audit",
        "audit-log-off",
        lambda r: r.set("training-cluster", "enabledClusterLogTypes", ["api"]),
        "missing audit, authenticator, controllerManager, scheduler",
    ),
    # iam
    Mutation(
        "mlops-iam-no-wildcard-actions",
        "service-wildcard",
        lambda r: _policy(
            r, "artifacts-dvc", {"Effect": "Allow", "Action": "s3:*", "Resource": _dvc_prefix(r)}
        ),
        "allows wildcard actions: s3:*",
    ),
    Mutation(
        "mlops-iam-no-wildcard-actions",
        "star-in-role-policy",
        lambda r: _policy(
            r, "serving-role-policy", {"Effect": "Allow", "Action": ["*"], "Resource": "*"}
        ),
        "allows wildcard actions: *",
    ),
    Mutation(
        "mlops-iam-no-wildcard-actions",
        "not-action",
        lambda r: _policy(
            r,
            "artifacts-dvc",
            {"Effect": "Allow", "NotAction": "iam:*", "Resource": _dvc_prefix(r)},
        ),
        "NotAction",
    ),
    # dvc
    Mutation(
        "mlops-dvc-identity-scoped",
        "whole-bucket",
        lambda r: _policy(
            r, "artifacts-dvc", {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}
        ),
        "s3:GetObject on every resource ('*')",
    ),
    # protection
    Mutation(
        "mlops-data-protected",
        "bucket-unprotected",
        lambda r: setattr(r.get("artifacts-bucket"), "protect", False),
        "protect is not set",
    ),
    Mutation(
        "mlops-data-protected",
        "force-destroy",
        lambda r: r.set("artifacts-bucket", "forceDestroy", True),
        "forceDestroy is true",
    ),
    # generic resources
    Mutation(
        "mlops-generic-resources",
        "bucket-inside-a-cloudformation-stack",
        _cloudformation_bucket,
        "Stack 'wrapped' creates the resources of a CloudFormation template, which no rule can "
        "check",
    ),
    # kubernetes (training clusters)
    Mutation(
        "mlops-kubernetes-gpu-taint",
        "gpu-pool-untainted",
        lambda r: r.set("training-gpu", "taints", []),
        "no nvidia.com/gpu NoSchedule taint",
    ),
    Mutation(
        "mlops-kubernetes-gpu-taint",
        "prefer-no-schedule",
        lambda r: r.set(
            "training-gpu",
            "taints",
            [{"key": "nvidia.com/gpu", "value": "true", "effect": "PREFER_NO_SCHEDULE"}],
        ),
        "no nvidia.com/gpu NoSchedule taint",
    ),
    Mutation(
        "mlops-kubernetes-namespace-lineage",
        "no-git-sha",
        lambda r: r.set("training-operator-ns", "metadata.labels.mlops/git-sha", None),
        "mlops/git-sha",
    ),
    Mutation(
        "mlops-kubernetes-api-allow-list",
        "open-to-the-internet",
        lambda r: (
            r.set("training-cluster", "vpcConfig.endpointPublicAccess", True),
            r.set("training-cluster", "vpcConfig.publicAccessCidrs", ["0.0.0.0/0"]),
        ),
        "publicAccessCidrs contains 0.0.0.0/0",
        # A public endpoint in staging also fires mlops-network-private-endpoints: scope that one
        # to prod here so that the allow-list rule is seen alone.
        config={"overrides": {"mlops-network-private-endpoints": {"environments": ["prod"]}}},
        environment="staging",
    ),
    # governance records (what plan's review found)
    Mutation(
        "mlops-governance-records",
        "refused-downgrade",
        lambda r: None,
        "advisory in prod is refused",
        config={"problems": ["governance.enforcement: advisory in prod is refused (unsigned)"]},
    ),
]


def test_every_rule_has_a_mutation() -> None:
    assert {m.rule for m in MUTATIONS} == {rule.name for rule in RULES}


@pytest.mark.parametrize("environment", ["dev", "staging", "prod"])
def test_baseline_is_compliant(environment: str) -> None:
    result = run(baseline.aws_platform(environment), environment)
    assert result.violations == ()
    assert result.passed()


@pytest.mark.parametrize("mutation", MUTATIONS, ids=lambda m: f"{m.rule}:{m.id}")
def test_mutation_fires_only_its_rule(mutation: Mutation) -> None:
    if mutation.stack is not None:
        recording = reference_recording(mutation.stack)
        mutation.mutate(recording)
        result = packs.evaluate(recording, stack_config(mutation.stack))
    else:
        rec = baseline.aws_platform(mutation.environment)
        mutation.mutate(rec)
        result = run(rec, mutation.environment, **mutation.config)
    assert fired(result) == {mutation.rule}, [v.message for v in result.violations]
    messages = [v.message for v in result.violations]
    assert any(mutation.fragment in m for m in messages), messages
    assert all(v.level == "mandatory" for v in result.violations)
    assert not result.passed()


def test_violation_names_resource_and_remediation() -> None:
    rec = baseline.aws_platform()
    rec.set("registry-images", "imageTagMutability", "MUTABLE")
    (violation,) = run(rec).violations
    assert violation.urn == rec.get("registry-images").urn
    assert violation.resource_name == "registry-images"
    assert violation.resource_type == "aws:ecr/repository:Repository"
    assert "IMMUTABLE" in violation.remediation
    assert violation.description == BY_NAME["mlops-images-immutable-scanned"].description


@pytest.mark.parametrize(
    "rule, resource",
    [
        ("mlops-network-isolation", "serving-model-v7"),
        ("mlops-data-protected", "artifacts-bucket"),
        ("mlops-approval-gate", "serving-endpoint"),
    ],
)
def test_production_rules_are_not_applicable_in_dev(rule: str, resource: str) -> None:
    rec = baseline.aws_platform("dev")
    result = run(rec, "dev", approvals=[])
    reasons = [n for n in result.not_applicable if n.policy == rule]
    assert rec.get(resource).urn in {n.urn for n in reasons}
    assert all("applies in prod" in n.reason for n in reasons)
    assert rule not in fired(result)


def test_unknown_environment_counts_as_production() -> None:
    rec = baseline.aws_platform("prod")
    rec.set("serving-model-v7", "tags.mlops:environment", None)
    rec.set("serving-model-v7", "enableNetworkIsolation", False)
    result = packs.evaluate(rec, {"mlops-gpu-budget": {"nodeTypePrices": baseline.PRICES}})
    messages = [v.message for v in result.violations if v.policy == "mlops-network-isolation"]
    assert messages == ["enableNetworkIsolation is not true"]


def test_stack_rules_without_subjects_are_not_applicable() -> None:
    rec = baseline.aws_platform()
    rec.resources = [r for r in rec.resources if r.type.startswith("pulumi:")]
    result = run(rec)
    assert result.violations == ()
    stack_rules = {r.name for r in RULES if r.kind == "stack"}
    assert {n.policy for n in result.not_applicable} == stack_rules


def test_budget_not_applicable_without_a_budget() -> None:
    result = run(baseline.aws_platform(), gpu_budget=None)
    assert "mlops-gpu-budget" in {n.policy for n in result.not_applicable}


def test_dvc_policy_prefix_wildcard_resource_is_fine_but_allowed_actions_exempt() -> None:
    rec = baseline.aws_platform()
    _policy(
        rec, "artifacts-dvc", {"Effect": "Allow", "Action": "s3:Get*", "Resource": _dvc_prefix(rec)}
    )
    assert fired(run(rec)) == {"mlops-iam-no-wildcard-actions"}
    exempt = {"mlops-iam-no-wildcard-actions": {"allowedActions": ["s3:Get*"]}}
    assert fired(run(rec, overrides=exempt)) == set()


def test_one_valid_approval_is_enough() -> None:
    approvals = [*baseline.APPROVALS, *APPROVAL_BY_OWNER, *APPROVAL_BY_STRANGER]
    assert fired(run(baseline.aws_platform(), approvals=approvals)) == set()


def test_autoscaling_of_other_services_is_not_serving() -> None:
    rec = baseline.aws_platform()
    rec.set("serving-scaling", "serviceNamespace", "ecs")
    rec.set("serving-scaling", "maxCapacity", 500)
    assert fired(run(rec)) == set()


def test_deny_statements_with_wildcards_are_fine() -> None:
    rec = baseline.aws_platform()
    _policy(rec, "artifacts-dvc", {"Effect": "Deny", "Action": "*", "Resource": "*"})
    assert fired(run(rec)) == set()


def test_gcp_label_spelling_satisfies_lineage_and_gate() -> None:
    rec = baseline.aws_platform()
    endpoint = rec.get("serving-endpoint")
    labels = {
        key.replace(":", "-"): value.replace("@", "_").replace(".", "_")
        for key, value in endpoint.inputs["tags"].items()
    }
    rec.set("serving-endpoint", "tags", labels)
    assert fired(run(rec)) == set()
    # Only in the input the SDK declares for the type: a SageMaker endpoint has no labels.
    rec.set("serving-endpoint", "tags", None)
    rec.set("serving-endpoint", "labels", labels)
    assert fired(run(rec)) == {"mlops-lineage-tags"}


def test_a_compliant_tracking_setup_is_quiet_in_prod_and_not_judged_in_dev() -> None:
    """The Tracking components' shape (private Cloud SQL with the store's key, run.invoker for a
    service account, SageMaker MLflow on s3://) passes; the same open database in dev is not
    this rule's business."""
    rec = baseline.aws_platform("prod")
    _tracking_database()(rec)
    _tracking_invoker("serviceAccount:ci@p.iam.gserviceaccount.com")(rec)
    _sagemaker_mlflow("s3://artifacts/mlflow/")(rec)
    assert fired(run(rec)) == set()
    dev = baseline.aws_platform("dev")
    _tracking_database(authorizedNetworks=[{"value": "0.0.0.0/0"}])(dev)
    result = run(dev, "dev")
    assert "mlops-tracking-private-encrypted" not in fired(result)
    assert any(n.policy == "mlops-tracking-private-encrypted" for n in result.not_applicable)


def test_a_public_invoker_hidden_in_whitespace_or_a_list_still_fires() -> None:
    rec = baseline.aws_platform("prod")
    _tracking_invoker(" allUsers ", "ServiceIamBinding")(rec)
    messages = [v.message for v in run(rec).violations]
    assert any("granted to allUsers" in m for m in messages), messages
