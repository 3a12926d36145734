from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlops_iac.spec.errors import SpecError
from mlops_iac.spec.models import PlatformSpec
from mlops_iac.spec.parse import parse_spec
from tests.conftest import platform_raw


@pytest.mark.parametrize("stack", ["aws-dev", "aws-prod"])
def test_reference_stacks_load(stack):
    spec = parse_spec(platform_raw(stack))
    assert isinstance(spec, PlatformSpec)
    assert spec.cloud == "aws"
    assert spec.serving.active_model.version == "7"


def test_defaults_are_secure(aws_dev_raw):
    spec = parse_spec(aws_dev_raw)
    assert spec.artifacts.customer_managed_key is True
    assert spec.artifacts.force_destroy is False
    assert spec.training.min_nodes == 0
    assert spec.training.public_endpoint is False
    assert spec.serving.public_endpoint is False
    assert spec.enforcement == "advisory"


def test_prod_is_mandatory_and_frozen(aws_prod_raw):
    spec = parse_spec(aws_prod_raw)
    assert spec.enforcement == "mandatory"
    with pytest.raises(Exception, match="frozen"):
        spec.project = "other"  # type: ignore[misc]


def test_rollback_serves_previous_version(aws_prod_raw):
    aws_prod_raw["serving"]["rollback"] = True
    spec = parse_spec(aws_prod_raw)
    assert spec.serving.active_model.version == "6"
    assert spec.serving.standby_model.version == "7"


def test_approval_lookup(aws_prod_raw):
    spec = parse_spec(aws_prod_raw)
    approval = spec.governance.approval_for(spec.serving.model)
    assert approval is not None and approval.approved_by == "jane@example.com"


def _set(raw: dict, path: str, value) -> None:
    keys = path.split(".")
    for key in keys[:-1]:
        raw = raw.setdefault(key, {})
    raw[keys[-1]] = value


def _delete(raw: dict, path: str) -> None:
    keys = path.split(".")
    for key in keys[:-1]:
        raw = raw[key]
    del raw[keys[-1]]


# (stack, mutation path, value or _DELETE, expected key path, expected message fragment)
_DELETE = object()
BAD_FILES = [
    ("aws-dev", "training.maxNodes", -1, "training.maxNodes", "greater than or equal to 0"),
    ("aws-dev", "training.minNodes", 5, "training.maxNodes", "must be >= minNodes (5)"),
    ("aws-dev", "training.gpu", "v100", "training.gpu", "valid choices"),
    ("aws-dev", "training.gpusPerNode", 8, "training.gpusPerNode", "g4dn.xlarge has 1"),
    ("aws-dev", "training.gpuType", "t4", "training.gpuType", "did you mean 'gpu'"),
    ("aws-dev", "cloud", "oracle", "cloud", "'aws', 'azure' or 'gcp'"),
    ("aws-dev", "environment", "qa", "environment", "'dev', 'staging' or 'prod'"),
    ("aws-dev", "project", "Fraud Detection", "project", "should match pattern"),
    ("aws-dev", "lineage", _DELETE, "lineage", "required key is missing"),
    ("aws-dev", "lineage.gitSha", "HEAD", "lineage.gitSha", "should match pattern"),
    ("aws-dev", "serving.replicas.min", 3, "serving.replicas.max", "must be >= min (3)"),
    ("aws-dev", "serving.rollout.canaryPercent", 60, "serving.rollout.canaryPercent", "50"),
    ("aws-dev", "serving.rollout.canaryPercent", 0, "serving.rollout.canaryPercent", "1"),
    ("aws-dev", "serving.previousModel", None, "serving.rollback", None),
    ("aws-dev", "monitoring.alertEmails", ["oncall"], "monitoring.alertEmails", "not an email"),
    ("aws-dev", "monitoring.drift", "monthly", "monitoring.drift", "hourly"),
    ("aws-dev", "azure", {"tenantId": "x"}, "azure", "only valid when cloud is azure"),
    ("aws-dev", "governance.gpuBudgetUsdPerHour", 0, "governance.gpuBudgetUsdPerHour", "greater"),
    (
        "aws-dev",
        "governance.approvals",
        [{"model": "m1"}],
        "governance.approvals[0].version",
        "required key is missing",
    ),
    ("aws-prod", "owner", None, "owner", "required in prod"),
    ("aws-prod", "monitoring.alertEmails", [], "monitoring.alertEmails", "prod needs one"),
    ("aws-prod", "artifacts.forceDestroy", True, "artifacts.forceDestroy", "refused in prod"),
    (
        "aws-prod",
        "artifacts.customerManagedKey",
        False,
        "artifacts.customerManagedKey",
        "customer-managed key",
    ),
    ("aws-prod", "serving.publicEndpoint", True, "serving.publicEndpoint", "refused in prod"),
    ("aws-prod", "training.publicEndpoint", True, "training.publicEndpoint", "refused in prod"),
    ("aws-prod", "aws.vpcId", "vpc-0abc", "aws.subnetIds", "together"),
]


