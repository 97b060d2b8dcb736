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
  let jobId = null;

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
      "<p id='sim-unserved' class='note'>Unserved energy: " +
      esc(job.unserved_energy_note || "see the strike result") + "</p>";
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
    const resp = await fetch("/api/jobs/salvo", {
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
