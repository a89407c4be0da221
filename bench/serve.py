"""Load test of `streamthumb serve` on loopback: accept latency, jobs/hour, nothing lost or doubled.

Starts the real server in its own process (model-free scoring unless ``--model`` says
otherwise), a file server with a few short generated videos and a callback receiver, all on
127.0.0.1. Then sends ``--deliveries`` signed webhooks from ``--concurrency`` threads, each a
new event, plus every tenth one a second time (senders retry), and waits, at most ``--timeout``
seconds, until every job has ended and called back. It reports the accept latency (webhook to
202), jobs/hour from the first accept to the last job's end, and the checks: one job per
distinct event, every job done, one callback per job as a receiver that honours
``Idempotency-Key`` sees it. It stops by itself.

Usage:
    python -m bench.serve --deliveries 200 --concurrency 20
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench.loopback import Receiver, ServeProcess, file_server, serve
from bench.videos import VideoSpec, ensure_video


def deliver(server: ServeProcess, files: str, n: int, concurrency: int) -> tuple[list[float], dict[int, str], int]:
    """Send ``n`` events and a repeat of every tenth; return accept latencies, jobs by event, repeats answered."""

    def one(i: int) -> tuple[int, float, int, str]:
        doc = {"type": "asset.ready", "id": f"evt-{i}", "data": {"id": f"asset-{i}", "url": f"{files}/v{i % 4}.mp4"}}
        start = time.perf_counter()
        status, body = server.post(doc)
        return i, time.perf_counter() - start, status, body.get("job", "")

    with ThreadPoolExecutor(concurrency) as pool:
        first = list(pool.map(one, range(n)))
        repeats = list(pool.map(one, range(0, n, 10)))
    if any(status != 202 for _, _, status, _ in first):
        raise SystemExit(f"deliveries refused: {sorted({s for _, _, s, _ in first})}")
    jobs = {i: job for i, _, _, job in first}
    same = sum(status == 200 and job == jobs[i] for i, _, status, job in repeats)
    return [latency for _, latency, _, _ in first], jobs, same


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Load-test `streamthumb serve` on loopback.")
    parser.add_argument("--deliveries", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2, help="the server's --workers")
    parser.add_argument("--seconds", type=int, default=4, help="length of each source video")
    parser.add_argument("--model", default="none")
    parser.add_argument("--timeout", type=float, default=900.0, help="give up after this many seconds")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    sources = [ensure_video(VideoSpec(320, 240, args.seconds, seed=i)) for i in range(4)]
    receiver = Receiver()
    with tempfile.TemporaryDirectory(prefix="streamthumb-serve-") as tmp, serve(receiver.handler) as callback:
        folder = Path(tmp) / "videos"
        folder.mkdir()
        for i, src in enumerate(sources):
            (folder / f"v{i}.mp4").symlink_to(src)
        with file_server(folder) as files:
            server = ServeProcess(Path(tmp) / "out", "--workers", str(args.workers), "--callback", callback,
                                  "--model", args.model, "--max-queued", str(args.deliveries))  # fmt: skip
            server.start()
            try:
                start = time.monotonic()
                latencies, jobs, repeats = deliver(server, files, args.deliveries, args.concurrency)
                left = lambda: max(1.0, args.timeout - (time.monotonic() - start))  # noqa: E731
                ended = [server.wait(job, timeout=left()) for job in jobs.values()]
                deadline = time.monotonic() + 60
                while len(receiver.delivered()) < len(jobs) and time.monotonic() < deadline:
                    time.sleep(0.1)
                wall = max(j["finished_at"] for j in ended) - min(j["created_at"] for j in ended)
            finally:
                server.stop()
    quantiles = statistics.quantiles(latencies, n=100)
    results = {
        "deliveries": args.deliveries,
        "concurrency": args.concurrency,
        "workers": args.workers,
        "accept_p50_ms": round(1000 * statistics.median(latencies), 1),
        "accept_p99_ms": round(1000 * quantiles[98], 1),
        "jobs_per_hour": round(len(jobs) / wall * 3600),
        "jobs": len(set(jobs.values())),
        "done": sum(j["status"] == "done" for j in ended),
        "repeats_answered_with_the_same_job": f"{repeats}/{len(range(0, args.deliveries, 10))}",
        "callbacks": len(receiver.delivered()),
        "callback_requests": len(receiver.requests),
    }
    ok = results["jobs"] == results["done"] == results["callbacks"] == args.deliveries
    print(json.dumps(results, indent=2))
    print("nothing lost or duplicated" if ok else "LOST OR DUPLICATED JOBS")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
