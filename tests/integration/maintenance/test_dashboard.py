"""The dashboard on a real maintenance worker: its JSON API, its pages in a headless Chromium."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from openapi_schema_validator import OAS30Validator
from pydantic import SecretStr

from services.maintenance.dashboard.openapi import document
from services.maintenance.dashboard.operations import OPERATIONS
from streams.config import Settings
from streams.messages.topics import COLLECT_REQUESTS
from streams.reliability.deadletter import DeadLetters
from streams.requests.client import request_collection, request_maintenance
from tests.support.browser import IN_CI, ensure_browser, headless_chromium
from tests.support.kafka import produce
from tests.support.workers import Worker, apoll, without_schedules

StartWorkers = Callable[..., list[Worker]]
ROOT = Path(__file__).resolve().parents[3]
ARTIFACTS = ROOT / "tests" / "artifacts"
TOKEN = "dashboard-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "api_token": SecretStr(TOKEN),
            "lag_sample_interval_s": 1.0,
            "file_plugin_dir": ROOT,
            "dashboard_refresh_s": 1.0,
        }
    )


def _path(template: str, values: dict[str, str]) -> str:
    for name, value in values.items():
        template = template.replace("{" + name + "}", value)
    return template


async def test_every_documented_route_answers_and_actions_need_the_token(
    test_settings: Settings, start_workers: StartWorkers
) -> None:
    settings = _settings(test_settings)
    (worker,) = start_workers("maintenance", settings)
    async with await request_maintenance("lag", settings=settings) as job:
        await job.result(timeout=60)
    values = {
        "request_id": job.request_id,
        "group": f"{settings.namespace}trend-stream-maintenance",
    }
    async with httpx.AsyncClient(base_url=worker.url, timeout=60) as web:
        spec = (await web.get("/api/openapi.json")).json()
        assert spec == document()
        for op in OPERATIONS:
            path = _path(op.path, values)
            if op.action:
                denied = await web.post(path, json={"all": True})
                assert denied.status_code == 401, (path, denied.text)
                assert "token" in denied.json()["error"]
                continue
            answer = await web.get(path)
            assert answer.status_code == 200, (path, answer.text)
            assert isinstance(answer.json(), dict)

        found = (await web.get("/api/requests", params={"plugin": "lag"})).json()["requests"]
        assert [r["request_id"] for r in found] == [job.request_id]
        detail = (await web.get(f"/api/requests/{job.request_id}")).json()
        assert [m["state"] for m in detail["timeline"]] == ["RECEIVED", "STARTED", "SUCCESS"]
        assert detail["result"]["groups"]

        bad = [
            ("/api/requests", {"state": "DONE"}, "not one of"),
            ("/api/requests", {"limit": "many"}, "whole number"),
            ("/api/trends/top", {"limit": "0"}, "between 1 and 100"),
            ("/api/groups/nobody/history", {}, "not a service group"),
            ("/api/requests/unknown-request", {}, "no request"),
        ]
        for path, params, message in bad:
            answer = await web.get(path, params=params)
            assert answer.status_code in (400, 404) and message in answer.json()["error"], path

        refused = await web.post("/api/deadletters/purge", json={}, headers=AUTH)
        assert refused.status_code == 400 and "all: true" in refused.json()["error"]
        refused = await web.post("/api/collect", content=b"{nope", headers=AUTH)
        assert refused.status_code == 400 and "not valid JSON" in refused.json()["error"]
        refused = await web.post("/api/collect", json={"plugin": "x", "priority": 12}, headers=AUTH)
        assert refused.status_code == 400 and "priority" in refused.json()["error"]
        refused = await web.post("/api/topics/rebuild", params={"top": "101"}, headers=AUTH)
        assert refused.status_code == 400 and "options.top" in refused.json()["error"]
        rebuild = await web.post("/api/topics/rebuild", params={"hours": "24"}, headers=AUTH)
        assert rebuild.status_code == 202 and rebuild.json()["job"] == "rebuild_topics"
        rebuilding = (await web.get(f"/api/requests/{rebuild.json()['request_id']}")).json()
        assert rebuilding["plugin"] == "rebuild_topics"
        none = await web.post("/api/deadletters/redrive", json={"all": True}, headers=AUTH)
        assert none.status_code == 200 and none.json() == {"redriven": [], "count": 0}

        accepted = await web.post(
            "/api/collect", json={"plugin": "file", "dry_run": True}, headers=AUTH
        )
        assert accepted.status_code == 202 and accepted.json()["lane"] == "bulk"
        request_id = accepted.json()["request_id"]
        cancelled = await web.post(f"/api/requests/{request_id}/cancel", headers=AUTH)
        assert cancelled.status_code == 202

        page = await web.get("/dashboard")
        assert page.status_code == 200 and 'data-refresh-ms="1000"' in page.text
        script = await web.get("/dashboard/static/dashboard.js")
        assert script.status_code == 200 and "refresh" in script.text
        assert (await web.get(f"/dashboard/requests/{job.request_id}")).status_code == 200


async def test_requests_are_paged_newest_first_with_the_total(
    test_settings: Settings, start_workers: StartWorkers
) -> None:
    settings = without_schedules(_settings(test_settings))
    (worker,) = start_workers("maintenance", settings)
    async with httpx.AsyncClient(base_url=worker.url, timeout=60) as web:
        sent = []
        for n in range(7):
            body = {"plugin": "file", "request_id": f"page-{n}", "dry_run": True}
            accepted = await web.post("/api/collect", json=body, headers=AUTH)
            assert accepted.status_code == 202, accepted.text
            sent.append(body["request_id"])
        newest_first = sent[::-1]

        async def page(**params: object) -> dict[str, Any]:
            answer = await web.get("/api/requests", params=params)
            assert answer.status_code == 200, answer.text
            found: dict[str, Any] = answer.json()
            return found

        for filters in ({}, {"plugin": "file"}, {"state": "PENDING"}):
            everything = await page(**filters)
            assert [r["request_id"] for r in everything["requests"]] == newest_first, filters
            assert everything["total"] == 7 and everything["next_offset"] is None
            seen, offset = [], 0
            while offset is not None:
                found = await page(limit=3, offset=offset, **filters)
                assert (found["total"], found["limit"], found["offset"]) == (7, 3, offset)
                assert len(found["requests"]) == min(3, 7 - offset)
                seen += [r["request_id"] for r in found["requests"]]
                previous = found["previous_offset"]
                assert previous == (None if offset == 0 else max(offset - 3, 0)), found
                offset = found["next_offset"]
            assert seen == newest_first, filters
        beyond = await page(limit=3, offset=9)
        assert beyond["requests"] == [] and beyond["total"] == 7 and beyond["next_offset"] is None
        assert (await page(plugin="rss"))["total"] == 0
        for params, message in [
            ({"offset": "-1"}, "offset: must be between 0 and 1000000"),
            ({"offset": "x"}, "offset: expected a whole number"),
            ({"limit": "0"}, "limit: must be between 1 and 500"),
        ]:
            refused = await web.get("/api/requests", params=params)
            assert refused.status_code == 400 and message in refused.json()["error"], params


TRENDS = {
    "nimbus-outage": ("Nimbus cloud outage", "trending", [0, 0, 1, 1, 2, 4, 9, 16, 22, 19]),
    "libvarn-release": ("libvarn 2.0 release", "peaking", [1, 2, 4, 7, 9, 8, 8, 6, 5, 5]),
    "chip-tariffs": ("Chip export tariffs", "emerging", [2, 1, 2, 2, 3, 2, 3, 4, 3, 4]),
}


SPARK_HOURS = 24
LAST_BUCKET_AGO_H = 4
"""The snapshots end this many hours back, so an hour that turns during the test moves them
inside the sparkline's window but never out of it (their sequence is checked, not its place)."""


