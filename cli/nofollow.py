"""Reading and writing files the CLI generates, never through a symbolic link.

Files such as ``.dvc/config`` or a policy pack sit in directories other people can write to (a
repository, a shared output directory). A symlink planted there must not make a command read or
write anywhere else, so every open uses ``O_NOFOLLOW`` and every write is a new file in the same
directory moved over the name (``os.replace`` replaces a symlink, it never follows it).
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from pathlib import Path

from mlops_iac.cli import EXIT_FAILED, OpsError

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def refuse_symlink(path: Path, what: str = "") -> None:
    """``OpsError`` (exit 2) when ``path`` itself is a symbolic link (dangling or not)."""
    if path.is_symlink():
        label = f"{what} " if what else ""
        raise OpsError(f"{label}{path} is a symbolic link; refusing to follow it (replace it)")


def read_bytes(path: Path) -> bytes | None:
    """The bytes of regular file ``path``, ``None`` when it does not exist.

    ``OpsError`` (exit 2) when it is a symlink or not a regular file.
    """
    refuse_symlink(path)
    try:
        fd = os.open(path, os.O_RDONLY | _NOFOLLOW)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # swapped for a symlink since the check
            refuse_symlink(path)
        raise
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise OpsError(f"{path} is not a regular file")
        return handle.read()


def write_atomic(
    path: Path, data: bytes, *, mode: int | None = None, expected: bytes | None = None
) -> None:
    """Replace ``path`` with ``data`` (a new file moved over the name); never follows a symlink.

    ``mode``: the new file's permissions (default: the existing file's, else 0644). The content is
    written only once the temporary file already has that mode, so a 0600 file never exists with
    wider permissions. ``expected``: refuse (exit 1) when the file on disk changed since it was read
    as these bytes (``b""``: it must still be absent).
    """
    refuse_symlink(path.parent, "directory")
    refuse_symlink(path)
    if mode is None:
        try:
            mode = stat.S_IMODE(os.lstat(path).st_mode)
        except FileNotFoundError:
            mode = 0o644
    # mkstemp: O_CREAT | O_EXCL with mode 0600, in the same directory (same file system).
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if expected is not None and (read_bytes(path) or b"") != expected:
            raise OpsError(f"{path} changed on disk while being edited; run again", EXIT_FAILED)
        refuse_symlink(path)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    with contextlib.suppress(OSError):  # durability of the rename; not every FS allows it
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
