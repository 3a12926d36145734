"""``mlops-iac policy-pack``: the files the Pulumi CLI reads, checked against what it expects.

The policy pack project file (https://www.pulumi.com/docs/discovery-governance/reference/
policy-project-file/): ``runtime`` is required and, for a Python pack, is ``python`` or an object
``{name: python, options: {...}}``; ``version`` and ``description`` are optional; ``main``
defaults to the directory holding the file, whose ``__main__.py`` the Python runtime runs. The
``virtualenv`` option must name a virtual environment, or the CLI stops before running the pack;
a published pack (``pulumi policy publish``) carries ``requirements.txt`` and a relative
``virtualenv`` that the CLI creates from it, as ``pulumi policy new`` lays a Python pack out.
"""

from __future__ import annotations

import ast
import importlib.util
import sys
from pathlib import Path

import pytest
import yaml

from mlops_iac.cli.main import main
from mlops_iac.cli.policy_pack import package_version, write_pack

KNOWN_KEYS = {"runtime", "version", "main", "description", "author", "website", "license"}
PYTHON_OPTIONS = {"toolchain", "virtualenv", "typechecker"}


def test_writes_a_pack_the_pulumi_cli_accepts(tmp_path, capsys):
    out = tmp_path / "pack"
    assert main(["policy-pack", "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "PulumiPolicy.yaml",
        "__main__.py",
        "requirements.txt",
    ]

    project = yaml.safe_load((out / "PulumiPolicy.yaml").read_text())
    assert set(project) <= KNOWN_KEYS
    runtime = project["runtime"]
    assert runtime["name"] == "python"
    assert set(runtime["options"]) <= PYTHON_OPTIONS
    assert runtime["options"]["toolchain"] == "pip"
    # Publishable: no path of this machine; the CLI makes `venv` from requirements.txt.
    assert runtime["options"]["virtualenv"] == "venv"
    version = package_version()
    expected = f"mlops-iac=={version}\n" if version != "0.0.0" else "mlops-iac\n"
    assert (out / "requirements.txt").read_text() == expected
    assert isinstance(project["version"], str) and project["version"].count(".") == 2
    assert project["description"]
    assert "main" not in project  # the entry point is the directory's __main__.py

    source = (out / "__main__.py").read_text()
    compile(source, str(out / "__main__.py"), "exec")
    calls = [n for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Call)]
    assert [ast.unparse(c.args[0]) for c in calls] == ["'mlops_iac.policies'"]
    # The module it runs is the installed pack's entry point, which constructs the PolicyPack.
    spec = importlib.util.find_spec("mlops_iac.policies.__main__")
    assert spec is not None and spec.origin is not None
    assert "PolicyPack(" in Path(spec.origin).read_text()
    assert f"pulumi preview --policy-pack {out}" in capsys.readouterr().out


def test_binds_to_an_existing_virtualenv_when_asked(tmp_path, capsys):
    out = tmp_path / "pack"
    assert main(["policy-pack", "--out", str(out), "--virtualenv", sys.prefix]) == 0
    project = yaml.safe_load((out / "PulumiPolicy.yaml").read_text())
    venv = Path(project["runtime"]["options"]["virtualenv"])
    assert venv.is_absolute() and venv == Path(sys.prefix).resolve()
    assert (venv / "pyvenv.cfg").is_file()  # what the CLI checks before it runs the pack


def test_refuses_to_overwrite_without_force(tmp_path, capsys):
    write_pack(tmp_path)
    assert main(["policy-pack", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "use --force" in err[0]
    assert main(["policy-pack", "--out", str(tmp_path), "--force"]) == 0


def test_refuses_an_interpreter_that_is_not_a_virtualenv(tmp_path, capsys):
    from mlops_iac.cli import OpsError

    try:
        write_pack(tmp_path / "pack", virtualenv=tmp_path)
    except OpsError as exc:
        assert "not a virtual environment" in str(exc)
    else:
        raise AssertionError("a directory without pyvenv.cfg was accepted")
    assert not (tmp_path / "pack").exists()


def test_refuses_a_file_as_the_pack_directory(tmp_path, capsys):
    target = tmp_path / "file"
    target.write_text("x")
    assert main(["policy-pack", "--out", str(target)]) == 2
    assert "not a directory" in capsys.readouterr().err


def _listing(directory):
    return sorted(p.name for p in directory.iterdir())


@pytest.mark.parametrize("force", [False, True])
@pytest.mark.parametrize("target", ["file", "dangling", "directory"])
@pytest.mark.parametrize("name", ["PulumiPolicy.yaml", "__main__.py"])
def test_never_writes_through_a_symlinked_pack_file(tmp_path, capsys, force, target, name):
    out = tmp_path / "pack"
    out.mkdir()
    outside = tmp_path / "outside"
    if target == "file":
        outside.write_text("precious\n")
    elif target == "directory":
        outside.mkdir()
    (out / name).symlink_to(outside)
    argv = ["policy-pack", "--out", str(out), *(["--force"] if force else [])]
    assert main(argv) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == [
        f"mlops-iac policy-pack: error: {out / name} is a symbolic link; refusing to follow it "
        "(replace it)"
    ]
    assert (out / name).is_symlink() and _listing(out) == [name]
    if target == "file":
        assert outside.read_text() == "precious\n"
    elif target == "dangling":
        assert not outside.exists()
    else:
        assert _listing(outside) == []


@pytest.mark.parametrize("force", [False, True])
@pytest.mark.parametrize("target", ["directory", "dangling"])
def test_never_writes_through_a_symlinked_pack_directory(tmp_path, capsys, force, target):
    outside = tmp_path / "outside"
    if target == "directory":
        outside.mkdir()
    out = tmp_path / "pack"
    out.symlink_to(outside, target_is_directory=True)
    argv = ["policy-pack", "--out", str(out), *(["--force"] if force else [])]
    assert main(argv) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == [
        f"mlops-iac policy-pack: error: output directory {out} is a symbolic link; refusing to "
        "follow it (replace it)"
    ]
    assert out.is_symlink()
    assert _listing(outside) == [] if target == "directory" else not outside.exists()


def test_force_replaces_regular_files_atomically_and_keeps_others(tmp_path, capsys):
    out = tmp_path / "pack"
    out.mkdir()
    (out / "PulumiPolicy.yaml").write_text("old\n")
    (out / "notes.txt").write_text("mine\n")
    assert main(["policy-pack", "--out", str(out), "--force"]) == 0, capsys.readouterr().err
    assert (out / "PulumiPolicy.yaml").read_text() != "old\n"
    assert (out / "notes.txt").read_text() == "mine\n"
    listing = ["PulumiPolicy.yaml", "__main__.py", "notes.txt", "requirements.txt"]
    assert _listing(out) == listing  # no temp files


def test_refuses_a_directory_where_a_pack_file_goes(tmp_path, capsys):
    out = tmp_path / "pack"
    (out / "__main__.py").mkdir(parents=True)
    assert main(["policy-pack", "--out", str(out), "--force"]) == 2
    assert "__main__.py exists and is not a regular file" in capsys.readouterr().err