async def _trends(settings: Settings) -> None:
    """Three topics with trends and hourly snapshots over ten hours, ending 4 hours ago."""
    conn = await asyncpg.connect(settings.database_url.get_secret_value())
    last = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    last -= timedelta(hours=LAST_BUCKET_AGO_H)
    try:
        for rank, (topic, (label, state, counts)) in enumerate(TRENDS.items(), start=1):
            await conn.execute(
                "INSERT INTO topics (id, label, keywords, item_count) VALUES ($1, $2, $3, $4)",
                topic,
                label,
                label.lower().split(),
                sum(counts),
            )
            await conn.execute(
                "INSERT INTO trends (topic_id, state, score, z_score, rank) "
                "VALUES ($1, $2, $3, $4, $5)",
                topic,
                state,
                100.0 / rank,
                4.0 / rank,
                rank,
            )
            await conn.executemany(
                "INSERT INTO trend_snapshots (topic_id, bucket_start, item_count) "
                "VALUES ($1, $2, $3)",
                [
                    (topic, last - timedelta(hours=len(counts) - 1 - hour), count)
                    for hour, count in enumerate(counts)
                ],
            )
    finally:
        await conn.close()


async def test_every_route_answers_as_its_openapi_document_says(
    test_settings: Settings, start_workers: StartWorkers
) -> None:
    settings, maintenance, dead_id, [collected] = await _stocked(test_settings, start_workers)
    spec = document()
    values = {
        "request_id": collected,
        "group": f"{settings.namespace}trend-stream-collector",
    }
    bodies = {
        "/api/collect": {"plugin": "file", "dry_run": True, "options": {"path": "x.jsonl"}},
        "/api/deadletters/redrive": {"ids": [dead_id]},
        "/api/deadletters/purge": {"topic": "collect.requests"},
    }
    answered: list[tuple[str, str, int]] = []
    problems: list[str] = []
    filled: dict[str, Any] = {}
    async with httpx.AsyncClient(base_url=maintenance.url, timeout=60) as web:
        history = _path("/api/groups/{group}/history", values)

        async def sampled() -> bool:
            return bool((await web.get(history)).json()["samples"])

        assert await apoll(sampled, 60), "the collector's group was never sampled"

        async def call(op: Any, path: str, **kwargs: Any) -> None:
            response = await web.request(op.method.upper(), path, **kwargs)
            problems.extend(_disagreements(spec, op.method, op.path, response))
            answered.append((op.method, op.path, response.status_code))
            if response.status_code < 300 and op.method == "get":
                filled.setdefault(op.path, response.json())

        for op in OPERATIONS:
            path = _path(op.path, values)
            if op.action:
                await call(op, path, json=bodies.get(op.path, {}), headers=AUTH)
                await call(op, path, json=bodies.get(op.path, {}))
                if op.body:
                    await call(op, path, content=b"[1]", headers=AUTH)
                    oversized = b" " * (settings.max_request_bytes + 1)
                    await call(op, path, content=oversized, headers=AUTH)
                continue
            await call(op, path)
            for param in op.params:
                if param.kind == "integer":
                    await call(op, path, params={param.name: "x"})
                elif param.where == "path":
                    await call(op, _path(op.path, {param.name: "unknown-thing"}))
        [listing] = [op for op in OPERATIONS if op.path == "/api/requests"]
        await call(listing, "/api/requests", params={"limit": 2, "offset": 1})
    assert not problems, "\n".join(sorted(set(problems)))
    shown = {
        "/api/workers": [w for w in filled["/api/workers"]["workers"] if w["reachable"]],
        "/api/schedules": filled["/api/schedules"]["schedules"],
        "/api/requests": filled["/api/requests"]["requests"],
        "/api/requests/{request_id}": filled["/api/requests/{request_id}"]["timeline"],
        "/api/groups": [g["partitions"] for g in filled["/api/groups"]["groups"]],
        "/api/groups/{group}/history": filled["/api/groups/{group}/history"]["samples"],
        "/api/deadletters": filled["/api/deadletters"]["entries"],
        "/api/plugins": [p for p in filled["/api/plugins"]["plugins"] if p["health"]],
        "/api/trends/top": filled["/api/trends/top"]["trends"],
    }
    assert all(shown.values()), [path for path, rows in shown.items() if not rows]
    statuses: dict[tuple[str, str], set[int]] = {(m, p): set() for m, p, _ in answered}
    for method, path, status in answered:
        statuses[(method, path)].add(status)
    assert all(any(code < 300 for code in codes) for codes in statuses.values()), statuses


