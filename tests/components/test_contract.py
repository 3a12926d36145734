"""One contract for the five components on three clouds (components/contract.py)."""

from __future__ import annotations

import dataclasses
import importlib
import inspect

import pytest

from mlops_iac.components import contract
from mlops_iac.components._component import default_of
from mlops_iac.plan.testing import run
from mlops_iac.spec import defaults

CASES = [(cloud, thing) for cloud in contract.CLOUDS for thing in contract.COMPONENTS]
CONFIG = {
    "aws": {"aws:region": "us-east-1"},
    "azure": {"azure-native:location": "eastus"},
    "gcp": {"gcp:project": "mlops-offline", "gcp:region": "us-central1"},
}
STORAGE = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/art"
# Required Args that are not part of the contract (cloud plumbing), per cloud and component.
REQUIRED = {
    ("azure", "TrainingCluster"): {
        "resource_group_name": "rg",
        "storage_account_id": STORAGE,
        "key_vault_id": STORAGE.replace("Microsoft.Storage/storageAccounts/art", "x/vaults/kv"),
        "container_registry_id": STORAGE.replace("Microsoft.Storage/storageAccounts", "x/r"),
    },
    ("azure", "ArtifactStore"): {"resource_group_name": "rg"},
}
# A public cluster endpoint is refused without an explicit allow-list (docs/training-clusters.md).
ALLOW_LIST = {
    "aws": {"public_access_cidrs": ["203.0.113.0/24"]},
    "gcp": {"public_access_cidrs": ["203.0.113.0/24"]},
}


def classes(cloud: str, thing: str) -> tuple[type, type]:
    module = importlib.import_module(f"mlops_iac.components.{cloud}")
    return getattr(module, thing), getattr(module, f"{thing}Args")


def fields(args_class: type) -> dict[str, dataclasses.Field]:
    return {f.name: f for f in dataclasses.fields(args_class)}


@pytest.mark.parametrize(("cloud", "thing"), CASES)
def test_same_args_outputs_constructor_and_type_token(cloud, thing):
    component, args_class = classes(cloud, thing)
    names = fields(args_class)
    missing = [name for name in contract.ARGS[thing] if name not in names]
    assert missing == [], f"{cloud} {thing}Args lacks {missing}"
    declared = inspect.get_annotations(component)
    assert [o for o in contract.OUTPUTS[thing] if o not in declared] == []
    assert list(inspect.signature(component.__init__).parameters) == [
        "self",
        "name",
        "args",
        "opts",
    ]
    source = inspect.getsource(inspect.getmodule(component))
    assert f'TYPE = "{contract.type_token(cloud, thing)}"' in source


PARTIAL_CASES = [(cloud, thing) for thing, clouds in contract.PARTIAL.items() for cloud in clouds]


@pytest.mark.parametrize(("cloud", "thing"), PARTIAL_CASES)
def test_components_of_some_clouds_keep_the_same_contract(cloud, thing):
    component, args_class = classes(cloud, thing)
    names = fields(args_class)
    assert [n for n in contract.PARTIAL_ARGS[thing] if n not in names] == []
    declared = inspect.get_annotations(component)
    assert [o for o in contract.PARTIAL_OUTPUTS[thing] if o not in declared] == []
    source = inspect.getsource(inspect.getmodule(component))
    assert f'TYPE = "{contract.type_token(cloud, thing)}"' in source


def _names(thing: str, clouds: tuple[str, ...]) -> dict[str, tuple[set[str], set[str]]]:
    """Per cloud: (Args field names, declared output names) of ``thing``."""
    names = {}
    for cloud in clouds:
        component, args_class = classes(cloud, thing)
        names[cloud] = (set(fields(args_class)), set(inspect.get_annotations(component)))
    return names


@pytest.mark.parametrize("thing", [*contract.COMPONENTS, *contract.PARTIAL])
def test_no_name_differences_are_left(thing):
    """Zero differences: every name two clouds share is in the contract table, with exactly
    the clouds that have it; no cloud keeps a replaced name of release 0.1."""
    clouds = contract.PARTIAL.get(thing, contract.CLOUDS)
    names = _names(thing, clouds)
    if thing in contract.PARTIAL:
        documented = (
            {n: clouds for n in contract.PARTIAL_ARGS[thing]},
            {n: clouds for n in contract.PARTIAL_OUTPUTS[thing]},
        )
    else:
        documented = (
            {**{n: clouds for n in contract.ARGS[thing]}, **contract.SHARED_BY_SOME[thing]},
            {
                **{n: clouds for n in contract.OUTPUTS[thing]},
                **contract.OUTPUTS_SHARED_BY_SOME[thing],
            },
        )
    for kind in (0, 1):
        having: dict[str, tuple[str, ...]] = {}
        for cloud in clouds:
            for name in sorted(names[cloud][kind]):
                having[name] = (*having.get(name, ()), cloud)
        shared = {n: c for n, c in having.items() if len(c) > 1}
        assert shared == {n: tuple(c) for n, c in documented[kind].items()}, (thing, kind)
    for cloud in clouds:
        args, outputs = names[cloud]
        assert not args & set(contract.RENAMED_ARGS), (cloud, thing)
        assert not outputs & set(contract.RENAMED_OUTPUTS), (cloud, thing)


