// labrun panel: the catalog's past runs, newest first; a click opens one's plot and data.
"use strict";

async function refreshRuns() {
  const { ok, data } = await api("GET", "/api/runs?limit=50");
  if (!ok) return;
  const body = $("runs").tBodies[0];
  body.replaceChildren();
  for (const run of data.runs) {
    const row = body.insertRow();
    row.dataset.run = run.run_id;
    row.className = "past-run";
    row.title = "open this run's plot";
    cell(row, run.short_id, "run-id");
    cell(row, new Date(run.started).toLocaleString());
    cell(row, run.experiment);
    cell(row, run.instrument);
    cell(row, run.status, `state ${run.status}`);
    cell(row, run.points);
    row.onclick = () => openRun(run.run_id);
  }
}

async function openRun(id) {
  const { ok, data } = await api("GET", `/api/runs/${encodeURIComponent(id)}`);
  if (!ok) { say(data.error, true); return; }
  if (source) { source.close(); source = null; }
  followed = null;  // the next running job takes the plot back
  columns = []; traces = {}; pending = [];
  Plotly.newPlot("plot", [], {
    margin: { t: 40, r: 20 }, showlegend: true, autosize: true,
    legend: { x: 0.01, y: 0.99, bgcolor: "rgba(255,255,255,0.7)" },
  }, { responsive: true });
  const why = data.error ? `: ${data.error.type}: ${data.error.message}` : data.stopped_by ? ` by ${data.stopped_by}` : "";
  $("run-name").textContent = `run ${id.slice(0, 8)}: ${data.experiment}`;
  $("run-state").textContent = `${data.status}${why}`;
  if (!data.columns.length) { say(`run ${id.slice(0, 8)}: its data file is not in the panel's data directory`, true); return; }
  setUp({ columns: data.columns, plot_axes: data.plot_axes, family: data.family,
          log_current: data.log_current, config: `run ${id.slice(0, 8)} (${data.status})` });
  addPoints(data.rows);
  const links = [data.data_file, data.plot_file].filter(Boolean).map((f) => `/data/${f}`).join(", ");
  say(`run ${id.slice(0, 8)}: ${data.points} points, ${data.status}${why}${links ? `; ${links}` : ""}`, data.status === "failed");
}

refreshRuns();
setInterval(refreshRuns, 5000);
