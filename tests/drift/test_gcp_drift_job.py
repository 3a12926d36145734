"""``DriftJob`` on GCP as gcp-prod builds it: source, schedule, identity, alert, retraining."""

from __future__ import annotations

import pytest

from tests.conftest import platform_raw, reference_recording


@pytest.fixture(scope="module")
def prod():
    return reference_recording("gcp-prod")


def test_children(prod):
    job = prod.named("mlops-drift", "mlops:gcp:DriftJob")
    assert sorted((r.type, r.name) for r in prod.children(job)) == [
        ("gcp:cloudfunctionsv2/function:Function", "mlops-drift-function"),
        ("gcp:cloudrunv2/serviceIamMember:ServiceIamMember", "mlops-drift-invoker-run"),
        ("gcp:cloudscheduler/job:Job", "mlops-drift-schedule"),
        ("gcp:monitoring/alertPolicy:AlertPolicy", "mlops-drift-alert"),
        ("gcp:monitoring/alertPolicy:AlertPolicy", "mlops-drift-failed-runs"),
        ("gcp:monitoring/metricDescriptor:MetricDescriptor", "mlops-drift-metric-drifted-features"),
        ("gcp:monitoring/metricDescriptor:MetricDescriptor", "mlops-drift-metric-max-psi"),
        ("gcp:monitoring/metricDescriptor:MetricDescriptor", "mlops-drift-metric-rows-checked"),
        (
            "gcp:monitoring/notificationChannel:NotificationChannel",
            "mlops-drift-retraining-channel",
        ),
        ("gcp:projects/iAMMember:IAMMember", "mlops-drift-builder-gcf-sources"),
        ("gcp:projects/iAMMember:IAMMember", "mlops-drift-builder-images"),
        ("gcp:projects/iAMMember:IAMMember", "mlops-drift-builder-logs"),
        ("gcp:projects/iAMMember:IAMMember", "mlops-drift-metric-writer"),
        ("gcp:serviceaccount/account:Account", "mlops-drift-builder"),
        ("gcp:serviceaccount/account:Account", "mlops-drift-invoker"),
        ("gcp:serviceaccount/account:Account", "mlops-drift-sa"),
        ("gcp:storage/bucketIAMMember:BucketIAMMember", "mlops-drift-builder-source"),
        ("gcp:storage/bucketIAMMember:BucketIAMMember", "mlops-drift-list"),
        ("gcp:storage/bucketIAMMember:BucketIAMMember", "mlops-drift-read"),
        ("gcp:storage/bucketIAMMember:BucketIAMMember", "mlops-drift-write-reports"),
        ("gcp:storage/bucketObject:BucketObject", "mlops-drift-source"),
    ]


def test_function_source_and_settings(prod):
    source = prod.named("mlops-drift-source").inputs["source"]["assets"]
    assert "main.py" in source and "mlops_iac/drift/handlers.py" in source
    function = prod.named("mlops-drift-function").inputs
    assert function["buildConfig"]["runtime"] == "python312"
    assert function["buildConfig"]["entryPoint"] == "handler"
    service = function["serviceConfig"]
    assert service["ingressSettings"] == "ALLOW_INTERNAL_ONLY"
    assert service["serviceAccountEmail"] == prod.named("mlops-drift-sa").outputs["email"]
    env = service["environmentVariables"]
    capture = next(
        e["value"]
        for e in prod.named("mlops-serving-service").inputs["template"]["containers"][0]["envs"]
        if e["name"] == "CAPTURE_URI"
    )
    assert env["DRIFT_CAPTURE_URI"] == capture  # the job reads what the container writes
    version = platform_raw("gcp-prod")["lineage"]["datasetVersion"].replace(":", "_")
    assert env["DRIFT_BASELINE_URI"].endswith(f"/drift/baselines/{version}/baseline.json")
    assert env["DRIFT_ENDPOINT"] == prod.named("mlops-serving-service").inputs["name"]


