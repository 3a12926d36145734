"""mlops-lineage-tags covers every resource type the provider SDKs can tag.

The rule reads ``policies/rules/taggable.txt`` (the pack imports no provider SDK). The first tests
enumerate the installed SDKs' taggable types (their registrations and each resource class's
signature, read from source: about 1.5 s for the three SDKs, nothing imported) and fail naming any
type the file misses, so upgrading an SDK fails here until ``python -m tools.taggable`` is run.
The rest are hostile cases on the rule itself.
"""

from __future__ import annotations

import copy
import importlib
import re
import sys
from typing import Any

import pytest

from mlops_iac.components import lineage as transform
from mlops_iac.policies import packs
from mlops_iac.policies.rules import lineage
from tools import taggable as generator

from .baseline import Rec, Res, lineage_tags

RULE = "mlops-lineage-tags"


@pytest.fixture(scope="module")
def sdk() -> dict[str, tuple[str, str]]:
    found: dict[str, tuple[str, str]] = {}
    for package in generator.PACKAGES:
        found.update(generator.sdk_taggable(package))
    return found


def test_every_taggable_sdk_type_is_covered_by_the_rule(sdk) -> None:
    uncovered = sorted(t for t in sdk if lineage.tag_input(t) is None)
    assert uncovered == [], (
        f"{len(uncovered)} taggable SDK types no rule covers (run `python -m tools.taggable`): "
        + ", ".join(uncovered[:20])
    )


def test_the_file_names_no_type_the_sdks_cannot_tag(sdk) -> None:
    # A stale entry would demand tags a resource cannot take (or in an input it does not have).
    # Tokens the installed SDKs do not register at all may come from a newer SDK: harmless.
    known = {t for p in generator.PACKAGES for m in generator.registered(p) for t in m["classes"]}
    wrong = sorted(t for t, spec in lineage.taggable().items() if t in known and sdk.get(t) != spec)
    assert wrong == []


CONSTRAINTS = generator.ROOT_DIR / "constraints.txt"


def _installed_are_the_pins() -> bool:
    pins = {
        name.lower().replace("_", "-"): version
        for name, version in re.findall(
            r"^([A-Za-z0-9_.-]+)==(\S+)$", CONSTRAINTS.read_text(), re.M
        )
    }
    return all(pins.get(dist) == version for dist, version in generator.versions().items())


def test_the_pins_are_installed() -> None:
    # Otherwise the exact comparison below is skipped: only `make test-highest` may do that.
    assert _installed_are_the_pins() or "highest" in sys.prefix


@pytest.mark.skipif(
    not _installed_are_the_pins(),
    reason="the file is generated from the pinned SDKs (make test-highest runs newer ones)",
)
def test_the_file_is_exactly_what_the_generator_writes(sdk, tmp_path, monkeypatch, capsys) -> None:
    # Byte for byte, the header's SDK versions included.
    fresh = generator.render(sdk)
    assert fresh == lineage.TAGGABLE_FILE.read_text()
    monkeypatch.setattr(generator, "render", lambda: fresh)
    assert generator.main(["--check"]) == 0
    stale = tmp_path / "taggable.txt"
    stale.write_text(fresh.replace("aws:sqs/queue:Queue\n", ""))
    monkeypatch.setattr(generator, "OUTPUT", stale)
    monkeypatch.setattr(generator, "ROOT_DIR", tmp_path)
    assert generator.main(["--check"]) == 1
    assert capsys.readouterr().out == "taggable.txt is stale: run `python -m tools.taggable`\n"
    assert generator.main([]) == 0
    assert stale.read_text() == fresh


#: Modules whose resources cover every shape: list tags, overrides, Any-typed and list-of-string
#: tags, GCP labels/resourceLabels/userLabels and Resource Manager tags (apimanagement's list of
#: strings is checked by ``test_expected_shapes``: the module costs seconds to import).
SAMPLE = {
    "pulumi_aws": ("autoscaling", "sqs", "eks"),
    "pulumi_gcp": ("monitoring", "container", "cloudbuild"),
    "pulumi_azure_native": ("importexport", "resources", "containerstorage"),
}


