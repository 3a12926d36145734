"""pytest plugin (entry point ``mlops_iac``): offline Pulumi runs as a fixture.

In a team stack's tests::

    def test_bucket_is_versioned(offline):
        recording = offline.run_project(".", "dev")
        assert recording.of_type("aws:s3/bucket:BucketVersioning")

    def test_program(offline):
        recording = offline.run(build_platform, config={"aws:region": "us-east-1"})
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from mlops_iac.components.testing.engine import Recording, run, run_project


class OfflineEngine:
    """What the ``offline`` fixture returns: ``run`` and ``run_project`` bound to a stack name."""

    def __init__(self, stack: str = "test") -> None:
        self.stack = stack

    def run(
        self,
        program: Callable[[], Any],
        *,
        config: Mapping[str, Any] | None = None,
        project: str = "project",
        stack: str | None = None,
    ) -> Recording:
        """Run a program function offline (see ``mlops_iac.components.testing.run``)."""
        return run(program, config=config, project=project, stack=stack or self.stack)

    def run_project(
        self,
        directory: str | Path,
        stack: str | None = None,
        *,
        config_file: str | Path | None = None,
        extra_config: Mapping[str, Any] | None = None,
    ) -> Recording:
        """Run a program directory with one of its stacks (see ``run_project``)."""
        return run_project(
            directory, stack or self.stack, config_file=config_file, extra_config=extra_config
        )


@pytest.fixture
def offline() -> OfflineEngine:
    """An offline Pulumi engine: no CLI, no plugins, no cloud; each run on a fresh event loop."""
    return OfflineEngine()