def _disagreements(
    spec: dict[str, Any], method: str, path: str, response: httpx.Response
) -> list[str]:
    """Where the answer differs from the document: a status it does not list for this route,
    a body that is not JSON, or one its schema refuses (a field it does not describe too)."""
    documented = spec["paths"][path][method]["responses"]
    where = f"{method.upper()} {path} -> {response.status_code}"
    if str(response.status_code) not in documented:
        return [f"{where}: status not documented ({response.text[:200]})"]
    if not response.headers["content-type"].startswith("application/json"):
        return [f"{where}: not JSON ({response.headers['content-type']})"]
    schema = documented[str(response.status_code)]["content"]["application/json"]["schema"]
    closed = _closed(schema, spec["components"]["schemas"])
    errors = OAS30Validator(closed).iter_errors(response.json())
    return [f"{where}: {'.'.join(map(str, e.absolute_path))}: {e.message}" for e in errors]


def _closed(schema: dict[str, Any], schemas: dict[str, Any]) -> dict[str, Any]:
    """The schema with its references resolved and every object that lists its properties
    closed to others, so an undocumented field fails too."""
    if "$ref" in schema:
        return _closed(schemas[schema["$ref"].rsplit("/", 1)[1]], schemas)
    if "allOf" in schema:
        parts = [_closed(part, schemas) for part in schema["allOf"]]
        merged: dict[str, Any] = {"type": "object", "properties": {}, "required": []}
        for part in parts:
            merged["properties"].update(part.get("properties", {}))
            merged["required"] += part.get("required", [])
        return {**merged, "additionalProperties": False}
    closed = dict(schema)
    if "properties" in closed:
        closed["properties"] = {k: _closed(v, schemas) for k, v in closed["properties"].items()}
        closed.setdefault("additionalProperties", False)
    for key in ("items", "additionalProperties"):
        if isinstance(closed.get(key), dict):
            closed[key] = _closed(closed[key], schemas)
    return closed