@pytest.mark.parametrize("package", sorted(SAMPLE))
def test_source_reading_agrees_with_the_transforms_sdk_introspection(sdk, package) -> None:
    # The generator reads signatures from source; the transform inspects the imported classes.
    # They must agree (checked for all ~5,500 types by hand; here on a sample that costs ~1 s).
    importlib.import_module(package)
    checked = 0
    for module in generator.registered(package):
        if module["fqn"].split(".")[1] not in SAMPLE[package]:
            continue
        for token in module["classes"]:
            assert transform.tag_spec(token) == sdk.get(token), token
            checked += 1
    assert checked > 20


def test_expected_shapes(sdk) -> None:
    assert sdk["aws:sqs/queue:Queue"] == ("tags", "map")
    assert sdk["aws:autoscaling/group:Group"] == ("tags", "list")
    assert sdk["gcp:container/cluster:Cluster"] == ("resourceLabels", "map")
    assert sdk["gcp:monitoring/notificationChannel:NotificationChannel"] == ("userLabels", "map")
    assert sdk["azure-native:importexport:Job"] == ("tags", "map")  # typed Any
    for not_taggable in (
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
        "aws:autoscaling/tag:Tag",  # tags another resource
        "aws:ec2/tag:Tag",
        "azure-native:apimanagement:NamedValue",  # tags: a list of bare strings
        "gcp:cloudbuild/trigger:Trigger",  # tags: network-tag strings
        "gcp:deploymentmanager/deployment:Deployment",  # labels: [{key, value}], deprecated
    ):
        assert not_taggable not in sdk, not_taggable


# --- the rule ---------------------------------------------------------------------------------


def res(name: str, type_: str, inputs: dict[str, Any]) -> Res:
    return Res(
        urn=f"urn:pulumi:team-prod::team::{type_}::{name}",
        type=type_,
        name=name,
        parent=None,
        inputs=inputs,
        outputs={"id": f"{name}-id", **copy.deepcopy(inputs)},
    )


def fired(resource: Res, environment: str = "prod") -> list[tuple[str, str]]:
    document = packs.pack_config(environment)
    result = packs.evaluate(Rec([resource], {}, f"x-{environment}", "team"), document)
    return [(v.level, v.message) for v in result.violations if v.policy == RULE]


def gcp_labels() -> dict[str, str]:
    return transform.sanitise(lineage_tags("prod"), "gcp")


EVERY = "missing or empty lineage tags: " + ", ".join(f"mlops:{k}" for k in lineage.LINEAGE_KEYS)


@pytest.mark.parametrize("environment", ["dev", "staging", "prod"])
def test_untagged_taggable_type_fires_in_every_environment(environment) -> None:
    level = "advisory" if environment == "dev" else "mandatory"
    assert fired(res("q", "aws:sqs/queue:Queue", {}), environment) == [(level, EVERY)]


@pytest.mark.parametrize(
    ("type_", "inputs"),
    [
        ("aws:sqs/queue:Queue", {"tags": lineage_tags("prod")}),
        ("azure-native:resources:ResourceGroup", {"tags": lineage_tags("prod")}),
        ("gcp:pubsub/subscription:Subscription", {"labels": gcp_labels()}),
        ("gcp:container/cluster:Cluster", {"resourceLabels": gcp_labels()}),
        ("gcp:monitoring/alertPolicy:AlertPolicy", {"userLabels": gcp_labels()}),
        (
            "aws:autoscaling/group:Group",
            {
                "tags": [
                    {"key": k, "value": v, "propagateAtLaunch": True}
                    for k, v in lineage_tags("prod").items()
                ]
            },
        ),
    ],
)
def test_tagged_resources_pass(type_, inputs) -> None:
    assert fired(res("r", type_, inputs)) == []


@pytest.mark.parametrize(
    "type_",
    [
        "azure-native:resources/v20240301:ResourceGroup",
        "azure-native:storage/v20230101:StorageAccount",
        "azure-native:storage/v20220901preview:StorageAccount",
    ],
)
def test_explicit_azure_api_versions_are_the_same_type(type_) -> None:
    # A locally generated SDK for one API version registers the versioned token.
    assert fired(res("r", type_, {})) == [("mandatory", EVERY)]
    assert fired(res("r", type_, {"tags": lineage_tags("prod")})) == []


