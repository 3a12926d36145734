"""The recorded Azure and GCP answers (``tests.ops.recorded``) served over loopback http.

A CLI in a subprocess reaches them through the endpoint overrides users have
(``AZURE_RESOURCE_MANAGER_ENDPOINT``, ``CLOUDSDK_API_ENDPOINT_OVERRIDES_<API>``) and the static
token of ``MLOPS_IAC_TEST_TOKEN``; ``replay_server`` yields that environment. A request is
answered by the ``Recorded`` transport whose default root plus the request's path has an answer
(ARM paths start with ``/subscriptions``, Google's with the API's version: no two clouds share
one), so writes change what later reads see, as in the in-process tests.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from mlops_iac.cli.cloudrest import (
    ARM,
    ARM_ENDPOINT_ENV,
    GCP_APIS,
    GCP_OVERRIDE_ENV,
    TEST_TOKEN_ENV,
    ApiError,
)
from tests.ops.recorded import Recorded, azure_values, gcp_values

TOKEN = "replay-token"


def _handler(transports: dict[str, Recorded]) -> type[BaseHTTPRequestHandler]:
    roots = {ARM: transports["azure"], **{r: transports["gcp"] for r in GCP_APIS.values()}}
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else None
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                status, payload = 401, {"error": {"code": "Unauthorized", "message": "token"}}
            else:
                status, payload = self._replay(body)
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _replay(self, body: Any) -> tuple[int, Any]:
            method = self.command
            for root, transport in roots.items():
                url = root + self.path
                if (method, url) in transport.answers:
                    try:
                        with lock:
                            return 200, transport(method, url, body)
                    except ApiError as exc:
                        return exc.status, {"error": {"code": exc.code, "message": exc.message}}
            return 404, {"error": {"code": "NotFound", "message": f"no recording of {method}"}}

        do_GET = do_PUT = do_PATCH = do_POST = do_DELETE = _answer

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass  # quiet: the transports log every request

    return Handler


@contextmanager
def replay_server() -> Iterator[tuple[dict[str, str], dict[str, Recorded]]]:
    """Serve the healthy azure-prod and gcp-prod estates on 127.0.0.1; yield the environment
    that points the CLI at them and the two transports (their ``sent`` logs)."""
    transports = {"azure": Recorded("azure", azure_values()), "gcp": Recorded("gcp", gcp_values())}
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(transports))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    root = f"http://127.0.0.1:{server.server_address[1]}"
    env = {ARM_ENDPOINT_ENV: root, TEST_TOKEN_ENV: TOKEN}
    env.update({GCP_OVERRIDE_ENV + api: f"{root}/" for api in GCP_APIS})
    try:
        yield env, transports
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