def test_identity_is_scoped(prod):
    from tests.components.gcp._iam import BucketIam

    function = prod.named("mlops-drift-function").inputs["serviceConfig"]
    env = function["environmentVariables"]
    bucket = env["DRIFT_CAPTURE_URI"].removeprefix("gs://").split("/")[0]
    iam = BucketIam(prod, f"serviceAccount:{function['serviceAccountEmail']}")
    report = env["DRIFT_REPORT_URI"].removeprefix(f"gs://{bucket}/")
    # Each run replaces latest.json: creating is not enough (Object User, not Object Creator).
    assert iam.can_write(bucket, f"{report}/latest.json", exists=True)
    assert not iam.can_write(bucket, "drift/baselines/md5_ab/baseline.json", exists=True)
    assert iam.can_list(bucket)
    assert iam.can_read(bucket, "capture/mlops-serving/2026/11/28/05/part-0.jsonl")
    assert iam.can_read(bucket, "drift/baselines/md5_ab/baseline.json")
    # Not the DVC remote's data.
    assert not iam.can_read(bucket, "dvc/files/md5/ab/cdef")
    invoker = prod.named("mlops-drift-invoker-run").inputs
    assert invoker["role"] == "roles/run.invoker"
    assert invoker["name"] == prod.named("mlops-drift-function").inputs["name"]


def test_schedule_calls_the_function_with_an_oidc_token(prod):
    job = prod.named("mlops-drift-schedule").inputs
    assert job["schedule"] == "0 0 * * *"
    target = job["httpTarget"]
    # The run.app URL: Cloud Run treats Cloud Scheduler as internal (the function is
    # internal-only) on that URL only. https://cloud.google.com/run/docs/securing/ingress#settings
    run_url = prod.named("mlops-drift-function").outputs["serviceConfig"]["uri"]
    assert run_url.endswith(".run.app")
    assert target["uri"] == run_url
    assert target["oidcToken"] == {
        "serviceAccountEmail": prod.named("mlops-drift-invoker").outputs["email"],
        "audience": run_url,
    }


def test_the_function_builds_as_its_own_build_account(prod):
    # New projects' default Cloud Build account lacks what a function build needs.
    # https://cloud.google.com/functions/docs/securing/build-custom-sa
    from tests.components.gcp._iam import BucketIam

    function = prod.named("mlops-drift-function")
    builder = prod.named("mlops-drift-builder")
    build = function.inputs["buildConfig"]
    assert build["serviceAccount"] == builder.outputs["name"]
    roles = {
        g.inputs["role"]: bool(g.inputs.get("condition"))
        for g in prod.of_type("gcp:projects/iAMMember:IAMMember")
        if g.inputs["member"] == builder.outputs["member"]
    }
    # Project-wide object reads only under a condition (Cloud Functions' source copy).
    assert roles == {
        "roles/logging.logWriter": False,
        "roles/artifactregistry.writer": False,
        "roles/storage.objectViewer": True,
    }
    source = build["source"]["storageSource"]
    iam = BucketIam(prod, builder.outputs["member"])
    assert iam.can_read(source["bucket"], source["object"])
    assert not iam.can_read(source["bucket"], "capture/mlops-serving/part-0.jsonl")
    for grant in ("logs", "images", "source", "gcf-sources"):
        assert prod.named(f"mlops-drift-builder-{grant}").urn in function.dependencies


def test_the_build_can_read_cloud_functions_copy_of_the_source(prod):
    # Cloud Functions copies the zip into gcf-v2-sources-<project number>-<region> and the build
    # fetches it from there (hashicorp/terraform-provider-google#20571).
    from mlops_iac.drift.calls import Call
    from mlops_iac.plan.deploy.permissions import gcp
    from mlops_iac.plan.deploy.permissions.rules import _gcp_bindings
    from mlops_iac.plan.mocks import GCP_PROJECT_NUMBER

    function = prod.named("mlops-drift-function")
    builder = prod.named("mlops-drift-builder").outputs["member"]
    bindings = _gcp_bindings(prod.resources)
    copy = f"gcf-v2-sources-{GCP_PROJECT_NUMBER}-{function.inputs['location']}"

    def allowed(action: str, resource: str) -> str:
        return gcp.allowed(Call(action, resource, "", ""), builder, bindings)

    fetch = f"projects/_/buckets/{copy}/objects/{function.inputs['name']}/function-source.zip"
    assert allowed("storage.objects.get", fetch) == "mlops-drift-builder-gcf-sources"
    assert allowed("storage.objects.list", f"projects/_/buckets/{copy}") != ""
    grant = prod.named("mlops-drift-builder-gcf-sources").inputs
    project = prod.named("mlops-drift-metric-writer").inputs["project"]
    assert (grant["role"], grant["project"]) == ("roles/storage.objectViewer", project)
    # Only that bucket: not the stack's data, nor another region's (or project's) copy.
    bucket = function.inputs["buildConfig"]["source"]["storageSource"]["bucket"]
    assert allowed("storage.objects.get", f"projects/_/buckets/{bucket}/objects/dvc/x") == ""
    other = copy.replace(function.inputs["location"], "europe-west1")
    assert allowed("storage.objects.get", f"projects/_/buckets/{other}/objects/f.zip") == ""
    assert allowed("storage.objects.get", f"projects/_/buckets/{copy}-x/objects/f.zip") == ""


