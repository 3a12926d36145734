"""A plan reads the same on every run: the mock engine's registration order does not leak.

The SDK registers sibling resources as their inputs resolve, on executor threads, so the order in
which the monitor sees them changes from run to run (CI once saw two NAT gateways swap places).
These tests register in other orders on purpose and compare what users see.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path

import pulumi
import pulumi_aws as aws
import pytest

from mlops_iac.plan import engine
from tests.conftest import REPO, reference_recording


class _ShuffledOrder(list[str]):
    """The monitor's registration order, read back in a seeded random permutation."""

    def __init__(self, seed: int) -> None:
        super().__init__()
        self.seed = seed
        self.seen: list[str] = []

    def __iter__(self) -> Iterator[str]:
        shuffled = list(super().__iter__())
        random.Random(self.seed).shuffle(shuffled)
        self.seen = shuffled
        return iter(shuffled)


def _plan_with_registrations_shuffled(
    cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, seed: int
) -> tuple[str, str, list[str]]:
    """(JSON report, console output, the order the monitor handed over) of aws-prod's plan."""
    orders: list[_ShuffledOrder] = []

    class Monitor(engine.RecordingMonitor):
        def __init__(self, mocks) -> None:
            super().__init__(mocks)
            self.order = _ShuffledOrder(seed)
            orders.append(self.order)

    monkeypatch.setattr(engine, "RecordingMonitor", Monitor)
    report = tmp_path / f"plan-{seed}.json"
    code = cli("plan", "--stack", "aws-prod", "--project", REPO, "--json", report, "--no-color")
    assert code == 0, cli.err
    (order,) = orders
    return report.read_text(), cli.out, order.seen


def test_the_plan_is_the_same_whatever_order_the_engine_registered_in(
    cli, monkeypatch, tmp_path
) -> None:
    first_json, first_out, first_order = _plan_with_registrations_shuffled(
        cli, monkeypatch, tmp_path, 1
    )
    second_json, second_out, second_order = _plan_with_registrations_shuffled(
        cli, monkeypatch, tmp_path, 2
    )
    assert sorted(first_order) == sorted(second_order) and first_order != second_order
    assert first_json == second_json
    assert first_out == second_out
    # The two NAT gateways of the flaky run are among what both listed.
    document = json.loads(first_json)
    nat = "aws:ec2/natGateway:NatGateway"
    nats = {r["name"] for r in document["resources"] if r["type"] == nat}
    assert nats == {"mlops-training-nat-0", "mlops-training-nat-1"}


def test_canonical_order_depends_on_what_was_registered_not_when() -> None:
    resources = list(reference_recording("aws-prod").resources)
    expected = [r.urn for r in engine.canonical_order(resources)]
    for seed in range(5):
        shuffled = list(resources)
        random.Random(seed).shuffle(shuffled)
        assert [r.urn for r in engine.canonical_order(shuffled)] == expected
    # An order the engine could have seen: parents, providers and dependencies come first.
    position = {urn: i for i, urn in enumerate(expected)}
    for resource in engine.canonical_order(resources):
        before = [resource.parent, *resource.dependencies]
        if resource.provider:
            before.append(resource.provider.rsplit("::", 1)[0])
        for urn in before:
            if urn in position:
                assert position[urn] < position[resource.urn], (urn, resource.urn)


def test_warnings_read_the_same_whatever_order_they_arrived_in() -> None:
    # A warning about a resource is sent once its URN resolves, after the plain ones and in
    # whichever order the URNs resolve: the recording sorts them.
    def program() -> None:
        for name in ("b", "a"):
            bucket = aws.s3.Bucket(f"{name}-bucket")
            pulumi.log.warn(f"{name}: about its bucket", bucket)
        pulumi.log.warn("0: plain")

    recording = engine.run(program, config={"aws:region": "us-east-1"})
    assert recording.warnings == ["0: plain", "a: about its bucket", "b: about its bucket"]


def test_overlapping_secrets_of_one_length_scrub_the_same_in_any_order() -> None:
    from mlops_iac.policies import report

    text = "token abcde"
    assert report.scrub(text, ["bcde", "abcd"]) == report.scrub(text, ["abcd", "bcde"])
    assert report.scrub(text, {"bcde", "abcd"}) == "token [secret]e"
