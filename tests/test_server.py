"""streamthumb serve, the real server on loopback: signed webhooks in, thumbnails and signed
callbacks out; refusals that queue nothing; duplicates; allowed hosts; a full queue; SIGKILL
mid-job and a restart that finishes every accepted job exactly once."""

import http.server
import json
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from bench.loopback import SECRET, FileHandler, Receiver, ServeProcess, file_server, serve
from streamthumb.webhooks import sign, verify
from synthetic import Segment, write_video

pytestmark = pytest.mark.slow


def event(event_id: str, url: str, *, asset: str = "asset-1", kind: str = "asset.ready", **extra) -> dict:
    return {"type": kind, "id": event_id, "data": {"id": asset, "url": url, **extra}}


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("sources")
    write_video(
        root / "short.mp4", [Segment(n, 2.0) for n in ("astronaut", "coffee", "rocket")], size=(160, 120), fps=12
    )
    write_video(
        root / "long.mp4",
        [Segment(n, 6.0) for n in ("coffee", "rocket", "chelsea", "camera", "brick")],
        size=(320, 240),
        fps=12,
    )
    return root


@pytest.fixture(scope="module")
def files(videos):
    with file_server(videos) as url:
        yield url


@pytest.fixture(scope="module")
def receiver():
    r = Receiver(failures=2)  # the first two deliveries fail: the server must retry
    with serve(r.handler) as url:
        r.url = url
        yield r


@pytest.fixture(scope="module")
def server(tmp_path_factory, receiver):
    s = ServeProcess(tmp_path_factory.mktemp("served"), "--callback", receiver.url, "--callback-backoff", "0.3").start()
    yield s
    s.stop()


def test_a_signed_event_gives_thumbnails_and_a_signed_callback(server, files, receiver):
    status, doc = server.post(event("evt-ok", f"{files}/short.mp4"))
    assert status == 202 and doc["job"]
    job = server.wait(doc["job"])
    assert job["status"] == "done" and job["attempts"] == 1, job
    picks = job["result"]["picks"]
    assert len(picks) == 3 and all(Path(p["path"]).is_file() for p in picks)
    assert job["result"]["schema_version"] == 1
    status, asset = server.get("/assets/asset-1")
    assert status == 200 and asset["status"] == "done" and asset["job"] == doc["job"]
    deadline = time.monotonic() + 30
    while doc["job"] not in receiver.delivered() and time.monotonic() < deadline:
        time.sleep(0.1)
    sent = [r for r in receiver.requests if r["headers"]["Idempotency-Key"] == doc["job"]]
    assert len(sent) == 3  # two 500s, then a 2xx: retried with backoff, then never again
    gaps = [b["at"] - a["at"] for a, b in zip(sent, sent[1:], strict=False)]
    assert gaps[1] > gaps[0] * 1.5  # exponential backoff
    for r in sent:
        verify(r["body"], r["headers"]["Streamthumb-Signature"], SECRET)
    assert receiver.delivered()[doc["job"]]["result"]["picks"][0]["path"] == picks[0]["path"]


def test_refused_deliveries_queue_nothing(server, files):
    before = server.metrics()
    good = json.dumps(event("evt-refused", f"{files}/short.mp4", asset="never")).encode()
    assert server.post(body=good, signature=None)[0] == 401
    assert server.post(body=good, signature=sign(good, "another secret"))[0] == 401
    assert server.post(body=good, signature=sign(good, SECRET, at=time.time() - 600))[0] == 401  # a replay
    assert server.post(body=good.replace(b"short", b"other"), signature=sign(good, SECRET))[0] == 401  # tampered
    assert server.post(body=b"{not json")[0] == 400
    assert server.post({"type": "asset.ready", "id": "x", "data": {"id": "never"}})[0] == 400  # no url
    assert server.post(event("evt-unknown", "http://x", kind="asset.exploded"))[0] == 400
    assert oversized(server) == 413
    assert server.post(event("evt-mux-other", "http://x", kind="video.asset.created")) == (
        200,
        {"ignored": "video.asset.created"},
    )
    assert server.get("/assets/never")[0] == 404
    after = server.metrics()
    for reason, n in [
        ("unsigned", 1),
        ("bad_signature", 2),
        ("stale", 1),
        ("malformed", 2),
        ("unknown_type", 1),
        ("too_large", 1),
    ]:
        assert f'streamthumb_webhook_rejections_total{{reason="{reason}"}} {n}' in after, after
    assert _jobs(before) == _jobs(after)


