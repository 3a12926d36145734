"""Issue 15's GCP deploy-failing defects (and more name rules) as minimal programs."""

from __future__ import annotations

import pulumi_gcp as gcp

from tests.fidelity._programs import as_state, recorded, rules_of

CONFIG = {"gcp:project": "team-prod", "gcp:region": "us-central1"}


def test_versioning_and_retention_on_one_bucket_is_refused():
    def program(versioned):
        gcp.storage.Bucket(
            "models",
            location="US-CENTRAL1",
            versioning={"enabled": versioned},
            retention_policy={"retention_period": 2592000},
        )

    assert "gcp-gcs-versioning-with-retention" in rules_of(lambda: program(True), CONFIG)
    assert "gcp-gcs-versioning-with-retention" not in rules_of(lambda: program(False), CONFIG)


def _service(split):
    traffic = [
        {"type": "TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION", "revision": "svc-v7", "percent": 100}
    ]
    if split:
        traffic = [
            {
                "type": "TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION",
                "revision": "svc-v7",
                "percent": 10,
            },
            {
                "type": "TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION",
                "revision": "svc-v6",
                "percent": 90,
            },
        ]
    gcp.cloudrunv2.Service(
        "serving",
        name="svc",
        location="us-central1",
        template={
            "revision": "svc-v7",
            "containers": [{"image": "us-docker.pkg.dev/cloudrun/container/hello"}],
        },
        traffics=traffic,
    )


def test_first_deploy_traffic_to_a_previous_revision_is_refused():
    rule = "gcp-run-traffic-unknown-revision"
    assert rule in rules_of(lambda: _service(True), CONFIG)
    assert rule not in rules_of(lambda: _service(False), CONFIG)


def test_the_split_is_fine_once_the_previous_revision_exists():
    def v6():
        gcp.cloudrunv2.Service(
            "serving",
            name="svc",
            location="us-central1",
            template={
                "revision": "svc-v6",
                "containers": [{"image": "us-docker.pkg.dev/cloudrun/container/hello"}],
            },
        )

    existing = as_state(recorded(v6, CONFIG))
    assert "gcp-run-traffic-unknown-revision" not in rules_of(
        lambda: _service(True), CONFIG, state=existing
    )


def test_image_in_a_repository_the_stack_does_not_create_is_refused():
    image = "us-central1-docker.pkg.dev/team-prod/images/model:7"

    def program(create):
        if create:
            gcp.artifactregistry.Repository(
                "images", repository_id="images", location="us-central1", format="DOCKER"
            )
        gcp.cloudrunv2.Service(
            "serving",
            name="svc",
            location="us-central1",
            template={"containers": [{"image": image}]},
        )

    assert "gcp-image-repository-not-created" in rules_of(lambda: program(False), CONFIG)
    assert "gcp-image-repository-not-created" not in rules_of(lambda: program(True), CONFIG)


def test_us_multi_region_for_a_northamerica_stack_is_refused():
    config = {**CONFIG, "gcp:region": "northamerica-northeast1"}

    def program(location):
        gcp.storage.Bucket("data", location=location)

    assert "gcp-gcs-location-outside-region" in rules_of(lambda: program("US"), config)
    assert "gcp-gcs-location-outside-region" not in rules_of(
        lambda: program("NORTHAMERICA-NORTHEAST1"), config
    )


def test_dual_region_data_locations_must_be_in_the_multi_region():
    def program():
        gcp.storage.Bucket(
            "data",
            location="US",
            custom_placement_config={"data_locations": ["US-CENTRAL1", "NORTHAMERICA-NORTHEAST1"]},
        )

    assert "gcp-gcs-location-outside-region" in rules_of(program, CONFIG)


# Classes the review did not reach.


def test_service_account_id_over_30_characters_is_refused():
    def program():
        gcp.serviceaccount.Account("runtime", account_id="team-serving-runtime-identity-xyz")

    assert "gcp-rule:gcp:serviceaccount/account:Account.accountId" in rules_of(program, CONFIG)


def test_bucket_name_and_label_rules():
    def program():
        gcp.storage.Bucket("Models", location="US-CENTRAL1", labels={"Team": "ML Platform"})

    rules = rules_of(program, CONFIG)
    assert "gcp-rule:gcp:storage/bucket:Bucket.name" in rules
    assert {"gcp-rule:label-key", "gcp-rule:label-value"} <= rules


def test_cloud_run_service_name_over_49_characters_is_refused():
    def program():
        gcp.cloudrunv2.Service(
            "serving",
            name="s" * 50,
            location="us-central1",
            template={"containers": [{"image": "x"}]},
        )

    assert "gcp-rule:gcp:cloudrunv2/service:Service.name" in rules_of(program, CONFIG)


