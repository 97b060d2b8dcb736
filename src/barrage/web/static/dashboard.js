// While the server computes the current assessment, the banner says so; the page
// reloads once GET /api/assessment answers (it waits on the same computation).
(function () {
  "use strict";
  const banner = document.getElementById("warning-banner");
  if (!banner || banner.dataset.available !== "computing") return;
  fetch("/api/assessment").then(async function (resp) {
    if (resp.ok) { window.location.reload(); return; }
    const body = await resp.json().catch(function () { return {}; });
    const p = document.getElementById("warning-computing");
    if (p) p.textContent = "Assessment unavailable: " + (body.detail || resp.status);
    banner.dataset.available = "false";
  });
})();

// The simulation form: submit a job, poll its progress, show the result.
(function () {
  "use strict";
  const form = document.getElementById("sim-form");
  if (!form) return;
  const status = document.getElementById("sim-status");
  const bar = document.getElementById("sim-progress");
  const out = document.getElementById("sim-result");
  const cancel = document.getElementById("sim-cancel");
  const submit = document.getElementById("sim-submit");
  const kind = document.getElementById("sim-kind");
  const scenario = document.getElementById("sim-scenario");
  const runsInput = document.getElementById("sim-runs");
  const defaultRuns = {salvo: "2000", strike: "256"};
  let jobId = null;

  function showKind() {
    const k = kind.value;
    let first = null;
    for (const opt of scenario.options) {
      const on = opt.dataset.kind === k;
      opt.hidden = !on; opt.disabled = !on;
      if (on && first === null) first = opt.value;
    }
    if (scenario.selectedOptions.length === 0 || scenario.selectedOptions[0].disabled) {
      scenario.value = first;
    }
    runsInput.max = runsInput.dataset["max" + k.charAt(0).toUpperCase() + k.slice(1)];
    runsInput.value = defaultRuns[k];
  }
  if (kind) kind.addEventListener("change", showKind);
  function tail(s, d) {
    return "mean " + fmt(s.mean, d) + ", p95 " + fmt(s.p95, d) + ", CVaR95 " + fmt(s.cvar95, d);
  }

  function fmt(x, d) { return Number(x).toLocaleString(undefined, {maximumFractionDigits: d}); }
  function esc(s) { const p = document.createElement("span"); p.textContent = String(s); return p.innerHTML; }
  function band(s) { return fmt(s.mean, 1) + " (90%: " + fmt(s.p05, 0) + "–" + fmt(s.p95, 0) + ")"; }

  function showResult(job) {
    const r = job.result;
    let rows = "";
    for (const [k, s] of Object.entries(r.leakers_by_class)) {
      rows += "<tr><td>" + esc(k) + "</td><td class='num'>" + band(s) + "</td></tr>";
    }
    for (const [k, s] of Object.entries(r.leakers_by_asset)) {
      rows += "<tr><td>at " + esc(k) + "</td><td class='num'>" + band(s) + "</td></tr>";
    }
    out.innerHTML =
      "<p>Leakers (weapons through the defence), mean over " + fmt(r.runs, 0) + " runs: " +
      "<span class='big' id='sim-leakers' data-mean='" + r.leakers.mean + "'>" +
      fmt(r.leakers.mean, 1) + "</span> (90%: " + fmt(r.leakers.p05, 0) + "–" +
      fmt(r.leakers.p95, 0) + ")</p>" +
      "<div class='scroll'><table>" + rows + "</table></div>" +
      (job.kind === "strike" ? unserved(r) :
        "<p id='sim-unserved' class='note'>Unserved energy: " +
        esc(job.unserved_energy_note || "see the strike result") + "</p>");
  }

  function unserved(r) {
    const ue = r.unserved_energy_mwh;
    return "<p id='sim-unserved' data-mean='" + ue.mean + "' data-p95='" + ue.p95 +
      "' data-cvar95='" + ue.cvar95 + "'>Unserved energy on " + esc(r.network) +
      " while it is repaired: <span class='big'>" + fmt(ue.mean, 0) + " MWh</span> mean, " +
      fmt(ue.p95, 0) + " MWh p95, " + fmt(ue.cvar95, 0) +
      " MWh CVaR95 (mean of the worst 5% of runs)</p>" +
      "<div class='scroll'><table>" +
      "<tr><td>peak shed, MW</td><td class='num'>" + tail(r.peak_shed_mw, 0) + "</td></tr>" +
      "<tr><td>customer-hours</td><td class='num'>" + tail(r.customer_hours, 0) + "</td></tr>" +
      "<tr><td>restoration, days</td><td class='num'>" + tail(r.restoration_days, 0) +
      "</td></tr></table></div>";
  }

  async function poll() {
    if (!jobId) return;
    const resp = await fetch("/api/jobs/" + jobId);
    const job = await resp.json();
    if (!resp.ok) { status.textContent = job.detail; return; }
    bar.max = Math.max(job.progress.total, 1);
    bar.value = job.progress.done;
    status.textContent = job.state + ": " + fmt(job.progress.done, 0) + " / " +
      fmt(job.progress.total, 0) + " runs";
    status.dataset.state = job.state;
    if (job.state === "done") { showResult(job); finish(); }
    else if (["failed", "cancelled", "timed_out"].includes(job.state)) {
      status.textContent = job.state + ": " + (job.error || ""); finish();
    } else { setTimeout(poll, 300); }
  }

  function finish() { jobId = null; cancel.disabled = true; submit.disabled = false; }

  form.addEventListener("submit", async function (ev) {
    ev.preventDefault();
    out.innerHTML = "";
    const body = {
      scenario: form.scenario.value,
      runs: parseInt(form.runs.value, 10),
      seed: parseInt(form.seed.value, 10) || 0,
    };
    submit.disabled = true;
    status.textContent = "submitting…";
    const resp = await fetch("/api/jobs/" + (kind ? kind.value : "salvo"), {
      method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body),
    });
    const job = await resp.json();
    if (!resp.ok) {
      status.textContent = "refused: " + job.detail; status.dataset.state = "refused";
      submit.disabled = false; return;
    }
    jobId = job.id;
    bar.hidden = false;
    cancel.disabled = false;
    poll();
  });

  cancel.addEventListener("click", async function () {
    if (jobId) await fetch("/api/jobs/" + jobId, {method: "DELETE"});
  });
})();