async def _stocked(
    test_settings: Settings, start_workers: StartWorkers, collections: int = 1
) -> tuple[Settings, Worker, str, list[str]]:
    """A collector and a maintenance worker with something in every panel: trends, a dead
    letter, `collections` dry runs ended SUCCESS. Their settings, the maintenance worker, the
    dead letter's id and the runs' request ids."""
    settings = _settings(test_settings)
    (collector,) = start_workers("collector", settings)
    settings = settings.model_copy(update={"collector_web_port": collector.port})
    (maintenance,) = start_workers("maintenance", settings)
    await _trends(settings)
    dead_id = await _dead_letter(settings)
    ids = []
    for _ in range(collections):
        handle = await request_collection(
            "file", options={"path": "tests/fixtures/items.jsonl"}, dry_run=True, settings=settings
        )
        async with handle:
            await handle.result(timeout=60)
        ids.append(handle.request_id)
    return settings, maintenance, dead_id, ids


def _browser_or_fail() -> None:
    problem = ensure_browser()
    if problem:
        pytest.fail(problem) if IN_CI else pytest.skip(problem)


def _check_sparklines(maintenance: Worker) -> None:
    """Each trend's sparkline holds its hourly counts in order, and nothing else."""
    response = httpx.get(
        f"{maintenance.url}/api/trends/top", params={"hours": SPARK_HOURS}, timeout=10
    )
    assert response.status_code == 200, response.text
    lines = {trend["topic_id"]: trend["sparkline"] for trend in response.json()["trends"]}
    assert set(lines) == set(TRENDS)
    for topic, (_label, _state, counts) in TRENDS.items():
        line, width = lines[topic], len(counts)
        assert len(line) == SPARK_HOURS and sum(line) == sum(counts), (topic, line)
        offsets = range(SPARK_HOURS - width + 1)
        assert any(line[at : at + width] == counts for at in offsets), (topic, line)


async def _dead_letter(settings: Settings) -> str:
    """A malformed trigger the collector dead-letters; its dead letter's id."""
    await produce(settings, COLLECT_REQUESTS, b'{"plugin": ', key=b"broken-trigger")
    letters = DeadLetters(settings)

    async def found() -> list[str]:
        return [
            letter.id for letter in await letters.entries() if letter.topic == "collect.requests"
        ]

    ids = await apoll(found, 60, interval=0.5)
    assert ids, "the malformed trigger was not dead-lettered"
    return str(ids[0])


