"""`make bench`: every benchmark in turn, each printing its own figures.

    .venv/bin/python -m bench [--quick]

`--quick` runs the 10k sizes only (a few minutes); without it the 100k sizes run too.
"""

from __future__ import annotations

import argparse
import subprocess
import sys

BENCHMARKS = {
    "engine quality (in memory)": ["bench.quality", "--docs", "10000"],
    "analysis (store-backed)": ["bench.analysis", "--docs", "10000", "100000"],
    "sync": ["bench.sync", "--docs", "10000", "100000"],
    "REST API latency": ["bench.api"],
    "hooks (script to verdict)": ["bench.hooks"],
    "observability overhead": ["bench.observability"],
}
QUICK = {
    "analysis (store-backed)": ["bench.analysis", "--docs", "10000"],
    "sync": ["bench.sync", "--docs", "10000"],
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="10k sizes only")
    args = parser.parse_args()
    failed = []
    for title, command in BENCHMARKS.items():
        command = QUICK.get(title, command) if args.quick else command
        print(f"\n=== {title} ===", flush=True)
        if subprocess.run([sys.executable, "-m", *command], check=False).returncode:
            failed.append(title)
    if failed:
        print(f"\nfailed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