def test_the_zero_difference_check_fails_on_a_missing_contract_name(monkeypatch):
    """The check above is not vacuous: a cloud whose Args lack a contract name fails it."""
    import dataclasses as dc

    from mlops_iac.components.gcp import MonitoringArgs

    stripped = dc.make_dataclass(
        "MonitoringArgs",
        [(f.name, f.type, f) for f in dc.fields(MonitoringArgs) if f.name != "endpoint_name"],
        kw_only=True,
    )
    monkeypatch.setattr("mlops_iac.components.gcp.MonitoringArgs", stripped)
    with pytest.raises(AssertionError):
        test_no_name_differences_are_left("Monitoring")
    with pytest.raises(AssertionError, match="lacks"):
        test_same_args_outputs_constructor_and_type_token("gcp", "Monitoring")


@pytest.mark.parametrize(("cloud", "thing"), CASES)
def test_shared_fields_have_one_default(cloud, thing):
    """The same concept defaults to the same value on every cloud (spec/defaults.py)."""
    _, args_class = classes(cloud, thing)
    neutral = {
        "environment": defaults.ENVIRONMENT,
        "gpu": defaults.GPU,
        "min_nodes": defaults.MIN_NODES,
        "max_nodes": defaults.MAX_NODES,
        "spot": defaults.SPOT,
        "public_endpoint": defaults.PUBLIC_ENDPOINT,
        "customer_managed_key": defaults.CUSTOMER_MANAGED_KEY,
        "force_destroy": defaults.FORCE_DESTROY,
        "noncurrent_version_days": defaults.NONCURRENT_VERSION_DAYS,
        "min_replicas": defaults.MIN_REPLICAS,
        "max_replicas": defaults.MAX_REPLICAS,
        "latency_p99_ms": defaults.LATENCY_P99_MS,
        "error_rate_percent": defaults.ERROR_RATE_PERCENT,
        "drift": defaults.DRIFT,
    }
    for name in contract.ARGS[thing]:
        if name in neutral:
            assert default_of(args_class, name) == neutral[name], (cloud, thing, name)


@pytest.mark.parametrize(
    ("thing", "field"), [(t, f) for t, s in contract.SHARED_BY_SOME.items() for f in s]
)
def test_fields_shared_by_some_clouds_are_spelled_alike(thing, field):
    having = contract.SHARED_BY_SOME[thing][field]
    for cloud in contract.CLOUDS:
        _, args_class = classes(cloud, thing)
        assert (field in fields(args_class)) == (cloud in having), (cloud, thing, field)


@pytest.mark.parametrize(
    ("cloud", "thing", "setting", "value"),
    [
        (cloud, thing, setting, value)
        for cloud in contract.CLOUDS
        for thing, setting, value in (
            ("TrainingCluster", "public_endpoint", True),
            ("ArtifactStore", "force_destroy", True),
            ("ArtifactStore", "customer_managed_key", False),
        )
    ],
)
def test_overriding_a_secure_default_warns_the_same_way(cloud, thing, setting, value):
    component, args_class = classes(cloud, thing)
    secure = default_of(args_class, setting)

    def program():
        kwargs = {**REQUIRED.get((cloud, thing), {}), setting: value}
        if setting == "public_endpoint":
            kwargs.update(ALLOW_LIST.get(cloud, {}))
        component("x", args_class(**kwargs))

    recording = run(program, config=CONFIG[cloud])
    expected = f"{thing} x: {setting} is {value!r}; the secure default is {secure!r}"
    assert [w for w in recording.warnings if expected in w] != [], recording.warnings

    def quiet():
        component("x", args_class(**REQUIRED.get((cloud, thing), {})))

    recording = run(quiet, config=CONFIG[cloud])
    assert not [w for w in recording.warnings if f"{setting} is" in w]


def test_every_secure_default_is_in_the_contract():
    for thing, settings in contract.SECURE_DEFAULTS.items():
        assert set(settings) <= set(contract.ARGS[thing])


def test_the_exports_contract_names_every_component_output():
    from tests.components._contract import REQUIRED_EXPORTS

    outputs = {o for names in contract.OUTPUTS.values() for o in names}
    renamed = {"bucket_name": "artifact_bucket_name", "bucket_uri": "artifact_bucket_uri"}
    # The platform's own export (what bring-up left for a later `pulumi up`), no component's.
    platform_only = {"bring_up_pending"}
    # Tracking (every cloud, a partial component so a stack may turn it off) exports its URI.
    tracking = {"tracking_uri"}
    assert platform_only <= REQUIRED_EXPORTS
    assert tracking <= set(contract.PARTIAL_OUTPUTS["Tracking"])
    assert {renamed.get(o, o) for o in outputs} == REQUIRED_EXPORTS - platform_only - tracking


