// trend-stream dashboard: polls the JSON API every DASHBOARD_REFRESH_S and redraws (no libraries).
"use strict";

const body = document.body;
const REFRESH_MS = Number(body.dataset.refreshMs) || 3000;
const CHART_COLORS = ["#2f6fde", "#d9480f", "#2b8a3e", "#862e9c", "#e67700"];
const TOKEN_KEY = "trend-stream-token";

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key.startsWith("data-")) node.setAttribute(key, value);
    else if (key === "onclick") node.addEventListener("click", value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

function svg(tag, attrs) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, value);
  return node;
}

function token() {
  return document.getElementById("token").value.trim();
}

async function getJSON(path) {
  const response = await fetch(path, { headers: { Accept: "application/json" } });
  const data = await response.json().catch(() => ({ error: response.statusText }));
  if (!response.ok) throw new Error(`${response.status} ${data.error || response.statusText}`);
  return data;
}

async function act(name, path, payload) {
  const headers = { "Content-Type": "application/json", Accept: "application/json" };
  if (token()) headers.Authorization = `Bearer ${token()}`;
  const response = await fetch(path, {
    method: "POST",
    headers,
    body: JSON.stringify(payload || {}),
  });
  const data = await response.json().catch(() => ({ error: response.statusText }));
  const line = document.getElementById("action-result");
  line.dataset.action = name;
  line.dataset.status = String(response.status);
  line.className = response.ok ? "ok" : "failed";
  line.textContent = response.ok
    ? `${name}: done (${response.status}) ${summarise(data)}`
    : `${name}: failed (${response.status}) ${data.error || ""}`;
  refresh();
  return data;
}

function summarise(data) {
  if (typeof data.count === "number") return `${data.count} dead letter(s)`;
  if (data.request_id) return `request ${data.request_id}`;
  return "";
}

function fill(tableId, rows, columns) {
  const tbody = document.querySelector(`#${tableId} tbody`);
  if (!rows.length) {
    tbody.replaceChildren(el("tr", { class: "empty" }, el("td", { colspan: columns }, "none")));
    return;
  }
  tbody.replaceChildren(...rows);
}

function section(id, error) {
  const box = document.querySelector(`#${id} .error`);
  box.hidden = !error;
  box.textContent = error ? String(error.message || error) : "";
}

function time(epoch) {
  if (epoch === null || epoch === undefined) return "-";
  const date = typeof epoch === "number" ? new Date(epoch * 1000) : new Date(epoch);
  return date.toLocaleTimeString();
}

// ISO time "2026-11-25T16:00:00+00:00" -> "11-25 16:00" (the section says UTC; another offset,
// from SCHEDULE_TIMEZONE, is kept), the whole time on hover.
function isoShort(value) {
  if (!value) return "-";
  const match = /^\d{4}-(\d{2}-\d{2})T(\d{2}:\d{2})(?::\d{2}(?:\.\d+)?)?(Z|[+-]\d{2}:\d{2})?$/.exec(value);
  if (!match) return value;
  const zone = !match[3] || match[3] === "Z" || match[3] === "+00:00" ? "" : ` ${match[3]}`;
  return el("span", { title: value }, `${match[1]} ${match[2]}${zone}`);
}

// A name without spaces (topic, group, id) may break after . _ - : / rather than widen its table.
function breakable(text) {
  const parts = String(text).split(/(?<=[._:/-])/);
  return parts.flatMap((part, index) => (index ? [el("wbr"), part] : [part]));
}

// Long texts (errors) show their start on a line or two; a click shows the whole text.
const SHORT_TEXT = 70;
const opened = new Set();

function longText(text, key) {
  const full = String(text || "");
  if (full.length <= SHORT_TEXT) return full;
  const node = el(
    "details",
    { class: "long", "data-key": key, open: opened.has(key) },
    el(
      "summary",
      { title: "show the whole text" },
      el("span", { class: "short" }, `${full.slice(0, SHORT_TEXT - 1).trimEnd()}…`),
      el("span", { class: "less" }, "hide"),
    ),
    el("div", { class: "full" }, full),
  );
  node.addEventListener("toggle", () => (node.open ? opened.add(key) : opened.delete(key)));
  return node;
}

