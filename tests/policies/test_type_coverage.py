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
    # What serves or deploys a model: the approval gate must name each (or NOT_SERVING says why
    # not), so a new serving type in an SDK fails here until someone decides.
    "serving": [
        ("aws", r"^sagemaker/", r"Endpoint|Deployment|Inference|Serving|^Model$"),
        ("aws", r"^bedrock/", r"ProvisionedModel|Endpoint|Deployment|Serving"),
        ("azure-native", r"^machinelearningservices$", r"Endpoint|Deployment|Inference|Serving"),
        ("azure-native", r"^cognitiveservices$", r"^Deployment$"),
        ("gcp", r"^vertex/", r"Endpoint|Deployment|Inference|Serving"),
        ("gcp", r"^cloudrun(v2)?/", r"^Service$"),
    ],
    # Types that create other resources from a template, document or script: refused by
    # mlops-generic-resources (or NOT_GENERIC says why not).
    "generic": [
        ("aws", r"^(cloudcontrol|cloudformation)/", r"^(Resource|Stack)"),
        ("aws", r"^servicecatalog/", r"^ProvisionedProduct$"),
        ("azure-native", r"^resources$", r"^(Resource|Deployment.*|.*Script)$"),
        ("azure-native", r"^blueprint$", r"^Assignment$"),
        ("azure-native", r"^solutions$", r"^Application$"),
        ("gcp", r"^(deploymentmanager|configdeployment)/", r"^Deployment$"),
    ],
}

#: Matches of the serving family that serve no model, and why.
NOT_SERVING: dict[str, str] = {
    "aws:bedrock/agentcoreAgentRuntimeEndpoint:AgentcoreAgentRuntimeEndpoint": "an agent runtime",
    "azure-native:machinelearningservices:PrivateEndpointConnection": "a network connection",
    "azure-native:machinelearningservices:InferencePool": "compute for inference groups",
    "gcp:vertex/aiEndpointIamBinding:AiEndpointIamBinding": "access to an endpoint",
    "gcp:vertex/aiEndpointIamMember:AiEndpointIamMember": "access to an endpoint",
    "gcp:vertex/aiEndpointIamPolicy:AiEndpointIamPolicy": "access to an endpoint",
    "gcp:vertex/aiIndexEndpoint:AiIndexEndpoint": "serves a vector index, not a model",
    "gcp:vertex/aiIndexEndpointDeployedIndex:AiIndexEndpointDeployedIndex": "a vector index",
    "gcp:vertex/aiDeploymentResourcePool:AiDeploymentResourcePool": "compute, names no model",
}
#: Matches of the generic family that create nothing.
NOT_GENERIC: dict[str, str] = {
    "azure-native:resources:DeploymentStacksWhatIfResultsAtManagementGroup": "a what-if report",
    "azure-native:resources:DeploymentStacksWhatIfResultsAtResourceGroup": "a what-if report",
    "azure-native:resources:DeploymentStacksWhatIfResultsAtSubscription": "a what-if report",
}
DECIDED = {**NOT_SERVING, **NOT_GENERIC}


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
    if token in DECIDED:
        assert canonical_type(token) not in named_types(), (
            f"{token} is named by a rule and listed as not {family}"
        )
        return
    assert canonical_type(token) in named_types(), f"{token} ({family}): no rule names it"


def test_serving_and_generic_types_are_named_by_their_rules() -> None:
    """The serving family is named by the approval gate, the generic family by its rule."""
    from mlops_iac.policies.rules import approval, generic

    for family, rule_types in (
        ("serving", approval.SERVING_TYPES),
        ("generic", generic.GENERIC_TYPES),
    ):
        found = {canonical_type(t) for f, t in MEMBERS if f == family and t not in DECIDED}
        assert found <= set(rule_types), sorted(found - set(rule_types))
        # ...and the tables name nothing the SDKs do not ship (a typo would guard nothing).
        shipped = {canonical_type(t) for t in set().union(*map(sdk_types, PACKAGES))}
        assert set(rule_types) <= shipped, sorted(set(rule_types) - shipped)
    assert set(DECIDED) <= {t for _, t in MEMBERS}, "a decision about a type the SDKs dropped"


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

    members = {t for _, t in MEMBERS if t not in DECIDED}  # decided: not of the family
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
