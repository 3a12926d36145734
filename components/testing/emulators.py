"""Alias of ``mlops_iac.plan.testing.emulators``, the documented older path (one module object)."""

import importlib
import sys

sys.modules[__name__] = importlib.import_module("mlops_iac.plan.testing.emulators")
