"""The offline evaluator behaves like the engine plus pulumi_policy's analyzer servicer."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from google.protobuf import struct_pb2
from pulumi.runtime import proto
from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ResourceValidationPolicy,
    StackValidationPolicy,
)
from pulumi_policy.deserialize import SPECIAL_SECRET_SIG, SPECIAL_SIG_KEY
from pulumi_policy.policy import _PolicyAnalyzerServicer
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

from mlops_iac.policies import offline, packs

from . import baseline
from .baseline import Rec, Res
from .test_rules import MUTATIONS

# --- helpers -------------------------------------------------------------------------------------


def recording(*resources: Res) -> Rec:
    return Rec(list(resources), {}, "test", "proj")


def res(name: str, type_: str = "test:index:Thing", **inputs: Any) -> Res:
    return Res(
        urn=f"urn:pulumi:test::proj::{type_}::{name}",
        type=type_,
        name=name,
        parent=None,
        inputs=inputs,
        outputs=copy.deepcopy(inputs),
    )


def resource_policy(name: str = "p", **kwargs: Any) -> ResourceValidationPolicy:
    def validate(args, report):
        if args.props.get("bad"):
            report(f"bad is {args.props['bad']}")

    return ResourceValidationPolicy(
        name, f"{name} description", kwargs.pop("validate", validate), **kwargs
    )


def schema(**properties: Any) -> PolicyConfigSchema:
    return PolicyConfigSchema(properties)


# --- config reconciliation -----------------------------------------------------------------------


def test_defaults_then_initial_then_user_config() -> None:
    policy = resource_policy(
        config_schema=schema(
            a={"type": "number", "default": 1},
            b={"type": "number", "default": 2},
            c={"type": "number", "default": 3},
        )
    )
    merged = offline.reconcile_config(
        [policy], initial_config={"p": {"b": 20, "c": 30}}, config={"p": {"c": 300}}
    )
    assert merged == {"p": (EnforcementLevel.ADVISORY, {"a": 1, "b": 20, "c": 300})}


def test_all_sets_levels_before_per_policy_entries() -> None:
    policies = [resource_policy("p"), resource_policy("q"), resource_policy("r")]
    merged = offline.reconcile_config(
        policies,
        initial_config={"all": EnforcementLevel.MANDATORY, "q": EnforcementLevel.DISABLED},
        config={"all": {"enforcementLevel": "advisory"}, "r": "mandatory"},
    )
    # The user's "all" resets the initial per-policy level too: layers apply in order.
    assert {k: v[0] for k, v in merged.items()} == {
        "p": EnforcementLevel.ADVISORY,
        "q": EnforcementLevel.ADVISORY,
        "r": EnforcementLevel.MANDATORY,
    }


def test_all_carries_no_properties() -> None:
    policy = resource_policy(config_schema=schema(a={"type": "number", "default": 1}))
    merged = offline.reconcile_config([policy], config={"all": {"a": 5}})
    assert merged["p"][1] == {"a": 1}


def test_policy_level_and_pack_default_level() -> None:
    own = resource_policy("own", enforcement_level=EnforcementLevel.MANDATORY)
    default = resource_policy("default")
    merged = offline.reconcile_config([own, default], enforcement_level=EnforcementLevel.ADVISORY)
    assert merged["own"][0] is EnforcementLevel.MANDATORY
    assert merged["default"][0] is EnforcementLevel.ADVISORY


def test_schema_errors_name_policy_and_key() -> None:
    policy = resource_policy(
        config_schema=PolicyConfigSchema(
            {"limit": {"type": "number", "minimum": 1}, "who": {"type": "string"}}, ["who"]
        )
    )
    with pytest.raises(offline.PolicyConfigError) as excinfo:
        offline.reconcile_config([policy], config={"p": {"limit": 0}})
    assert excinfo.value.errors == [
        "p: 'who' is a required property",
        "p: limit: 0 is less than the minimum of 1",
    ]
    assert "invalid policy pack config" in str(excinfo.value)


def test_pack_config_schema_error_from_the_real_pack() -> None:
    document = baseline.config()
    document["mlops-gpu-budget"]["gpuBudgetUsdPerHour"] = -5
    document["mlops-approval-gate"]["approvals"] = [{"model": "m"}]
    with pytest.raises(offline.PolicyConfigError) as excinfo:
        packs.evaluate(baseline.aws_platform(), document)
    joined = "\n".join(excinfo.value.errors)
    assert "mlops-gpu-budget: gpuBudgetUsdPerHour: -5 is less than or equal to" in joined
    assert "mlops-approval-gate: approvals.0: 'version' is a required property" in joined


@pytest.mark.parametrize("value", ["strict", 3, {"enforcementLevel": "loud"}])
def test_bad_enforcement_levels_are_refused(value: Any) -> None:
    with pytest.raises(offline.PolicyConfigError, match="'p'"):
        offline.reconcile_config([resource_policy()], config={"p": value})


# --- evaluation semantics ------------------------------------------------------------------------


def test_levels_disabled_and_remediate() -> None:
    rec = recording(res("x", bad="yes"))
    policies = [
        resource_policy("adv"),
        resource_policy("man"),
        resource_policy("off"),
        resource_policy("rem"),
    ]
    result = offline.evaluate(
        rec,
        policies,
        config={"man": "mandatory", "off": "disabled", "rem": "remediate"},
    )
    assert {(v.policy, v.level) for v in result} == {
        ("adv", "advisory"),
        ("man", "mandatory"),
        ("rem", "mandatory"),
    }
    assert result.levels["off"] == "disabled"
    assert [v.policy for v in result.mandatory] == ["man", "rem"]
    assert [v.policy for v in result.advisory] == ["adv"]
    assert not result.passed()


def test_engine_message_format() -> None:
    (violation,) = offline.evaluate(recording(res("x", bad="yes")), [resource_policy()]).violations
    assert violation.message == "bad is yes"
    assert violation.engine_message == "p description\nbad is yes"


def test_props_look_like_protobuf_struct_values() -> None:
    seen: dict[str, Any] = {}

    def validate(args, report):
        seen.update(count=args.props["count"], flag=args.props["flag"], cfg=args.get_config())

    policy = resource_policy(
        validate=validate, config_schema=schema(n={"type": "number", "default": 4})
    )
    offline.evaluate(recording(res("x", count=3, flag=True)), [policy])
    assert seen == {"count": 3.0, "flag": True, "cfg": {"n": 4.0}}
    assert isinstance(seen["count"], float) and isinstance(seen["cfg"]["n"], float)


def test_secrets_are_unwrapped() -> None:
    secret = {SPECIAL_SIG_KEY: SPECIAL_SECRET_SIG, "value": "hunter2"}
    seen = []
    policy = resource_policy(validate=lambda args, report: seen.append(args.props["password"]))
    offline.evaluate(recording(res("x", password=secret)), [policy])
    assert seen == ["hunter2"]


def test_unknown_values_become_an_advisory_preview_diagnostic() -> None:
    policy = resource_policy(validate=lambda args, report: args.props["ip"])
    (violation,) = offline.evaluate(
        recording(res("x", ip=UNKNOWN_STRING_VALUE)),
        [policy],
        config={"p": "mandatory"},
    ).violations
    assert violation.level == "advisory"
    assert violation.unknown
    assert violation.engine_message == (
        "can't run policy 'p' from policy pack 'mlops-governance@v0.0.1' during preview: "
        "string value at .ip can't be known during preview"
    )


def test_not_applicable_is_recorded() -> None:
    policy = resource_policy(validate=lambda args, report: args.not_applicable("nope"))
    result = offline.evaluate(recording(res("x")), [policy])
    assert result.violations == ()
    assert result.not_applicable == (offline.NotApplicable("p", res("x").urn, "nope"),)


def test_stack_policy_sees_outputs_parents_and_dependencies() -> None:
    parent = res("parent", "test:index:Component")
    child = res("child", bad="input")
    child.parent = parent.urn
    child.outputs = {"bad": "output"}
    child.dependencies = [parent.urn]
    child.property_dependencies = {"owner": [parent.urn]}
    seen = {}

    def validate(args, report):
        by_name = {r.name: r for r in args.resources}
        kid = by_name["child"]
        seen.update(
            props=dict(kid.props),
            parent=kid.parent.name,
            deps=[d.name for d in kid.dependencies],
            prop_deps={k: [d.name for d in v] for k, v in kid.property_dependencies.items()},
            opts_parent=kid.opts.parent,
        )
        report("stack-wide")
        report("about the child", kid.urn)

    result = offline.evaluate(
        recording(parent, child), [StackValidationPolicy("s", "s desc", validate)]
    )
    assert seen == {
        "props": {"bad": "output"},
        "parent": "parent",
        "deps": ["parent"],
        "prop_deps": {"owner": ["parent"]},
        "opts_parent": parent.urn,
    }
    assert [(v.urn, v.resource_name) for v in result] == [("", ""), (child.urn, "child")]


def test_async_validations_run() -> None:
    async def validate(args, report):
        report("async")

    result = offline.evaluate(recording(res("x")), [resource_policy(validate=validate)])
    assert [v.message for v in result] == ["async"]


def test_a_crashing_policy_names_itself_and_the_resource() -> None:
    policy = resource_policy(validate=lambda args, report: 1 / 0)
    with pytest.raises(offline.PolicyError, match=r"policy 'p' failed on urn:pulumi:test::proj"):
        offline.evaluate(recording(res("x")), [policy])


def test_provider_reference_becomes_a_provider_resource() -> None:
    rec = baseline.aws_platform()
    seen = []

    def validate(args, report):
        if args.name == "artifacts-bucket":
            seen.append(
                (args.provider.resource_type, args.provider.name, dict(args.provider.props))
            )

    offline.evaluate(rec, [resource_policy(validate=validate)])
    assert seen == [("pulumi:providers:aws", "default_7_51_1", {"region": "us-east-1"})]


# --- equivalence with pulumi_policy's analyzer servicer ------------------------------------------


def _struct(values: dict[str, Any]) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    message.update(values)
    return message


def _provider(rec: Rec, reference: str | None) -> proto.AnalyzerProviderResource | None:
    if not reference:
        return None
    urn = reference.rsplit("::", 1)[0]
    provider = next(r for r in rec.resources if r.urn == urn)
    return proto.AnalyzerProviderResource(
        type=provider.type, properties=_struct(provider.inputs), urn=urn, name=provider.name
    )


def _servicer_diagnostics(
    rec: Rec, reconciled: dict[str, tuple[EnforcementLevel, dict[str, Any]]]
) -> tuple[set[tuple[str, str, str, str]], set[tuple[str, str, str]]]:
    """Drive the SDK's gRPC servicer directly, the way the engine would, without a server."""
    servicer = _PolicyAnalyzerServicer(
        packs.PACK_NAME, "0.0.1", packs.policies(), EnforcementLevel.MANDATORY
    )
    configure = proto.ConfigureAnalyzerRequest()
    for name, (level, props) in reconciled.items():
        policy_config = proto.PolicyConfig(
            enforcementLevel=servicer._map_enforcement_level(level), properties=_struct(props)
        )
        configure.policyConfig[name].CopyFrom(policy_config)
    servicer.Configure(configure, None)
    level_names = {proto.ADVISORY: "advisory", proto.MANDATORY: "mandatory"}

    diagnostics, not_applicable = set(), set()
    for r in rec.resources:
        request = proto.AnalyzeRequest(
            type=r.type,
            properties=_struct(r.inputs),
            urn=r.urn,
            name=r.name,
            options=proto.AnalyzerResourceOptions(protect=r.protect, parent=r.parent or ""),
        )
        if (provider := _provider(rec, r.provider)) is not None:
            request.provider.CopyFrom(provider)
        response = servicer.Analyze(request, None)
        # The engine files every resource diagnostic under the analysed resource's URN.
        diagnostics |= {
            (d.policyName, level_names[d.enforcementLevel], r.urn, d.message)
            for d in response.diagnostics
        }
        not_applicable |= {(n.policy_name, r.urn, n.reason) for n in response.not_applicable}

    stack = proto.AnalyzeStackRequest()
    for r in rec.resources:
        item = proto.AnalyzerResource(
            type=r.type,
            properties=_struct(r.outputs),
            urn=r.urn,
            name=r.name,
            options=proto.AnalyzerResourceOptions(protect=r.protect, parent=r.parent or ""),
            parent=r.parent or "",
            dependencies=r.dependencies,
        )
        if (provider := _provider(rec, r.provider)) is not None:
            item.provider.CopyFrom(provider)
        for key, urns in r.property_dependencies.items():
            item.propertyDependencies[key].urns.extend(urns)
        stack.resources.append(item)
    response = servicer.AnalyzeStack(stack, None)
    diagnostics |= {
        (d.policyName, level_names[d.enforcementLevel], d.urn, d.message)
        for d in response.diagnostics
    }
    not_applicable |= {(n.policy_name, "", n.reason) for n in response.not_applicable}
    return diagnostics, not_applicable


