"""Shared fixtures: the reference stack files as raw ``mlops:platform`` mappings."""

from __future__ import annotations

import contextlib
import fcntl
import functools
import os
import pickle
import shutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml

if TYPE_CHECKING:
    from mlops_iac.plan.testing import Recording

pytest_plugins = ["pytester"]

REPO = Path(__file__).resolve().parents[1]
STACKS = REPO / "stacks"


def _one_botocore_loader() -> None:
    """Every botocore session of a test process reads the AWS service models (the JSON files
    shipped in botocore) through one loader, keyed by its search path as botocore's own is.

    Each session otherwise makes its own loader and parses a service's model again (up to a
    second for a large one): the code under test makes its clients in a new session per run, as
    a Lambda's cold start does, and the AWS alarm scenarios spent about half their time parsing.
    The sessions stay separate (credentials, region, event handlers); one long-lived session
    shares its loader between its clients the same way.
    """
    import botocore.session

    botocore.session.create_loader = functools.cache(botocore.session.create_loader)


_one_botocore_loader()


# Modules with the longest tests (tens of seconds: a wheel install, real DVC round trips, fresh
# interpreters building a platform, generated corpora), run first. Under ``--dist worksteal`` a
# worker that runs out of tests takes half of another's queue, so what is left at the end is the
# short tests and both workers finish together; a long test left for last keeps one core idle for
# its whole duration. A module is moved whole, so its module-scoped fixtures are set up once.
RUN_FIRST = (
    # The install acceptance test's first plan writes the bytecode of the venv the AWS persona
    # then uses (``aws_venv`` below).
    "tests/test_packaging.py",
    "tests/test_personas.py",
    # Mostly waiting (the MLflow server's start and stop): overlapped with the other worker's tests.
    "examples/tracking/test_example_tracking.py",
    "examples/dvc-remote/test_example_dvc_remote.py",
    "tests/test_import_footprint.py",
    "tests/components/azure/test_stack_azure.py",
    "tests/components/test_spec.py",
    "tests/ops/test_malformed.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Long modules first (``RUN_FIRST`` order); the rest keep their order (a stable sort)."""
    rank = {module: n for n, module in enumerate(RUN_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::")[0], len(rank)))


# The reference plans' shipped code cannot make every call it needs today (the plan-time proof of
# ``mlops_iac.plan.deploy.permissions`` says which); each cloud's fix lands on its own branch.
# Strict: the lead removes the mark when the fix is merged.
def stack_config(stack: str) -> dict:
    """The whole ``config:`` mapping of ``stacks/Pulumi.<stack>.yaml``, a fresh copy (safe to
    mutate) of the file read once per test process (a YAML parse costs about 25 ms)."""
    return pickle.loads(_stack_config(stack))


@functools.cache
def _stack_config(stack: str) -> bytes:
    config = yaml.safe_load((STACKS / f"Pulumi.{stack}.yaml").read_text())["config"]
    return pickle.dumps(config, protocol=pickle.HIGHEST_PROTOCOL)


def platform_raw(stack: str) -> dict:
    """A fresh copy of the stack's ``mlops:platform`` object, safe to mutate."""
    return stack_config(stack)["mlops:platform"]


def azure_problems(**azure) -> list[str]:
    """The spec errors of azure-prod with its ``azure`` section replaced by ``azure``."""
    from mlops_iac.spec.errors import SpecError
    from mlops_iac.spec.parse import parse_spec

    raw = platform_raw("azure-prod")
    raw["azure"] = azure
    try:
        parse_spec(raw)
    except SpecError as exc:
        return exc.lines
    return []


@functools.cache
def _recorded(stack: str) -> Recording:
    from mlops_iac.plan.testing import run_project

    return run_project(REPO, stack)


@functools.cache
def _pickled(stack: str) -> bytes:
    return pickle.dumps(_recorded(stack), protocol=pickle.HIGHEST_PROTOCOL)


def reference_recording(stack: str) -> Recording:
    """The offline recording of the root program with ``stacks/Pulumi.<stack>.yaml`` as committed.

    Built once per test process (a rebuild costs 1-2.5 s) and handed out as a fresh copy, so a
    test may change what it gets without touching another test's: unpickled from the bytes of the
    one built (2-4 ms; ``copy.deepcopy`` of a prod recording takes 30 ms, and the suite asks
    thousands of times). A test that needs other config runs ``run_project`` itself.
    """
    return pickle.loads(_pickled(stack))


def reference_state(stack: str) -> list[Any]:
    """The resources of ``stacks/state/<stack>.json``: what the reference stack's first
    (bring-up) ``pulumi up`` leaves, against which the stack file as written is its second up."""
    from mlops_iac.plan import deploy

    return list(deploy.read_state(REPO / "stacks" / "state" / f"{stack}.json").resources)


@functools.cache
def bring_up_sequence(stack: str) -> Any:
    """``mlops_iac.plan.bringup.simulate`` of a reference stack, once per test process (three
    plans each); tests must not change what it returns."""
    from mlops_iac.plan import bringup

    return bringup.simulate(REPO, stack)


@pytest.fixture
def aws_dev_raw() -> dict:
    return platform_raw("aws-dev")


@pytest.fixture
def aws_prod_raw() -> dict:
    return platform_raw("aws-prod")


# --- built once per run, shared by the xdist workers ---------------------------------------------


@contextlib.contextmanager
def _exclusive(lock: Path) -> Iterator[None]:
    with lock.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # released when the file closes
        yield


def made_once(
    tmp_path_factory: pytest.TempPathFactory, name: str, make: Callable[[Path], None]
) -> Path:
    """``<run>/<name>``, made by ``make(path)`` in the first test process of this run that asks
    for it; the others wait for it and reuse it. ``<run>`` is the base temp folder the xdist
    workers of one run share (without xdist, the run's own), never another run's."""
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    target, done = shared / name, shared / f"{name}.done"
    with _exclusive(shared / f"{name}.lock"):
        if not done.exists():
            shutil.rmtree(target, ignore_errors=True)  # what a failed attempt left
            make(target)
            done.touch()
    return target


@pytest.fixture(scope="session")
def built_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel built from this repository, once per run (two builds at once would share the
    repository's ``build/`` folder)."""
    from tests.test_packaging import _uv

    dist = made_once(
        tmp_path_factory,
        "dist",
        lambda out: _uv("build", "--wheel", "--out-dir", str(out), str(REPO), cwd=out.parent),
    )
    [wheel] = dist.glob("mlops_iac-*.whl")
    return wheel


@pytest.fixture(scope="session")
def aws_venv(tmp_path_factory: pytest.TempPathFactory, built_wheel: Path) -> Path:
    """A fresh venv outside the repository with the wheel and only its ``aws`` and ``testing``
    extras (offline, from uv's cache), made once per run for the tests that only run what it
    holds (the install acceptance test, the AWS persona): the first command to import the AWS SDK
    writes its bytecode for the others (a cold import costs tens of seconds)."""
    from tests.test_packaging import _uv

    def make(venv: Path) -> None:
        _uv("venv", "--python", str(Path(sys.executable).resolve()), str(venv), cwd=venv.parent)
        _uv(
            "pip", "install", "--python", str(venv / "bin/python"),
            "-c", str(REPO / "constraints.txt"),
            f"mlops-iac[aws,testing] @ {built_wheel.as_uri()}", cwd=venv.parent,
        )  # fmt: skip

    return made_once(tmp_path_factory, "aws-venv", make)
