"""The plugin process pool outlives no host: a killed host's workers end on their own."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

HOST = textwrap.dedent(
    """
    import os, sys
    from dupeless.plugins import pool
    from dupeless.plugins.ocr_normaliser import normalise_all

    if __name__ == "__main__":
        os.environ[pool.WORKERS_ENV] = "2"
        pool.pool_map(normalise_all, ["x"] * pool.MIN_ITEMS)
        print(*(process.pid for process in pool._pool._processes.values()), flush=True)
        sys.stdin.read()  # wait to be killed
    """
)


def running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:  # a zombie has ended too
        return stat.read().rsplit(")", 1)[1].split()[0] != "Z"


def test_workers_of_a_killed_host_end(tmp_path):
    script = tmp_path / "host.py"
    script.write_text(HOST)
    host = subprocess.Popen(
        [sys.executable, str(script)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    workers = [int(pid) for pid in host.stdout.readline().split()]
    assert len(workers) == 2 and all(running(pid) for pid in workers)
    host.send_signal(signal.SIGKILL)  # no clean-up at all
    host.wait(timeout=10)
    deadline = time.monotonic() + 10
    while any(running(pid) for pid in workers):
        assert time.monotonic() < deadline, "the pool's workers outlived their host"
        time.sleep(0.1)
