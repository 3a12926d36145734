"""``mlops-iac policy-pack --out DIR``: write a policy pack directory for the real Pulumi engine.

``pulumi preview --policy-pack DIR`` reads ``DIR/PulumiPolicy.yaml`` (the policy pack project
file: ``runtime`` required, ``version``, ``description``, ``main`` optional; see
https://www.pulumi.com/docs/discovery-governance/reference/policy-project-file/) and runs the
pack's Python entry point, ``DIR/__main__.py`` (``main`` defaults to the directory), with the
``virtualenv`` runtime option "activated" (https://github.com/pulumi/pulumi/issues/4645).

The pack is publishable as written (``pulumi policy publish``): ``PulumiPolicy.yaml`` names a
relative ``virtualenv: venv`` (what ``pulumi policy new`` writes; the CLI creates it and installs
``requirements.txt`` into it) and ``requirements.txt`` pins this ``mlops-iac`` version. The entry
point runs the installed ``mlops_iac.policies`` pack: no copy of the rules, so upgrading the
package upgrades the pack. ``--virtualenv DIR`` binds the pack to an existing environment instead
(an absolute path: for a local run only, not for publishing).

Nothing is written through a symbolic link: ``DIR`` itself or a pack file in it being one
(dangling or not) is refused, with or without ``--force``; files are replaced atomically.
"""

from __future__ import annotations

import argparse
from importlib import metadata
from pathlib import Path

import yaml

from mlops_iac.cli import EXIT_OK, OpsError, command, describe, nofollow

NAME = "policy-pack"
PROJECT_FILE = "PulumiPolicy.yaml"
ENTRY_POINT = "__main__.py"
REQUIREMENTS = "requirements.txt"
PORTABLE_VENV = "venv"
"""The pack's own virtualenv, relative to its directory (``pulumi policy new``'s layout)."""
DESCRIPTION = "Governance for the mlops-iac platform (data, lineage, approval, cost, security)."
ENTRY_SOURCE = '''\
"""Entry point of the mlops-iac policy pack (written by `mlops-iac policy-pack`).

The Pulumi CLI runs this file with the virtualenv named in PulumiPolicy.yaml; it runs the
installed pack, ``mlops_iac.policies.__main__``, which constructs the ``PolicyPack`` (levels from
the stack config the CLI passes in ``PULUMI_CONFIG``).
"""

import runpy

runpy.run_module("mlops_iac.policies", run_name="__main__", alter_sys=True)
'''


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``policy-pack`` subcommand."""
    parser = subparsers.add_parser(
        NAME,
        help="write a policy pack directory for `pulumi preview --policy-pack DIR`",
        description=describe(__doc__),
    )
    parser.add_argument("--out", required=True, type=Path, metavar="DIR", help="pack directory")
    parser.add_argument(
        "--force", action="store_true", help="overwrite the pack files if DIR already has them"
    )
    parser.add_argument(
        "--virtualenv",
        type=Path,
        metavar="VENV",
        help="run the pack with this existing venv (local use; default: a venv of its own, "
        "created from requirements.txt, publishable)",
    )
    parser.set_defaults(func=run)


def package_version() -> str:
    """The installed mlops-iac version (the pack's version follows the package's)."""
    try:
        return metadata.version("mlops-iac")
    except metadata.PackageNotFoundError:  # running from a source tree that is not installed
        return "0.0.0"


def project_file(virtualenv: Path | str) -> dict[str, object]:
    """The content of ``PulumiPolicy.yaml`` for a pack run with ``virtualenv``."""
    return {
        "description": DESCRIPTION,
        "version": package_version(),
        "runtime": {
            "name": "python",
            "options": {"toolchain": "pip", "virtualenv": str(virtualenv)},
        },
    }


def requirements() -> str:
    """``requirements.txt`` of the pack: this mlops-iac release (unpinned from a source tree)."""
    version = package_version()
    return f"mlops-iac=={version}\n" if version != "0.0.0" else "mlops-iac\n"


def write_pack(out: Path, virtualenv: Path | None = None, force: bool = False) -> list[Path]:
    """Write ``PulumiPolicy.yaml``, ``__main__.py`` and ``requirements.txt`` into ``out``; return
    the written paths. ``virtualenv``: bind to that existing venv (absolute) instead of the
    pack's own relative ``venv``."""
    venv: Path | str = PORTABLE_VENV
    if virtualenv is not None:
        venv = virtualenv.resolve()
        if not (venv / "pyvenv.cfg").is_file():
            # The Pulumi CLI refuses a `virtualenv` that is not a virtual environment.
            raise OpsError(
                f"{venv} is not a virtual environment (no pyvenv.cfg): give the venv "
                "mlops-iac is installed in"
            )
    files = {
        out / PROJECT_FILE: yaml.safe_dump(project_file(str(venv)), sort_keys=False),
        out / ENTRY_POINT: ENTRY_SOURCE,
        out / REQUIREMENTS: requirements(),
    }
    # Never through a symlink: not DIR itself, not a file in it (dangling or not, with --force too).
    nofollow.refuse_symlink(out, "output directory")
    if out.exists() and not out.is_dir():
        raise OpsError(f"{out} exists and is not a directory")
    for path in files:
        nofollow.refuse_symlink(path)
        if path.exists() and not path.is_file():
            raise OpsError(f"{path} exists and is not a regular file")
    existing = [path.name for path in files if path.exists()]
    if existing and not force:
        raise OpsError(f"{out} already has {', '.join(existing)} (use --force to overwrite)")
    out.mkdir(parents=True, exist_ok=True)
    for path, text in files.items():
        nofollow.write_atomic(path, text.encode("utf-8"))
    return list(files)


@command(NAME)
def run(args: argparse.Namespace) -> int:
    """The ``policy-pack`` command."""
    written = write_pack(args.out, args.virtualenv, force=args.force)
    for path in written:
        print(f"wrote {path}")
    print(f"run: pulumi preview --policy-pack {args.out} (or publish: pulumi policy publish)")
    return EXIT_OK
