"""A resource declared under another type token of the same resource is governed alike.

The attacker writes a team program that declares a governed resource under a token the engine
deploys just the same: an explicit azure-native API version
(``azure-native:storage/v20240101:StorageAccount``) or a name the provider SDK declares as an alias
(``aws:s3/bucketV2:BucketV2``, ``azure-native:insights:MetricAlert``). Every rule module's own
tests are re-run here with each resource's token disguised, and every evaluation must report
exactly what it reports under the canonical token (then the original assertions run as well).
"""

from __future__ import annotations

import copy
import subprocess
import sys
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pulumi_policy import PolicyResource, ResourceValidationArgs, StackValidationArgs

from mlops_iac.policies import packs
from mlops_iac.policies.offline import ResultSet
from mlops_iac.policies.rules import named_types
from mlops_iac.policies.rules._base import (
    canonical_args,
    canonical_type,
    type_aliases,
    versionless,
)
from mlops_iac.policies.rules.lineage import taggable

from . import baseline

# The rule modules' own tests, collected again here under every disguise (``disguised`` below).
from .test_dvc_rule import test_aws_wider_than_the_prefix_fires as test_dvc_aws  # noqa: F401
from .test_dvc_rule import test_azure_wider_than_the_container_fires as test_dvc_azure  # noqa: F401
from .test_dvc_rule import test_gcp_wider_than_the_prefix_fires as test_dvc_gcp  # noqa: F401
from .test_kubernetes_rules import *  # noqa: F403
from .test_other_clouds import *  # noqa: F403
from .test_rules import test_baseline_is_compliant as test_rules_baseline  # noqa: F401
from .test_rules import test_mutation_fires_only_its_rule as test_rules_mutation  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]
VERSION = "v20240101"

#: canonical token -> the aliases the SDKs declare for it
ALIASES: dict[str, list[str]] = defaultdict(list)
for _alias, _canonical in sorted(type_aliases().items()):
    ALIASES[_canonical].append(_alias)


def versioned(token: str) -> str:
    """``azure-native:storage:Foo`` -> ``azure-native:storage/v20240101:Foo`` (others unchanged)."""
    if not token.startswith("azure-native:") or versionless(token) != token:
        return token
    package, module, name = token.split(":")
    return f"{package}:{module}/{VERSION}:{name}"


MODES: dict[str, Callable[[str], str]] = {
    "versioned": versioned,
    "alias": lambda t: ALIASES[t][0] if ALIASES.get(t) else t,
    "last-alias-versioned": lambda t: versioned(ALIASES[t][-1] if ALIASES.get(t) else t),
}
DISGUISED: Counter[str] = Counter()


def disguise(rec: Any, rename: Callable[[str], str]) -> int:
    """Rename every resource's type (and URN, everywhere it is referred to); how many changed."""
    urns: dict[str, str] = {}
    for resource in rec.resources:
        token = rename(resource.type)
        if token != resource.type:
            urns[resource.urn] = resource.urn.replace(f"::{resource.type}::", f"::{token}::")
            resource.type = token
    for resource in rec.resources:
        resource.urn = urns.get(resource.urn, resource.urn)
        resource.parent = urns.get(resource.parent, resource.parent)
        resource.dependencies = [urns.get(d, d) for d in resource.dependencies]
        resource.property_dependencies = {
            k: [urns.get(d, d) for d in v] for k, v in resource.property_dependencies.items()
        }
    return len(urns)


def outcome(result: ResultSet) -> tuple[Counter[tuple[Any, ...]], Counter[tuple[str, str]]]:
    violations = Counter(
        (v.policy, v.level, v.resource_name, v.message, v.unknown) for v in result.violations
    )
    return violations, Counter((n.policy, n.reason) for n in result.not_applicable)


