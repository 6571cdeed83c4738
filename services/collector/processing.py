"""`then_process`: a request waits for the processor's reports on its items before SUCCESS."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from streams.config import Settings
from streams.messages.records import ProcessingReport
from streams.reliability.limits import RevokedError

__all__ = ["Pending", "ProcessingTracker"]

# Every script works on the four keys of one request: the hash (begun, armed, expected,
# context, counters, revoked, closed, done) and the sets of item keys published, reported and
# reported new.
_CLOSE_IF_COMPLETE = """
local function count(field)
  return tonumber(redis.call('HGET', KEYS[1], field) or '0')
end
local function answer(closed, context)
  local processed, fresh = string.match(closed, '^(%d+):(%d+)$')
  return {tonumber(processed), tonumber(fresh), context}
end
local function figures()
  local processed, fresh
  if redis.call('SCARD', KEYS[2]) > 0 then
    processed, fresh = count('handled'), count('new')
  else  -- a run that did not record its items (an older collector): count what was reported
    processed, fresh = redis.call('SCARD', KEYS[3]), redis.call('SCARD', KEYS[4])
  end
  return processed + count('unkeyed_handled'), fresh + count('unkeyed_new')
end
local function close_if_complete()
  if redis.call('HGET', KEYS[1], 'armed') ~= '1' then
    return false
  end
  local processed, fresh = figures()
  if processed < count('expected') then
    return false
  end
  local closed = processed .. ':' .. fresh
  redis.call('HSET', KEYS[1], 'closed', closed)
  redis.call('DEL', KEYS[2], KEYS[3], KEYS[4])
  return answer(closed, redis.call('HGET', KEYS[1], 'context'))
end
local function keep(ttl)
  for _, key in ipairs(KEYS) do
    redis.call('EXPIRE', key, ttl)
  end
end
"""

_BEGIN = """
if redis.call('HEXISTS', KEYS[1], 'closed') == 0 then
  redis.call('HDEL', KEYS[1], 'armed')
end
redis.call('HSET', KEYS[1], 'begun', '1')
redis.call('EXPIRE', KEYS[1], ARGV[1])
return 1
"""

_PUBLISHED = (
    _CLOSE_IF_COMPLETE
    + """
if redis.call('HEXISTS', KEYS[1], 'closed') == 1 then
  return 0
end
for i = 2, #ARGV do
  if redis.call('SADD', KEYS[2], ARGV[i]) == 1 then
    if redis.call('SISMEMBER', KEYS[3], ARGV[i]) == 1 then
      redis.call('HINCRBY', KEYS[1], 'handled', 1)
    end
    if redis.call('SISMEMBER', KEYS[4], ARGV[i]) == 1 then
      redis.call('HINCRBY', KEYS[1], 'new', 1)
    end
  end
end
keep(tonumber(ARGV[1]))
return 1
"""
)

_EXPECT = (
    _CLOSE_IF_COMPLETE
    + """
if redis.call('HGET', KEYS[1], 'revoked') == '1' then  -- revoked while its run published
  redis.call('HSET', KEYS[1], 'done', '1')
  keep(tonumber(ARGV[1]))
  return -1
end
local closed = redis.call('HGET', KEYS[1], 'closed')
if closed then  -- a run after the request's items were all processed: the same figures
  redis.call('HSET', KEYS[1], 'context', ARGV[3])
  return answer(closed, ARGV[3])
end
local expected = math.max(tonumber(ARGV[2]), redis.call('SCARD', KEYS[2]))
redis.call('HSET', KEYS[1], 'armed', '1', 'expected', expected, 'context', ARGV[3])
keep(tonumber(ARGV[1]))
return close_if_complete()
"""
)

_REPORTED = (
    _CLOSE_IF_COMPLETE
    + """
if redis.call('HGET', KEYS[1], 'done') == '1' then
  return false
end
local closed = redis.call('HGET', KEYS[1], 'closed')
if closed then  -- closed, its SUCCESS not confirmed: a redelivered report publishes it again
  if redis.call('HGET', KEYS[1], 'revoked') == '1' then
    return false  -- ended by its revocation, which publishes it again
  end
  return answer(closed, redis.call('HGET', KEYS[1], 'context'))
end
local keys = tonumber(ARGV[4])
if keys == 0 then
  redis.call('HINCRBY', KEYS[1], 'unkeyed_handled', ARGV[2])
  redis.call('HINCRBY', KEYS[1], 'unkeyed_new', ARGV[3])
else
  local function add(set, key, counter)  -- a first report of an item the request published
    if redis.call('SADD', set, key) == 1 and redis.call('SISMEMBER', KEYS[2], key) == 1 then
      redis.call('HINCRBY', KEYS[1], counter, 1)
    end
  end
  for i = 5, 4 + keys do
    add(KEYS[3], ARGV[i], 'handled')
  end
  for i = 5 + keys, #ARGV do
    add(KEYS[4], ARGV[i], 'new')
  end
end
keep(tonumber(ARGV[1]))
return close_if_complete()
"""
)

_REVOKE = (
    _CLOSE_IF_COMPLETE
    + """
if redis.call('EXISTS', KEYS[1]) == 0 or redis.call('HGET', KEYS[1], 'done') == '1' then
  return false  -- not a then_process request, or ended and confirmed