// Request ids hold uuids (32 hex digits): each shows its first 8, the whole id on hover.
function shortId(id) {
  return id.replace(/\b([0-9a-f]{8})[0-9a-f-]{16,}\b/g, "$1…");
}

function badge(text) {
  return el("span", { class: `badge ${String(text || "").toLowerCase()}` }, text || "-");
}

// -- sections ------------------------------------------------------------------------------

// ["t.collect.requests:0", "t.collect.requests:1"] -> "t.collect.requests 0,1", one topic a line.
function assignment(held) {
  const topics = {};
  for (const name of held) {
    const cut = name.lastIndexOf(":");
    (topics[name.slice(0, cut)] ||= []).push(name.slice(cut + 1));
  }
  const lines = Object.entries(topics).map(([topic, parts]) => `${topic} ${parts.join(",")}`);
  return lines.length ? lines.map((line) => el("div", {}, breakable(line))) : "-";
}

function drawWorkers(data) {
  fill(
    "workers",
    data.workers.map((w) =>
      el(
        "tr",
        { "data-service": w.service },
        el("td", {}, w.service),
        el("td", {}, badge(w.status)),
        el("td", {}, w.ready ? "yes" : "no"),
        el("td", { class: "url" }, el("a", { href: `${w.url}/health` }, breakable(w.url.replace(/^\w+:\/\//, "")))),
        el("td", { class: "assignment" }, assignment(w.assignment)),
        el(
          "td",
          { class: "figures" },
          w.stats
            ? [
                el("div", {}, `in ${w.stats.messages_consumed || 0}`),
                el("div", {}, `out ${w.stats.messages_produced || 0}`),
                el("div", {}, `failures ${w.stats.failures || 0}`),
              ]
            : "-",
        ),
      ),
    ),
    6,
  );
}

// A lag or an offset; "?" when it could not be read (never 0), "-" when there is none.
function lagValue(value, applies = true) {
  if (value !== null && value !== undefined) return String(value);
  return applies ? "?" : "-";
}

function drawGroups(data) {
  const rows = [];
  for (const g of data.groups) {
    const known = g.partitions.length > 0;
    rows.push(
      el(
        "tr",
        { class: "group", "data-group": g.group },
        el("td", { class: "name" }, breakable(g.group)),
        el("td", { colspan: 4 }, `${g.members || 0} member(s) ${g.state || ""} · ${g.source}`),
        el("td", {}, lagValue(g.total_lag, known)),
        el("td", {}, badge(g.status)),
      ),
    );
    for (const p of g.partitions) {
      rows.push(
        el(
          "tr",
          { class: "partition", "data-group": g.group, "data-status": p.status },
          el("td", {}, ""),
          el("td", { class: "name" }, breakable(p.topic)),
          el("td", {}, String(p.partition)),
          el("td", {}, lagValue(p.committed)),
          el("td", {}, lagValue(p.end_offset)),
          el("td", {}, lagValue(p.lag)),
          el("td", {}, badge(p.status)),
        ),
      );
      if (p.reason) {
        const key = `lag:${g.group}:${p.topic}:${p.partition}`;
        rows.push(
          el(
            "tr",
            { class: "partition-reason", "data-group": g.group },
            el("td", {}, ""),
            el("td", { colspan: 6, class: "error-text" }, longText(p.reason, key)),
          ),
        );
      }
    }
  }
  fill("groups", rows, 7);
  return data.groups.map((g) => g.group);
}

async function drawLagChart(groups) {
  const chart = document.getElementById("lag-chart");
  const histories = await Promise.all(
    groups.map((g) => getJSON(`/api/groups/${encodeURIComponent(g)}/history?minutes=60`)),
  );
  // A sample with a partition of unknown lag has no total: no point (never a 0).
  for (const h of histories) h.samples = h.samples.filter((s) => s.total_lag !== null);
  const now = Date.now();
  const times = histories.flatMap((h) => h.samples.map((s) => Date.parse(s.sampled_at)));
  // The last hour, or less while the samples span less (at least a minute), so lines show.
  const start = Math.max(now - 60 * 60 * 1000, Math.min(now - 60 * 1000, ...times));
  const top = Math.max(1, ...histories.flatMap((h) => h.samples.map((s) => s.total_lag)));
  const [width, height] = [600, 160];
  const nodes = [svg("line", { x1: 0, y1: height - 1, x2: width, y2: height - 1, class: "axis" })];
  const legend = [];
  histories.forEach((history, index) => {
    const color = CHART_COLORS[index % CHART_COLORS.length];
    const points = history.samples.map((s) => {
      const x = ((Date.parse(s.sampled_at) - start) / (now - start)) * width;
      const y = height - 4 - (s.total_lag / top) * (height - 12);
      return `${x.toFixed(1)},${y.toFixed(1)}`;
    });
    if (points.length) {
      const attrs = { points: points.join(" "), stroke: color, class: "line" };
      nodes.push(svg("polyline", { ...attrs, "data-group": history.group }));
    }
    legend.push(
      el("span", { style: `color:${color}` }, `■ ${history.group} (${history.samples.length})`),
    );
  });
  const label = svg("text", { x: 4, y: 12, class: "label" });
  label.textContent = `max ${top}`;
  nodes.push(label);
  chart.replaceChildren(...nodes);
  document.getElementById("lag-legend").replaceChildren(...legend);
}

function requestLink(id) {
  const href = `/dashboard/requests/${encodeURIComponent(id)}`;
  return el("a", { href, title: id }, breakable(shortId(id)));
}

// The requests panel shows a page at a time, newest first, with the total (as Flower does).
let requestsOffset = 0;
let requestsPage = null;

function drawPager(data) {
  requestsPage = data;
  if (!data.requests.length && data.previous_offset !== null) {
    turnPage(data.previous_offset); // the page emptied (requests expired): step back
    return;
  }
  const range = document.getElementById("requests-range");
  const first = data.requests.length ? data.offset + 1 : 0;
  range.textContent = `${first}–${data.offset + data.requests.length} of ${data.total}`;
  range.dataset.offset = String(data.offset);
  range.dataset.total = String(data.total);
  document.getElementById("requests-previous").disabled = data.previous_offset === null;
  document.getElementById("requests-next").disabled = data.next_offset === null;
}

function turnPage(offset) {
  requestsOffset = offset;
  refresh();
}

// A request is one row; its error, when it has one, a row of its own under it, as wide as the table.
function drawRequests(data) {
  drawPager(data);
  fill(
    "requests",
    data.requests.flatMap((r) => [
      el(
        "tr",
        { class: r.error ? "request with-error" : "request", "data-request-id": r.request_id, "data-state": r.state },
        el("td", { class: "name" }, requestLink(r.request_id)),
        el("td", {}, badge(r.state)),
        el("td", {}, r.plugin),
        el("td", {}, r.worker || "-"),
        el("td", { class: "time" }, time(r.updated_at)),
        el("td", { class: "time" }, r.runtime_s === null ? "-" : `${r.runtime_s.toFixed(2)} s`),
      ),
      r.error
        ? el(
            "tr",
            { class: "request-error", "data-request-id": r.request_id },
            el("td", { colspan: 6, class: "error-text" }, longText(r.error, `request:${r.request_id}`)),
          )
        : null,
    ]).filter(Boolean),
    6,
  );
}

function drawDeadLetters(data) {
  const rows = [];
  for (const [topic, byError] of Object.entries(data.summary)) {
    for (const [errorClass, count] of Object.entries(byError)) {
      const filter = { topic, error_class: errorClass };
      rows.push(
        el(
          "tr",
          { class: "deadletter", "data-topic": topic, "data-error-class": errorClass },
          el("td", { class: "name" }, breakable(topic)),
          el("td", { class: "name" }, errorClass),
          el("td", { class: "count" }, String(count)),
          el(
            "td",
            {},
            el(
              "button",
              { class: "redrive", onclick: () => act("redrive", "/api/deadletters/redrive", filter) },
              "Redrive",
            ),
            el(
              "button",
              {
                class: "purge danger",
                onclick: () =>
                  window.confirm(`Purge ${count} dead letter(s) of ${topic}?`) &&
                  act("purge", "/api/deadletters/purge", filter),
              },
              "Purge",
            ),
          ),
        ),
      );
    }
  }
  fill("deadletters", rows, 4);
  fill(
    "deadletter-entries",
    data.entries.slice(0, 20).map((d) =>
      el(
        "tr",
        { "data-id": d.id },
        el("td", { class: "name" }, breakable(d.id)),
        el("td", { class: "name" }, breakable(d.key || "-")),
        el("td", { class: "error-text" }, longText(`${d.error_class}: ${d.error_message}`, `dead:${d.id}`)),
        el("td", {}, String(d.attempts)),
        el("td", { class: "time" }, time(d.dead_at)),
      ),
    ),
    5,
  );
}

function drawPlugins(data) {
  fill(
    "plugins",
    data.plugins.map((p) => {
      const h = p.health || {};
      const rate = typeof h.success_rate === "number" ? `${Math.round(h.success_rate * 100)}%` : "-";
      const flag = h.disabled ? "disabled" : h.flagged ? "flagged" : "ok";
      return el(
        "tr",
        { "data-plugin": p.name },
        el("td", {}, p.name),
        el("td", {}, p.origin),
        el("td", {}, p.enabled ? "yes" : "no"),
        el("td", {}, String(h.runs || 0)),
        el("td", {}, rate),
        el("td", {}, h.mean_duration_ms ? String(Math.round(h.mean_duration_ms)) : "-"),
        el("td", { class: "time" }, h.last_success_at ? time(h.last_success_at) : "-"),
        el("td", { title: h.reason || "" }, badge(flag)),
      );
    }),
    8,
  );
}

function sparkline(values) {
  const [width, height] = [120, 24];
  const top = Math.max(1, ...values);
  const step = values.length > 1 ? width / (values.length - 1) : width;
  const points = values
    .map((v, i) => `${(i * step).toFixed(1)},${(height - 2 - (v / top) * (height - 4)).toFixed(1)}`)
    .join(" ");
  const node = svg("svg", { width, height, viewBox: `0 0 ${width} ${height}`, class: "spark" });
  node.append(svg("polyline", { points, class: "line" }));
  return node;
}

function drawTrends(data) {
  fill(
    "trends",
    data.trends.map((t) =>
      el(
        "tr",
        { "data-topic-id": t.topic_id },
        el("td", {}, t.rank === null ? "-" : String(t.rank)),
        el("td", { title: t.keywords.join(", ") }, t.label || t.topic_id),
        el("td", {}, badge(t.state)),
        el("td", {}, t.score.toFixed(1)),
        el("td", {}, String(t.items)),
        el("td", { class: "spark" }, sparkline(t.sparkline)),
      ),
    ),
    6,
  );
}

function drawSchedules(data) {
  fill(
    "schedules",
    data.schedules.map((s) =>
      el(
        "tr",
        {},
        el("td", {}, s.service),
        el("td", { class: "name" }, breakable(s.job)),
        el("td", { class: "time" }, s.cron || "off"),
        el("td", { class: "time" }, isoShort(s.next_run)),
        el("td", { class: "time" }, isoShort(s.last_slot)),
        el("td", {}, s.last_status || "-"),
      ),
    ),
    6,
  );
}

// -- pages -----------------------------------------------------------------------------------

const drawn = {};

// Redraws a section only when its data changed, so rows (and their buttons) stay put between polls.
async function load(id, path, draw) {
  try {
    const data = await getJSON(path);
    const text = JSON.stringify(data);
    if (!drawn[id] || drawn[id].text !== text) drawn[id] = { text, result: draw(data) };
    section(id, null);
    return drawn[id].result;
  } catch (error) {
    section(id, error);
    return null;
  }
}

function requestsPath() {
  const size = document.getElementById("requests-page-size").value || "50";
  const query = new URLSearchParams({ limit: size, offset: String(requestsOffset) });
  const state = document.getElementById("filter-state").value;
  const plugin = document.getElementById("filter-plugin").value.trim();
  if (state) query.set("state", state);
  if (plugin) query.set("plugin", plugin);
  return `/api/requests?${query}`;
}

async function refreshDashboard() {
  const groups = load("groups-section", "/api/groups", drawGroups);
  await Promise.all([
    load("workers-section", "/api/workers", drawWorkers),
    groups.then((names) => names && drawLagChart(names).catch((e) => section("groups-section", e))),
    load("requests-section", requestsPath(), drawRequests),
    load("deadletters-section", "/api/deadletters", drawDeadLetters),
    load("plugins-section", "/api/plugins", drawPlugins),
    load("trends-section", "/api/trends/top?limit=10&hours=24", drawTrends),
    load("schedules-section", "/api/schedules", drawSchedules),
  ]);
}

function drawRequest(r) {
  const fields = [
    ["state", badge(r.state)],
    ["plugin", r.plugin],
    ["worker", r.worker || "-"],
    ["parent", r.parent_id || "-"],
    ["updated", time(r.updated_at)],
    ["runtime", r.runtime_s === null ? "-" : `${r.runtime_s.toFixed(2)} s`],
    ["retries", String(r.retries)],
    ["error", r.error ? el("span", { class: "error-text" }, `${r.error_type || ""}: ${r.error}`) : "-"],
  ];
  document
    .getElementById("request-status")
    .replaceChildren(...fields.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
  fill(
    "timeline",
    r.timeline.map((m) =>
      el(
        "tr",
        { "data-state": m.state },
        el("td", { class: "time" }, time(m.at)),
        el("td", {}, badge(m.state)),
        el("td", {}, m.worker || "-"),
        el("td", {}, String(m.retries || 0)),
        el("td", { class: "error-text" }, longText(m.error, `timeline:${m.at}`)),
      ),
    ),
    5,
  );
  document.getElementById("result").textContent = r.result ? JSON.stringify(r.result, null, 2) : "-";
  document.getElementById("traceback").textContent = r.traceback || "-";
}

async function refreshRequest() {
  const id = body.dataset.requestId;
  await load("request-section", `/api/requests/${encodeURIComponent(id)}`, drawRequest);
}

let busy = false;
let again = false;
async function refresh() {
  if (busy) {
    again = true; // asked while drawing (a page turned, a filter changed): once more after
    return;
  }
  busy = true;
  try {
    await (body.dataset.page === "request" ? refreshRequest() : refreshDashboard());
    const stamp = document.getElementById("updated");
    stamp.textContent = `updated ${new Date().toLocaleTimeString()} · every ${REFRESH_MS / 1000} s`;
    stamp.dataset.updated = String(Date.now());
  } finally {
    busy = false;
  }
  if (again) {
    again = false;
    refresh();
  }
}

function wire() {
  const input = document.getElementById("token");
  input.value = sessionStorage.getItem(TOKEN_KEY) || "";
  input.addEventListener("input", () => sessionStorage.setItem(TOKEN_KEY, input.value.trim()));
  const filters = document.getElementById("request-filters");
  if (filters) {
    filters.addEventListener("change", () => turnPage(0));
    filters.addEventListener("submit", (event) => {
      event.preventDefault();
      turnPage(0);
    });
  }
  const pager = document.getElementById("requests-pager");
  if (pager) {
    const step = (name) => () => {
      if (requestsPage && requestsPage[name] !== null) turnPage(requestsPage[name]);
    };
    document.getElementById("requests-previous").addEventListener("click", step("previous_offset"));
    document.getElementById("requests-next").addEventListener("click", step("next_offset"));
    document.getElementById("requests-page-size").addEventListener("change", () => turnPage(0));
  }
  const trigger = document.getElementById("trigger");
  if (trigger) {
    trigger.addEventListener("submit", (event) => {
      event.preventDefault();
      let options;
      try {
        options = JSON.parse(document.getElementById("trigger-options").value || "{}");
      } catch (error) {
        document.getElementById("action-result").textContent = `trigger: options: ${error}`;
        return;
      }
      act("trigger", "/api/collect", {
        plugin: document.getElementById("trigger-plugin").value.trim(),
        options,
        dry_run: document.getElementById("trigger-dry-run").checked,
      });
    });
  }
  const cancel = document.getElementById("cancel");
  if (cancel) {
    const id = body.dataset.requestId;
    cancel.addEventListener("click", () =>
      act("cancel", `/api/requests/${encodeURIComponent(id)}/cancel`, {}),
    );
  }
}

wire();
refresh();
setInterval(refresh, REFRESH_MS);
