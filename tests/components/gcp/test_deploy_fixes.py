"""Issue 15: what GCP refuses at deploy, or deploys but cannot use."""

from __future__ import annotations

import pulumi
import pytest

from mlops_iac.components.gcp import (
    ArtifactStore,
    ArtifactStoreArgs,
    ModelRegistry,
    ModelRegistryArgs,
    ModelVersion,
    Monitoring,
    MonitoringArgs,
    ServingEndpoint,
    ServingEndpointArgs,
)
from mlops_iac.components.gcp.artifact_store import multi_region_of
from mlops_iac.plan.testing import ProgramError

from ._helpers import GCP_PROJECT_NUMBER, PROJECT, run_component

# 10. GCS refuses versioning together with a retention policy ------------------------------------


def test_model_bucket_has_a_retention_policy_and_no_versioning():
    recording = run_component(lambda: ModelRegistry("reg", ModelRegistryArgs()))
    bucket = recording.named("reg-models").inputs
    assert bucket["retentionPolicy"]["retentionPeriod"] == 30 * 86400
    assert not (bucket.get("versioning") or {}).get("enabled")


# 11. Cloud Run: the previous revision must exist before traffic names it ------------------------


PREVIOUS = "mlops-testing:previousOutputs"


def _serving(outputs=None, **kwargs):
    """The component, with ``outputs`` as the stack's last deployment (None: never deployed)."""
    args = {
        "active_model": ModelVersion(name="fraud", version="7", image="img:7"),
        "previous_model": ModelVersion(name="fraud", version="6"),
        **kwargs,
    }

    def program():
        endpoint = ServingEndpoint("srv", ServingEndpointArgs(**args))
        pulumi.export("serving_revisions", endpoint.serving_revisions)

    return run_component(program, **{PREVIOUS: outputs or {}})


def _split(recording):
    traffics = recording.named("srv-service").inputs["traffics"]
    return [(t["revision"].rsplit("-", 1)[-1], t["percent"]) for t in traffics]


def _svc(recording):
    return recording.named("srv-service").inputs["name"]


def test_first_deploy_sends_all_traffic_to_the_new_revision_and_says_why():
    recording = _serving()
    assert _split(recording) == [("v7", 100)]
    component = recording.named("srv", "mlops:gcp:ServingEndpoint")
    assert component.registered_outputs["deployed_revisions"] == []
    assert component.registered_outputs["deployed_revisions_known"] is True
    assert component.registered_outputs.get("previous_revision") is None
    [warning] = recording.warnings
    assert "no rollback target yet" in warning
    assert "first deployment" in warning
    # What the next deployment reads back.
    assert recording.exports["serving_revisions"] == [f"{_svc(recording)}-v7"]


def test_split_appears_once_the_last_deployment_served_the_previous_revision():
    service = _svc(_serving())
    recording = _serving({"serving_revisions": [f"{service}-v6"]})
    assert _split(recording) == [("v7", 10), ("v6", 90)]
    assert recording.warnings == []
    assert recording.exports["serving_revisions"] == [f"{service}-v7", f"{service}-v6"]


def test_a_stack_deployed_before_serving_revisions_existed_reads_its_active_version():
    service = _svc(_serving())
    legacy = {"endpoint_name": service, "active_model_version": "6", "kms_key_id": "k"}
    assert _split(_serving(legacy)) == [("v7", 10), ("v6", 90)]


def test_other_services_revisions_and_unknown_outputs_are_not_the_previous_revision():
    # Another service's v6 is not this one's; a deployed stack without serving_revisions does
    # not tell (deployed_revisions None, which the rollback policy refuses).
    recording = _serving({"serving_revisions": ["other-svc-abc123-v6"]})
    assert _split(recording) == [("v7", 100)]
    recording = _serving({"endpoint_url": "https://x"})
    assert _split(recording) == [("v7", 100)]
    component = recording.named("srv", "mlops:gcp:ServingEndpoint")
    assert component.registered_outputs["deployed_revisions"] == []
    assert component.registered_outputs["deployed_revisions_known"] is False
    assert "exported no 'serving_revisions'" in recording.warnings[0]


def test_the_warning_names_what_was_served_instead_of_the_previous_version():
    service = _svc(_serving())
    # Only v7 itself was served (a redeploy of the first version): still a first deployment.
    recording = _serving({"serving_revisions": [f"{service}-v7"]})
    assert _split(recording) == [("v7", 100)]
    assert "first deployment" in recording.warnings[0]
    # v5 was served, not v6: the spec names the wrong previous version.
    recording = _serving({"serving_revisions": [f"{service}-v5"]})
    assert _split(recording) == [("v7", 100)]
    assert f"served {service}-v5, not {service}-v6" in recording.warnings[0]


def test_rollback_needs_the_previous_revision_to_have_been_served():
    with pytest.raises(ProgramError, match="rollback needs the previous revision"):
        _serving(rollback=True)
    service = _svc(_serving())
    recording = _serving({"serving_revisions": [f"{service}-v6"]}, rollback=True)
    assert _split(recording) == [("v7", 0), ("v6", 100)]