async def test_the_dashboard_in_a_headless_chromium(
    test_settings: Settings, start_workers: StartWorkers
) -> None:
    _browser_or_fail()
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    # more requests than the smallest page of the requests panel holds
    settings, maintenance, dead_id, ids = await _stocked(test_settings, start_workers, 12)

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with headless_chromium() as driver:
        browser: Any = driver
        wait = WebDriverWait(
            browser, 60, poll_frequency=0.2, ignored_exceptions=(StaleElementReferenceException,)
        )
        browser.get(f"{maintenance.url}/dashboard")
        row = f'#requests tr.request[data-request-id="{ids[-1]}"]'
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, row))
        partitions = "#groups tr.partition"
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, partitions))
        redrive = '#deadletters tr[data-topic="collect.requests"] button.redrive'
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, redrive))
        line = f'#lag-chart polyline[data-group="{settings.namespace}trend-stream-collector"]'
        wait.until(lambda d: _points(d, By.CSS_SELECTOR, line) >= 5)
        sparklines = wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#trends svg.spark"))
        assert len(sparklines) == len(TRENDS)
        _check_sparklines(maintenance)
        collector_row = '#workers tr[data-service="collector"] .badge.ok'
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, collector_row))

        _click(wait, By.CSS_SELECTOR, redrive)
        wait.until(lambda d: _result(d, By) == ("redrive", "401"))
        assert dead_id in [letter.id for letter in await DeadLetters(settings).entries()]

        browser.find_element(By.ID, "token").send_keys(TOKEN)
        _click(wait, By.CSS_SELECTOR, redrive)
        wait.until(lambda d: _result(d, By) == ("redrive", "200"))
        assert dead_id not in [letter.id for letter in await DeadLetters(settings).entries()]

        _show_the_whole_error(wait, By)
        for width in WIDTHS:
            _check_layout(browser, width)
            _screenshot(browser, width, f"dashboard-{width}.png")
        _check_paging(browser, wait, By)
        browser.get(f"{maintenance.url}/dashboard/requests/{ids[-1]}")
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, '#timeline tr[data-state="SUCCESS"]'))
        _screenshot(browser, WIDTHS[-1], "dashboard-request.png")
    for width in WIDTHS:
        assert (ARTIFACTS / f"dashboard-{width}.png").stat().st_size > 10_000


def _check_paging(driver: Any, wait: Any, by: Any) -> None:
    """10 requests a page: the first shows 1-10 of the total, Next the following ones,
    Previous the first again (newest first, as Flower pages them)."""
    from selenium.webdriver.support.ui import Select

    Select(driver.find_element(by.ID, "requests-page-size")).select_by_value("10")

    def page(first: int) -> tuple[int, int, bool, bool] | None:
        shown = driver.find_element(by.ID, "requests-range")
        rows = len(driver.find_elements(by.CSS_SELECTOR, "#requests tbody tr.request"))
        total = int(shown.get_attribute("data-total") or 0)
        if shown.get_attribute("data-offset") != str(first - 1) or rows > 10:
            return None
        if shown.text != f"{first}\u2013{first - 1 + rows} of {total}":
            return None
        previous = driver.find_element(by.ID, "requests-previous").is_enabled()
        following = driver.find_element(by.ID, "requests-next").is_enabled()
        return rows, total, previous, following

    rows, total, previous, following = wait.until(lambda d: page(1))
    assert (rows, previous, following) == (10, False, True) and total > 10, (rows, total)
    _click(wait, by.ID, "requests-next")
    rows, total, previous, _ = wait.until(lambda d: page(11))
    assert rows == min(10, total - 10) and previous, (rows, total)
    _click(wait, by.ID, "requests-previous")
    assert wait.until(lambda d: page(1))[0] == 10


def _points(driver: Any, by: str, selector: str) -> int:
    """How many points a chart line has (0 while it is not drawn)."""
    found = driver.find_elements(by, selector)
    return len((found[0].get_attribute("points") or "").split()) if found else 0


WIDTHS = (1400, 800)
"""Window widths the dashboard must read well at: a laptop, and half a screen."""

