"""Real HTTP servers on loopback, for the tests and `python -m bench.serve`: a file server that
answers Range requests (as CDNs do) and can be slowed down, and a callback receiver that records
what it is sent."""

from __future__ import annotations

import contextlib
import functools
import http.server
import io
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from streamthumb.webhooks import sign

SECRET, TOKEN = "whsec-test", "api-token-test"
"""The secrets a ``ServeProcess`` runs with."""


class FileHandler(http.server.SimpleHTTPRequestHandler):
    """Files of one folder, byte ranges answered; paths under /slow/ trickle out. Every
    request's Host header is recorded in ``hosts``, so a test can tell who was contacted."""

    hosts: list[str] = []

    def log_message(self, *args) -> None:
        pass

    def parse_request(self) -> bool:
        ok = super().parse_request()
        if ok:
            FileHandler.hosts.append(self.headers.get("Host", ""))
        return ok

    def translate_path(self, path: str) -> str:
        return super().translate_path(path.replace("/slow/", "/", 1))

    def send_head(self):
        ranged = self.headers.get("Range", "").removeprefix("bytes=")
        path = Path(self.translate_path(self.path))
        if not ranged or not path.is_file():
            return super().send_head()
        size = path.stat().st_size
        first, _, last = ranged.partition("-")
        if not first:  # a suffix: the last N bytes
            start, end = max(0, size - int(last)), size - 1
        else:
            start, end = int(first), min(int(last) if last else size - 1, size - 1)
        if start >= size:
            self.send_error(416)
            return None
        with open(path, "rb") as fh:
            fh.seek(start)
            data = fh.read(end - start + 1)
        self.send_response(206)
        self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        return io.BytesIO(data)

    def copyfile(self, source, outputfile) -> None:
        if not self.path.startswith("/slow/"):
            return super().copyfile(source, outputfile)
        while chunk := source.read(8192):
            outputfile.write(chunk)
            time.sleep(0.1)


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        """A reader that hangs up mid-file (FFmpeg does, between ranges) is no error."""
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


@contextlib.contextmanager
def serve(handler) -> Iterator[str]:
    """Run ``handler`` on a free loopback port; yield the base URL."""
    server = _Server(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def file_server(folder: Path):
    """``serve`` for the files of ``folder``."""
    return serve(functools.partial(FileHandler, directory=str(folder)))


class Receiver:
    """A callback endpoint: records each POST; answers the first ``failures`` with 500."""

    def __init__(self, failures: int = 0):
        self.requests: list[dict] = []
        self.failures = failures
        self._lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver._lock:
                    receiver.requests.append({"headers": dict(self.headers), "body": body, "at": time.monotonic()})
                    fail = len(receiver.requests) <= receiver.failures
                self.send_response(500 if fail else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.handler = Handler

    def delivered(self) -> dict[str, dict]:
        """Answered (2xx) deliveries by ``Idempotency-Key``: what a receiver honouring it keeps."""
        with self._lock:
            answered = self.requests[self.failures :]
            return {r["headers"]["Idempotency-Key"]: json.loads(r["body"]) for r in answered}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServeProcess:
    """``streamthumb serve`` in its own process, on a free loopback port, with test secrets;
    ``post`` signs and sends an event, ``get`` reads with the token, ``wait`` polls a job."""

    def __init__(self, out: Path, *args: str, env: dict | None = None):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.cmd = [sys.executable, "-m", "streamthumb", "serve", "--out", str(out), "--port", str(self.port),
                    "--model", "none", "--device", "cpu", "--allow-host", "127.0.0.1", *args]  # fmt: skip
        self.env = {**os.environ, "STREAMTHUMB_WEBHOOK_SECRET": SECRET, "STREAMTHUMB_API_TOKEN": TOKEN, **(env or {})}
        self.proc: subprocess.Popen | None = None

    def start(self) -> ServeProcess:
        # stderr to a file, not a pipe: nobody reads a pipe while the server runs, and a full
        # one would block it.
        self.log = open(f"{self.cmd[self.cmd.index('--out') + 1]}.stderr", "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(self.cmd, env=self.env, stdout=subprocess.DEVNULL, stderr=self.log)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, Path(self.log.name).read_text()
            try:
                with urllib.request.urlopen(f"{self.base}/healthz", timeout=1) as r:
                    if r.status == 200:
                        return self
            except OSError:
                time.sleep(0.2)
        raise AssertionError("the server did not come up")

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)
        self.log.close()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=30)
        if self.proc:
            self.log.close()

    def post(self, doc=None, *, body: bytes | None = None, signature: str | None = "sign") -> tuple[int, dict]:
        body = json.dumps(doc).encode() if body is None else body
        headers = {"Content-Type": "application/json"}
        if signature == "sign":
            signature = sign(body, SECRET)
        if signature:
            headers["Mux-Signature"] = signature
        return self._open(urllib.request.Request(f"{self.base}/webhooks/asset-ready", data=body, headers=headers))

    def get(self, path: str, token: str | None = TOKEN) -> tuple[int, dict]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return self._open(urllib.request.Request(f"{self.base}{path}", headers=headers))

    def metrics(self) -> str:
        with urllib.request.urlopen(f"{self.base}/metrics", timeout=10) as r:
            return r.read().decode()

    def wait(self, job: str, *, until=("done", "failed"), timeout: float = 120) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status, doc = self.get(f"/jobs/{job}")
            if status == 200 and doc["status"] in until:
                return doc
            time.sleep(0.2)
        raise AssertionError(f"job {job} did not reach {until}: {doc}")

    @staticmethod
    def _open(request) -> tuple[int, dict]:
        try:
            with urllib.request.urlopen(request, timeout=30) as r:
                return r.status, json.loads(r.read() or b"{}")
        except urllib.error.HTTPError as exc:
            return exc.code, dict(json.loads(exc.read() or b"{}"), retry_after=exc.headers.get("Retry-After"))