# Preconditions of a new project (first `pulumi up`).


def test_alert_on_a_custom_metric_needs_its_descriptor():
    metric = "custom.googleapis.com/team/queue_depth"

    def program(declared):
        if declared:
            gcp.monitoring.MetricDescriptor(
                "queue-depth", type=metric, metric_kind="GAUGE", value_type="INT64"
            )
        gcp.monitoring.AlertPolicy(
            "queue",
            display_name="queue too deep",
            combiner="OR",
            conditions=[
                {
                    "display_name": "depth",
                    "condition_threshold": {
                        "filter": f'metric.type="{metric}" AND resource.type="global"',
                        "comparison": "COMPARISON_GT",
                        "threshold_value": 100,
                        "duration": "0s",
                    },
                }
            ],
        )

    rule = "gcp-alert-custom-metric-without-descriptor"
    assert rule in rules_of(lambda: program(False), CONFIG)
    assert rule not in rules_of(lambda: program(True), CONFIG)
    # An alert that already exists was created against a metric that existed then.
    existing = as_state(recorded(lambda: program(False), CONFIG))
    assert rule not in rules_of(lambda: program(False), CONFIG, state=existing)


def test_grant_to_a_gcp_sa_agent_needs_its_service_identity():
    def program(identity):
        key = gcp.kms.CryptoKey("key", key_ring="projects/team-prod/locations/us/keyRings/r")
        member = "serviceAccount:service-123456789@gcp-sa-pubsub.iam.gserviceaccount.com"
        if identity:
            member = gcp.projects.ServiceIdentity(
                "pubsub-agent", project="team-prod", service="pubsub.googleapis.com"
            ).member
        gcp.kms.CryptoKeyIAMMember(
            "pubsub-key",
            crypto_key_id=key.id,
            role="roles/cloudkms.cryptoKeyEncrypterDecrypter",
            member=member,
        )

    rule = "gcp-service-agent-before-identity"
    assert rule in rules_of(lambda: program(False), CONFIG)
    assert rule not in rules_of(lambda: program(True), CONFIG)


def test_function_without_a_build_account_is_refused_on_create():
    def program(builder):
        build = {
            "runtime": "python312",
            "entry_point": "handler",
            "source": {"storage_source": {"bucket": "src", "object": "fn.zip"}},
        }
        if builder:
            account = gcp.serviceaccount.Account("builder", account_id="fn-builder")
            build["service_account"] = account.name
        gcp.cloudfunctionsv2.Function("fn", location="us-central1", build_config=build)

    rule = "gcp-function-default-build-account"
    assert rule in rules_of(lambda: program(False), CONFIG)
    assert rule not in rules_of(lambda: program(True), CONFIG)
    existing = as_state(recorded(lambda: program(False), CONFIG))
    assert rule not in rules_of(lambda: program(False), CONFIG, state=existing)


def test_private_cluster_with_a_webhook_operator_needs_the_control_plane_firewall_rule():
    import pulumi_kubernetes as k8s

    def program(firewall):
        network = gcp.compute.Network("vpc", auto_create_subnetworks=False)
        gcp.container.Cluster(
            "gke",
            location="us-central1",
            network=network.id,
            initial_node_count=1,
            private_cluster_config={
                "enable_private_nodes": True,
                "master_ipv4_cidr_block": "172.16.0.0/28",
            },
        )
        if firewall:
            gcp.compute.Firewall(
                "webhooks",
                network=network.id,
                source_ranges=["172.16.0.0/28"],
                allows=[{"protocol": "tcp", "ports": ["8443-9443"]}],
            )
        k8s.helm.v3.Release(
            "trainer",
            chart="oci://ghcr.io/kubeflow/charts/kubeflow-trainer",
            version="2.3.0",
            namespace="kubeflow-system",
        )

    rule = "gcp-private-cluster-webhook-firewall"
    assert rule in rules_of(lambda: program(False), CONFIG)
    assert rule not in rules_of(lambda: program(True), CONFIG)


def test_cloud_sql_key_outside_the_instance_region_is_refused():
    def program(location):
        gcp.sql.DatabaseInstance(
            "db",
            region="us-central1",
            database_version="POSTGRES_16",
            encryption_key_name=f"projects/p/locations/{location}/keyRings/r/cryptoKeys/k",
            settings={"tier": "db-custom-1-3840"},
        )

    assert "gcp-sql-key-outside-region" in rules_of(lambda: program("us"), CONFIG)
    assert "gcp-sql-key-outside-region" not in rules_of(lambda: program("us-central1"), CONFIG)
