"""One grammar for every command: the options each takes and what they mean, completion scripts,
help text a user can read, SARIF URIs, and progress only on a terminal."""

from __future__ import annotations

import argparse
import io
import json
import os
import pty
import re
import select
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mlops_iac.cli import JSON_HELP, PROJECT_HELP, STACK_HELP, completion
from mlops_iac.cli import plan as plan_cmd
from mlops_iac.cli.main import build_parser, leaf_parsers, main
from mlops_iac.cli.progress import Progress
from mlops_iac.policies import report
from tests.conftest import REPO, STACKS
from tests.drift._data import rows, write_csv

COMMANDS = leaf_parsers(build_parser())


def _options(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    return {flag: action for action in parser._actions for flag in action.option_strings}


def test_every_command_is_introspected() -> None:
    assert {"plan", "approve", "waive", "policies", "rollback", "verify", "preflight"} <= set(
        COMMANDS
    )
    assert {"dvc-remote", "policy-pack", "train-smoke", "drift baseline", "drift check"} <= set(
        COMMANDS
    )
    assert "completion" in COMMANDS and "drift" not in COMMANDS  # drift only groups two


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_takes_quiet_and_no_color(name: str) -> None:
    options = _options(COMMANDS[name])
    for flag in ("--quiet", "-q", "--no-color"):
        assert flag in options, f"{name} has no {flag}"
        assert options[flag].nargs == 0, f"{name} {flag} takes no value"


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_json_is_a_file_or_stdout_on_every_command_that_has_it(name: str) -> None:
    action = _options(COMMANDS[name]).get("--json")
    if action is None:
        return
    assert action.nargs == "?", name
    assert str(action.const) == "-", name
    assert action.metavar == "F", name
    assert "without F (or F is -) to stdout" in (action.help or ""), name


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_project_and_stack_mean_one_thing(name: str) -> None:
    options = _options(COMMANDS[name])
    if "--project" in options:
        project = options["--project"]
        assert project.help == PROJECT_HELP, name
        assert project.metavar == "DIR" and Path(project.default) == Path("."), name
        assert project.type is Path, name
    if "--stack" in options:
        assert options["--stack"] is options["-s"], name
        assert STACK_HELP in (options["--stack"].help or ""), name


INTERNAL = re.compile(
    r"``"  # reST quoting
    r"|\.\./"  # paths relative to the checkout
    r"|\b(?:lead|helpers?|issue \d+|the review)\b"
    r"|\bthis repository\b|\bshipped in the repository\b"
    r"|\b(?:cli|spec|plan|policies|components|docs|tests|drift)/[\w./-]+\.(?:py|md)\b"
    r"|\b[A-Z]{2,4}-[A-Z]?\d{1,2}\b",  # item ids
    re.IGNORECASE,
)


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_help_has_no_repository_internal_wording(name: str) -> None:
    parser = COMMANDS[name]
    texts = [parser.description or ""] + [a.help or "" for a in parser._actions]
    for text in texts:
        assert not INTERNAL.search(text.replace("CHG-1234", "")), (name, text)


def test_json_help_is_shared() -> None:
    assert "without F (or F is -) to stdout" in JSON_HELP


def test_no_color_reaches_the_command_and_is_restored(monkeypatch, capsys) -> None:
    seen = []
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setattr(
        completion, "script", lambda _p, _s: seen.append(os.environ.get("NO_COLOR")) or ""
    )
    assert main(["completion", "bash", "--no-color"]) == 0
    assert main(["completion", "bash"]) == 0
    assert seen == ["1", None]
    assert "NO_COLOR" not in os.environ


def test_policies_json_to_stdout_or_to_a_file(tmp_path, capsys) -> None:
    assert main(["policies", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert any(p["name"] == "mlops-approval-gate" for p in listed["policies"])
    target = tmp_path / "policies.json"
    assert main(["policies", "--json", str(target)]) == 0
    assert json.loads(target.read_text()) == listed
    assert "mlops-approval-gate" in capsys.readouterr().out  # the list is still printed


def test_drift_check_json_to_stdout_moves_the_table_to_stderr(tmp_path, capsys) -> None:
    train = write_csv(tmp_path / "train.csv", rows(1500, seed=1), label=True)
    baseline = tmp_path / "baseline.json"
    args = ["drift", "baseline", "--data", str(train), "--out", str(baseline), "--exclude", "label"]
    assert main(args) == 0
    served = write_csv(tmp_path / "served.csv", rows(1500, seed=2))
    capsys.readouterr()
    assert (
        main(["drift", "check", "--baseline", str(baseline), "--data", str(served), "--json"]) == 0
    )
    captured = capsys.readouterr()
    assert json.loads(captured.out)["verdict"] == "no-drift"
    assert "no drift (1500 rows" in captured.err


# ---- completion -------------------------------------------------------------------------------


def _complete(script: str, *words: str) -> list[str]:
    """What the bash script offers for the command line ``words`` (the last one being typed)."""
    quoted = " ".join(f"'{w}'" for w in ("mlops-iac", *words))
    program = (
        f"{script}\nCOMP_WORDS=({quoted}); COMP_CWORD={len(words)}; COMPREPLY=(); _mlops_iac\n"
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    bash = shutil.which("bash")
    assert bash is not None
    done = subprocess.run(  # noqa: S603 - the generated script, run by bash
        [bash, "-c", program], cwd=REPO, capture_output=True, text=True, check=True, timeout=30
    )
    return [w for w in done.stdout.splitlines() if w]


def test_bash_completion_offers_commands_options_values_and_stacks(capsys) -> None:
    assert main(["completion", "bash"]) == 0
    script = capsys.readouterr().out
    assert _complete(script, "pl") == ["plan"]
    assert set(_complete(script, "")) >= set(COMMANDS) - {"drift baseline", "drift check"}
    assert sorted(_complete(script, "plan", "--st")) == ["--stack", "--state"]
    stacks = sorted(p.name[7:-5] for p in STACKS.glob("Pulumi.*.yaml"))
    assert sorted(_complete(script, "plan", "-s", "")) == stacks
    assert sorted(_complete(script, "drift", "")) == ["--help", "-h", "baseline", "check"]
    assert "csv" in _complete(script, "drift", "check", "--format", "")
    assert _complete(script, "completion", "f") == ["fish"]
    # A value that looks like a command is not taken for one.
    assert "--allow-unknown-region" in _complete(script, "plan", "-s", "drift", "--al")


def test_zsh_and_fish_scripts_cover_every_command(capsys) -> None:
    assert main(["completion", "zsh"]) == 0
    zsh = capsys.readouterr().out
    assert zsh.startswith("#compdef mlops-iac\n") and "bashcompinit" in zsh
    assert "complete -o default -F _mlops_iac mlops-iac" in zsh
    assert main(["completion", "fish"]) == 0
    fish = capsys.readouterr().out
    lines = fish.splitlines()
    for name in COMMANDS:
        assert any(f"-a {name.split()[-1]} " in line for line in lines), name
    flags = [line for line in lines if "__fish_seen_subcommand_from verify" in line]
    assert any("-l json -r -F" in line for line in flags)
    assert any("-l quiet -s q" in line for line in flags)
    assert all(line.count("'") % 2 == 0 or "\\'" in line for line in lines)


# ---- SARIF locations ----------------------------------------------------------------------------


def test_a_stack_file_outside_the_checkout_is_an_absolute_file_uri(tmp_path, monkeypatch) -> None:
    outside = tmp_path / "elsewhere" / "Pulumi.aws-dev.yaml"
    outside.parent.mkdir()
    shutil.copy(STACKS / "Pulumi.aws-dev.yaml", outside)
    monkeypatch.chdir(REPO)
    args = argparse.Namespace(project=REPO, stack="aws-dev", config_file=outside)
    keys = plan_cmd._stack_keys(args)
    assert keys is not None
    assert keys.uri == outside.resolve().as_uri()
    where = report.Location(keys.uri, *keys.locate("aws:region"))
    artifact = where.sarif()["physicalLocation"]["artifactLocation"]
    assert artifact == {"uri": outside.resolve().as_uri()}  # no uriBaseId, no "../"
    assert plan_cmd._shown(where) == f"{outside.resolve()}:4:3"
    inside = report.Location("stacks/Pulumi.aws-dev.yaml", 4, 3).sarif()
    assert inside["physicalLocation"]["artifactLocation"] == {
        "uri": "stacks/Pulumi.aws-dev.yaml",
        "uriBaseId": "%SRCROOT%",
    }


# ---- progress -----------------------------------------------------------------------------------


def _drain(fd: int) -> bytes:
    """Everything the terminal has received so far (one read may return only part of it)."""
    seen = b""
    while select.select([fd], [], [], 0.2)[0]:
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # the other end closed
            break
        if not chunk:
            break
        seen += chunk
    return seen


def test_progress_shows_on_a_terminal() -> None:
    main_fd, tty_fd = pty.openpty()
    with os.fdopen(tty_fd, "w") as tty:
        with Progress("Counting rows", stream=tty, interval=0.01):
            import time

            time.sleep(0.05)
        written = _drain(main_fd).decode()
    os.close(main_fd)
    assert "Counting rows… " in written and " s" in written
    assert "\x1b" not in written  # cleared with spaces, never an escape sequence
    assert written.endswith("\r")


@pytest.mark.parametrize("quiet", [False, True])
def test_progress_is_silent_when_piped_or_quiet(quiet: bool) -> None:
    main_fd, tty_fd = pty.openpty()
    piped = io.StringIO()
    tty = os.fdopen(tty_fd, "w")
    try:
        target = tty if quiet else piped
        with Progress("Counting rows", stream=target, interval=0.01, quiet=quiet):
            pass
        tty.flush()
        os.set_blocking(main_fd, False)
        with pytest.raises(BlockingIOError):
            os.read(main_fd, 4096)  # nothing reached the terminal
    finally:
        tty.close()
        os.close(main_fd)
    assert piped.getvalue() == ""


def test_drift_check_shows_progress_on_a_terminal_only(tmp_path) -> None:
    train = write_csv(tmp_path / "train.csv", rows(1500, seed=1), label=True)
    baseline = tmp_path / "baseline.json"
    assert (
        main(
            [
                "drift",
                "baseline",
                "--data",
                str(train),
                "--out",
                str(baseline),
                "--exclude",
                "label",
            ]
        )
        == 0
    )
    served = write_csv(tmp_path / "served.csv", rows(1500, seed=2))
    argv = [
        sys.executable,
        "-m",
        "mlops_iac.cli.main",
        "drift",
        "check",
        "--baseline",
        str(baseline),
    ]
    argv += ["--data", str(served)]
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    piped = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120, check=False)  # noqa: S603
    assert piped.returncode == 0 and piped.stderr == ""
    main_fd, tty_fd = pty.openpty()
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=tty_fd, env=env) as process:  # noqa: S603
        os.close(tty_fd)
        out, _ = process.communicate(timeout=120)
    seen = _drain(main_fd)
    os.close(main_fd)
    assert process.returncode == 0 and b"no drift" in out
    assert b"Checking 1 file (" in seen


class _Terminal(io.StringIO):
    """stderr as a terminal would be (``isatty``), recording what is written."""

    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("terminal", [True, False])
def test_train_smokes_offline_run_shows_progress_on_a_terminal_only(
    terminal: bool, monkeypatch, capsys
) -> None:
    import time

    from mlops_iac.cli import train_smoke
    from tests.conftest import reference_recording

    def offline(_project: object, stack: str) -> dict:
        time.sleep(0.3)  # long enough for the spinner to draw
        return dict(reference_recording(stack).exports)

    monkeypatch.setattr(train_smoke, "_offline_outputs", offline)
    stderr = _Terminal() if terminal else io.StringIO()
    monkeypatch.setattr(sys, "stderr", stderr)
    assert main(["train-smoke", "-s", "aws-prod", "--project", str(REPO)]) == 0
    assert "TrainJob" in capsys.readouterr().out
    shown = "Running aws-prod offline… " in stderr.getvalue()
    assert shown is terminal
    if terminal:  # the line is erased when the run ends
        assert stderr.getvalue().endswith("\r")
