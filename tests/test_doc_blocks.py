"""Every fenced block of README.md and docs/*.md either runs in this suite or says why not.

A block has a language. ``yaml``, ``json`` and ``text`` blocks are data or pictures; ``python``,
``sh``, ``bash`` and ``console`` blocks are run here, unless the line before the fence is
``<!-- not-run: why -->`` (they need a package index, the Pulumi CLI, cloud credentials...) or
``<!-- run-by: tests/<file>.py::<test> -->`` (another test runs them; the test must exist).

How they run: ``mlops-iac`` commands in-process in a copy of the repository's stacks and
governance (a key of the named approver stands in for ``~/.ssh/id_ed25519``); ``make plan`` as
the Makefile's recipe; a console block's output lines are compared loosely (``…`` stands for a
number, lines in order, others may come between); a Python block that loads a stack file runs
as a Pulumi program offline (a team stack file from ``mlops-iac init``), one with a ``test_``
function runs with pytest in a starter project, any other in a fresh interpreter.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from mlops_iac.cli.main import main
from mlops_iac.plan.engine import run_project
from tests.conftest import REPO
from tests.ops.keys import allowed_signers_text, key_for
from tests.test_readme import _plan_argv

DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
FENCE = re.compile(r"^(?P<indent> *)```(?P<lang>[\w-]*)\n(?P<body>.*?)^(?P=indent)```", re.M | re.S)
RUNNABLE = {"python", "sh", "bash", "console"}
DATA = {"yaml", "json", "text"}
MARK = re.compile(r"^\s*<!-- (?P<kind>not-run|run-by): (?P<value>.+?) -->\s*$")
NOT_RUN = [
    ("README.md", "needs a package index"),
    ("docs/deploy-fidelity.md", "needs cloud credentials"),
    ("docs/drift.md", "needs captured data and a deployed artifact store"),
    ("docs/dvc.md", "needs the Pulumi CLI and a deployed stack"),
    ("docs/monitoring.md", "a fragment: `recording` is a team program's offline run"),
]
"""The blocks that do not run (file, the reason's start); a new one must be added here."""


@dataclass(frozen=True)
class Block:
    where: str
    lang: str
    body: str
    mark: tuple[str, str] | None

    def __str__(self) -> str:
        return self.where


def _blocks() -> list[Block]:
    found = []
    for path in DOCS:
        text = path.read_text()
        for match in FENCE.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
            mark = MARK.match(before)
            indent = len(match["indent"])
            body = "\n".join(line[indent:] for line in match["body"].splitlines())
            found.append(
                Block(
                    f"{path.relative_to(REPO)}:{line}",
                    match["lang"],
                    body,
                    (mark["kind"], mark["value"]) if mark else None,
                )
            )
    return found


BLOCKS = _blocks()
TO_RUN = [b for b in BLOCKS if b.lang in RUNNABLE and b.mark is None]


def test_every_block_has_a_language():
    unlabelled = [b.where for b in BLOCKS if b.lang not in RUNNABLE | DATA]
    assert unlabelled == [], f"label these ```text (or a runnable language): {unlabelled}"


def test_the_blocks_that_do_not_run_are_few_and_say_why():
    marked = [
        (b.where.rsplit(":", 1)[0], b.mark[1]) for b in BLOCKS if b.mark and b.mark[0] == "not-run"
    ]
    listed = sorted(
        (file, start) for file, reason in marked for f, start in NOT_RUN
        if f == file and reason.startswith(start)
    )  # fmt: skip
    assert listed == sorted(NOT_RUN), marked


def test_run_by_names_a_test_that_exists():
    for block in BLOCKS:
        if block.mark and block.mark[0] == "run-by":
            file, _, name = block.mark[1].partition("::")
            assert f"\ndef {name}(" in (REPO / file).read_text(), block


def _commands(block: Block) -> list[tuple[list[str], list[str]]]:
    """(argv, expected output lines) of each command; ``\\`` continuations joined."""
    lines = block.body.splitlines()
    commands: list[tuple[list[str], list[str]]] = []
    pending = ""
    for raw in lines:
        if block.lang == "console" and not raw.startswith("$ ") and not pending:
            if commands:
                commands[-1][1].append(raw)
            continue
        line = pending + raw.removeprefix("$ ")
        if line.rstrip().endswith("\\"):
            pending = line.rstrip()[:-1] + " "
            continue
        pending = ""
        line = line.split(" #")[0].strip()
        if line and not line.startswith("#"):
            commands.append((shlex.split(line), []))
    return commands


@pytest.fixture
def sandbox(tmp_path, monkeypatch):
    """A copy of the repository's stacks and governance (plus an aws-staging stack), as cwd."""
    root = tmp_path / "repo"
    shutil.copytree(REPO / "stacks", root / "stacks")
    shutil.copy(REPO / "Pulumi.yaml", root / "Pulumi.yaml")
    shutil.copy(REPO / "__main__.py", root / "__main__.py")
    prod = (root / "stacks/Pulumi.aws-prod.yaml").read_text()
    (root / "stacks/Pulumi.aws-staging.yaml").write_text(
        prod.replace("environment: prod", "environment: staging")
    )
    governance = root / "governance"
    shutil.copytree(REPO / "governance", governance)
    (governance / "allowed_signers").write_text(allowed_signers_text())
    monkeypatch.chdir(root)
    return root


def _loosely(expected: list[str], out: str, where: str) -> None:
    lines = out.splitlines()
    at = 0
    for want in (w.strip() for w in expected if w.strip() and w.strip() != "…"):
        # `…` stands for a number or a digest (`sha256:…`)
        pattern = re.escape(want).replace("…", r"[\w,.]+")
        while at < len(lines) and not re.fullmatch(pattern, lines[at].strip()):
            at += 1
        assert at < len(lines), f"{where}: {want!r} not in the output:\n{out}"
        at += 1


def _run_cli(argv: list[str], expected: list[str], block: Block, capsys) -> None:
    if argv[:2] == ["make", "plan"]:
        argv = ["mlops-iac", *_plan_argv(argv), "--no-color"]
    assert Path(argv[0]).name == "mlops-iac", f"{block}: mark `{argv[0]}` not-run or run-by"
    args = [a for a in argv[1:]]
    if "--key" in args:  # the approver's own key, as the allowed-signers file lists it
        approver = args[args.index("--approver") + 1]
        args[args.index("--key") + 1] = str(key_for(approver))
    capsys.readouterr()
    code = main(args)
    out, err = capsys.readouterr()
    assert code == 0, f"{block}: {' '.join(argv)}: {out}{err}"
    _loosely(expected, out, str(block))


def _team_project(root: Path) -> Path:
    assert main(["init", str(root), "--cloud", "aws"]) == 0
    return root


def _run_python(block: Block, tmp_path: Path, capsys) -> None:
    if "def test_" in block.body:
        project = _team_project(tmp_path / "docs-team")
        (project / "tests/test_from_docs.py").write_text(block.body)
        result = subprocess.run(
            [sys.executable, "-m", "pytest", "-W", "error", "-q", "-p", "no:cacheprovider",
             "tests/test_from_docs.py"],
            cwd=project, capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        assert result.returncode == 0, f"{block}: {result.stdout}{result.stderr}"
        return
    if "load_team_governance" in block.body or "load_spec" in block.body:
        project = _team_project(tmp_path / "docs-program")
        if "load_spec" in block.body:  # a platform stack file
            shutil.copy(REPO / "stacks/Pulumi.aws-dev.yaml", project / "Pulumi.dev.yaml")
        (project / "__main__.py").write_text(block.body)
        recording = run_project(project, "dev")
        assert recording.resources or "register_lineage_transform" in block.body, block
        return
    result = subprocess.run(
        [sys.executable, "-c", block.body],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, f"{block}: {result.stderr}"


@pytest.mark.parametrize("block", TO_RUN, ids=str)
def test_the_block_runs_as_written(block, sandbox, tmp_path, capsys):
    if block.lang == "python":
        _run_python(block, tmp_path, capsys)
        return
    commands = _commands(block)
    assert commands, block
    for argv, expected in commands:
        _run_cli(argv, expected, block, capsys)
