// Prism status page: polls GET /v1/status and draws the pipeline. Every
// value is written with textContent (never as HTML): reasons and messages
// of rejected commands come from users.
"use strict";

const tokenKey = "prism-status-token";
const pollMs = 2000;
let timer = null;

// A token in the fragment (#token=...) is kept in this tab's session
// storage and removed from the address bar: fragments never reach a server.
function takeTokenFromFragment() {
  const m = /^#token=(.+)$/.exec(location.hash);
  if (m) {
    sessionStorage.setItem(tokenKey, decodeURIComponent(m[1]));
    history.replaceState(null, "", location.pathname + location.search);
  }
}

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v;
    else e.setAttribute(k, v);
  }
  for (const c of children) {
    if (c === null || c === undefined) continue;
    e.append(typeof c === "string" ? document.createTextNode(c) : c);
  }
  return e;
}

const num = new Intl.NumberFormat("en");
function fmtInt(v) { return v === null || v === undefined ? "—" : num.format(v); }
function fmtRate(v) {
  if (v === null || v === undefined) return "—";
  return (v >= 100 ? num.format(Math.round(v)) : v.toFixed(1)) + "/s";
}
function fmtTime(s) { return s ? new Date(s).toLocaleTimeString() : ""; }

function field(name, label, value, text, nonzero) {
  return [el("dt", {}, label),
    el("dd", { "data-field": name, "data-value": String(value ?? ""), class: nonzero && value > 0 ? "nonzero" : "" }, text)];
}

function stageBox(st) {
  const dl = el("dl", {},
    ...field("rate", st.kind === "query" ? "requests" : "throughput", st.rate, fmtRate(st.rate)),
    ...field("offset", st.kind === "topic" ? "end offset" : st.kind === "query" ? "answered" : "committed", st.offset, fmtInt(st.offset)));
  if (st.kind === "processor" || st.kind === "sink") {
    dl.append(...field("lag", "lag", st.lag, fmtInt(st.lag)), ...field("members", "members", st.members, fmtInt(st.members)));
  }
  if (st.dlq !== null && st.dlq !== undefined) {
    dl.append(...field("dlq", st.kind === "topic" ? "sinks' DLQ" : "DLQ", st.dlq, fmtInt(st.dlq), true));
  }
  if (st.kind === "query") {
    for (const s of st.sources || []) {
      dl.append(el("dt", {}, s.name), el("dd", { "data-source": s.name, "data-healthy": String(s.healthy) }, s.healthy ? "up" : "down"));
    }
  }
  const sub = st.kind === "topic" ? st.topic : st.group || "";
  return el("div", { class: "stage", "data-stage": st.id, "data-kind": st.kind, "data-health": st.health },
    el("div", { class: "title" }, el("span", {}, st.name), el("span", { class: "health", "data-field": "health" }, st.health)),
    sub ? el("div", { class: "sub" }, sub + (st.state ? " · " + st.state : "")) : null,
    dl,
    st.detail ? el("div", { class: "detail", "data-field": "detail" }, st.detail) : null);
}

function rejectedTable(a) {
  const rows = (a.rejected || []).map((r) =>
    el("tr", { "data-rejected": r.commandId },
      el("td", {}, fmtTime(r.time)), el("td", {}, r.commandId), el("td", {}, r.aggregateId),
      el("td", { class: "reason" }, r.reason), el("td", {}, r.field || ""), el("td", {}, r.message || "")));
  const body = rows.length ? el("table", {},
    el("thead", {}, el("tr", {}, ...["time", "command", "aggregate id", "reason", "field", "message"].map((h) => el("th", {}, h)))),
    el("tbody", {}, ...rows)) : el("p", { class: "muted" }, "none in the latest results");
  const d = el("details", { "data-rejected-of": a.plural }, el("summary", {}, `Latest rejected commands (${rows.length})`), body);
  d.open = rows.length > 0;
  return d;
}

function render(s) {
  document.getElementById("namespace").textContent = "· " + s.namespace;
  document.getElementById("updated").textContent = "updated " + fmtTime(s.at);
  const warnings = document.getElementById("warnings");
  warnings.replaceChildren(...(s.warnings || []).map((w) => el("li", {}, w)));

  const sections = s.aggregates.map((a) => {
    const st = (name) => a.stages.find((x) => x.id === a.plural + "/" + name);
    const sinks = a.stages.filter((x) => x.kind === "sink");
    return el("section", { class: "pipeline", "data-aggregate": a.plural },
      el("h2", {}, a.plural),
      el("div", { class: "flow" },
        stageBox(st("commands")), el("span", { class: "arrow" }, "→"),
        stageBox(st("processor")), el("span", { class: "arrow" }, "→"),
        stageBox(st("events")), el("span", { class: "arrow" }, "→"),
        el("div", { class: "sinks" }, ...sinks.map(stageBox))),
      rejectedTable(a));
  });
  const grid = [];
  sections.forEach((sec, i) => {
    sec.style.gridRow = String(i + 1);
    grid.push(sec, el("span", { class: "into-query" }, "→"));
    grid[grid.length - 1].style.gridRow = String(i + 1);
  });
  if (s.query) {
    const col = el("div", { class: "query-col" }, stageBox(s.query));
    col.style.gridRow = "1 / span " + Math.max(1, sections.length);
    grid.push(col);
  }
  document.getElementById("pipelines").replaceChildren(...grid);

  const tb = document.querySelector("#rebuilds tbody");
  const rebuilds = s.rebuilds || [];
  tb.replaceChildren(...rebuilds.map((r) => {
    const p = el("progress", { max: String(Math.max(r.total, 1)), value: String(r.done) });
    return el("tr", { "data-rebuild": r.aggregate + "/" + r.sink },
      el("td", {}, r.aggregate), el("td", {}, r.sink), el("td", {}, r.mode), el("td", {}, r.phase),
      el("td", {}, p, " " + fmtInt(r.done) + " / " + fmtInt(r.total)), el("td", {}, fmtTime(r.updatedAt)), el("td", { class: "bad" }, r.error || ""));
  }));
  document.getElementById("rebuilds").hidden = rebuilds.length === 0;
  document.getElementById("no-rebuilds").hidden = rebuilds.length > 0;
  document.body.dataset.renders = String(Number(document.body.dataset.renders) + 1);
}

function showLogin(msg) {
  clearTimeout(timer);
  document.getElementById("login").hidden = false;
  document.getElementById("login-error").textContent = msg;
}

async function poll() {
  const token = sessionStorage.getItem(tokenKey);
  const headers = token ? { Authorization: "Bearer " + token } : {};
  const banner = document.getElementById("error");
  try {
    const res = await fetch("/v1/status", { headers, cache: "no-store" });
    if (res.status === 401 || res.status === 403) {
      const body = await res.json().catch(() => ({}));
      showLogin(token ? (body.error || "refused") : "");
      return;
    }
    const body = await res.json();
    if (!res.ok) throw new Error(body.error || "status " + res.status);
    banner.hidden = true;
    render(body);
  } catch (e) {
    banner.textContent = "Cannot read the status: " + e.message;
    banner.hidden = false;
  }
  timer = setTimeout(poll, pollMs);
}

document.addEventListener("DOMContentLoaded", () => {
  takeTokenFromFragment();
  document.getElementById("login").addEventListener("submit", (ev) => {
    ev.preventDefault();
    sessionStorage.setItem(tokenKey, document.getElementById("token").value.trim());
    document.getElementById("token").value = "";
    document.getElementById("login").hidden = true;
    poll();
  });
  poll();
});
