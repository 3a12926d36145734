"""Offline testing for Pulumi programs: the recording mock engine and its pytest plugin.

>>> from mlops_iac.components.testing import run
>>> recording = run(my_program, config={"aws:region": "us-east-1"})
>>> [bucket] = recording.of_type("aws:s3/bucket:Bucket")

Installed with ``pip install mlops-iac``, the pytest plugin gives team stacks the ``offline``
fixture (see ``mlops_iac.components.testing.plugin``).
"""

from mlops_iac.components.testing.engine import (
    SECRET_PLACEHOLDER,
    ProgramError,
    Project,
    RecordedResource,
    Recording,
    run,
    run_project,
)
from mlops_iac.components.testing.mocks import RealisticMocks

__all__ = [
    "SECRET_PLACEHOLDER",
    "ProgramError",
    "Project",
    "RealisticMocks",
    "RecordedResource",
    "Recording",
    "run",
    "run_project",
]