// The campaign panel: submit a campaign job, poll it, draw its fan charts (the report's
// figures, from GET /api/jobs/{id}/figures).
(function () {
  "use strict";
  const form = document.getElementById("camp-form");
  if (!form) return;
  const status = document.getElementById("camp-status");
  const bar = document.getElementById("camp-progress");
  const out = document.getElementById("camp-figures");
  const submit = document.getElementById("camp-submit");

  function fail(state, text) {
    status.textContent = state + ": " + text; status.dataset.state = state;
    submit.disabled = false;
  }

  // The JSON answer of a request, or null once the failure is shown (no answer at all:
  // "failed"; an error answer: failState with the server's detail).
  async function answer(url, init, failState) {
    let resp, body;
    try {
      resp = await fetch(url, init);
      body = await resp.json();
    } catch (err) { fail("failed", "the server did not answer (" + err + ")"); return null; }
    if (!resp.ok) { fail(failState, body.detail); return null; }
    return body;
  }

  async function draw(jobId) {
    const figs = await answer("/api/jobs/" + jobId + "/figures", undefined, "failed");
    if (figs === null) return;
    out.innerHTML = "";
    figs.forEach(function (fig, i) {
      const div = document.createElement("div");
      div.id = "camp-fan-" + i;
      div.className = "camp-fan";
      out.appendChild(div);
      Plotly.newPlot(div, fig.data, fig.layout, {responsive: true, displaylogo: false});
    });
    status.dataset.state = "done";
    submit.disabled = false;
  }

  async function poll(jobId) {
    const job = await answer("/api/jobs/" + jobId, undefined, "failed");
    if (job === null) return;
    bar.max = Math.max(job.progress.total, 1);
    bar.value = job.progress.done;
    status.textContent = job.state + ": " + job.progress.done + " / " + job.progress.total +
      " seasons played" + (job.state === "running" && job.progress.done === job.progress.total ?
      ", pricing the load shed" : "");
    if (job.state === "done") {
      status.textContent = "done: " + job.request.runs + " runs x " + job.request.days +
        " days from " + job.request.start + ", seed " + job.request.seed;
      draw(jobId);
    } else if (["failed", "cancelled", "timed_out"].includes(job.state)) {
      fail(job.state, job.error || "");
    } else { setTimeout(function () { poll(jobId); }, 500); }
  }

  form.addEventListener("submit", async function (ev) {
    ev.preventDefault();
    out.innerHTML = "";
    const body = {
      scenario: form.scenario.value,
      runs: parseInt(form.runs.value, 10),
      days: parseInt(form.days.value, 10),
      seed: parseInt(form.seed.value, 10) || 0,
    };
    if (Number.isNaN(body.runs) || Number.isNaN(body.days)) {
      fail("refused", "runs and days must be whole numbers"); return;
    }
    submit.disabled = true;
    status.textContent = "submitting…"; status.dataset.state = "submitting";
    const job = await answer("/api/jobs/campaign", {
      method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body),
    }, "refused");
    if (job === null) return;
    bar.hidden = false;
    poll(job.id);
  });
})();
