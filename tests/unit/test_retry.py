"""The retry policy: backoff, caps, jitter, and which errors are retried, waited out or dead."""

from __future__ import annotations

import subprocess
import sys

import asyncpg
import pytest
import redis.exceptions

from streams.exceptions import RecordValidationError
from streams.messages.delivery import Delivery, Failure
from streams.reliability.limits import HardTimeLimitExceeded, SoftTimeLimitExceeded
from streams.reliability.retry import Decision, RetryPolicy, is_outage


def test_backoff_doubles_up_to_the_cap_and_jitter_stays_below_it() -> None:
    policy = RetryPolicy(max_retries=10, backoff_s=1.0, backoff_max_s=600.0, jitter=False)
    assert [policy.backoff(n) for n in (1, 2, 3, 4)] == [1.0, 2.0, 4.0, 8.0]
    assert policy.backoff(20) == 600.0
    jittered = RetryPolicy(max_retries=10, backoff_s=1.0, backoff_max_s=600.0)
    assert jittered.backoff(3, rand=lambda: 0.5) == 2.0
    assert all(0 <= jittered.backoff(4) <= 8.0 for _ in range(200))


def test_retries_until_max_then_dead() -> None:
    policy = RetryPolicy(max_retries=3, backoff_s=1.0, jitter=False)
    error = RuntimeError("flaky")
    decisions = [policy.decide(error, attempt, now=100.0) for attempt in (1, 2, 3, 4)]
    assert decisions[:3] == [
        Decision("retry", 1, 101.0),
        Decision("retry", 2, 102.0),
        Decision("retry", 3, 104.0),
    ]
    assert decisions[3] == Decision("dead", 4)


@pytest.mark.parametrize(
    "error",
    [RecordValidationError("bad"), HardTimeLimitExceeded("stuck")],
)
def test_bad_input_and_abandoned_work_are_dead_at_once(error: Exception) -> None:
    assert RetryPolicy(max_retries=3).decide(error, 1).action == "dead"


def test_a_soft_time_limit_is_retried() -> None:
    assert RetryPolicy(max_retries=3).decide(SoftTimeLimitExceeded("slow"), 1).action == "retry"


@pytest.mark.parametrize(
    "error",
    [
        ConnectionRefusedError(111, "refused"),
        asyncpg.CannotConnectNowError("starting up"),
        redis.exceptions.ConnectionError("down"),
    ],
)
def test_unreachable_servers_are_outages(error: Exception) -> None:
    assert is_outage(error)


def test_an_outage_behind_another_error_counts_and_a_plain_error_does_not() -> None:
    outer = RuntimeError("while saving")
    outer.__cause__ = ConnectionResetError("reset")
    assert is_outage(outer)
    assert not is_outage(FileNotFoundError("items.jsonl"))
    assert not is_outage(ValueError("bad"))


def _delivery(**headers: bytes) -> Delivery:
    return Delivery("ns.items.raw", 2, 41, 1_700_000_000.0, b"k", b"v", headers)


def test_failed_headers_keep_origin_and_history_across_attempts() -> None:
    first = _delivery(trace=b"abc")
    headers = dict(first.failed_headers(Failure("KeyError", "x", "tb", at=5.0), 1, due="9"))
    assert headers["trace"] == b"abc"
    assert headers["ts-original-offset"] == b"41"
    assert headers["ts-due"] == b"9"
    again = Delivery("ns.items.raw.retry.1", 0, 3, 0.0, b"k", b"v", headers).handed_back("r")
    assert (again.topic, again.partition, again.offset, again.attempt) == ("ns.items.raw", 2, 41, 1)
    later = dict(again.failed_headers(Failure("KeyError", "y", "tb", at=6.0), 2))
    history = Delivery("t", 0, 0, 0.0, None, None, later).history
    assert [entry["message"] for entry in history] == ["x", "y"]
    assert later["ts-first-failure"] == b"5.0"


def test_only_the_retryable_classes_are_retried() -> None:
    policy = RetryPolicy(max_retries=3, retryable=(TimeoutError, KeyError))
    assert policy.decide(KeyError("k"), 1).action == "retry"
    assert policy.decide(ValueError("v"), 1).action == "dead"


def test_a_message_handed_back_belongs_to_the_topic_its_retry_topic_serves() -> None:
    by_hand = Delivery("ns.items.raw.retry.2", 0, 7, 3.0, None, b"{not json", {})
    back = by_hand.handed_back("ns.items.raw.retry.2", "ns.items.raw")
    assert (back.topic, back.partition, back.offset, back.attempt, back.due) == (
        "ns.items.raw",
        0,
        7,
        0,
        0.0,
    )
    garbled = {
        "ts-original-topic": b"ns.collect.requests",
        "ts-original-partition": b"two",
        "ts-original-offset": b"nan",
        "ts-attempt": b"-3",
        "ts-due": b"soon",
    }
    odd = Delivery("ns.items.raw.retry.1", 0, 9, 4.0, None, b"{}", garbled)
    back = odd.handed_back("ns.items.raw.retry.1", "ns.items.raw")
    assert (back.topic, back.partition, back.offset, back.attempt, back.due) == (
        "ns.items.raw",
        0,
        9,
        0,
        0.0,
    )


def test_qdrant_errors_are_told_without_importing_its_client_where_it_is_absent() -> None:
    """A process that never imported Qdrant's client (a collector, trendctl) cannot have raised
    its errors; where it is imported, an answer of 503 is an outage and one of 400 is not."""
    script = (
        "import sys\n"
        "from streams.reliability.retry import is_outage\n"
        "assert 'qdrant_client' not in sys.modules and not is_outage(ValueError('x'))\n"
        "from qdrant_client.http.exceptions import UnexpectedResponse\n"
        "from httpx import Headers\n"
        "away = UnexpectedResponse(503, 'unavailable', b'', Headers())\n"
        "bad = UnexpectedResponse(400, 'bad request', b'', Headers())\n"
        "assert is_outage(away) and not is_outage(bad)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], check=False, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