def test_unset_fields_resolve_to_recorded_values():
    from mlops_iac.components.aws import ServingEndpointArgs

    assert default_of(ServingEndpointArgs, "network_isolation") is True
    assert fields(ServingEndpointArgs)["network_isolation"].default is None


def test_the_platform_wiring_does_not_re_supply_defaults():
    """Unset Args resolve inside the component: the wiring passes the spec's value or None."""
    import re
    from pathlib import Path

    platform = Path(contract.__file__).parent / "platform"
    for path in platform.glob("*.py"):
        text = path.read_text()
        assert not re.search(r"\bor defaults\.[A-Z_]+", text), path.name
        assert "_defaults import" not in text.replace("components.defaults import", ""), path.name


# The contract as types (components/contract_types.py) ------------------------------------------

ALL_CASES = [*CASES, *PARTIAL_CASES]
# Shared fields a cloud re-declares, only to narrow their type (its own model version; GCP's
# Monitoring watches one Cloud Run service, so it needs the name).
NARROWED = {
    **{(cloud, "ServingEndpoint"): {"active_model", "previous_model"} for cloud in contract.CLOUDS},
    ("gcp", "Monitoring"): {"endpoint_name"},
}


@pytest.mark.parametrize(("cloud", "thing"), ALL_CASES)
def test_args_subclass_their_base_and_declare_only_their_own_fields(cloud, thing):
    from mlops_iac.components import contract_types

    _, args_class = classes(cloud, thing)
    base = contract_types.ARGS_BASES[thing]
    assert issubclass(args_class, base), (cloud, thing)
    own = set(inspect.get_annotations(args_class)) - {"FIELD_NOTES"}
    redeclared = own & {f.name for f in dataclasses.fields(base)}
    assert redeclared == NARROWED.get((cloud, thing), set()), (cloud, thing)
    shared = contract.ARGS.get(thing) or contract.PARTIAL_ARGS[thing]
    assert {f.name for f in dataclasses.fields(base)} == set(shared)
    notes = getattr(args_class, "FIELD_NOTES", {})
    assert set(notes) <= set(fields(args_class)), "a note names no field"


@pytest.mark.parametrize(("cloud", "thing"), ALL_CASES)
def test_components_declare_their_output_protocol(cloud, thing):
    """Statically: every attribute of the Protocol is annotated on the class, same name."""
    from mlops_iac.components import contract_types

    component, _ = classes(cloud, thing)
    protocol = contract_types.OUTPUT_PROTOCOLS[thing]
    wanted = set(inspect.get_annotations(protocol))
    outputs = contract.OUTPUTS.get(thing) or contract.PARTIAL_OUTPUTS[thing]
    assert wanted == set(outputs)
    assert wanted <= set(inspect.get_annotations(component)), (cloud, thing)


def _aws_components() -> list[tuple[str, str]]:
    return [("aws", thing) for thing in (*contract.COMPONENTS, "DriftJob")]


@pytest.mark.parametrize(
    ("thing", "program"),
    [
        ("ArtifactStore", lambda aws: aws.ArtifactStore("x", aws.ArtifactStoreArgs())),
        ("TrainingCluster", lambda aws: aws.TrainingCluster("x", aws.TrainingClusterArgs())),
        ("ModelRegistry", lambda aws: aws.ModelRegistry("x", aws.ModelRegistryArgs())),
        (
            "ServingEndpoint",
            lambda aws: aws.ServingEndpoint(
                "x",
                aws.ServingEndpointArgs(
                    active_model=aws.ModelVersion(
                        name="m", version="2", artifact_uri="s3://b/m/2/", image="i:2"
                    ),
                    previous_model=aws.ModelVersion(
                        name="m", version="1", artifact_uri="s3://b/m/1/", image="i:1"
                    ),
                    artifact_bucket_name="b",
                ),
            ),
        ),
        ("Monitoring", lambda aws: aws.Monitoring("x", aws.MonitoringArgs())),
        (
            "DriftJob",
            lambda aws: aws.DriftJob(
                "x",
                aws.DriftJobArgs(
                    endpoint_name="e",
                    artifact_bucket_name="b",
                    dataset_version="d",
                    alert_topic_arn="arn:aws:sns:us-east-1:123456789012:t",
                ),
            ),
        ),
    ],
)
def test_a_recorded_aws_component_registers_exactly_what_it_annotates(thing, program):
    """At runtime: every Protocol attribute is registered, and every registered output is
    annotated on the class (a registered but undeclared output, the old ``instance_type`` of the
    AWS ServingEndpoint, fails here)."""
    from mlops_iac.components import aws, contract_types

    recording = run(lambda: program(aws), config=CONFIG["aws"])
    component = recording.named("x", contract.type_token("aws", thing))
    registered = set(component.registered_outputs)
    declared = set(inspect.get_annotations(getattr(aws, thing)))
    protocol = set(inspect.get_annotations(contract_types.OUTPUT_PROTOCOLS[thing]))
    assert protocol <= registered, thing
    assert registered <= declared, (thing, registered - declared)
