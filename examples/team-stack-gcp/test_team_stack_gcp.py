"""The GCP team program under the offline engine: what it creates, its labels, and its plan."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mlops_iac.cli.main import main
from mlops_iac.plan.testing import Recording

HERE = Path(__file__).resolve().parent
STACK_TYPE = "pulumi:pulumi:Stack"
TOPIC = "gcp:pubsub/topic:Topic"
SERVICE = "gcp:cloudrunv2/service:Service"
# GCP label rules: lowercase letters, digits, '_' and '-'; keys start with a letter; ≤ 63 chars.
LABEL_KEY = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
LABEL_VALUE = re.compile(r"^[a-z0-9_-]{0,63}$")
LINEAGE = {
    "mlops-project": "recsys",
    "mlops-environment": "dev",
    "mlops-owner": "recsys-team_example_com",
    "mlops-cost-center": "cc-4410",  # CC-4410 in the stack file: GCP labels are lowercase
    "mlops-git-sha": "7e3f9a0",
    "mlops-dataset-version": "md5_eccbc87e4b5ce2fe28308fd9f2a7baf3",
}


@pytest.fixture
def dev(offline) -> Recording:
    return offline.run_project(HERE, "dev")


def test_components_are_used_directly_plus_one_team_resource(dev):
    top = sorted(
        (r.type, r.name) for r in dev if r.parent and r.parent.split("::")[2] == STACK_TYPE
    )
    assert top == [
        (TOPIC, "scoring-requests"),
        ("mlops:gcp:ArtifactStore", "recsys-artifacts"),
        ("mlops:gcp:ServingEndpoint", "recsys-serving"),
    ]
    # The store's DVC grants (objects under the prefix + listing + the trainer's checkpoints) and
    # the model server's read and its listing of the bucket (object names only, no reads).
    assert len(dev) == 19
    [listing] = [r for r in dev if r.name == "recsys-serving-runtime-model-list"]
    assert (listing.inputs["bucket"], listing.inputs["role"]) == (
        "recsys-dev-models",
        "roles/storage.objectViewer",
    )
    assert listing.inputs["condition"]["expression"] == (
        'resource.name == "projects/_/buckets/recsys-dev-models"'
    )
    [reader] = [r for r in dev if r.name == "recsys-serving-runtime-model-reader"]
    assert (reader.inputs["bucket"], reader.inputs["role"]) == (
        "recsys-dev-models",
        "roles/storage.objectViewer",
    )
    assert reader.inputs["condition"]["expression"] == (
        'resource.name.startsWith("projects/_/buckets/recsys-dev-models/objects/item-ranker/12/")'
    )
    assert dev.warnings == []


def test_team_topic_gets_gcp_valid_lineage_labels(dev):
    topic = dev.named("scoring-requests", TOPIC)
    assert topic.inputs["labels"] == LINEAGE
    assert dev.exports["scoring_topic"] == topic.outputs["name"]


def test_every_label_follows_gcp_rules(dev):
    labelled = [r for r in dev if r.custom and "labels" in r.inputs]
    assert {r.type for r in labelled} >= {TOPIC, SERVICE, "gcp:storage/bucket:Bucket"}
    for resource in labelled:
        for key, value in resource.inputs["labels"].items():
            assert LABEL_KEY.match(key), f"{resource.name}: label key {key!r}"
            assert LABEL_VALUE.match(value), f"{resource.name}: label {key}={value!r}"


def test_service_splits_traffic_and_names_its_model_version(dev):
    [service] = dev.of_type(SERVICE)
    labels = service.inputs["labels"]
    assert labels["mlops-model"] == "item-ranker"
    assert labels["mlops-model-version"] == "12"
    assert {**labels, **LINEAGE} == labels  # lineage and serving labels together
    split = {t["tag"]: (t["revision"], t["percent"]) for t in service.inputs["traffics"]}
    assert split == {
        "current": ("recsys-serving-svc-b19e64-v12", 20),
        "previous": ("recsys-serving-svc-b19e64-v11", 80),
    }
    assert service.inputs["ingress"] == "INGRESS_TRAFFIC_INTERNAL_ONLY"
    [bucket] = dev.of_type("gcp:storage/bucket:Bucket")
    envs = {e["name"]: e["value"] for e in service.inputs["template"]["containers"][0]["envs"]}
    assert envs["CAPTURE_URI"].startswith(f"gs://{bucket.outputs['name']}/capture/")


def test_plan_passes(capsys):
    code = main(["plan", "--stack", "dev", "--project", str(HERE), "--quiet", "--no-color"])
    out = capsys.readouterr().out
    assert code == 0, out
    # The team topic has no CMEK: advisory in dev (mlops-kms-encrypted-at-rest covers Pub/Sub).
    # The team deploys no drift job (and no alert channel), so the CT loop is open: advisory in
    # dev, mandatory once the stack is prod. No rollout guard watches the service either
    # (mlops-serving-auto-rollback): advisory in dev, mandatory in staging and prod.
    assert "PASS: no mandatory violation, 3 advisory, 19 resources" in out
    assert "mlops-kms-encrypted-at-rest: scoring-requests" in out
    assert "mlops-drift-loop-closed: recsys-serving-service" in out
