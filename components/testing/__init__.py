"""Alias of ``mlops_iac.plan.testing``, the team test kit, kept for team repositories.

``from mlops_iac.components.testing import run_project, Recording`` (and ``emulators``,
``moto_s3``) keeps working; new code imports ``mlops_iac.plan.testing``. The test kit runs the
plan engine, and the components library never imports the plan side, so this package imports
nothing until a name is used (module ``__getattr__``): importing the components alone never loads
``mlops_iac.plan``.
"""

from __future__ import annotations

import importlib
from typing import Any

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
_SUBMODULES = ("emulators", "moto_s3", "plugin")


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(importlib.import_module("mlops_iac.plan.testing"), name)
    if name in _SUBMODULES:
        return importlib.import_module(f"mlops_iac.plan.testing.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__, *_SUBMODULES})
