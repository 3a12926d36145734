"""Every provider SDK type in a governed family is named by a rule, aliases included.

The families are read from the installed provider SDKs' own type registrations (no submodule is
imported), so upgrading pulumi-aws/-gcp/-azure-native to a version with a new bucket, topic, key or
repository type fails this test until a rule names it (``aws.s3.BucketV2`` was invisible once).
"""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import pytest

from mlops_iac.policies.rules import named_types
from mlops_iac.policies.rules._base import canonical_type, type_aliases

PACKAGES = {"aws": "pulumi_aws", "gcp": "pulumi_gcp", "azure-native": "pulumi_azure_native"}

#: family -> (provider, module regex, class-name regex)
FAMILIES: dict[str, list[tuple[str, str, str]]] = {
    "object stores": [
        ("aws", r"^(s3|s3control|s3tables)/", r"Bucket(V2)?$"),
        ("gcp", r"^storage/", r"^Bucket$"),
        ("azure-native", r"^storage$", r"^StorageAccount$"),
    ],
    "topics": [("aws", r"^sns/", r"Topic$"), ("gcp", r"^pubsub/", r"Topic$")],
    "keys": [
        ("aws", r"^kms/", r"Key$"),
        ("gcp", r"^kms/", r"^CryptoKey$"),
        ("azure-native", r"^keyvault$", r"^Key$"),
    ],
    "repositories": [
        ("aws", r"^(ecr|ecrpublic)/", r"^Repository$"),
        ("gcp", r"^artifactregistry/", r"^Repository$"),
        ("azure-native", r"^containerregistry$", r"^Registry$"),
    ],
    "serving endpoints": [("aws", r"^sagemaker/", r"^Endpoint$")],
}


def sdk_types(provider: str) -> set[str]:
    spec = importlib.util.find_spec(PACKAGES[provider])
    assert spec is not None and spec.origin is not None
    text = Path(spec.origin).read_text()
    body = re.search(r'resource_modules="""(.*?)"""', text, re.S)
    assert body, f"{PACKAGES[provider]} no longer registers its resource modules this way"
    return {token for module in json.loads(body.group(1)) for token in module["classes"]}


def family_members() -> list[tuple[str, str]]:
    members = []
    for family, specs in FAMILIES.items():
        for provider, module, name in specs:
            for token in sorted(sdk_types(provider)):
                _, mod, cls = token.split(":")
                if re.search(module, mod) and re.search(name, cls):
                    members.append((family, token))
    return members


MEMBERS = family_members()


def test_families_are_found() -> None:
    tokens = {t for _, t in MEMBERS}
    assert {"aws:s3/bucketV2:BucketV2", "gcp:pubsub/topic:Topic", "aws:kms/key:Key"} <= tokens


@pytest.mark.parametrize(("family", "token"), MEMBERS, ids=[t for _, t in MEMBERS])
def test_every_type_in_a_governed_family_is_named_by_a_rule(family: str, token: str) -> None:
    # An SDK alias (aws.s3.BucketV2) is governed as its canonical type: the rules see no other.
    assert canonical_type(token) in named_types(), f"{token} ({family}): no rule names it"


def test_every_v2_twin_of_a_named_type_is_governed() -> None:
    # pulumi-aws ships v6 names beside v7 ones: fooV2:FooV2 is the same resource as foo:Foo.
    aws = sdk_types("aws")
    missing = []
    for token in sorted(t for t in named_types() if t.startswith("aws:")):
        pkg, mod, cls = token.split(":")
        twin = f"{pkg}:{mod}V2:{cls}V2"
        if twin in aws and canonical_type(twin) != token:
            missing.append(twin)
    assert missing == []


def test_every_alias_the_sdk_declares_for_a_governed_family_is_governed() -> None:
    from tools.typealiases import declared

    members = {t for _, t in MEMBERS}
    loose = sorted(
        alias
        for provider, package in PACKAGES.items()
        for token, alias in declared(package)
        if token in members and canonical_type(alias) not in named_types()
    )
    assert loose == []


def test_aliases_of_sdk_types_map_to_sdk_types() -> None:
    sdk = set().union(*(sdk_types(p) for p in PACKAGES))
    assert {c for c in type_aliases().values() if c not in sdk} == set()


# --- the v6 names are governed like the v7 ones ---------------------------------------------------


def _v2(rec, names: set[str]):
    for resource in rec.resources:
        if resource.name in names:
            (twin,) = [a for a, c in type_aliases().items() if c == resource.type]
            resource.urn = resource.urn.replace(resource.type, twin)
            resource.type = twin
    return rec


def _fired(rec) -> set[tuple[str, str]]:
    from mlops_iac.policies import packs

    from . import baseline

    result = packs.evaluate(rec, baseline.config("prod"), environment="prod")
    return {(v.policy, v.resource_name) for v in result.violations}


def test_compliant_bucket_declared_with_v6_names_passes() -> None:
    from . import baseline

    names = {"artifacts-bucket", "artifacts-versioning", "artifacts-encryption",
             "artifacts-lifecycle"}  # fmt: skip
    assert _fired(_v2(baseline.aws_platform(), names)) == set()


def test_bare_bucket_v2_is_seen_by_every_storage_rule() -> None:
    from . import baseline

    rec = _v2(baseline.aws_platform(), {"artifacts-bucket"})
    bucket = next(r for r in rec.resources if r.name == "artifacts-bucket")
    # A team bucket: no lineage tags, no config resources, not protected.
    team = type(bucket)(
        urn=bucket.urn.replace("artifacts-bucket", "team-data"),
        type="aws:s3/bucketV2:BucketV2",
        name="team-data",
        parent=None,
        inputs={"bucket": "team-data"},
        outputs={"id": "team-data", "bucket": "team-data", "arn": "arn:aws:s3:::team-data"},
    )
    rec.resources.append(team)
    fired = {policy for policy, name in _fired(rec) if name == "team-data"}
    assert fired == {
        "mlops-storage-encrypted-cmk",
        "mlops-storage-versioned",
        "mlops-storage-public-access-blocked",
        "mlops-storage-tls-only",
        "mlops-storage-lifecycle",
        "mlops-lineage-tags",
        "mlops-data-protected",
    }
