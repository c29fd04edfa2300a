// Live status of queuescale-local: polls /api/state once a second and redraws.
"use strict";

const state = { samples: [], plot: undefined, logWorker: undefined, logNext: 0, lastSample: 0 };

const $ = (id) => document.getElementById(id);
const fmt = (value) => (value === null || value === undefined ? "–" : Math.round(value).toLocaleString("en"));
const time = (ms) => new Date(ms).toLocaleTimeString("en-GB");

function chartData() {
  const xs = state.samples.map((s) => s.t / 1000);
  return [
    xs,
    state.samples.map((s) => s.value),
    state.samples.map((s) => s.replicas),
    state.samples.map((s) => s.ready),
  ];
}

function drawChart() {
  const el = $("chart");
  const width = Math.max(320, el.clientWidth || 900);
  if (!state.plot) {
    state.plot = new uPlot(
      {
        width,
        height: 300,
        scales: { x: { time: true }, backlog: {}, replicas: { range: (_u, _min, max) => [0, Math.max(2, max + 1)] } },
        axes: [
          {},
          { scale: "backlog", label: "backlog (messages)" },
          { scale: "replicas", side: 1, label: "replicas", grid: { show: false } },
        ],
        series: [
          {},
          { label: "backlog", scale: "backlog", stroke: "#2563eb", width: 2, fill: "rgba(37,99,235,0.08)" },
          {
            label: "replicas",
            scale: "replicas",
            stroke: "#dc2626",
            width: 2,
            paths: uPlot.paths.stepped({ align: 1 }),
          },
          {
            label: "ready",
            scale: "replicas",
            stroke: "#f59e0b",
            width: 1,
            dash: [4, 4],
            paths: uPlot.paths.stepped({ align: 1 }),
          },
        ],
      },
      chartData(),
      el,
    );
  } else {
    state.plot.setData(chartData());
  }
  el.dataset.points = String(state.samples.length);
}

function renderDecisions(decisions) {
  const rows = decisions
    .slice()
    .reverse()
    .map((d) => {
      const change =
        d.desiredReplicas === d.currentReplicas
          ? `${d.currentReplicas}`
          : `${d.currentReplicas} → ${d.desiredReplicas}`;
      return `<tr><td>${time(d.t)}</td><td class="num">${fmt(d.value)}</td><td class="num">${change}</td><td>${escapeHtml(d.reason)}</td></tr>`;
    });
  $("decisions").querySelector("tbody").innerHTML = rows.join("");
}

function renderWorkers(workers) {
  const now = Date.now();
  $("workers").querySelector("tbody").innerHTML = workers
    .slice()
    .reverse()
    .map(
      (w) =>
        `<tr data-worker="${w.id}"><td>${w.id}</td><td class="num">${w.pid ?? "–"}</td><td>${w.state}${
          w.state === "exited" ? ` (${escapeHtml(w.exitSignal ?? `code ${w.exitCode}`)})` : ""
        }</td><td class="num">${Math.round((now - w.startedAt) / 1000)} s</td><td><button data-log="${w.id}">log</button></td></tr>`,
    )
    .join("");
}

function escapeHtml(text) {
  return String(text).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
}

async function refreshLog() {
  if (!state.logWorker) return;
  const response = await fetch(`/api/workers/${encodeURIComponent(state.logWorker)}/log?from=${state.logNext}`);
  if (!response.ok) return;
  const { lines, next } = await response.json();
  const pre = $("log");
  const atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
  if (state.logNext === 0) pre.textContent = "";
  if (lines.length > 0) pre.textContent += lines.join("\n") + "\n";
  state.logNext = next;
  if (atBottom) pre.scrollTop = pre.scrollHeight;
}

async function refresh() {
  const response = await fetch(`/api/state?since=${state.lastSample}`);
  if (!response.ok) return;
  const body = await response.json();
  const info = body.info;
  $("hpa-name").textContent = info.hpaName;
  $("hpa-info").textContent =
    `${info.metric} · target ${info.target} · replicas ${info.minReplicas}–${info.maxReplicas} · sync every ${info.syncPeriodSeconds} s · ${info.source}`;
  if (info.note) {
    $("note").hidden = false;
    $("note").textContent = info.note;
  }
  state.samples.push(...body.samples);
  if (state.samples.length > 3600) state.samples.splice(0, state.samples.length - 3600);
  if (body.samples.length > 0) state.lastSample = body.samples[body.samples.length - 1].t;
  const last = state.samples[state.samples.length - 1];
  $("value").textContent = fmt(last?.value);
  $("replicas").textContent = fmt(last?.replicas);
  $("ready").textContent = fmt(last?.ready);
  $("desired").textContent = fmt(body.desiredReplicas);
  drawChart();
  renderDecisions(body.decisions);
  renderWorkers(body.workers);
  await refreshLog();
}

document.addEventListener("click", (event) => {
  const id = event.target?.dataset?.log;
  if (!id) return;
  state.logWorker = id;
  state.logNext = 0;
  $("log-name").textContent = id;
  $("log").textContent = "";
  void refreshLog();
});

async function loop() {
  try {
    await refresh();
  } catch (error) {
    console.warn("status refresh failed", error);
  }
  setTimeout(loop, 1000);
}
void loop();
