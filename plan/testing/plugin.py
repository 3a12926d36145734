"""pytest plugin (entry point ``mlops_iac``): offline Pulumi runs as a fixture.

In a team stack's tests::

    def test_bucket_is_versioned(offline):
        recording = offline.run_project(".", "dev")
        assert recording.of_type("aws:s3/bucket:BucketVersioning")

    def test_program(offline):
        recording = offline.run(build_platform, config={"aws:region": "us-east-1"})

A run whose resources the real deploy would refuse (``recording.deploy_errors()``: names over a
cloud's limit, combinations a cloud rejects, traffic to things a first deploy does not have)
fails the test, listing each error with its rule and source. Opt out per test with
``@pytest.mark.allow_deploy_errors`` or per run with ``offline.run(…, allow_deploy_errors=True)``
(then assert on ``recording.deploy_errors()`` yourself).
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from mlops_iac.plan.engine import Project, Recording, run, run_project

MARKER = "allow_deploy_errors"

SDK_WARNING_MODULES = (
    "pulumi_aws",
    "pulumi_azure_native",
    "pulumi_gcp",
    "pulumi_kubernetes",
    "pulumi",
    "google.protobuf",
    "grpc",
    "botocore",
)
"""Packages whose own ``DeprecationWarning`` s the fixture ignores while it runs a program: the
provider SDKs warn about their own deprecated types on import and use, which a team cannot fix,
and a suite run with ``-W error`` (or ``filterwarnings = error``) would fail on them."""


@contextlib.contextmanager
def sdk_warnings_ignored() -> Iterator[None]:
    """Ignore the provider SDKs' own deprecation warnings (``SDK_WARNING_MODULES``) inside.

    Filters added here sit above ``-W`` and ini filters and are removed on exit, so the team's
    own code still warns (and fails under ``-W error``)."""
    with warnings.catch_warnings():
        for module in SDK_WARNING_MODULES:
            warnings.filterwarnings(
                "ignore", category=DeprecationWarning, module=rf"{module}(\.|$)"
            )
        yield


class OfflineEngine:
    """What the ``offline`` fixture returns: ``run`` and ``run_project`` bound to a stack name."""

    def __init__(self, stack: str = "test", *, allow_deploy_errors: bool = False) -> None:
        self.stack = stack
        self.allow_deploy_errors = allow_deploy_errors

    def run(
        self,
        program: Callable[[], Any],
        *,
        config: Mapping[str, Any] | None = None,
        project: str = "project",
        stack: str | None = None,
        allow_deploy_errors: bool | None = None,
    ) -> Recording:
        """Run a program function offline (see ``mlops_iac.plan.testing.run``)."""
        with sdk_warnings_ignored():
            recording = run(program, config=config, project=project, stack=stack or self.stack)
        return self._checked(recording, allow_deploy_errors)

    def run_project(
        self,
        directory: str | Path,
        stack: str | None = None,
        *,
        config_file: str | Path | None = None,
        extra_config: Mapping[str, Any] | None = None,
        allow_deploy_errors: bool | None = None,
    ) -> Recording:
        """Run a program directory with one of its stacks (see ``run_project``)."""
        stack = stack or self.stack
        with sdk_warnings_ignored():
            recording = run_project(
                directory, stack, config_file=config_file, extra_config=extra_config
            )
        # Like `mlops-iac plan`: the stack's saved export, when kept beside its stack file.
        saved = Project.load(directory).read_saved_state(stack)
        return self._checked(recording, allow_deploy_errors, saved)

    def _checked(self, recording: Recording, allow: bool | None, saved: Any = None) -> Recording:
        if self.allow_deploy_errors if allow is None else allow:
            return recording
        errors = recording.deploy_errors(list(saved.resources) if saved else None)
        if errors:
            lines = [f"{len(errors)} deploy error(s): the real deploy would refuse this program"]
            for e in errors:
                where = f"{e.resource_name} ({e.resource_type})"
                lines.append(f"  {where} {e.input or '(resource)'} = {e.value!r}")
                lines.append(f"    {e.rule}: {e.message}")
                lines.append(f"    source: {e.source}")
            lines.append(f"(opt out: @pytest.mark.{MARKER} or allow_deploy_errors=True)")
            pytest.fail("\n".join(lines), pytrace=False)
        return recording


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", f"{MARKER}: the offline fixture does not fail the test on deploy errors"
    )


@pytest.fixture
def offline(request: pytest.FixtureRequest) -> OfflineEngine:
    """An offline Pulumi engine: no CLI, no plugins, no cloud; each run on a fresh event loop.

    Fails the test on a deploy error unless the test is marked ``allow_deploy_errors``.
    """
    return OfflineEngine(allow_deploy_errors=request.node.get_closest_marker(MARKER) is not None)
