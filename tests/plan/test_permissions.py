"""The permission evaluators (``plan/deploy/permissions``) and the plan-time rules that prove
each call shipped code makes against the reference plans' grants."""

from __future__ import annotations

import json

import pytest

from mlops_iac.drift import calls
from mlops_iac.drift.calls import LIST_BLOBS, Call
from mlops_iac.plan.deploy.permissions import aws, azure, gcp, rules
from tests.conftest import reference_recording

ROLE = "arn:aws:iam::123456789012:role/job"
BUCKET = "arn:aws:s3:::artifacts"


def _request(action: str, resource: str, **context: str) -> aws.Request:
    return aws.Request(ROLE, action, resource, {"aws:SecureTransport": "true", **context})


def _policy(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


# AWS ----------------------------------------------------------------------------------------


def test_aws_allow_needs_action_resource_and_condition():
    policy = _policy(
        {"Sid": "List", "Effect": "Allow", "Action": "s3:ListBucket", "Resource": BUCKET,
         "Condition": {"StringLike": {"s3:prefix": ["capture/ep/*"]}}},
        {"Sid": "Read", "Effect": "Allow", "Action": "S3:Get*",
         "Resource": f"{BUCKET}/capture/?p/*"},
    )  # fmt: skip
    assert aws.evaluate(_request("s3:ListBucket", BUCKET, **{"s3:prefix": "capture/ep/"}),
                        [policy]) == ("allow", "List")  # fmt: skip
    assert (
        aws.evaluate(_request("s3:ListBucket", BUCKET, **{"s3:prefix": "drift/"}), [policy])[0]
        == "implicit-deny"
    )
    # No s3:prefix in the request: a positive operator on a missing key does not hold.
    assert aws.evaluate(_request("s3:ListBucket", BUCKET), [policy])[0] == "implicit-deny"
    # Action wildcards ignore case; ``?`` is one character of the resource.
    assert aws.evaluate(_request("s3:getobject", f"{BUCKET}/capture/ep/x"), [policy])[0] == "allow"
    assert aws.evaluate(_request("s3:GetObject", f"{BUCKET}/capture/e/x"), [policy])[0] == (
        "implicit-deny"
    )


def test_aws_an_explicit_deny_wins_and_not_elements_invert():
    policy = _policy(
        {"Effect": "Allow", "Action": "*", "Resource": "*"},
        {"Sid": "NoDeletes", "Effect": "Deny", "Action": "s3:Delete*", "Resource": "*"},
        {"Sid": "OnlyKms", "Effect": "Deny", "NotAction": ["s3:*", "kms:*"], "Resource": "*"},
        {"Sid": "OutsideBucket", "Effect": "Deny", "Action": "s3:PutObject",
         "NotResource": f"{BUCKET}/drift/*"},
    )  # fmt: skip
    assert aws.evaluate(_request("s3:DeleteObject", f"{BUCKET}/a"), [policy]) == (
        "deny",
        "NoDeletes",
    )
    assert aws.evaluate(_request("sqs:SendMessage", "*"), [policy]) == ("deny", "OnlyKms")
    assert aws.evaluate(_request("s3:PutObject", f"{BUCKET}/x"), [policy])[0] == "deny"
    assert aws.evaluate(_request("s3:PutObject", f"{BUCKET}/drift/r.json"), [policy])[0] == "allow"


def test_aws_bucket_policy_deny_on_insecure_transport_and_other_encryption():
    bucket_policy = _policy(
        {"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
         "Resource": [BUCKET, f"{BUCKET}/*"],
         "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
        {"Sid": "DenyOtherEncryption", "Effect": "Deny", "Principal": "*", "Action": "s3:PutObject",
         "Resource": f"{BUCKET}/*",
         "Condition": {"StringNotEquals": {"s3:x-amz-server-side-encryption": "aws:kms"},
                       "Null": {"s3:x-amz-server-side-encryption": "false"}}},
    )  # fmt: skip
    identity = _policy({"Effect": "Allow", "Action": "s3:PutObject", "Resource": f"{BUCKET}/*"})
    put = _request("s3:PutObject", f"{BUCKET}/k")
    assert aws.evaluate_with_resource_policy(put, [identity], bucket_policy)[0] == "allow"
    aes = _request("s3:PutObject", f"{BUCKET}/k", **{"s3:x-amz-server-side-encryption": "AES256"})
    assert aws.evaluate_with_resource_policy(aes, [identity], bucket_policy) == (
        "deny",
        "DenyOtherEncryption",
    )
    plain = aws.Request(ROLE, "s3:PutObject", f"{BUCKET}/k", {"aws:SecureTransport": "false"})
    assert aws.evaluate_with_resource_policy(plain, [identity], bucket_policy)[0] == "deny"
    # A bucket policy naming the role allows without an identity policy (same account).
    grant = _policy({"Effect": "Allow", "Principal": {"AWS": ROLE}, "Action": "s3:GetObject",
                     "Resource": f"{BUCKET}/*"})  # fmt: skip
    get = _request("s3:GetObject", f"{BUCKET}/k")
    assert aws.evaluate_with_resource_policy(get, [], grant)[0] == "allow"
    assert aws.evaluate_with_resource_policy(get, [], None)[0] == "implicit-deny"


def test_aws_kms_needs_the_key_policy_and_then_iam():
    key = "arn:aws:kms:us-east-1:123456789012:key/k"
    identity = _policy({"Effect": "Allow", "Action": "kms:Decrypt", "Resource": key})
    decrypt = _request("kms:Decrypt", key)
    # The default key policy allows the account, so the identity policy decides.
    assert aws.evaluate_kms(decrypt, [identity], None)[0] == "allow"
    assert aws.evaluate_kms(decrypt, [], None)[0] == "implicit-deny"
    services_only = _policy({"Effect": "Allow", "Principal": {"Service": "logs.amazonaws.com"},
                             "Action": "kms:*", "Resource": "*"})  # fmt: skip
    assert aws.evaluate_kms(decrypt, [identity], services_only)[0] == "implicit-deny"
    via_s3 = {"StringEqualsIfExists": {"kms:ViaService": "s3.amazonaws.com"}}
    direct = _policy({"Sid": "Job", "Effect": "Allow", "Principal": {"AWS": ROLE},
                      "Action": "kms:Decrypt", "Resource": "*", "Condition": via_s3})  # fmt: skip
    assert aws.evaluate_kms(decrypt, [], direct) == ("allow", "Job")


def test_aws_an_operator_it_does_not_implement_is_named():
    policy = _policy({"Effect": "Allow", "Action": "*", "Resource": "*",
                      "Condition": {"NumericLessThan": {"s3:max-keys": "10"}}})  # fmt: skip
    with pytest.raises(aws.Unsupported, match="NumericLessThan"):
        aws.evaluate(_request("s3:ListBucket", BUCKET, **{"s3:max-keys": "5"}), [policy])


# Azure --------------------------------------------------------------------------------------

_BLOB = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs"
ACCOUNT = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/st1"
READER = (
    "/subscriptions/s/providers/Microsoft.Authorization/roleDefinitions/"
    "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1"
)
PATH_ONLY = (
    f"((!(ActionMatches{{'{_BLOB}/read'}})) OR "
    f"(@Resource[{_BLOB}:path] StringStartsWith 'modelDataCollector/'))"
)
LIST_BY_PREFIX = (
    f"((!(ActionMatches{{'{_BLOB}/read'}} AND NOT SubOperationMatches{{'Blob.List'}})) OR "
    f"(@Resource[{_BLOB}:path] StringStartsWith 'modelDataCollector/')) AND "
    f"((!(ActionMatches{{'{_BLOB}/read'}} AND SubOperationMatches{{'Blob.List'}})) OR "
    f"(@Request[{_BLOB}:prefix] StringStartsWith 'modelDataCollector/'))"
)


def _list(prefix: str) -> Call:
    return Call(f"{_BLOB}/read", "storageAccounts/st1/blobServices/default/containers/c", "", "",
                ((f"{_BLOB}:prefix", prefix),), LIST_BLOBS)  # fmt: skip


def _read(path: str) -> Call:
    container = "storageAccounts/st1/blobServices/default/containers/c"
    return Call(f"{_BLOB}/read", f"{container}/blobs/{path}", "", "")


def test_azure_list_blobs_carries_no_blob_path():
    scope = f"{ACCOUNT}/blobServices/default/containers/c"
    path_only = {"a": azure.Assignment("p", READER, scope, PATH_ONLY)}
    assert azure.allowed(_read("modelDataCollector/x.jsonl"), "p", path_only) == "a"
    assert azure.allowed(_read("other/x.jsonl"), "p", path_only) == ""
    assert azure.allowed(_list("modelDataCollector/"), "p", path_only) == ""
    by_prefix = {"b": azure.Assignment("p", READER, scope, LIST_BY_PREFIX)}
    assert azure.allowed(_list("modelDataCollector/"), "p", by_prefix) == "b"
    assert azure.allowed(_list(""), "p", by_prefix) == ""
    assert azure.allowed(_read("modelDataCollector/x.jsonl"), "p", by_prefix) == "b"


def test_azure_scope_principal_and_role_data_actions():
    scope = f"{ACCOUNT}/blobServices/default/containers/c"
    assignments = {"a": azure.Assignment("p", READER, scope)}
    assert azure.allowed(_read("x"), "p", assignments) == "a"
    assert azure.allowed(_read("x"), "someone-else", assignments) == ""
    write = Call(f"{_BLOB}/write", _read("x").resource, "", "")
    assert azure.allowed(write, "p", assignments) == ""  # Reader has no write
    other = {"a": azure.Assignment("p", READER, f"{ACCOUNT}/blobServices/default/containers/d")}
    assert azure.allowed(_read("x"), "p", other) == ""
    unknown = {"a": azure.Assignment("p", READER.replace("2a2b9908", "00000000"), scope)}
    assert azure.allowed(_read("x"), "p", unknown) == ""
    for role in azure.ROLES.values():
        assert role.source.startswith(azure.BUILT_IN)


def test_azure_a_condition_it_cannot_read_is_named():
    with pytest.raises(azure.ConditionError, match="cannot read"):
        azure.condition_holds("@Resource[x] ForAnyOfAnyValues:StringEquals {'a'}", _read("x"))


# GCP ----------------------------------------------------------------------------------------

MEMBER = "serviceAccount:job@p.iam.gserviceaccount.com"


def test_gcp_list_is_checked_on_the_bucket_so_an_object_condition_never_matches_it():
    condition = 'resource.name.startsWith("projects/_/buckets/m/objects/fraud/7/")'
    bindings = {"r": gcp.Binding(MEMBER, "roles/storage.objectViewer", "projects/_/buckets/m",
                                 condition)}  # fmt: skip
    manifest = calls.gcs_model_reader({"MODEL_URI": "gs://m/fraud/7/"})
    listing, download = (c.sample() for c in manifest.calls)
    assert gcp.allowed(download, MEMBER, bindings) == "r"
    assert gcp.allowed(listing, MEMBER, bindings) == ""
    bucket_level = {"l": gcp.Binding(MEMBER, "roles/storage.objectViewer", "projects/_/buckets/m",
                                     'resource.name == "projects/_/buckets/m"')}  # fmt: skip
    assert gcp.allowed(listing, MEMBER, bucket_level) == "l"
    assert gcp.allowed(download, MEMBER, bucket_level) == ""


def test_gcp_object_creator_cannot_overwrite():
    creator = {"c": gcp.Binding(MEMBER, "roles/storage.objectCreator", "projects/_/buckets/b")}
    objects_only = (
        '!(resource.name.endsWith(".tmp")) && resource.type == "storage.googleapis.com/Object"'
    )
    user = {"u": gcp.Binding(MEMBER, "roles/storage.objectUser", "projects/_/buckets/b",
                             objects_only)}  # fmt: skip
    create = Call("storage.objects.create", "projects/_/buckets/b/objects/r/latest.json", "", "")
    delete = Call("storage.objects.delete", "projects/_/buckets/b/objects/r/latest.json", "", "")
    assert (gcp.allowed(create, MEMBER, creator), gcp.allowed(delete, MEMBER, creator)) == ("c", "")
    assert (gcp.allowed(create, MEMBER, user), gcp.allowed(delete, MEMBER, user)) == ("u", "u")
    other_bucket = Call("storage.objects.create", "projects/_/buckets/z/objects/r", "", "")
    assert gcp.allowed(other_bucket, MEMBER, creator) == ""
    assert gcp.allowed(create, "serviceAccount:other@p.iam.gserviceaccount.com", creator) == ""


def test_gcp_a_condition_it_cannot_read_is_named():
    with pytest.raises(gcp.ConditionError, match="cannot read"):
        gcp.condition_holds(
            'request.time < timestamp("2027-01-01T00:00:00Z")', Call("a", "b", "", "")
        )


# Plan-time rules ----------------------------------------------------------------------------


def _errors(recording, prefix: str = "") -> list[tuple[str, str, str]]:
    return sorted(
        (e.rule, e.resource_name, e.message)
        for e in recording.deploy_errors()
        if "runtime" in e.rule and e.rule.startswith(prefix)
    )


@pytest.mark.parametrize(
    "stack",
    [pytest.param(s) for s in
     ("aws-dev", "aws-prod", "azure-dev", "azure-prod", "gcp-dev", "gcp-prod")],
)  # fmt: skip
def test_the_reference_plans_grant_every_call_their_code_makes(stack):
    recording = reference_recording(stack)
    found = rules.handlers(recording.resources)
    assert found, "no shipped code found in the plan"
    assert _errors(recording) == []


def test_the_plans_prove_the_drift_jobs_model_data_and_capture():
    found = rules.handlers(reference_recording("aws-prod").resources)
    assert sorted((h.resource.name, h.manifest.handler) for h in found) == [
        ("mlops-drift-function", "mlops_iac.drift.handlers.aws_handler"),
        ("mlops-serving-config-v6", "sagemaker:DataCaptureConfig"),
        ("mlops-serving-config-v7", "sagemaker:DataCaptureConfig"),
        ("mlops-serving-model-v6", "sagemaker:ModelDataUrl"),
        ("mlops-serving-model-v7", "sagemaker:ModelDataUrl"),
        ("mlops-training-trainer", calls.SMOKE_JOB),
    ]
    found = rules.handlers(reference_recording("gcp-prod").resources)
    assert sorted((h.resource.name, h.manifest.handler) for h in found) == [
        ("mlops-drift-function", "mlops_iac.drift.handlers.gcp_handler"),
        ("mlops-rollout-function", "mlops_iac.drift.rollout_gcp.gcp_rollout_handler"),
        ("mlops-serving-service", "model-server:CAPTURE_URI"),
        ("mlops-serving-service", "model-server:MODEL_URI"),
        ("mlops-training-trainer-workload-identity", calls.SMOKE_JOB),
    ]
    found = rules.handlers(reference_recording("azure-prod").resources)
    assert [(h.resource.name, h.identity_input) for h in found] == [
        ("mlops-training-gpu", "identity"),
        ("mlops-drift-function", "identity"),
        ("mlops-rollout-function", "identity"),
    ]


def _drop_statement(recording, policy_name: str, sid: str) -> None:
    policy = recording.named(policy_name, "aws:iam/rolePolicy:RolePolicy")
    document = json.loads(policy.inputs["policy"])
    document["Statement"] = [s for s in document["Statement"] if s.get("Sid") != sid]
    policy.inputs["policy"] = json.dumps(document)


@pytest.mark.parametrize(
    ("policy", "sid", "resource", "call"),
    [
        ("mlops-drift-role-policy", "ListCapture", "mlops-drift-function", "s3:ListBucket on"),
        ("mlops-drift-role-policy", "ReadCaptureAndBaseline", "mlops-drift-function",
         "s3:GetObject on arn:aws:s3:::mlops-artifacts-bucket-01e81af/drift/baselines/"),
        ("mlops-drift-role-policy", "WriteReports", "mlops-drift-function", "s3:PutObject on"),
        ("mlops-drift-role-policy", "PublishDriftMetrics", "mlops-drift-function",
         "cloudwatch:PutMetricData on *"),
        ("mlops-drift-role-policy", "UseBucketKey", "mlops-drift-function", "kms:Decrypt on"),
        ("mlops-serving-role-policy", "ReadModelArtifacts", "mlops-serving-model-v7",
         "s3:GetObject on arn:aws:s3:::fraud-detection-models/fraud-detector/7/model.tar.gz"),
        ("mlops-serving-role-policy", "WriteCapture", "mlops-serving-config-v7",
         "s3:PutObject on arn:aws:s3:::mlops-artifacts-bucket-01e81af/capture/*"),
        ("mlops-serving-role-policy", "UseKey", "mlops-serving-config-v7",
         "kms:GenerateDataKey on arn:aws:kms:"),
        ("mlops-training-trainer-data", "ListData", "mlops-training-trainer",
         "s3:ListBucket on arn:aws:s3:::mlops-artifacts-bucket-01e81af"),
        ("mlops-training-trainer-checkpoints", "ReadWriteCheckpoints", "mlops-training-trainer",
         "s3:PutObject on arn:aws:s3:::mlops-artifacts-bucket-01e81af/checkpoints/smoke/"),
    ],
)  # fmt: skip
def test_removing_an_aws_grant_fails_the_plan_naming_the_call(policy, sid, resource, call):
    recording = reference_recording("aws-dev")
    _drop_statement(recording, policy, sid)
    errors = _errors(recording, "aws")
    assert errors and {rule for rule, _, _ in errors} == {"aws-runtime-call-not-granted"}
    assert any(name == resource and call in message for _, name, message in errors), errors
    assert all("grant it in the plan" in message and " as arn:aws:iam::" in message
               for _, _, message in errors)  # fmt: skip


def test_the_smoke_job_needs_the_store_key_for_its_encrypted_checkpoint():
    # The trainer holds the key twice (its data policy, and the tracking access policy attached
    # for MLflow artifacts): only with neither does the checkpoint's put fail.
    recording = reference_recording("aws-dev")
    _drop_statement(recording, "mlops-training-trainer-data", "UseArtifactKey")
    assert _errors(recording, "aws") == []
    tracking = recording.named("mlops-tracking-access", "aws:iam/policy:Policy")
    document = json.loads(tracking.inputs["policy"])
    document["Statement"] = [s for s in document["Statement"] if s.get("Sid") != "StoreKey"]
    tracking.inputs["policy"] = json.dumps(document)
    errors = _errors(recording, "aws")
    assert {(rule, name) for rule, name, _ in errors} == {
        ("aws-runtime-call-not-granted", "mlops-training-trainer")
    }
    assert sorted(m.split(" (")[0].split(" calls ")[1] for _, _, m in errors) == [
        f"kms:GenerateDataKey on {recording.exports['kms_key_id']}",
        f"kms:GenerateDataKey on {recording.exports['kms_key_id']}",
    ]


@pytest.mark.parametrize(
    ("stack", "grant", "resource", "call"),
    [
        ("azure-prod", "mlops-drift-reports", "mlops-drift-function", "blobs/write on"),
        ("azure-prod", "mlops-drift-retraining-sender", "mlops-drift-function",
         "queues/messages/add/action on"),
        ("gcp-prod", "mlops-drift-read", "mlops-drift-function", "storage.objects.get on"),
        ("gcp-prod", "mlops-drift-write-reports", "mlops-drift-function",
         "storage.objects.create on"),
        ("gcp-prod", "mlops-drift-metric-writer", "mlops-drift-function",
         "monitoring.timeSeries.create on projects/fraud-detection-prod"),
        ("gcp-prod", "mlops-serving-runtime-model-reader", "mlops-serving-service",
         "storage.objects.get on projects/_/buckets/mlops-registry-models"),
        ("gcp-prod", "mlops-serving-runtime-capture", "mlops-serving-service",
         "storage.objects.create on projects/_/buckets/mlops-artifacts-bucket-01e81af/objects/"
         "capture/"),
        ("azure-prod", "mlops-artifacts-dvc-access", "mlops-training-gpu",
         "blobs/write on storageAccounts/stmlopsartifacts"),
        ("gcp-prod", "mlops-artifacts-dvc-checkpoints", "mlops-training-trainer-workload-identity",
         "storage.objects.create on projects/_/buckets/mlops-artifacts-bucket-01e81af/objects/"
         "checkpoints/smoke/"),
        ("gcp-prod", "mlops-artifacts-dvc-list", "mlops-training-trainer-workload-identity",
         "storage.objects.list on projects/_/buckets/mlops-artifacts-bucket-01e81af (list the "
         "DVC remote)"),
    ],
)  # fmt: skip
def test_removing_an_azure_or_gcp_grant_fails_the_plan_naming_the_call(
    stack, grant, resource, call
):
    recording = reference_recording(stack)
    before = _errors(recording)
    recording.resources[:] = [r for r in recording.resources if r.name != grant]
    new = [e for e in _errors(recording) if e not in before]
    assert new, f"removing {grant} changed nothing"
    rule = {"azure": "azure-runtime-call-not-granted", "gcp": "gcp-runtime-call-not-granted"}
    assert {r for r, _, _ in new} == {rule[stack.split("-")[0]]}
    assert any(name == resource and call in message for _, name, message in new), new
    if resource.startswith("mlops-training"):
        assert all(m.startswith("training smoke job calls ") for _, _, m in new), new


def test_a_setting_the_code_needs_and_the_plan_lacks_is_named():
    recording = reference_recording("aws-dev")
    function = recording.named("mlops-drift-function", "aws:lambda/function:Function")
    del function.inputs["environment"]["variables"]["DRIFT_CAPTURE_URI"]
    errors = _errors(recording, "aws-runtime-setting")
    assert [(rule, name) for rule, name, _ in errors] == [
        ("aws-runtime-setting-missing", "mlops-drift-function")
    ]
    assert "reads DRIFT_CAPTURE_URI, which this plan does not set" in errors[0][2]
    recording = reference_recording("gcp-dev")
    function = recording.named("mlops-drift-function", "gcp:cloudfunctionsv2/function:Function")
    del function.inputs["serviceConfig"]["environmentVariables"]["DRIFT_PROJECT"]
    errors = _errors(recording, "gcp-runtime-setting")
    assert [(rule, name) for rule, name, _ in errors] == [
        ("gcp-runtime-setting-missing", "mlops-drift-function")
    ]


def test_azure_settings_rule_is_quiet_when_the_plan_sets_what_the_code_reads():
    errors = _errors(reference_recording("azure-prod"), "azure-runtime-setting")
    assert errors == []
    recording = reference_recording("azure-prod")
    site = recording.named("mlops-drift-function", "azure-native:web:WebApp").inputs["siteConfig"]
    site["appSettings"] = [s for s in site["appSettings"] if s["name"] != "DRIFT_CAPTURE_URI"]
    errors = _errors(recording, "azure-runtime-setting")
    assert [(rule, name) for rule, name, _ in errors] == [
        ("azure-runtime-setting-missing", "mlops-drift-function")
    ]
    assert "reads DRIFT_CAPTURE_URI, which this plan does not set" in errors[0][2]


def test_a_team_manifest_is_checked_for_its_own_function(monkeypatch):
    recording = reference_recording("aws-dev")
    function = recording.named("mlops-drift-function", "aws:lambda/function:Function")
    function.inputs["code"]["assets"]["drift_lambda.py"]["text"] = (
        "from team.scoring import handler as handler  # noqa: F401\n"
    )
    assert _errors(recording, "aws") == []  # an entry point nobody declared: nothing to prove

    def scoring(env):
        table = f"arn:aws:dynamodb:us-east-1:123456789012:table/{env.get('SCORES_TABLE', '')}"
        return calls.Manifest(
            "team.scoring.handler",
            (Call("dynamodb:PutItem", table, "store a score", "https://example.com/doc"),),
            ("SCORES_TABLE",),
            () if env.get("SCORES_TABLE") else ("SCORES_TABLE",),
        )

    monkeypatch.setitem(calls.MANIFESTS, "team.scoring.handler", scoring)
    errors = _errors(recording, "aws")
    assert [(rule, name) for rule, name, _ in errors] == [
        ("aws-runtime-call-not-granted", "mlops-drift-function"),
        ("aws-runtime-setting-missing", "mlops-drift-function"),
    ]
    assert "team.scoring.handler calls dynamodb:PutItem on" in errors[0][2]


@pytest.mark.parametrize("stack", ["aws-dev", "gcp-dev", "azure-dev"])
def test_the_smoke_job_is_checked_only_where_the_plan_holds_the_training_cluster(stack):
    # A deferred training cluster (``training.kubernetes: deferred``) is not in the plan: the
    # job's identity and grants are not either, so the rule has nothing to check and is quiet.
    recording = reference_recording(stack)
    cluster = {"aws-dev": "mlops-training-trainer",
               "gcp-dev": "mlops-training-trainer-workload-identity",
               "azure-dev": "mlops-training-gpu"}[stack]  # fmt: skip
    assert [h.manifest.handler for h in rules.handlers(recording.resources)
            if h.resource.name == cluster] == [calls.SMOKE_JOB]  # fmt: skip
    recording.resources[:] = [r for r in recording.resources if r.name != cluster]
    assert calls.SMOKE_JOB not in {h.manifest.handler for h in rules.handlers(recording.resources)}
    assert _errors(recording) == []