def test_serving_revisions_are_what_the_service_reports_not_the_planned_split():
    from mlops_iac.components.gcp.serving_endpoint import revisions_of

    service = _svc(_serving())
    recording = _serving({"serving_revisions": [f"{service}-v6"]})
    outputs = recording.named("srv-service").outputs
    reported = [s["revision"] for s in outputs["trafficStatuses"]]
    assert recording.exports["serving_revisions"] == reported == [f"{service}-v7", f"{service}-v6"]
    # An update recorded although v7 never became ready: Cloud Run still serves v6 alone, so the
    # next deployment must not be told that v7 exists.
    latest = f"projects/p/locations/us-central1/services/{service}/revisions/{service}-v6"
    statuses = [{"revision": f"{service}-v6", "percent": 100}]
    assert revisions_of(statuses, latest) == [f"{service}-v6"]
    assert revisions_of(None, None) == []


# 14. The runtime account may read the model (bucket + prefix only) ------------------------------


def test_runtime_account_reads_the_model_prefix_only():
    recording = _serving(model_bucket="models-bkt", model_prefix="fraud/7/")
    grant = recording.named("srv-runtime-model-reader").inputs
    assert grant["bucket"] == "models-bkt"
    assert grant["role"] == "roles/storage.objectViewer"
    assert grant["member"] == recording.named("srv-runtime").outputs["member"]
    expression = grant["condition"]["expression"]
    assert 'startsWith("projects/_/buckets/models-bkt/objects/fraud/7/")' in expression


def test_prod_runtime_lists_its_model_and_keeps_the_previous_version_during_the_canary():
    # gcp-prod serves v7 as a 10% canary beside v6, both revisions running as one account: a
    # model server lists its version's folder (a bucket permission) and v6 instances that start
    # during the canary, or after a rollback, read fraud-detector/6/.
    from tests.components.gcp._iam import BucketIam
    from tests.conftest import reference_recording

    prod = reference_recording("gcp-prod")
    service = prod.named("mlops-serving-service").inputs
    env = {e["name"]: e["value"] for e in service["template"]["containers"][0]["envs"]}
    bucket, _, prefix = env["MODEL_URI"].removeprefix("gs://").partition("/")
    assert prefix == "fraud-detector/7/"
    iam = BucketIam(prod, prod.named("mlops-serving-runtime").outputs["member"])
    assert iam.can_list(bucket)
    assert iam.can_read(bucket, "fraud-detector/7/model.joblib")
    assert iam.can_read(bucket, "fraud-detector/6/model.joblib")
    assert not iam.can_read(bucket, "fraud-detector/5/model.joblib")
    assert not iam.can_read(bucket, "other-model/7/model.joblib")


def test_prod_runtime_writes_capture_under_its_own_folder_only():
    from tests.components.gcp._iam import BucketIam
    from tests.conftest import reference_recording

    prod = reference_recording("gcp-prod")
    env = {
        e["name"]: e["value"]
        for e in prod.named("mlops-serving-service").inputs["template"]["containers"][0]["envs"]
    }
    bucket, _, capture = env["CAPTURE_URI"].removeprefix("gs://").partition("/")
    iam = BucketIam(prod, prod.named("mlops-serving-runtime").outputs["member"])
    assert iam.can_write(bucket, f"{capture}2026/11/28/05/part-0.jsonl", exists=False)
    # Not the DVC remote, nor the drift baselines the job judges with.
    assert not iam.can_write(bucket, "dvc/files/md5/ab/cdef", exists=False)
    assert not iam.can_write(bucket, "drift/baselines/md5_ab/baseline.json", exists=False)


def test_the_service_waits_for_its_runtime_grants():
    # A revision reads its model when it starts and Cloud Run's create/update waits for it to
    # become ready: created beside its model grant, it is refused and the update fails. The
    # same holds for the next version's grant on a version change.
    from tests.conftest import reference_recording

    for recording, prefix in (
        (reference_recording("gcp-prod"), "mlops-serving"),
        (_serving(model_bucket="models-bkt", model_prefix="fraud/7/",
                  capture_bucket="artifacts-123"), "srv"),
    ):  # fmt: skip
        service = recording.named(f"{prefix}-service")
        runtime = recording.named(f"{prefix}-runtime").outputs["member"]
        grants = [
            g for g in recording.of_type("gcp:storage/bucketIAMMember:BucketIAMMember")
            if g.inputs["member"] == runtime
        ]  # fmt: skip
        assert sorted(g.name for g in grants) == [
            f"{prefix}-runtime-capture",
            f"{prefix}-runtime-model-list",
            f"{prefix}-runtime-model-reader",
        ]
        assert all(g.urn in service.dependencies for g in grants)


# 15. The "image pushed" alert needs Data Access audit logs of Artifact Registry ------------------


def test_image_pushed_alert_has_artifact_registry_data_write_audit_logs():
    recording = run_component(
        lambda: ModelRegistry("reg", ModelRegistryArgs(approvers=("a@example.com",)))
    )
    audit = recording.named("reg-registry-audit-logs").inputs
    assert audit["service"] == "artifactregistry.googleapis.com"
    assert {"logType": "DATA_WRITE"} in audit["auditLogConfigs"]
    alert = recording.named("reg-image-pushed")
    assert recording.named("reg-registry-audit-logs").urn in alert.dependencies