@pytest.mark.parametrize(
    ("type_", "inputs"),
    [
        # tagsAll is an output (provider default_tags): not what the program asked for.
        ("aws:sqs/queue:Queue", {"tagsAll": lineage_tags("prod")}),
        # Only the input the SDK declares: a queue has no labels.
        ("aws:sqs/queue:Queue", {"labels": lineage_tags("prod")}),
        # A notification channel's labels are its configuration, not its resource labels.
        ("gcp:monitoring/notificationChannel:NotificationChannel", {"labels": gcp_labels()}),
        # Cloud Run tags are Resource Manager tag bindings; effective/pulumi labels are outputs.
        ("gcp:cloudrunv2/service:Service", {"tags": gcp_labels()}),
        ("gcp:storage/bucket:Bucket", {"effectiveLabels": gcp_labels()}),
        ("gcp:storage/bucket:Bucket", {"pulumiLabels": gcp_labels()}),
        # A GKE cluster's labels are resourceLabels.
        ("gcp:container/cluster:Cluster", {"labels": gcp_labels()}),
        # Tags given as a list where the SDK takes a map, and a map where it takes a list.
        ("aws:sqs/queue:Queue", {"tags": [{"key": "mlops:project", "value": "p"}]}),
        ("aws:autoscaling/group:Group", {"tags": lineage_tags("prod")}),
    ],
)
def test_lineage_outside_the_declared_input_does_not_count(type_, inputs) -> None:
    assert [level for level, _ in fired(res("r", type_, inputs))] == ["mandatory"]


@pytest.mark.parametrize("blank", ["", " ", "_", "-", "\t", "\u200b", None, 7, ["x"], {"a": 1}])
def test_blank_or_meaningless_values_fail(blank) -> None:
    tags = {**lineage_tags("prod"), "mlops:git-sha": blank}
    assert fired(res("q", "aws:sqs/queue:Queue", {"tags": tags})) == [
        ("mandatory", "missing or empty lineage tags: mlops:git-sha")
    ]


def test_autoscaling_group_duplicate_or_malformed_entries() -> None:
    good = [{"key": k, "value": v} for k, v in lineage_tags("prod").items()]
    # Which of two values AWS keeps is not the rule's to guess.
    twice = [*good, {"key": "mlops:owner", "value": "someone@example.com"}]
    assert fired(res("asg", "aws:autoscaling/group:Group", {"tags": twice})) == [
        ("mandatory", "missing or empty lineage tags: mlops:owner")
    ]
    malformed = [*good[1:], "mlops:project", {"key": None, "value": "x"}, {"value": "x"}]
    assert fired(res("asg", "aws:autoscaling/group:Group", {"tags": malformed})) == [
        ("mandatory", "missing or empty lineage tags: mlops:project")
    ]


@pytest.mark.parametrize(
    ("type_", "inputs"),
    [
        ("aws:iam/rolePolicyAttachment:RolePolicyAttachment", {"role": "r"}),
        ("aws:ec2/tag:Tag", {"resourceId": "i-1", "key": "k", "value": "v"}),
        # Tag-named inputs that cannot carry key/value lineage.
        ("azure-native:apimanagement:NamedValue", {"tags": ["a", "b"]}),
        ("gcp:cloudbuild/trigger:Trigger", {"tags": ["ci"]}),
    ],
)
def test_non_taggable_types_stay_quiet(type_, inputs) -> None:
    assert fired(res("r", type_, inputs)) == []


def test_unknown_type_with_a_tag_map_is_still_checked() -> None:
    # A type newer than the SDKs the file was generated from.
    assert fired(res("r", "aws:newservice/thing:Thing", {"tags": {"team": "x"}})) == [
        ("mandatory", EVERY)
    ]
    assert fired(res("r", "aws:newservice/thing:Thing", {"tags": lineage_tags("prod")})) == []


def test_the_file_is_read_once_and_small() -> None:
    assert lineage.taggable() is lineage.taggable()
    assert len(lineage.taggable()) > 2000
    assert lineage.TAGGABLE_FILE.stat().st_size < 150_000
    assert all(re.fullmatch(r"[a-z-]+:[A-Za-z0-9/]+:[A-Za-z0-9]+", t) for t in lineage.taggable())
