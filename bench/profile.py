"""Profile workers under a bench load with py-spy: the functions with the most samples."""

from __future__ import annotations

import argparse
import asyncio
import re
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

if __package__ in (None, ""):
    sys.path[0] = str(Path(__file__).resolve().parents[1])

from bench.env import bench_env
from bench.flow import Flow
from bench.workers import running, start_faust, wait_settled

HELP = """Profile: N processor workers of a module (default the same-work app) under one round of
bench items, each sampled by `py-spy record` (the bench extra) from the first send to the
last row processed; prints, per worker, the functions with the most samples, on their own
(self) and with what they call (inclusive), and writes the raw stacks beside the logs.

Usage: python bench/profile.py [--module M] [--workers N] [--items N] [--warmup N] [--top N]
Example: python bench/profile.py --module bench.hash_processor --workers 1 --items 2000
"""


_OURS = ("services/", "streams/", "bench/")
_LINE = re.compile(r":\d+\)$")


def summary(raw: Path, top: int) -> str:
    """The `top` functions by self samples (any code) and by inclusive samples (the project's
    code: services/, streams/, bench/) of a py-spy raw (collapsed) file, lines merged."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = [_LINE.sub(")", frame) for frame in stack.split(";")]
        total += int(count)
        own[frames[-1]] += int(count)
        for frame in {f for f in frames if any(part in f for part in _OURS)}:
            inclusive[frame] += int(count)
    lines = [f"{total} samples"]
    for title, counts in (("self", own), ("inclusive, project code", inclusive)):
        lines.append(f"-- {title}")
        lines += [f"{100 * n / total:5.1f}%  {frame}" for frame, n in counts.most_common(top)]
    return "\n".join(lines)


def spy_on(command: list[str]) -> subprocess.Popen[bytes]:
    """Start py-spy (stopped with SIGINT, it writes its file)."""
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


async def main() -> None:
    parse = argparse.ArgumentParser(
        description=HELP, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parse.add_argument("--module", default="bench.samework_processor")
    parse.add_argument("--workers", type=int, default=2)
    parse.add_argument("--items", type=int, default=6000)
    parse.add_argument("--warmup", type=int, default=200)
    parse.add_argument("--top", type=int, default=25)
    parse.add_argument("--rate", type=int, default=100, help="py-spy samples per second")
    parse.add_argument(
        "--gil", action="store_true", help="only samples of the thread holding the GIL"
    )
    args = parse.parse_args()
    async with bench_env("profile", topic_partitions=4) as settings:
        workers = [start_faust("processor", settings, args.module) for _ in range(args.workers)]
        with running(workers):
            cluster = args.module != "bench.samework_processor"
            wait_settled(workers, settings, cluster=cluster)
            flow = Flow(settings, workers)
            await flow.round(args.warmup)
            folder = settings.state_dir / "logs"
            spies = []
            for worker in workers:
                raw = folder / f"py-spy-{worker.process.pid}.txt"
                command = ["py-spy", "record", "--pid", str(worker.process.pid), "--rate"]
                command += [str(args.rate), "--format", "raw", "--output", str(raw)]
                command += ["--gil"] if args.gil else []
                spies.append((worker, spy_on(command), raw))
            await asyncio.sleep(1.0)  # py-spy attached
            rate, _ = await flow.round(args.items)
            for _, spy, _ in spies:
                spy.send_signal(signal.SIGINT)
            print(f"{args.module} x{args.workers}: {rate:,.0f} items/s while profiled")
            for worker, spy, raw in spies:
                spy.wait(60)
                print(f"\n== worker pid {worker.process.pid}" + (" (GIL only)" if args.gil else ""))
                print(summary(raw, args.top) if raw.exists() else spy.stderr.read().decode())


if __name__ == "__main__":
    asyncio.run(main())
