"""Real HTTP servers on loopback for the tests: a file server that answers Range requests (as
CDNs do) and can be slowed down, and a callback receiver that records what it is sent."""

from __future__ import annotations

import contextlib
import functools
import http.server
import io
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path


class FileHandler(http.server.SimpleHTTPRequestHandler):
    """Files of one folder, byte ranges answered; paths under /slow/ trickle out."""

    def log_message(self, *args) -> None:
        pass

    def translate_path(self, path: str) -> str:
        return super().translate_path(path.replace("/slow/", "/", 1))

    def send_head(self):
        ranged = self.headers.get("Range", "").removeprefix("bytes=")
        path = Path(self.translate_path(self.path))
        if not ranged or not path.is_file():
            return super().send_head()
        size = path.stat().st_size
        first, _, last = ranged.partition("-")
        start, end = int(first or 0), min(int(last) if last else size - 1, size - 1)
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


@contextlib.contextmanager
def serve(handler) -> Iterator[str]:
    """Run ``handler`` on a free loopback port; yield the base URL."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
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
