"""Every benchmark in one run, one combined markdown table; JSON in bench/results/run-<time>.json.

Usage: python bench/run.py [--tiny] [--jobs N] [--repeat N] [--only NAME ...]  (python -m bench)
Each benchmark runs as `python -m bench.<name>` in turn (never two at once: they would share
the 2 cores), with its own namespace and database. `--jobs 2` runs two at a time, for the tiny
run only (CI's check that every bench still runs and reports every figure: its figures say
nothing), and is refused without `--tiny`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if __package__ in (None, ""):
    sys.path[0] = str(ROOT)

from bench import rabbitmq
from bench.report import RESULTS, table_of

BENCHES = (
    "broker",
    "nomodel",
    "model",
    "oldsystem",
    "latency",
    "memory",
    "scaling",
    "freshness",
    "recovery",
    "cluster",
    "soak",
)

RABBITMQ_USERS = {"latency", "oldsystem"}
"""The benches that compare with the Celery design on RabbitMQ (never two at once: the
Celery load of one would time out the other's connections)."""


def run_one(name: str, args: argparse.Namespace, stamp: str) -> dict[str, object]:
    """Run one benchmark script; return its JSON report."""
    out = RESULTS / f"{name}-{stamp}.json"
    cmd = [sys.executable, "-m", f"bench.{name}", "--out", str(out)]
    cmd += ["--tiny"] if args.tiny else []
    cmd += ["--repeat", str(args.repeat)] if args.repeat else []
    started = time.monotonic()
    print(f"run: {name} ...", file=sys.stderr, flush=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        output = f"{done.stdout[-3000:]}\n{done.stderr[-5000:]}"
        raise SystemExit(f"bench {name} failed ({done.returncode}):\n{output}")
    print(f"run: {name} done in {time.monotonic() - started:.0f}s", file=sys.stderr, flush=True)
    report: dict[str, object] = json.loads(out.read_text())
    report["seconds"] = round(time.monotonic() - started, 1)
    return report


def main() -> None:
    parse = argparse.ArgumentParser(description=__doc__)
    parse.add_argument("--tiny", action="store_true", help="tiny sizes, one run each (CI)")
    parse.add_argument("--repeat", type=int, default=None)
    parse.add_argument("--only", nargs="*", choices=BENCHES, default=list(BENCHES))
    parse.add_argument("--jobs", type=int, default=1, help="benches at once (tiny runs only)")
    args = parse.parse_args()
    if args.jobs < 1 or (args.jobs > 1 and not args.tiny):
        parse.error("--jobs above 1 is for --tiny runs only: measures need the cores alone")
    if RABBITMQ_USERS & set(args.only):
        rabbitmq.up()  # once, before two benches could start it at the same time
    stamp = time.strftime("%Y%m%d-%H%M%S")
    celery = [name for name in args.only if name in RABBITMQ_USERS]  # one after the other
    lanes = [celery] + [[name] for name in args.only if name not in RABBITMQ_USERS]
    with ThreadPoolExecutor(args.jobs) as pool:
        done = pool.map(lambda lane: [run_one(name, args, stamp) for name in lane], lanes)
        found = {report["bench"]: report for lane in done for report in lane}
    reports = [found[name] for name in args.only]
    combined = {"tiny": args.tiny, "stamp": stamp, "cpus": os.cpu_count(), "reports": reports}
    path = RESULTS / f"run-{stamp}.json"
    path.write_text(json.dumps(combined, indent=2))
    print(table_of(reports))
    print(f"\nwritten: {path}")


if __name__ == "__main__":
    main()