@pytest.mark.parametrize(("stack", "path", "value", "where", "fragment"), BAD_FILES)
def test_bad_file_names_the_key(stack, path, value, where, fragment):
    raw = platform_raw(stack)
    if path == "serving.previousModel":
        raw["serving"]["rollback"] = True
    if value is _DELETE:
        _delete(raw, path)
    else:
        _set(raw, path, value)
    with pytest.raises(SpecError) as excinfo:
        parse_spec(raw)
    paths = [p for p, _ in excinfo.value.problems]
    assert f"mlops:platform.{where}" in paths, excinfo.value.lines
    if fragment:
        line = next(
            line for line in excinfo.value.lines if line.startswith(f"mlops:platform.{where}:")
        )
        assert fragment in line


def test_every_problem_is_reported_at_once(aws_prod_raw):
    aws_prod_raw["training"]["minNodes"] = 9
    aws_prod_raw["monitoring"]["colour"] = "red"
    aws_prod_raw["owner"] = None
    aws_prod_raw["gcp"] = {}
    aws_prod_raw["serving"]["replicas"] = {"min": 4, "max": 1}
    with pytest.raises(SpecError) as excinfo:
        parse_spec(aws_prod_raw)
    paths = {p for p, _ in excinfo.value.problems}
    assert {
        "mlops:platform.training.maxNodes",
        "mlops:platform.monitoring.colour",
        "mlops:platform.owner",
        "mlops:platform.gcp",
        "mlops:platform.serving.replicas.max",
    } <= paths
    assert str(excinfo.value).count("\n") == len(excinfo.value.problems) - 1


def test_not_a_mapping():
    with pytest.raises(SpecError, match=r"^mlops:platform: must be a mapping"):
        parse_spec(["cloud", "aws"])


_json = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 500) | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)
_keys = st.sampled_from(
    [
        "cloud",
        "environment",
        "project",
        "owner",
        "lineage",
        "training",
        "serving",
        "monitoring",
        "governance",
        "artifacts",
        "aws",
        "azure",
        "gcp",
        "costCenter",
    ]
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(_keys, _json, max_size=8) | _json)
def test_generated_files_fail_only_with_spec_errors(raw):
    try:
        parse_spec(raw)
    except SpecError as exc:
        assert exc.problems and all(p.startswith("mlops:platform") for p, _ in exc.problems)


@settings(max_examples=100, deadline=None)
@given(
    path=st.sampled_from(
        [
            "training.maxNodes",
            "training.gpu",
            "serving.replicas.max",
            "serving.model.version",
            "monitoring.latencyP99Ms",
            "governance.approvers",
            "artifacts.replicaRegion",
            "serving.rollout",
            "lineage.datasetVersion",
        ]
    ),
    value=_json,
)
def test_mutated_reference_file_fails_only_with_spec_errors(path, value):
    raw = platform_raw("aws-prod")
    _set(raw, path, value)
    try:
        parse_spec(raw)
    except SpecError as exc:
        assert exc.problems


def test_unquoted_versions_are_taken_as_text(aws_prod_raw):
    aws_prod_raw["serving"]["model"]["version"] = 7
    aws_prod_raw["governance"]["approvals"][0]["version"] = 7
    spec = parse_spec(aws_prod_raw)
    assert spec.serving.model.version == "7"
    assert spec.governance.approval_for(spec.serving.model) is not None
    aws_prod_raw["serving"]["model"]["version"] = True
    with pytest.raises(SpecError, match=r"serving\.model\.version: Input should be a valid string"):
        parse_spec(aws_prod_raw)