def test_the_source_object_is_named_by_the_content_of_the_package(prod):
    # An object rewritten under the same name never rebuilds the function
    # (hashicorp/terraform-provider-google#1938): the name carries the content hash.
    from mlops_iac.components.gcp.drift_job import source_digest

    source = prod.named("mlops-drift-source").inputs
    assert source["name"] == f"drift/source/mlops-drift-{source_digest()}.zip"
    storage_source = prod.named("mlops-drift-function").inputs["buildConfig"]["source"]
    assert storage_source["storageSource"] == {"bucket": source["bucket"], "object": source["name"]}


def _source_of(monkeypatch, folder):
    from mlops_iac.components.gcp import drift_job
    from tests.components.gcp._helpers import run_component

    monkeypatch.setattr(drift_job, "_package_folder", lambda: folder)
    drift_job.drift_source.cache_clear()

    def program():
        drift_job.DriftJob(
            "job",
            drift_job.DriftJobArgs(
                endpoint_name="svc",
                artifact_bucket_name="artifacts",
                dataset_version="md5:ab",
                capture_prefix="capture/svc/",
                alert_channels=[],
            ),
        )

    try:
        recording = run_component(program)
    finally:
        drift_job.drift_source.cache_clear()
    source = recording.named("job-source").inputs
    function = recording.named("job-function").inputs["buildConfig"]["source"]["storageSource"]
    assert function["object"] == source["name"]
    assert source["name"].startswith("drift/source/job-")
    return source["name"], set(source["source"]["assets"])


def test_a_changed_package_is_a_new_object_and_a_new_function_input(monkeypatch, tmp_path):
    import shutil

    from mlops_iac.components.gcp.drift_job import _package_folder

    before, after = tmp_path / "before", tmp_path / "after"
    for folder in (before, after):
        shutil.copytree(_package_folder(), folder, ignore=shutil.ignore_patterns("__pycache__"))
    (after / "gcp.py").write_text((after / "gcp.py").read_text() + "\n# a fix\n")
    first, members = _source_of(monkeypatch, before)
    again, _ = _source_of(monkeypatch, before)
    changed, changed_members = _source_of(monkeypatch, after)
    assert first == again  # same content, same object: no rebuild
    assert changed != first and members == changed_members


def test_the_alert_waits_for_the_descriptors_of_the_metrics_the_job_writes(prod):
    # Cloud Monitoring refuses a policy on a custom metric it does not know yet; without a
    # descriptor it only knows it once the job has written a point.
    from mlops_iac.drift import wire

    alert = prod.named("mlops-drift-alert")
    descriptors = prod.of_type("gcp:monitoring/metricDescriptor:MetricDescriptor")
    assert {d.inputs["type"]: d.inputs["valueType"] for d in descriptors} == {
        f"{wire.GCP_METRIC_PREFIX}/{name}": kind for name, kind in wire.GCP_METRIC_KINDS.items()
    }
    for descriptor in descriptors:
        assert descriptor.inputs["metricKind"] == "GAUGE"
        assert descriptor.inputs["labels"] == [
            {
                "key": "endpoint",
                "valueType": "STRING",
                "description": "Serving endpoint whose capture was checked",
            }
        ]
        assert descriptor.inputs["deletionPolicy"] == "ABANDON"
        assert descriptor.urn in alert.dependencies
    assert (
        f'metric.type="{wire.GCP_METRIC}"'
        in (alert.inputs["conditions"][0]["conditionThreshold"]["filter"])
    )


def test_alert_notifies_the_channels_and_the_retraining_topic(prod):
    alert = prod.named("mlops-drift-alert").inputs
    channels = alert["notificationChannels"]
    retrain = prod.named("mlops-drift-retraining-channel")
    assert retrain.inputs["type"] == "pubsub"
    assert retrain.inputs["labels"]["topic"] == prod.exports["retraining_trigger"]
    assert retrain.outputs["name"] in channels
    assert prod.exports["alert_topic"] in channels  # the primary alert channel
    assert len(channels) >= 2
    condition = alert["conditions"][0]["conditionThreshold"]
    assert "custom.googleapis.com/mlops/drift/drifted_features" in condition["filter"]
    assert condition["comparison"] == "COMPARISON_GT"