# 13. Budgets API with user credentials needs billing_project + user_project_override -------------


def test_budget_uses_a_provider_with_billing_project_and_user_project_override():
    recording = run_component(
        lambda: Monitoring(
            "mon",
            MonitoringArgs(
                endpoint_name="svc",
                billing_account="0A1B2C-3D4E5F-6A7B8C",
                monthly_budget_usd=5 * 730,
            ),
        )
    )
    budget = recording.named("mon-budget")
    provider = recording.named("mon-billing-provider")
    assert budget.provider.startswith(provider.urn)
    assert provider.inputs["billingProject"] == PROJECT
    assert provider.inputs["userProjectOverride"] in (True, "true")


# 17. Regions without a containing multi-region; the monitoring agent exists before its grant -----


def test_northamerica_regions_are_not_in_the_us_multi_region():
    with pytest.raises(ValueError, match="northamerica-northeast1"):
        multi_region_of("northamerica-northeast1")
    assert multi_region_of("us-east1") == "US"


def test_prod_bucket_in_a_region_without_multi_region_stays_regional():
    recording = run_component(
        lambda: ArtifactStore(
            "art", ArtifactStoreArgs(environment="prod", region="northamerica-northeast1")
        )
    )
    assert recording.named("art-bucket").inputs["location"] == "NORTHAMERICA-NORTHEAST1"


def test_explicit_multi_region_for_such_a_region_is_refused():
    with pytest.raises(ProgramError, match="northamerica-northeast1"):
        run_component(
            lambda: ArtifactStore(
                "art", ArtifactStoreArgs(region="northamerica-northeast1", multi_region=True)
            )
        )


def test_monitoring_agent_is_created_before_it_is_granted_publish():
    recording = run_component(lambda: Monitoring("mon", MonitoringArgs(endpoint_name="svc")))
    identity = recording.named("mon-monitoring-agent")
    assert identity.type == "gcp:projects/serviceIdentity:ServiceIdentity"
    assert identity.inputs["service"] == "monitoring.googleapis.com"
    publisher = recording.named("mon-retraining-publisher").inputs
    assert publisher["member"] == identity.outputs["member"]
    assert str(GCP_PROJECT_NUMBER) in publisher["member"]


# Spec: bring-your-own artifacts are explicit; rollback needs the previous revision --------------


def _spec_problems(raw):
    from mlops_iac.spec.errors import SpecError
    from mlops_iac.spec.parse import parse_spec

    try:
        parse_spec(raw)
    except SpecError as exc:
        return exc.lines
    return []


def test_external_image_and_model_uri_need_external_artifacts():
    from tests.conftest import platform_raw

    raw = platform_raw("gcp-dev")
    raw["serving"]["model"]["artifactUri"] = "gs://someone-elses/fraud/7/"
    raw["serving"]["model"]["image"] = "us-docker.pkg.dev/x/y/z:7"
    problems = _spec_problems(raw)
    assert any(p.startswith("mlops:platform.serving.model.artifactUri:") for p in problems)
    assert any(p.startswith("mlops:platform.serving.model.image:") for p in problems)
    raw["gcp"] = {"externalArtifacts": True}
    assert _spec_problems(raw) == []


def test_the_previous_revision_flag_is_retired_with_a_clear_message():
    from tests.conftest import platform_raw

    raw = platform_raw("gcp-dev")
    raw["gcp"] = {"previousRevisionExists": True}
    assert _spec_problems(raw) == [
        "mlops:platform.gcp.previousRevisionExists: removed: the Cloud Run split now follows "
        "what the stack's own last deployment served (its serving_revisions output); delete "
        "the key"
    ]
    # Rollback is no longer judged by the spec: the stack's last deployment decides.
    del raw["gcp"]
    raw["serving"]["rollback"] = True
    assert _spec_problems(raw) == []


def test_new_dev_stack_sends_all_traffic_to_the_current_revision():
    from tests.conftest import reference_recording

    recording = reference_recording("gcp-dev")
    traffics = recording.named("mlops-serving-service").inputs["traffics"]
    assert [t["percent"] for t in traffics] == [100]


def test_stack_splits_traffic_once_its_last_deployment_served_the_previous_revision():
    from mlops_iac.plan.testing import run_project
    from tests.conftest import REPO, reference_recording

    service = reference_recording("gcp-dev").named("mlops-serving-service").inputs["name"]
    served = {PREVIOUS: {"serving_revisions": [f"{service}-v6"]}}
    recording = run_project(REPO, "gcp-dev", extra_config=served)
    traffics = recording.named("mlops-serving-service").inputs["traffics"]
    assert [(t["revision"], t["percent"]) for t in traffics] == [
        (f"{service}-v7", 10),
        (f"{service}-v6", 90),
    ]
    assert recording.exports["serving_revisions"] == [f"{service}-v7", f"{service}-v6"]
