"""The team test kit: offline runs of Pulumi programs and the ``offline`` pytest fixture.

>>> from mlops_iac.plan.testing import run
>>> recording = run(my_program, config={"aws:region": "us-east-1"})
>>> [bucket] = recording.of_type("aws:s3/bucket:Bucket")

Installed with ``pip install mlops-iac``, the pytest plugin gives team stacks the ``offline``
fixture (see ``mlops_iac.plan.testing.plugin``). ``emulators`` (Azure, GCP storage) and
``moto_s3`` (AWS) start local storage services for a team's own DVC tests. The older import path
``mlops_iac.components.testing`` is an alias of this package.
"""

from mlops_iac.plan.engine import (
    SECRET_PLACEHOLDER,
    ProgramError,
    Project,
    RecordedResource,
    Recording,
    run,
    run_project,
)
from mlops_iac.plan.mocks import RealisticMocks

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
