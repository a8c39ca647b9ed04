// labrun panel: polls /api/state every second; follows the running job's points through
// server-sent events (/api/jobs/ID/events) into a Plotly plot, a curve per outer step.
"use strict";

const $ = (id) => document.getElementById(id);
let original = {};        // the chosen config's values as in its file
let followed = null;      // the job whose events feed the plot
let source = null;        // its EventSource
let columns = [], axes = [], family = [], traces = {}, pending = [];

function text(value) { return value === null || value === undefined ? "" : String(value); }

function say(message, error) {
  $("message").textContent = message;
  $("message").className = error ? "error" : "";
}

async function api(method, path, body) {
  const options = { method, headers: {} };
  if (body !== undefined) {
    options.headers["content-type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  const response = await fetch(path, options);
  const data = await response.json().catch(() => ({}));
  return { ok: response.ok, status: response.status, data };
}

function cell(row, value, className) {
  const td = row.insertCell();
  td.textContent = text(value);
  if (className) td.className = className;
  return td;
}

function renderStation(station) {
  const body = $("station").tBodies[0];
  body.replaceChildren();
  for (const inst of station) {
    const row = body.insertRow();
    const channel = inst.channel > 1 || inst.model.endsWith("2902") ? ` ch${inst.channel}` : "";
    cell(row, `${inst.simulated ? "simulated " : ""}${inst.model} at ${inst.address}${channel}`);
    cell(row, inst.identity);
    cell(row, inst.output, inst.output === "on" ? "on" : inst.output === "off" ? "off" : "");
    cell(row, inst.busy ? inst.holder : "free");
  }
}

function renderQueue(queue) {
  const list = $("queue");
  list.replaceChildren();
  queue.forEach((job, position) => {
    const item = document.createElement("li");
    item.textContent = `job ${job.id}: ${job.config} `;
    for (const [label, action] of [["↑", () => move(job.id, position - 1)],
                                   ["↓", () => move(job.id, position + 1)],
                                   ["✕", () => remove(job.id)]]) {
      const button = document.createElement("button");
      button.textContent = label;
      button.title = { "↑": "earlier", "↓": "later", "✕": "remove" }[label];
      button.onclick = action;
      item.append(button);
    }
    list.append(item);
  });
}

function renderFinished(finished) {
  const body = $("finished").tBodies[0];
  body.replaceChildren();
  for (const job of finished) {
    const row = body.insertRow();
    row.dataset.job = job.id;
    cell(row, job.id);
    cell(row, job.config);
    cell(row, job.state, "state");
    cell(row, `${job.step} of ${job.total}`);
    const links = row.insertCell();
    if (job.data_file) {
      const csv = document.createElement("a");
      csv.href = `/data/${encodeURIComponent(job.data_file)}`;
      csv.textContent = job.data_file;
      csv.setAttribute("download", job.data_file);
      csv.className = "download";
      links.append(csv);
    }
    if (job.plot_file) {
      const png = document.createElement("a");
      png.href = `/data/${encodeURIComponent(job.plot_file)}`;
      png.textContent = " plot";
      png.target = "_blank";
      links.append(png);
    }
    cell(row, job.error, job.error ? "error" : "");
  }
}

function renderCurrent(job) {
  const live = job && (job.state === "running" || job.state === "paused");
  $("stop").disabled = !live;
  $("stop").dataset.job = job ? job.id : "";
  $("pause").disabled = !live;
  $("pause").dataset.job = job ? job.id : "";
  $("pause").textContent = job && job.state === "paused" ? "Resume" : "Pause";
  if (!job) return;
  $("run-name").textContent = `job ${job.id}: ${job.config}` + (job.sequence ? ` (${job.sequence.index + 1} of ${job.sequence.of})` : "");
  $("run-state").textContent = job.state;
  $("progress").max = job.total || 1;
  $("progress").value = job.step;
  $("run-left").textContent = job.remaining === null || job.remaining === undefined
    ? `${job.step} of ${job.total}` : `${job.step} of ${job.total}, ${job.remaining.toFixed(1)} s left`;
}

async function refresh() {
  const { ok, data } = await api("GET", "/api/state");
  if (!ok) return;
  renderStation(data.station);
  renderQueue(data.queue);
  renderFinished(data.finished);
  renderCurrent(data.current);
  fillConfigs(data.configs);
  if (data.current && data.current.id !== followed) follow(data.current.id);
  $("clock").textContent = new Date().toLocaleTimeString();
}

function fillConfigs(names) {
  const select = $("config");
  const have = [...select.options].map((o) => o.value);
  if (have.join() === names.join()) return;
  const chosen = select.value;
  select.replaceChildren(...names.map((name) => new Option(name, name)));
  if (names.includes(chosen)) select.value = chosen;
  loadForm();
}

async function loadForm() {
  const name = $("config").value;
  if (!name) return;
  const { ok, data } = await api("GET", `/api/configs/${encodeURIComponent(name)}`);
  const form = $("form");
  form.replaceChildren();
  original = {};
  if (!ok) { say(data.error, true); return; }
  for (const { key, value, unit, help, choices } of data.parameters) {
    original[key] = value;
    const label = document.createElement("label");
    label.textContent = key.replace(/^experiment\./, "") + (unit ? ` [${unit}]` : "");
    const input = document.createElement("input");
    input.name = key;
    input.value = value;
    input.disabled = key === "experiment.type";
    // read off the experiment's declaration: what it is, and what it may be
    input.title = [help, choices && choices.length ? `one of: ${choices.join(", ")}` : ""].filter(Boolean).join("; ");
    label.title = input.title;
    label.append(input);
    form.append(label);
  }
}

function changedValues() {
  const values = {};
  for (const input of $("form").querySelectorAll("input")) {
    if (!input.disabled && input.value !== original[input.name]) values[input.name] = input.value;
  }
  return values;
}

async function check() {
  const { ok, data } = await api("POST", "/api/check", { config: $("config").value, values: changedValues() });
  say(ok ? data.plan.join("\n") : data.error, !ok);
}

async function startRun() {
  const { ok, data } = await api("POST", "/api/jobs", { config: $("config").value, values: changedValues() });
  say(ok ? `queued: job ${data.id} (${data.config})` : `refused: ${data.error}`, !ok);
  refresh();
}

async function stopRun() {
  const id = $("stop").dataset.job;
  if (!id) return;
  const { ok, data } = await api("POST", `/api/jobs/${id}/stop`);
  say(ok ? `stopping job ${id}: ramping down, output off` : data.error, !ok);
}

async function pauseRun() {
  const id = $("pause").dataset.job;
  if (!id) return;
  const verb = $("pause").textContent === "Resume" ? "resume" : "pause";
  const { ok, data } = await api("POST", `/api/jobs/${id}/${verb}`);
  say(ok ? (verb === "pause" ? `pausing job ${id} after the point in progress` : `resuming job ${id}`) : data.error, !ok);
}

async function move(id, position) { await api("POST", `/api/queue/${id}/move`, { position }); refresh(); }
async function remove(id) { await api("DELETE", `/api/queue/${id}`); refresh(); }

function follow(id) {
  if (source) source.close();
  followed = id;
  columns = []; traces = {}; pending = [];
  Plotly.newPlot("plot", [], {
    margin: { t: 40, r: 20 }, showlegend: true, autosize: true,
    legend: { x: 0.01, y: 0.99, bgcolor: "rgba(255,255,255,0.7)" },
  }, { responsive: true });
  source = new EventSource(`/api/jobs/${id}/events`);
  source.addEventListener("progress", (event) => {
    const job = JSON.parse(event.data);
    if (!columns.length && job.columns.length) setUp(job);
    renderCurrent(job);
  });
  source.addEventListener("points", (event) => addPoints(JSON.parse(event.data)));
  source.addEventListener("end", (event) => {
    const job = JSON.parse(event.data);
    renderCurrent(job);
    source.close();
    source = null;
    const why = job.error ? `: ${job.error}` : "";
    say(`job ${job.id} (${job.config}) ${job.state}${why}; outputs ramped down and off`, job.state === "failed");
    setTimeout(refresh, 200);
    setTimeout(refreshRuns, 200);  // runs.js: the catalog has its end now
  });
}

function setUp(job) {
  columns = job.columns; axes = job.plot_axes; family = job.family;
  $("logy").checked = job.log_current;
  Plotly.relayout("plot", {
    "xaxis.title.text": axes[0], "yaxis.title.text": axes[1],
    "yaxis.type": $("logy").checked ? "log" : "linear", title: { text: job.config },
  });
  addPoints(pending.splice(0));  // any that came before the columns were known
}

// seconds from each point's measurement to its drawing (python -m bench reads it)
window.labrunLag = [];

function addPoints(rows) {
  if (!columns.length) { pending.push(...rows); return; }
  const ix = columns.indexOf(axes[0]), iy = columns.indexOf(axes[1]);
  const its = columns.indexOf("timestamp");
  if (its >= 0) for (const row of rows) window.labrunLag.push(Date.now() / 1000 - row[its]);
  const keys = family.map((name) => columns.indexOf(name));
  const grouped = {};
  for (const row of rows) {
    const key = keys.length ? keys.map((k) => `${family[keys.indexOf(k)].replace(/_source$/, "")} ${row[k]}`).join(", ") : axes[1];
    (grouped[key] = grouped[key] || { x: [], y: [] });
    grouped[key].x.push(row[ix]);
    grouped[key].y.push($("logy").checked ? Math.abs(row[iy]) : row[iy]);
  }
  for (const [key, points] of Object.entries(grouped)) {
    if (!(key in traces)) {
      traces[key] = Object.keys(traces).length;
      Plotly.addTraces("plot", { x: points.x, y: points.y, name: key, mode: "lines+markers", marker: { size: 4 } });
    } else {
      Plotly.extendTraces("plot", { x: [points.x], y: [points.y] }, [traces[key]]);
    }
  }
}

$("config").onchange = loadForm;
$("check").onclick = check;
$("start").onclick = startRun;
$("stop").onclick = stopRun;
$("pause").onclick = pauseRun;
$("logy").onchange = () => Plotly.relayout("plot", { "yaxis.type": $("logy").checked ? "log" : "linear" });
refresh();
setInterval(refresh, 1000);
