"""The new-user path: the commands the READMEs tell a user to run work as written.

``make plan …`` lines are taken from the code blocks of README.md and every example's README and
run as the Makefile's ``plan`` recipe would run them (in-process, from the repository root);
``pytest`` lines must name directories that hold tests. A fresh clone then reaches a passing test
run (``make test`` is this suite), a plan of the dev stack and a plan of each example.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from mlops_iac.cli.main import main
from mlops_iac.spec import clouds
from tests.conftest import REPO

READMES = [REPO / "README.md", *sorted(REPO.glob("examples/*/README.md"))]
CODE_BLOCK = re.compile(r"^```(sh|console|bash)\n(.*?)^```", re.M | re.S)


def _shell_lines(readme: Path) -> list[list[str]]:
    """Each command of the README's shell blocks as argv (prompt and trailing comment dropped).

    In ``console`` blocks only ``$ `` lines are commands; the rest is their output.
    """
    commands = []
    for language, block in CODE_BLOCK.findall(readme.read_text()):
        for raw in block.splitlines():
            if language == "console" and not raw.startswith("$ "):
                continue
            line = raw.removeprefix("$ ").split(" #")[0].strip()
            if line and not line.startswith("#"):
                commands.append(shlex.split(line))
    return commands


def _make_variables() -> tuple[dict[str, str], str]:
    """The Makefile's defaults (``STACK ?= aws-dev``) and the ``plan`` target's recipe."""
    text = (REPO / "Makefile").read_text()
    defaults = dict(re.findall(r"^(\w+)\s*\?=\s*(\S+)\s*$", text, re.M))
    recipe = re.search(r"^plan:.*\n\t(.+)$", text, re.M)
    assert recipe, "Makefile has no plan target"
    return defaults, recipe.group(1)


def _plan_argv(make_argv: list[str]) -> list[str]:
    """``make plan STACK=x PROJECT=y`` as the argv of ``mlops-iac`` the recipe runs."""
    defaults, recipe = _make_variables()
    variables = {**defaults, **dict(a.split("=", 1) for a in make_argv[2:])}
    command = re.sub(r"\$\((\w+)\)", lambda m: variables.get(m[1], ""), recipe)
    argv = shlex.split(command)
    assert Path(argv[0]).name == "mlops-iac", recipe
    return argv[1:]


PLANS = sorted(
    {
        " ".join(argv)
        for readme in READMES
        for argv in _shell_lines(readme)
        if argv[:2] == ["make", "plan"]
    }
)


def test_readmes_show_the_new_user_path():
    top = [" ".join(a) for a in _shell_lines(REPO / "README.md")]
    assert "make test" in top
    assert "make plan" in top  # the dev stack
    assert "make plan PROJECT=examples/team-stack-aws STACK=dev" in PLANS
    for example in sorted(p.parent.name for p in REPO.glob("examples/*/Pulumi.yaml")):
        assert f"[`{example}`](examples/{example})" in (REPO / "README.md").read_text()


@pytest.mark.parametrize("make_line", PLANS)
def test_make_plan_lines_exit_0(make_line, monkeypatch, capsys):
    monkeypatch.chdir(REPO)
    argv = _plan_argv(shlex.split(make_line))
    code = main([*argv, "--quiet", "--no-color"])
    out = capsys.readouterr().out
    assert code == 0, f"{make_line}: {out}"
    assert "PASS: no mandatory violation" in out


def test_pytest_lines_name_test_directories():
    lines = [a for r in READMES for a in _shell_lines(r) if "pytest" in a]
    assert lines
    for argv in lines:
        targets = [a for a in argv[argv.index("pytest") + 1 :] if not a.startswith("-")]
        for target in targets:
            assert list((REPO / target).glob("test_*.py")), f"{' '.join(argv)}: no tests"


def test_the_tours_failing_plan_fails_as_shown(tmp_path, monkeypatch, capsys):
    """README's tour: serving a version nobody approved fails the aws-prod plan."""
    text = (REPO / "README.md").read_text()
    sed = 's/^        version: "7"/        version: "8"/'
    assert f"$ sed '{sed}' stacks/Pulumi.aws-prod.yaml" in text
    unapproved = tmp_path / "unapproved.yaml"
    source = (REPO / "stacks" / "Pulumi.aws-prod.yaml").read_text()
    # What the sed line does: only the model's version line (8 spaces deep), not the approval's.
    unapproved.write_text(
        re.sub(r'^        version: "7"', '        version: "8"', source, flags=re.M)
    )
    monkeypatch.chdir(REPO)
    argv = ["plan", "--stack", "aws-prod", "--config-file", str(unapproved), "--quiet"]
    assert main([*argv, "--no-color"]) == 1
    out = capsys.readouterr().out
    # The endpoint, its configuration and the SageMaker model of v8 would each serve it.
    for resource in ("mlops-serving-endpoint", "mlops-serving-config-v8", "mlops-serving-model-v8"):
        assert f"mlops-approval-gate: {resource} " in out
    assert out.count("no approval is recorded for model 'fraud-detector' version '8'") == 3
    assert "FAIL: 3 mandatory" in out


def _bring_up_blocks() -> list[tuple[list[str], list[str]]]:
    """README's "From an empty account" console blocks: (argv, expected output lines)."""
    text = (REPO / "README.md").read_text()
    section = text.split("## From an empty account", 1)[1].split("\n## ", 1)[0]
    blocks = []
    for language, block in CODE_BLOCK.findall(section):
        lines = block.splitlines()
        if language != "console" or not lines or not lines[0].startswith("$ "):
            continue
        argv = shlex.split(lines[0].removeprefix("$ "))
        blocks.append((argv, lines[1:]))
    return blocks


def test_readme_has_a_bring_up_block_per_cloud():
    stacks = {argv[argv.index("--stack") + 1] for argv, _ in _bring_up_blocks()}
    assert {s.split("-")[0] for s in stacks} == set(clouds.NAMES)


@pytest.mark.parametrize(
    ("argv", "expected"), _bring_up_blocks(), ids=lambda v: v[3] if isinstance(v, list) else ""
)
def test_the_bring_up_sequences_plan_as_shown(argv, expected, monkeypatch, capsys):
    """Each bring-up block runs as written and prints its lines (``…`` stands for a count)."""
    assert Path(argv[0]).name == "mlops-iac"
    monkeypatch.chdir(REPO)
    assert main([*argv[1:], "--no-color"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == len(expected), out
    for line, want in zip(out, expected, strict=True):
        pattern = re.escape(want).replace("…", r"\d+")
        assert re.fullmatch(pattern, line), (line, want)