@pytest.fixture(autouse=True, params=list(MODES))
def disguised(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every ``packs.evaluate`` also runs on a disguised copy and must report the same."""
    real = packs.evaluate
    rename = MODES[request.param]

    def evaluate(recording: Any, *args: Any, **kwargs: Any) -> ResultSet:
        plain = real(copy.deepcopy(recording), *args, **kwargs)
        other = copy.deepcopy(recording)
        if changed := disguise(other, rename):
            DISGUISED[request.param] += changed
            assert outcome(real(other, *args, **kwargs)) == outcome(plain)
        return plain

    monkeypatch.setattr(packs, "evaluate", evaluate)
    yield


# --- the table and the normalisation --------------------------------------------------------------


def test_the_table_is_fresh() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tools.typealiases", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_rules_name_only_canonical_tokens() -> None:
    # A rule keyed on an alias would never see it: the rules are handed canonical tokens only.
    assert sorted(t for t in named_types() if canonical_type(t) != t) == []


def test_canonical_tokens_are_fixed_points() -> None:
    assert {c for c in type_aliases().values() if canonical_type(c) != c} == set()
    assert not set(type_aliases()) & set(type_aliases().values())


def test_an_alias_keeps_its_tag_input() -> None:
    # Mapping a taggable alias to a type that takes no tags (or tags elsewhere) would hide it
    # from mlops-lineage-tags.
    tags = taggable()
    assert [a for a, c in type_aliases().items() if a in tags and tags[a] != tags.get(c)] == []


SA = "azure-native:storage:StorageAccount"
CANONICAL_CASES = [
    ("azure-native:storage/v20230101:StorageAccount", SA),
    ("azure-native:storage/v20150501preview:StorageAccount", SA),
    ("azure-native:insights/v20180301:MetricAlert", "azure-native:monitor:MetricAlert"),
    ("azure-native:insights:ActionGroup", "azure-native:monitor:ActionGroup"),
    ("aws:s3/bucketV2:BucketV2", "aws:s3/bucket:Bucket"),
    ("aws:s3/bucketVersioningV2:BucketVersioningV2", "aws:s3/bucketVersioning:BucketVersioning"),
    ("aws:applicationloadbalancing/loadBalancer:LoadBalancer", "aws:alb/loadBalancer:LoadBalancer"),
    ("gcp:serviceAccount/account:Account", "gcp:serviceaccount/account:Account"),
    ("aws:s3/bucket:Bucket", "aws:s3/bucket:Bucket"),
    # Tokens are exact and case-sensitive to the engine: a case variant no provider registers
    # is not deployable, so it is nobody's alias. Nor is v1's ``latest`` (gone since v2).
    ("aws:s3/Bucket:Bucket", "aws:s3/Bucket:Bucket"),
    ("AZURE-NATIVE:storage/v20230101:StorageAccount", None),
    ("azure-native:storage/latest:StorageAccount", None),
]


@pytest.mark.parametrize(("token", "expected"), CANONICAL_CASES)
def test_canonical_type(token: str, expected: str) -> None:
    assert canonical_type(token) == (expected or token)


def _resource(urn: str, type_: str) -> PolicyResource:
    return PolicyResource(type_, {}, urn, urn, None, None, None, [], {})  # type: ignore[arg-type]


def test_the_rules_view_leaves_the_engines_objects_alone() -> None:
    bucket = _resource("b", "aws:s3/bucketV2:BucketV2")
    config = _resource("c", "aws:s3/bucketVersioningV2:BucketVersioningV2")
    plain = _resource("k", "aws:kms/key:Key")
    config.parent = bucket
    config.dependencies = [bucket, plain]
    config.property_dependencies = {"bucket": [bucket]}
    args = StackValidationArgs([bucket, config, plain], {"x": 1})
    view = canonical_args(args)
    assert isinstance(view, StackValidationArgs)
    b, c, k = view.resources
    assert (b.resource_type, c.resource_type) == (
        "aws:s3/bucket:Bucket",
        "aws:s3/bucketVersioning:BucketVersioning",
    )
    # Links point at the copies, so the rules' joins (by identity) still hold.
    assert c.parent is b and c.dependencies == [b, k] and c.property_dependencies["bucket"][0] is b
    assert (k.urn, k.resource_type) == ("k", "aws:kms/key:Key") and view.get_config() == {"x": 1}
    assert bucket.resource_type == "aws:s3/bucketV2:BucketV2" and config.parent is bucket
    one = ResourceValidationArgs(
        "azure-native:storage/v20230101:StorageAccount",
        {},
        "u",
        "n",
        None,
        None,
        {"y": 2},  # type: ignore[arg-type]
    )
    seen = canonical_args(one)
    assert seen.resource_type == "azure-native:storage:StorageAccount"
    assert seen.get_config() == {"y": 2}
    assert one.resource_type == "azure-native:storage/v20230101:StorageAccount"
    unchanged = ResourceValidationArgs("aws:kms/key:Key", {}, "u", "n", None, None)  # type: ignore[arg-type]
    assert canonical_args(unchanged) is unchanged


# --- named bypasses, each asserted directly ------------------------------------------------------


def _fired(rec: Any, **kwargs: Any) -> set[tuple[str, str]]:
    result = packs.evaluate(rec, baseline.config("prod"), environment="prod", **kwargs)
    return {(v.policy, v.resource_name) for v in result.violations}


def test_a_versioned_storage_account_is_seen_by_every_storage_rule() -> None:
    from .test_other_clouds import res

    account = res(
        "team-acct",
        "azure-native:storage/v20230101:StorageAccount",
        {"accountName": "teamacct", "allowBlobPublicAccess": True, "enableHttpsTrafficOnly": False},
    )
    fired = {
        p
        for p, name in _fired(baseline.Rec([account], {}, "x-prod", "proj"))
        if name == "team-acct"
    }
    assert {
        "mlops-storage-encrypted-cmk",
        "mlops-storage-public-access-blocked",
        "mlops-storage-tls-only",
        "mlops-lineage-tags",
        "mlops-data-protected",
    } <= fired


def test_an_insights_metric_alert_without_an_action_group_fires() -> None:
    from .test_other_clouds import res

    tags = dict(baseline.lineage_tags("prod"))
    group = res("oncall", "azure-native:insights/v20220601:ActionGroup", {"tags": tags})
    alert = res(
        "latency",
        "azure-native:insights/v20180301:MetricAlert",
        {"actions": [{"actionGroupId": group.outputs["id"]}], "enabled": True, "tags": tags},
    )
    assert _fired(baseline.Rec([group, alert], {}, "x-prod", "proj")) == set()
    assert _fired(baseline.Rec([alert], {}, "x-prod", "proj")) == {
        ("mlops-alarms-routed", "latency")
    }


def test_every_disguise_was_exercised() -> None:
    # Runs last in this module (pytest keeps definition order; -p no:randomly in CI): each mode
    # must have renamed resources in the re-run tests, or the comparison above proved nothing.
    if len(DISGUISED) < len(MODES):
        pytest.skip("run with the re-collected tests to count the disguises")
    assert all(DISGUISED[mode] > 0 for mode in MODES), DISGUISED
