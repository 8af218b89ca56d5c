"""Shared by the benchmarks: a fake Paperless in its own process, peak memory, percentiles."""

from __future__ import annotations

import resource
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
from dupeless.core.fake_paperless import DEFAULT_TOKEN


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def fake_paperless_process(documents: int, seed: int = 1) -> Iterator[str]:
    """`dupeless fake-paperless` with a generated library, in its own process (so its memory
    does not count against dupeless'); yields the base URL once it answers."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "dupeless.core.cli", "fake-paperless", "--documents",
         str(documents), "--seed", str(seed), "--port", str(port)],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 600
        while True:
            try:
                httpx.get(f"{url}/api/", headers=auth(), timeout=2)
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("fake Paperless did not start") from None
                time.sleep(0.5)
        yield url
    finally:
        process.terminate()
        process.wait()


def auth() -> dict[str, str]:
    return {"Authorization": f"Token {DEFAULT_TOKEN}"}


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]
