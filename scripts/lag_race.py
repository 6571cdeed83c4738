"""Stress the lag reader against its race: on fresh private brokers, many rounds in a row of a
fresh topic and group (produce 3 messages, commit offset 0 on every partition, read the lag at
once), then the same right after each restart of the broker (its group coordinator loading).

Usage: python scripts/lag_race.py [--brokers N] [--rounds N] [--restarts N] [--auto-commit]

Each broker is started by scripts/stack.py under its own STATE_DIR and free ports (a fresh
broker has no __consumer_offsets yet: the first groups meet their coordinator being created),
and purged at the end. `--auto-commit` commits with a consumer whose auto-commit is on, as
test_lag_per_partition_with_the_sampled_status once did: its stop commits the end offsets it
reset to over the commit whenever the commit waited for the coordinator, so a fresh broker's
first rounds read lag 0. Prints each wrong read and a summary; exit code 1 if any round read
anything but lag 3 over every partition, each of them known.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from aiokafka import TopicPartition  # noqa: E402

from streams.config import Settings, load_settings  # noqa: E402
from streams.messages.topics import ITEMS_RAW  # noqa: E402
from streams.operations.inspect import consumer_lag  # noqa: E402
from tests.support.kafka import commit_offsets, produce  # noqa: E402
from tests.support.stack import free_port_pair, stack  # noqa: E402

MESSAGES = 3


@dataclass
class Tally:
    """Rounds run and rounds read wrong, per phase (`fresh`, `restarted`)."""

    rounds: dict[str, int] = field(default_factory=dict)
    wrong: dict[str, int] = field(default_factory=dict)

    def add(self, phase: str, ok: bool) -> None:
        self.rounds[phase] = self.rounds.get(phase, 0) + 1
        self.wrong[phase] = self.wrong.get(phase, 0) + (not ok)


async def one_round(base: Settings, auto_commit: bool) -> tuple[bool, str]:
    """A fresh namespace: produce (auto-creating the topic), commit 0 everywhere, read at once."""
    settings = base.model_copy(update={"namespace": f"race{uuid.uuid4().hex[:8]}."})
    started = time.monotonic()
    for n in range(MESSAGES):
        await produce(settings, ITEMS_RAW, b"{}", key=f"k{n}".encode())
    topic = ITEMS_RAW.full_name(settings)
    partitions = [TopicPartition(topic, p) for p in range(settings.topic_partitions)]
    group = f"{settings.namespace}race-group"
    offsets = dict.fromkeys(partitions, 0)
    await commit_offsets(settings, group, offsets, auto_commit=auto_commit)
    committed = time.monotonic()
    [view] = await consumer_lag(settings, group, with_status=False)
    read = [(p.partition, p.committed, p.end_offset, p.lag, p.reason) for p in view.partitions]
    ok = view.total_lag == MESSAGES and [r[0] for r in read] == list(range(len(partitions)))
    ok = ok and all(r[1] == 0 and r[4] is None for r in read)
    timing = f"produce+commit={committed - started:.2f}s read={time.monotonic() - committed:.2f}s"
    return ok, f"group={group} total_lag={view.total_lag} {timing} partitions={read}"


async def rounds(settings: Settings, phase: str, count: int, tally: Tally, auto: bool) -> None:
    for n in range(count):
        ok, line = await one_round(settings, auto)
        tally.add(phase, ok)
        if not ok:
            print(f"WRONG phase={phase} round={n} {line}", flush=True)


def broker(tally: Tally, options: argparse.Namespace) -> None:
    """One fresh broker: rounds at once, then rounds after each restart; purged at the end."""
    home = Path(tempfile.mkdtemp(prefix="lag-race-"))
    settings = load_settings(
        kafka_bootstrap_servers=f"127.0.0.1:{free_port_pair()}", state_dir=home
    )
    stack(settings, "start", "kafka")
    try:
        asyncio.run(rounds(settings, "fresh", options.rounds, tally, options.auto_commit))
        for _ in range(options.restarts):
            stack(settings, "stop", "kafka")
            stack(settings, "start", "kafka")
            asyncio.run(rounds(settings, "restarted", options.rounds, tally, options.auto_commit))
    finally:
        stack(settings, "purge")
        shutil.rmtree(home, ignore_errors=True)


def main(argv: list[str]) -> int:
    """Entry point: run the brokers one after the other, print the tally."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--brokers", type=int, default=3, help="fresh brokers, one at a time")
    parser.add_argument("--rounds", type=int, default=10, help="rounds in a row per phase")
    parser.add_argument("--restarts", type=int, default=1, help="restarts of each broker")
    parser.add_argument("--auto-commit", action="store_true", help="commit as the old test did")
    options = parser.parse_args(argv)
    tally = Tally()
    for _ in range(options.brokers):
        broker(tally, options)
    for phase, count in tally.rounds.items():
        print(f"phase={phase} rounds={count} wrong={tally.wrong[phase]}")
    return 1 if any(tally.wrong.values()) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
