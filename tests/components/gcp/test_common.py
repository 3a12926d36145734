from __future__ import annotations

import re

from mlops_iac.components.gcp._common import resource_id


def test_derived_ids_are_valid_stable_and_unique_per_stack():
    dev = resource_id("mlops-artifacts", "dvc", limit=30, scope="p/gcp-dev")
    prod = resource_id("mlops-artifacts", "dvc", limit=30, scope="p/gcp-prod")
    assert dev != prod
    assert dev == resource_id("mlops-artifacts", "dvc", limit=30, scope="p/gcp-dev")
    long = resource_id("A_Very.Long-Component-Name-For-A-Team", "nodes", limit=30, scope="p/s")
    short = resource_id("9x", "run", limit=30, scope="p/s")
    for value in (dev, prod, long, short):
        assert re.fullmatch(r"[a-z][a-z0-9-]{4,28}[a-z0-9]", value), value
    assert long.startswith("a-very-long-component-")
    assert short.startswith("m-9x-run-")


def test_a_team_program_enables_the_apis_of_the_components_it_builds():
    import pulumi

    from mlops_iac.components.gcp import ArtifactStore, ArtifactStoreArgs
    from mlops_iac.components.gcp.apis import ProjectApis
    from tests.components.gcp._helpers import run_component

    def program():
        apis = ProjectApis(None, "team")
        opts = pulumi.ResourceOptions(transformations=[apis.transformation])
        ArtifactStore("store", ArtifactStoreArgs(), opts=opts)

    recording = run_component(program)
    services = {s.inputs["service"]: s for s in recording.of_type("gcp:projects/service:Service")}
    assert sorted(services) == [
        "cloudkms.googleapis.com",
        "iam.googleapis.com",
        "storage.googleapis.com",
    ]
    assert {s.name for s in services.values()} == {
        "team-api-cloudkms",
        "team-api-iam",
        "team-api-storage",
    }
    bucket = recording.named("store-bucket")
    assert services["storage.googleapis.com"].urn in bucket.dependencies
    assert services["cloudkms.googleapis.com"].urn in recording.named("store-key").dependencies
    assert services["iam.googleapis.com"].urn in recording.named("store-dvc").dependencies
