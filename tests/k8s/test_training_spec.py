"""``training.operator`` and ``training.access``: defaults, and one line per bad value."""

from __future__ import annotations

import copy

import pytest

from mlops_iac.spec.errors import SpecError
from mlops_iac.spec.parse import parse_spec
from tests.conftest import platform_raw


def _spec(stack: str, **training):
    raw = copy.deepcopy(platform_raw(stack))
    raw.setdefault("training", {}).update(training)
    return raw


def _problems(raw) -> list[str]:
    with pytest.raises(SpecError) as caught:
        parse_spec(raw)
    return caught.value.lines


def test_defaults_are_kubeflow_trainer_and_no_public_access():
    spec = parse_spec(platform_raw("aws-prod"))
    assert spec.training.operator == "kubeflow-trainer"
    assert spec.training.access.admin_role_arns == []
    assert spec.training.access.public_cidrs == []
    assert spec.training.access.dns_endpoint is True


def test_operator_choices():
    spec = parse_spec(_spec("gcp-dev", operator="kuberay"))
    assert spec.training.operator == "kuberay"
    [line] = _problems(_spec("aws-dev", operator="volcano"))
    assert line.startswith("mlops:platform.training.operator:")


def test_public_endpoint_needs_an_allow_list():
    [line] = _problems(_spec("aws-dev", publicEndpoint=True))
    assert line == (
        "mlops:platform.training.access.publicCidrs: a public endpoint needs an explicit CIDR "
        "allow-list"
    )
    ok = parse_spec(
        _spec("aws-dev", publicEndpoint=True, access={"publicCidrs": ["203.0.113.0/24"]})
    )
    assert ok.training.access.public_cidrs == ["203.0.113.0/24"]


def test_the_whole_internet_is_refused_outside_dev():
    raw = _spec("aws-prod", access={"publicCidrs": ["203.0.113.0/24", "0.0.0.0/0"]})
    [line] = _problems(raw)
    assert line.startswith("mlops:platform.training.access.publicCidrs[1]: 0.0.0.0/0 opens")
    dev = parse_spec(_spec("aws-dev", publicEndpoint=True, access={"publicCidrs": ["0.0.0.0/0"]}))
    assert dev.training.access.public_cidrs == ["0.0.0.0/0"]


def test_prod_still_refuses_a_public_endpoint_even_with_an_allow_list():
    raw = _spec("aws-prod", publicEndpoint=True, access={"publicCidrs": ["203.0.113.0/24"]})
    assert _problems(raw) == ["mlops:platform.training.publicEndpoint: refused in prod"]


@pytest.mark.parametrize(
    "access, fragment",
    [
        ({"publicCidrs": ["10.0.0.1/8"]}, "is not a CIDR block"),
        ({"adminRoleArns": ["arn:aws:iam::123:user/bob"]}, "is not an IAM role ARN"),
        ({"allowEverything": True}, "allowEverything"),
    ],
)
def test_bad_access_values_name_the_key(access, fragment):
    [line] = _problems(_spec("aws-dev", access=access))
    assert line.startswith("mlops:platform.training.access")
    assert fragment in line


def test_admin_roles_only_on_aws():
    raw = _spec("gcp-dev", access={"adminRoleArns": ["arn:aws:iam::123456789012:role/ci"]})
    assert _problems(raw) == [
        "mlops:platform.training.access.adminRoleArns: only used on AWS (EKS access entries)"
    ]


def test_private_cidrs_default_to_none_and_refuse_public_space_by_index():
    assert parse_spec(platform_raw("aws-prod")).training.access.private_cidrs is None
    ok = parse_spec(_spec("aws-prod", access={"privateCidrs": ["10.20.0.0/16", "fd00::/8"]}))
    assert ok.training.access.private_cidrs == ["10.20.0.0/16", "fd00::/8"]
    raw = _spec("aws-prod", access={"privateCidrs": ["10.20.0.0/16", "0.0.0.0/0", "10.0.0.1/8"]})
    assert [line.split(": ", 1)[0] for line in _problems(raw)] == [
        "mlops:platform.training.access.privateCidrs[1]",
        "mlops:platform.training.access.privateCidrs[2]",
    ]
    [line] = _problems(_spec("aws-dev", access={"privateCidrs": ["198.51.100.0/24"]}))
    assert line.startswith(
        "mlops:platform.training.access.privateCidrs[0]: 198.51.100.0/24 is not private address "
        "space"
    )


def test_private_cidrs_only_on_aws():
    assert _problems(_spec("gcp-dev", access={"privateCidrs": ["10.0.0.0/8"]})) == [
        "mlops:platform.training.access.privateCidrs: only used on AWS (EKS cluster security group)"
    ]