def oversized(server) -> int:
    """Announce a 2 MB body, send 1 KB of it: the answer must come from the header alone."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        head = f"POST /webhooks/asset-ready HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {2 << 20}\r\n\r\n"
        sock.sendall(head.encode() + b" " * 1024)
        return int(sock.makefile("rb").readline().split()[1])


def _jobs(metrics: str) -> list[str]:
    return [line for line in metrics.splitlines() if line.startswith("streamthumb_jobs{")]


def test_a_repeated_delivery_makes_no_second_job(server, files):
    status, first = server.post(event("evt-twice", f"{files}/short.mp4", asset="asset-twice"))
    again = server.post(event("evt-twice", f"{files}/short.mp4", asset="asset-twice"))
    assert status == 202 and again == (200, {"job": first["job"]})
    server.wait(first["job"])
    status, asset = server.get("/assets/asset-twice")
    assert asset["history"] == []


def test_an_update_reruns_the_asset_and_keeps_its_history(server, files):
    _, first = server.post(event("evt-v1", f"{files}/short.mp4", asset="asset-trim"))
    server.wait(first["job"])
    _, second = server.post(
        event("evt-v2", f"{files}/short.mp4", asset="asset-trim", kind="asset.updated", start=2.0, end=6.0)
    )
    job = server.wait(second["job"])
    assert job["status"] == "done" and all(2.0 <= p["t"] < 6.0 for p in job["result"]["picks"])
    _, asset = server.get("/assets/asset-trim")
    assert asset["job"] == second["job"] and [h["job"] for h in asset["history"]] == [first["job"]]
    assert all(Path(p["path"]).is_file() for p in asset["history"][0]["result"]["picks"])  # its files stay


def test_the_read_api_needs_the_token(server):
    assert server.get("/jobs/x", token=None)[0] == 401
    assert server.get("/jobs/x", token="wrong")[0] == 401
    assert server.get("/jobs/x")[0] == 404
    with urllib.request.urlopen(f"{server.base}/healthz", timeout=10) as r:
        assert json.loads(r.read())["ok"] is True


def test_a_host_not_allowed_fails_the_job_and_is_never_contacted(server, files):
    port = files.rsplit(":", 1)[1]
    FileHandler.hosts.clear()
    _, doc = server.post(event("evt-host", f"http://localhost:{port}/short.mp4", asset="asset-host"))
    job = server.wait(doc["job"])
    assert job["status"] == "failed" and "not allowed" in job["error"]
    assert FileHandler.hosts == []  # never contacted
    _, doc = server.post(event("evt-scheme", "file:///etc/passwd", asset="asset-file"))
    assert "only http and https" in server.wait(doc["job"])["error"]


def redirector(target: str):
    """A handler that answers every GET with a 302 to ``target`` + the path."""

    class Redirect(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def do_GET(self) -> None:
            self.send_response(302)
            self.send_header("Location", target + self.path)
            self.send_header("Content-Length", "0")
            self.end_headers()

    return Redirect


def test_redirects_are_followed_to_allowed_hosts_only(server, files):
    port = files.rsplit(":", 1)[1]
    with serve(redirector(files)) as allowed, serve(redirector(f"http://localhost:{port}")) as away:
        _, ok = server.post(event("evt-redirect-ok", f"{allowed}/short.mp4", asset="asset-redirect-ok"))
        _, off = server.post(event("evt-redirect-off", f"{away}/short.mp4", asset="asset-redirect-off"))
        assert server.wait(ok["job"])["status"] == "done"
        job = server.wait(off["job"])
    assert job["status"] == "failed" and "host localhost is not allowed" in job["error"]


def sneaky(target: str):
    """Answers the one-byte check as a video would, and every other request with a redirect."""

    class Sneaky(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def do_GET(self) -> None:
            if self.headers.get("Range") == "bytes=0-0":
                self.send_response(206)
                self.send_header("Content-Range", "bytes 0-0/100000")
                self.send_header("Content-Length", "1")
                self.end_headers()
                self.wfile.write(b"\x00")
                return
            self.send_response(302)
            self.send_header("Location", target)
            self.send_header("Content-Length", "0")
            self.end_headers()

    return Sneaky


def test_a_redirect_after_the_check_is_never_followed(server, files):
    port = files.rsplit(":", 1)[1]
    FileHandler.hosts.clear()
    with serve(sneaky(f"http://localhost:{port}/short.mp4")) as url:
        _, doc = server.post(event("evt-sneaky", f"{url}/video.mp4", asset="asset-sneaky"))
        job = server.wait(doc["job"])
    assert job["status"] == "failed"
    assert not [h for h in FileHandler.hosts if h.startswith("localhost")]  # the internal host never saw a request


def test_jobs_that_cannot_run_fail_and_the_workers_live_on(server, files):
    bad = ["http://127.0.0.1:99999/x.mp4", f"{files}/no such file.mp4", f"{files}/../../etc/passwd"]
    jobs = [server.post(event(f"evt-bad-{i}", url, asset=f"asset-bad-{i}"))[1]["job"] for i, url in enumerate(bad)]
    assert [server.wait(j)["status"] for j in jobs] == ["failed"] * 3
    assert server.post(event("evt-trim-bad", f"{files}/short.mp4", start=5.0, end=1.0))[0] == 400
    with urllib.request.urlopen(f"{server.base}/healthz", timeout=10) as r:
        assert json.loads(r.read()) == {"ok": True, "threads": 3}
    _, good = server.post(event("evt-after-bad", f"{files}/short.mp4", asset="asset-after-bad"))
    assert server.wait(good["job"])["status"] == "done"


def test_serve_refuses_to_start_without_the_secret(tmp_path):
    s = ServeProcess(tmp_path, env={"STREAMTHUMB_WEBHOOK_SECRET": ""})
    done = subprocess.run(s.cmd, env=s.env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert "STREAMTHUMB_WEBHOOK_SECRET" in done.stderr


def test_a_full_queue_says_retry_later_and_a_sigkill_loses_no_job(tmp_path, files):
    receiver = Receiver()
    with serve(receiver.handler) as callback:
        server = ServeProcess(tmp_path / "out", "--workers", "1", "--max-queued", "1", "--callback", callback).start()
        try:
            _, slow = server.post(event("evt-slow", f"{files}/slow/long.mp4", asset="asset-slow"))
            server.wait(slow["job"], until=("running",))
            status, queued = server.post(event("evt-queued", f"{files}/short.mp4", asset="asset-queued"))
            assert status == 202
            status, full = server.post(event("evt-full", f"{files}/short.mp4", asset="asset-full"))
            assert status == 503 and full["retry_after"] == "30"
            time.sleep(1.0)  # the slow job is mid-decode
            server.kill()
            server.start()
            jobs = [server.wait(slow["job"]), server.wait(queued["job"])]
            assert [j["status"] for j in jobs] == ["done", "done"]
            assert jobs[0]["attempts"] == 2 and jobs[1]["attempts"] == 1
            assert server.get("/assets/asset-full")[0] == 404  # refused means never queued
            deadline = time.monotonic() + 30
            while len(receiver.delivered()) < 2 and time.monotonic() < deadline:
                time.sleep(0.1)
            assert set(receiver.delivered()) == {slow["job"], queued["job"]}  # once per key
            folder = Path(jobs[0]["result"]["picks"][0]["path"]).parent
            assert not [p for p in folder.iterdir() if p.name.startswith(".") and p.suffix != ""]  # no temp file left
        finally:
            server.stop()


def test_serve_without_the_serve_extra_says_how_to_install_it(tmp_path, monkeypatch, capsys):
    from streamthumb import cli

    monkeypatch.setenv("STREAMTHUMB_WEBHOOK_SECRET", SECRET)
    monkeypatch.setitem(sys.modules, "uvicorn", None)  # as if it were not installed
    assert cli.main(["serve", "--out", str(tmp_path), "--model", "none"]) == 2
    assert 'pip install -e ".[serve]"' in capsys.readouterr().err
