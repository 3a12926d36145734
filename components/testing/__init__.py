"""Offline testing for Pulumi programs: the recording mock engine and its pytest plugin.

>>> from components.testing import run
>>> recording = run(my_program, config={"aws:region": "us-east-1"})
>>> [bucket] = recording.of_type("aws:s3/bucket:Bucket")

Installed with ``pip install mlops-iac``, the pytest plugin gives team stacks the ``offline``
fixture (see ``components.testing.plugin``).
"""

from components.testing.engine import (
    SECRET_PLACEHOLDER,
    ProgramError,
    Project,
    RecordedResource,
    Recording,
    run,
    run_project,
)
from components.testing.mocks import RealisticMocks

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
