"""Pulumi's project conventions offline: the program's virtualenv (``runtime.options``) is where
its own dependencies come from, and Pulumi ESC imports, which offline cannot read, are named.

https://www.pulumi.com/docs/iac/languages-sdks/python/#virtual-environments
https://www.pulumi.com/docs/esc/integrations/infrastructure/pulumi-iac/
"""

from __future__ import annotations

import sys
import uuid

import pytest

from mlops_iac.cli.main import main
from mlops_iac.plan.engine import ProgramError, Project, run_project

PROGRAM = "import pulumi\nimport {lib} as lib\n\npulumi.export('answer', lib.ANSWER)\n"
VERSION = f"python{sys.version_info.major}.{sys.version_info.minor}"


def _project(root, options: str, *, venv: str | None = ".venv", stack_extra: str = ""):
    root.mkdir(parents=True, exist_ok=True)
    (root / "Pulumi.yaml").write_text(
        f"name: team\nruntime:\n  name: python\n  options:\n{options}"
    )
    # A module name of its own per project: an import cached by an earlier run proves nothing.
    lib = "teamlib_" + uuid.uuid4().hex
    (root / "__main__.py").write_text(PROGRAM.format(lib=lib))
    (root / "Pulumi.dev.yaml").write_text(f"{stack_extra}config:\n  team:x: 1\n")
    if venv is not None:
        site = root / venv / "lib" / VERSION / "site-packages"
        site.mkdir(parents=True)
        (root / venv / "pyvenv.cfg").write_text("home = /usr/bin\n")
        (site / f"{lib}.py").write_text("ANSWER = 42\n")
    return root


@pytest.mark.parametrize(
    ("options", "venv"),
    [
        ("    toolchain: pip\n    virtualenv: env\n", "env"),
        ("    toolchain: uv\n", ".venv"),  # uv's project environment by default
        ("    toolchain: poetry\n", ".venv"),  # poetry's in-project environment
    ],
)
def test_the_programs_virtualenv_provides_its_dependencies(tmp_path, options, venv):
    root = _project(tmp_path / "p", options, venv=venv)
    before = list(sys.path)
    recording = run_project(root, "dev")
    assert recording.exports == {"answer": 42}
    assert sys.path == before  # nothing left behind
    assert Project.load(root).notes("dev") == []


def test_without_its_virtualenv_the_import_fails_and_plan_says_why(tmp_path, capsys):
    root = _project(tmp_path / "p", "    toolchain: pip\n    virtualenv: venv\n", venv=None)
    with pytest.raises(ProgramError, match="teamlib"):
        run_project(root, "dev")
    [note] = Project.load(root).notes("dev")
    assert note.startswith("Pulumi.yaml virtualenv venv is not a virtual environment")


def test_a_virtualenv_of_another_python_is_not_mixed_in(tmp_path):
    root = _project(tmp_path / "p", "    virtualenv: venv\n", venv=None)
    (root / "venv/lib/python2.7/site-packages").mkdir(parents=True)
    (root / "venv/pyvenv.cfg").write_text("home = /usr/bin\n")
    [note] = Project.load(root).notes("dev")
    assert f"has no {VERSION} site-packages" in note


def test_plan_warns_that_esc_imports_are_not_seen_offline(tmp_path, capsys):
    root = _project(
        tmp_path / "p",
        "    virtualenv: .venv\n",
        stack_extra="environment:\n  - fraud/dev\n  - shared/aws\n",
    )
    code = main(["plan", "--project", str(root), "--stack", "dev", "--no-color"])
    err = capsys.readouterr().err
    assert code == 0, err
    warnings = [line for line in err.splitlines() if "ESC" in line]
    assert warnings == [
        "mlops-iac plan: warning: Pulumi.dev.yaml imports Pulumi ESC environment(s) fraud/dev, "
        "shared/aws: offline, only the file's own config is seen (put the values the plan needs "
        "in config:)"
    ]