end
local closed = redis.call('HGET', KEYS[1], 'closed')
if closed then  -- revoked, its REVOKED not confirmed: answered again; else closed by reports
  if redis.call('HGET', KEYS[1], 'revoked') ~= '1' then
    return false
  end
  return answer(closed, redis.call('HGET', KEYS[1], 'context'))
end
redis.call('HSET', KEYS[1], 'revoked', '1')
keep(tonumber(ARGV[1]))
if redis.call('HGET', KEYS[1], 'armed') ~= '1' then
  return false  -- its run is still publishing: its `expect` ends it
end
local processed, fresh = figures()
closed = processed .. ':' .. fresh
redis.call('HSET', KEYS[1], 'closed', closed)
redis.call('DEL', KEYS[2], KEYS[3], KEYS[4])
return answer(closed, redis.call('HGET', KEYS[1], 'context'))
"""
)


@dataclass(frozen=True)
class Pending:
    """A waiting request to end: its items are all processed (SUCCESS), or it was revoked."""

    request_id: str
    context: dict[str, Any]
    """What the runner saved when it started waiting (result, timings, plugin, parent_id)."""
    processing: dict[str, int]
    """`items_processed` and `items_new` (so far, for a revoked request)."""


class ProcessingTracker:
    """Which items each request published, and which of them the processor reported (Redis).

    Per request, for REQUEST_STATE_TTL_S: a hash `<NAMESPACE>processing:<id>` and three sets of
    item keys beside it (`:published`, over every run of the request; `:reported`; `:new`).
    An item counts once however often it is reported (redelivered reports or items, several
    stages), and only if the request published it. A request closes once, when every item it
    published was reported, and only after its current run said it is done publishing
    (`expect`): a run that starts (`begin`) holds the request open until it has published, so
    reports of an earlier run's items can never complete a later run early. Reports without
    keys (an older processor) are counted by their `items_handled`, as before.

    Closing is atomic (one script per call): of two callers, one closes. A closed request
    whose SUCCESS was not confirmed (`finished`) is answered again, so a redelivered report or
    a re-run publishes it; once confirmed, later reports change nothing.

    A revocation (`revoke`) ends a request waiting for its reports at once (closed as revoked,
    answered again until confirmed), and later reports change nothing; one that comes while
    its run is still publishing is kept for the run's `expect`, which then raises RevokedError.
    """

    def __init__(self, redis: Redis, settings: Settings) -> None:
        self.redis = redis
        self.prefix = f"{settings.namespace}processing:"
        self.ttl = settings.request_state_ttl_s
        self._begin = redis.register_script(_BEGIN)
        self._published = redis.register_script(_PUBLISHED)
        self._expect = redis.register_script(_EXPECT)
        self._reported = redis.register_script(_REPORTED)
        self._revoke = redis.register_script(_REVOKE)

    def _keys(self, request_id: str) -> list[str]:
        key = self.prefix + request_id
        return [key, f"{key}:published", f"{key}:reported", f"{key}:new"]

    async def begin(self, request_id: str) -> None:
        """A run of the request starts: nothing closes it until this run calls `expect`."""
        await self._begin(keys=self._keys(request_id), args=[self.ttl])

    async def published(self, request_id: str, *keys: str) -> None:
        """Items this request published, recorded once the broker acknowledged them: a worker
        killed before cannot leave the request waiting for an item no broker has (the re-run,
        which has not seen it, publishes it again)."""
        if keys:
            await self._published(keys=self._keys(request_id), args=[self.ttl, *keys])

    async def expect(self, request_id: str, items: int, context: dict[str, Any]) -> Pending | None:
        """The run published `items` items: wait for every item the request published (at least
        `items`); Pending at once if they were all reported already.

        RevokedError when the request was revoked while the run published (it is ended).
        """
        args: list[str | int] = [self.ttl, items, json.dumps(context)]
        reply = await self._expect(keys=self._keys(request_id), args=args)
        if reply == -1:
            raise RevokedError(f"request {request_id} was revoked while it ran")
        return self._pending(request_id, reply)

    async def revoke(self, request_id: str) -> Pending | None:
        """The request was revoked: Pending (its figures so far) when it was waiting for the
        processor, now ended: publish its REVOKED, then confirm it (`finished`); until then a
        redelivered revocation answers again, and reports change nothing. None when it was
        not waiting (not tracked, ended already, or still publishing: its `expect` ends it)."""
        reply = await self._revoke(keys=self._keys(request_id), args=[self.ttl])
        return self._pending(request_id, reply)

    async def reported(self, report: ProcessingReport) -> Pending | None:
        """Count a report; Pending when it completes a request that waits for it."""
        keys = list(report.keys or [])
        fresh = list(report.new_keys or []) if keys else []
        args: list[str | int] = [self.ttl, report.items_handled, report.items_new, len(keys)]
        args += [*keys, *fresh]
        reply = await self._reported(keys=self._keys(report.request_id), args=args)
        return self._pending(report.request_id, reply)

    async def finished(self, request_id: str) -> None:
        """The request's SUCCESS (or REVOKED) is published: later reports and revocations
        change nothing."""
        key = self.prefix + request_id
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, "done", "1")
            pipe.expire(key, self.ttl)
            await pipe.execute()

    @staticmethod
    def _pending(request_id: str, reply: Any) -> Pending | None:
        if not reply:
            return None
        processed, fresh, context = reply
        figures = {"items_processed": int(processed), "items_new": int(fresh)}
        return Pending(request_id, json.loads(context), figures)