LAYOUT_PROBLEMS = """
const problems = [];
const page = document.documentElement;
if (page.scrollWidth > window.innerWidth + 1) {
  problems.push(`page: ${page.scrollWidth}px wide in a ${window.innerWidth}px window`);
}
for (const section of document.querySelectorAll("main > section")) {
  const box = section.getBoundingClientRect();
  if (section.scrollWidth > section.clientWidth + 1) {
    problems.push(`${section.id}: ${section.scrollWidth}px of content in ${section.clientWidth}px`);
  }
  for (const table of section.querySelectorAll("table")) {
    const rows = [...table.tBodies[0].rows];
    if (!rows.length) problems.push(`#${table.id}: no rows`);
    for (const row of rows) {
      const r = row.getBoundingClientRect();
      if (row.textContent.includes("loading")) problems.push(`#${table.id}: still loading`);
      else if (r.height < 1) problems.push(`#${table.id}: a row is hidden`);
      else if (r.left < box.left - 1 || r.right > box.right + 1) {
        problems.push(`#${table.id}: a row is cut (${r.right}px past ${box.right}px)`);
      }
    }
  }
}
for (const cell of document.querySelectorAll("main .error-text")) {
  const range = document.createRange();
  range.selectNodeContents(cell.querySelector("details.long:not([open]) > summary") || cell);
  const height = range.getBoundingClientRect().height;
  const lines = height / parseFloat(getComputedStyle(cell).lineHeight);
  const text = cell.textContent.slice(0, 50);
  if (lines > 3.5) problems.push(`an error on ${Math.round(lines)} lines: ${text}`);
}
return problems;
"""
"""What reads badly: a panel whose content overflows its box, a table row hidden or cut, an
error wrapped over more than three lines (one word per line in a narrow column)."""

DATA_ROWS = {
    "workers": "tr[data-service]",
    "groups": "tr.partition",
    "requests": "tr.request",
    "plugins": "tr[data-plugin]",
    "trends": "tr[data-topic-id]",
    "schedules": "tr",
}
"""The tables that must show rows of data (the others may show "none")."""


def _check_layout(driver: Any, width: int) -> None:
    """At this window width, every panel fits its box and every table shows its rows."""
    from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.set_window_size(width, 1000)
    found: list[str] = []

    def problems(d: Any) -> bool:
        found[:] = d.execute_script(LAYOUT_PROBLEMS)
        for table, rows in DATA_ROWS.items():
            shown = d.find_elements(By.CSS_SELECTOR, f"#{table} tbody {rows}")
            if not any(r.is_displayed() and r.size["height"] > 0 for r in shown):
                found.append(f"#{table}: no row of data shown")
        sparks = d.find_elements(By.CSS_SELECTOR, "#trends svg.spark")
        if len(sparks) != len(TRENDS) or not all(s.size["width"] >= 100 for s in sparks):
            found.append(f"#trends: {len(sparks)} sparklines, widths {[s.size for s in sparks]}")
        return not found

    wait = WebDriverWait(
        driver, 20, poll_frequency=0.3, ignored_exceptions=(StaleElementReferenceException,)
    )
    try:
        wait.until(problems)
    except TimeoutException:
        _screenshot(driver, width, f"dashboard-{width}-bad.png")
        pytest.fail(f"at {width} px the dashboard reads badly: {found}")


def _show_the_whole_error(wait: Any, by: Any) -> None:
    """A long error shows its start; a click on it shows all of it."""
    summary = "#requests tr.request-error details.long summary"
    wait.until(lambda d: d.find_elements(by.CSS_SELECTOR, summary))
    short = wait.until(lambda d: d.find_element(by.CSS_SELECTOR, f"{summary} .short").text)
    assert short.endswith("…") and len(short) <= 72, short
    _click(wait, by.CSS_SELECTOR, summary)
    full = "#requests tr.request-error details.long[open] .full"
    text = wait.until(lambda d: [e.text for e in d.find_elements(by.CSS_SELECTOR, full) if e.text])
    assert len(text[0]) > len(short), (short, text)
    _click(wait, by.CSS_SELECTOR, "#requests tr.request-error details.long[open] summary")
    wait.until(lambda d: not d.find_elements(by.CSS_SELECTOR, full))


def _screenshot(driver: Any, width: int, name: str) -> None:
    """The whole page at this width into tests/artifacts/ (git-ignored; never into docs/)."""
    driver.set_window_size(width, 1000)
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(width, int(height) + 120)
    driver.save_screenshot(str(ARTIFACTS / name))


def _click(wait: Any, by: str, selector: str) -> None:
    """Click an element, finding it again if a redraw replaced it meanwhile."""
    from selenium.common.exceptions import StaleElementReferenceException

    def clicked(driver: Any) -> bool:
        try:
            driver.find_element(by, selector).click()
        except StaleElementReferenceException:
            return False
        return True

    wait.until(clicked)


def _result(driver: Any, by: Any) -> tuple[str, str]:
    line = driver.find_element(by.ID, "action-result")
    return line.get_attribute("data-action") or "", line.get_attribute("data-status") or ""