def _broken_platform() -> Rec:
    rec = baseline.aws_platform()
    for mutation in MUTATIONS:
        if mutation.stack is None:  # the others change an Azure or GCP reference program
            mutation.mutate(rec)
    return rec


@pytest.mark.parametrize(
    "environment, build",
    [("prod", baseline.aws_platform), ("dev", baseline.aws_platform), ("prod", _broken_platform)],
    ids=["prod-baseline", "dev-baseline", "prod-broken"],
)
def test_same_diagnostics_as_the_analyzer_servicer(environment: str, build: Any) -> None:
    rec = build(environment) if build is baseline.aws_platform else build()
    broken: dict[str, Any] = {}
    if build is _broken_platform:
        broken = {
            "problems": ["a record did not verify"],
            "monthly_budget": 1000,
            "overrides": {"mlops-cost-monthly-budget": {"estimatedUsdPerMonth": 1200}},
        }
    document = baseline.config(environment, gpu_budget=3, approvals=[], **broken)
    reconciled = offline.reconcile_config(
        packs.policies(), packs.initial_config(environment), document, EnforcementLevel.MANDATORY
    )
    result = packs.evaluate(rec, document, environment=environment)

    expected, expected_na = _servicer_diagnostics(rec, reconciled)
    ours = {(v.policy, v.level, v.urn, v.engine_message) for v in result.violations}
    ours_na = {(n.policy, n.urn, n.reason) for n in result.not_applicable}
    assert ours == expected
    assert ours_na == expected_na
    assert len(result.violations) == len(ours)  # no duplicates hidden by the set
    if build is _broken_platform:
        # Every rule with a mutation of the AWS baseline fires; the others govern Azure or GCP
        # resources, which this program has none of.
        aws = {m.rule for m in MUTATIONS if m.stack is None}
        assert {d[0] for d in expected} == aws
        assert aws == {rule.name for rule in packs.rules()} - {"mlops-serving-auto-rollback"}


def test_initial_config_is_accepted_by_the_sdk() -> None:
    """What __main__.py passes to PolicyPack survives the SDK's GetAnalyzerInfo."""
    # aws-dev is dev in governance/settings.yaml: the stack file's claim alone would not do.
    settings = packs.settings_from_stack_config(
        '{"mlops:platform": "{\\"environment\\": \\"dev\\", \\"owner\\": \\"o@example.com\\"}"}',
        "aws-dev",
    )
    initial = packs.to_initial_config(packs.pack_config(**settings))
    servicer = _PolicyAnalyzerServicer(
        packs.PACK_NAME, "0.0.1", packs.policies(), EnforcementLevel.MANDATORY, initial
    )
    info = servicer.GetAnalyzerInfo(None, None)
    assert {p.name for p in info.policies} == {rule.name for rule in packs.rules()}
    gate = info.initialConfig["mlops-approval-gate"]
    assert gate.enforcementLevel == proto.ADVISORY
    assert gate.properties["owner"] == "o@example.com"
    assert all(p.remediation_steps for p in info.policies)
