"""Throwaway SSH keys for signed approvals, made with ``ssh-keygen`` in a temporary directory.

The suite needs OpenSSH's ``ssh-keygen`` (8.2 or later, for ``-Y sign/verify``); without it the
signature tests fail with a message saying so rather than skipping a security check.
"""

from __future__ import annotations

import atexit
import functools
import shutil
import subprocess
import tempfile
from collections.abc import Iterable
from pathlib import Path

from mlops_iac.policies.signatures import ALLOWED_SIGNERS, NAMESPACE

APPROVERS = ("jane@example.com", "raj@example.com")


@functools.cache
def _directory() -> Path:
    directory = Path(tempfile.mkdtemp(prefix="mlops-iac-test-keys-"))
    atexit.register(shutil.rmtree, directory, True)
    return directory


def ssh_keygen() -> str:
    found = shutil.which("ssh-keygen")
    assert found, "these tests need OpenSSH's ssh-keygen (apt-get install openssh-client)"
    return found


@functools.cache
def key_for(identity: str) -> Path:
    """A private ed25519 key for ``identity`` (its public half next to it, ``.pub``)."""
    path = _directory() / f"key{len(list(_directory().iterdir()))}"
    subprocess.run(
        [ssh_keygen(), "-q", "-t", "ed25519", "-N", "", "-C", identity, "-f", str(path)],
        check=True,
        capture_output=True,
    )
    return path


def allowed_signers_text(identities: Iterable[str] = APPROVERS) -> str:
    """An allowed-signers file listing each identity with its throwaway key."""
    lines = []
    for identity in identities:
        public = Path(f"{key_for(identity)}.pub").read_text().split()
        lines.append(f'{identity} namespaces="{NAMESPACE}" {public[0]} {public[1]}')
    return "\n".join(lines) + "\n"


def install_allowed_signers(project: Path, identities: Iterable[str] = APPROVERS) -> Path:
    """Write ``governance/allowed_signers`` into ``project``."""
    path = project / ALLOWED_SIGNERS
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(allowed_signers_text(identities))
    return path
