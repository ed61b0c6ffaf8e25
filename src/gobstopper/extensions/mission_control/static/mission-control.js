// Mission Control: keeps the page live from the Server-Sent Events of /api/stream. No third-party code.
"use strict";
(function () {
  const prefix = document.querySelector('meta[name="mc-prefix"]').content;
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const $ = (id) => document.getElementById(id);

  function text(value) { return value === null || value === undefined ? "–" : String(value); }
  function ms(seconds) { return seconds === null || seconds === undefined ? "–" : (seconds * 1000).toFixed(2) + " ms"; }
  function bytes(n) {
    if (!n) return "–";
    const units = ["B", "KiB", "MiB", "GiB"];
    let i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return n.toFixed(1) + " " + units[i];
  }
  function duration(s) {
    s = Math.floor(s);
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
    return (h ? h + "h " : "") + (h || m ? m + "m " : "") + (s % 60) + "s";
  }
  function cell(row, value, cls) {
    const td = document.createElement("td");
    td.textContent = value;
    if (cls) td.className = cls;
    row.appendChild(td);
    return td;
  }
  function fill(tbody, items, build) {
    tbody.replaceChildren();
    for (const item of items) {
      const tr = document.createElement("tr");
      build(tr, item);
      tbody.appendChild(tr);
    }
  }

  async function act(id, action) {
    const response = await fetch(prefix + "/api/tasks/" + encodeURIComponent(id) + "/" + action, {
      method: "POST", headers: { "X-Gobstopper-CSRF": csrf }, credentials: "same-origin",
    });
    if (!response.ok) {
      const problem = await response.json().catch(() => ({}));
      alert(problem.detail || response.statusText);
    }
  }

  function render(stats) {
    const me = stats.workers[0] || {};
    $("scope").textContent = "Figures: " + stats.scope;
    $("uptime").textContent = duration(me.uptime || 0);
    $("requests").textContent = text(stats.totals.requests);
    $("errors").textContent = text(stats.totals.errors);
    $("memory").textContent = bytes(stats.totals.memory_rss);
    $("cpu").textContent = me.cpu_percent === null ? "–" : me.cpu_percent.toFixed(1) + " %";
    $("lag").textContent = ms(me.loop_lag);
    $("websockets").textContent = text(stats.totals.websockets);
    $("streams").textContent = text(stats.totals.streams);
    fill($("route-metrics").tBodies[0], stats.routes, (tr, r) => {
      tr.dataset.route = r.name;
      cell(tr, r.name);
      cell(tr, r.pattern, "mono");
      cell(tr, r.count, "num count");
      cell(tr, r.errors, "num");
      cell(tr, ms(r.p50), "num");
      cell(tr, ms(r.p90), "num");
      cell(tr, ms(r.p99), "num");
    });
    fill($("worker-list").tBodies[0], stats.workers, (tr, w) => {
      cell(tr, w.id, "mono");
      cell(tr, duration(w.uptime), "num");
      cell(tr, bytes(w.memory_rss), "num");
      cell(tr, w.cpu_percent === null ? "–" : w.cpu_percent.toFixed(1) + " %", "num");
      cell(tr, ms(w.loop_lag), "num");
    });
    const tasks = stats.tasks;
    if (tasks && tasks.stats) {
      $("task-stats").textContent = "Queued: " + tasks.stats.queued + " · running here: " + tasks.stats.running +
        " · by status: " + JSON.stringify(tasks.stats.by_status);
      $("task-list").hidden = false;
      fill($("task-list").tBodies[0], tasks.recent, (tr, t) => {
        cell(tr, t.name + " (" + t.id.slice(0, 8) + ")", "mono");
        cell(tr, t.category);
        cell(tr, t.status);
        cell(tr, t.attempts, "num");
        cell(tr, t.error || "");
        const actions = cell(tr, "");
        if (t.status === "failed") {
          const retry = document.createElement("button");
          retry.textContent = "Retry";
          retry.addEventListener("click", () => act(t.id, "retry"));
          actions.appendChild(retry);
        }
        if (t.status === "pending" || t.status === "started" || t.status === "retry") {
          const cancel = document.createElement("button");
          cancel.textContent = "Cancel";
          cancel.addEventListener("click", () => act(t.id, "cancel"));
          actions.appendChild(cancel);
        }
      });
    } else if (tasks && tasks.error) {
      $("task-stats").textContent = "Task storage error: " + tasks.error;
    }
    $("cache-stats").textContent = stats.cache ? JSON.stringify(stats.cache, null, 2) : "";
  }

  const source = new EventSource(prefix + "/api/stream");
  source.addEventListener("stats", (event) => {
    $("live").textContent = "live";
    $("live").className = "live on";
    render(JSON.parse(event.data));
  });
  source.addEventListener("error", () => {
    $("live").textContent = "reconnecting";
    $("live").className = "live off";
  });
})();
