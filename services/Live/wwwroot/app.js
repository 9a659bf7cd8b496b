// The dashboard: one EventSource on this follower's /events for the chosen user. A "snapshot" event replaces
// everything; a "delta" event changes one entry. The browser reconnects by itself with Last-Event-ID, and the
// follower answers with what was missed (or a fresh snapshot).
"use strict";

const $ = (id) => document.getElementById(id);
const state = { accounts: new Map(), alerts: [], jobs: new Map(), loads: new Map(), loadHistory: new Map(), totals: null };
const colors = ["#4fb3ff", "#f0883e", "#3fb950", "#d2a8ff", "#ff7b72", "#e3b341"];
const money = new Intl.NumberFormat(undefined, { minimumFractionDigits: 2, maximumFractionDigits: 2 });
let user = new URLSearchParams(location.search).get("user") || localStorage.getItem("live.user") || "alice";
let source = null;

function connect() {
  if (source) source.close();
  $("user").value = user;
  source = new EventSource(`events?user=${encodeURIComponent(user)}`);
  source.onopen = () => setConnection("live", "up");
  source.onerror = () => setConnection("reconnecting…", "down");
  source.addEventListener("snapshot", (e) => { applySnapshot(JSON.parse(e.data)); render(); });
  source.addEventListener("delta", (e) => { applyDelta(JSON.parse(e.data)); render(); });
}

function setConnection(text, cls) { const b = $("connection"); b.textContent = text; b.className = `badge ${cls}`; }

function applySnapshot(s) {
  state.accounts = new Map(s.accounts.map((a) => [a.accountId, a]));
  state.alerts = s.alerts;
  state.jobs = new Map(s.jobs.map((j) => [j.jobId, j]));
  state.loads = new Map(s.loads.map((l) => [l.replicaId, l]));
  for (const l of s.loads) pushLoad(l);
  state.totals = s.totals;
}

function applyDelta(d) {
  if (d.account) state.accounts.set(d.account.accountId, d.account);
  if (d.alert && !state.alerts.some((a) => a.alertId === d.alert.alertId)) state.alerts = [d.alert, ...state.alerts].slice(0, 50);
  if (d.job) {
    const known = state.jobs.get(d.job.jobId);
    state.jobs.set(d.job.jobId, { ...d.job, cities: d.job.cities ?? known?.cities });
  }
  if (d.load) { state.loads.set(d.load.replicaId, d.load); pushLoad(d.load); }
  if (d.totals) state.totals = d.totals;
}

function pushLoad(l) {
  const history = state.loadHistory.get(l.replicaId) ?? [];
  if (history.length && history[history.length - 1].at === l.at) return;
  history.push({ at: Date.parse(l.at), cpu: l.cpu, moves: l.movesPerSecond });
  while (history.length > 120) history.shift();
  state.loadHistory.set(l.replicaId, history);
}

let pending = false;
function render() {
  if (pending) return;
  pending = true;
  requestAnimationFrame(() => { pending = false; renderAccounts(); renderAlerts(); renderJobs(); renderLoad(); renderTotals(); });
}

function renderTotals() {
  const t = state.totals;
  $("totals").textContent = t ? `${t.accounts} accounts · ${money.format(t.balance)} total · ${t.alerts} alerts · ${t.jobsRunning} jobs running` : "";
}

function renderAccounts() {
  const rows = [...state.accounts.values()].sort((a, b) => a.accountId.localeCompare(b.accountId));
  $("accounts").replaceChildren(...rows.map((a) => {
    const tr = document.createElement("tr");
    tr.dataset.account = a.accountId;
    tr.innerHTML = `<td></td><td class="num balance"></td>`;
    tr.cells[0].textContent = a.accountId;
    tr.cells[1].textContent = money.format(a.balance);
    return tr;
  }));
  for (const select of document.querySelectorAll(".account-select")) {
    const chosen = select.value;
    select.replaceChildren(...rows.map((a) => new Option(a.accountId, a.accountId)));
    if (rows.some((a) => a.accountId === chosen)) select.value = chosen;
  }
}

function renderAlerts() {
  $("alerts").replaceChildren(...state.alerts.map((a) => {
    const li = document.createElement("li");
    li.dataset.rule = a.rule;
    li.textContent = `${new Date(a.occurredAt).toLocaleTimeString()} · ${a.rule} on ${a.accountId} (event ${a.sequence})`;
    return li;
  }));
}

function renderJobs() {
  const container = $("jobs");
  const jobs = [...state.jobs.values()].sort((a, b) => b.updatedAt.localeCompare(a.updatedAt));
  for (const job of jobs) {
    let card = container.querySelector(`[data-job="${CSS.escape(job.jobId)}"]`);
    if (!card) {
      card = document.createElement("div");
      card.className = "job";
      card.dataset.job = job.jobId;
      card.innerHTML = `<div class="meta"><span class="name"></span> · <span class="status"></span> · round <span class="round"></span></div>
        <canvas width="320" height="320"></canvas><div class="meta">length <span class="length"></span> · <span class="time"></span></div>`;
      container.prepend(card);
    }
    card.querySelector(".name").textContent = job.name || job.jobId.slice(0, 8);
    card.querySelector(".status").textContent = job.status;
    card.querySelector(".round").textContent = job.round;
    card.querySelector(".length").textContent = job.bestLength.toFixed(1);
    card.dataset.length = String(job.bestLength);
    card.dataset.status = job.status;
    card.querySelector(".time").textContent = `${(job.elapsedMs / 1000).toFixed(1)} / ${(job.budgetMs / 1000).toFixed(1)} s`;
    drawTour(card.querySelector("canvas"), job);
  }
}

function drawTour(canvas, job) {
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  const cities = job.cities;
  if (!cities || !cities.length) return;
  const xs = cities.map((c) => c[0]), ys = cities.map((c) => c[1]);
  const [minX, maxX, minY, maxY] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  const pad = 10, scale = Math.min((canvas.width - 2 * pad) / (maxX - minX || 1), (canvas.height - 2 * pad) / (maxY - minY || 1));
  const at = (c) => [pad + (c[0] - minX) * scale, canvas.height - pad - (c[1] - minY) * scale];
  if (job.tour && job.tour.length > 1) {
    ctx.strokeStyle = job.status === "completed" ? "#3fb950" : "#4fb3ff";
    ctx.lineWidth = 1.5;
    ctx.beginPath();
    job.tour.forEach((city, i) => { const [x, y] = at(cities[city]); i ? ctx.lineTo(x, y) : ctx.moveTo(x, y); });
    ctx.closePath();
    ctx.stroke();
  }
  ctx.fillStyle = "#e6edf3";
  for (const c of cities) { const [x, y] = at(c); ctx.fillRect(x - 1.5, y - 1.5, 3, 3); }
}

function renderLoad() {
  const canvas = $("load"), ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  const now = Date.now(), span = 60_000, h = canvas.height - 20, w = canvas.width;
  ctx.strokeStyle = "#26303a";
  for (const f of [0.25, 0.5, 0.75, 1]) { ctx.beginPath(); ctx.moveTo(0, h - f * h + 10); ctx.lineTo(w, h - f * h + 10); ctx.stroke(); }
  const replicas = [...state.loadHistory.keys()].sort();
  replicas.forEach((id, i) => {
    ctx.strokeStyle = colors[i % colors.length];
    ctx.lineWidth = 2;
    ctx.beginPath();
    state.loadHistory.get(id).forEach((p, j) => {
      const x = w - ((now - p.at) / span) * w, y = h - Math.min(1, p.cpu) * h + 10;
      j ? ctx.lineTo(x, y) : ctx.moveTo(x, y);
    });
    ctx.stroke();
  });
  $("load-legend").replaceChildren(...replicas.map((id, i) => {
    const l = state.loads.get(id), span = document.createElement("span");
    span.dataset.replica = id;
    span.innerHTML = `<i style="background:${colors[i % colors.length]}"></i>`;
    span.append(`${id}: ${Math.round((l?.cpu ?? 0) * 100)}% cpu, ${Math.round(l?.movesPerSecond ?? 0).toLocaleString()} moves/s, ${l?.inFlight ?? 0} in flight`);
    return span;
  }));
}
setInterval(renderLoad, 1000);

// Commands: forwarded by this follower to ledger / routing; their ProblemDetails are shown as given.
const reference = () => (crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random().toString(16).slice(2)}`);

async function send(path, body) {
  $("problem").hidden = true;
  const response = await fetch(path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  if (!response.ok) {
    const text = await response.text();
    let shown = text;
    try {
      const p = JSON.parse(text);
      shown = [`${response.status} ${p.title ?? ""}`.trim(), p.detail, p.code ?? p.errorCode, p.errors ? JSON.stringify(p.errors) : null].filter(Boolean).join("\n");
    } catch { /* not JSON: show as given */ }
    $("problem").textContent = shown || `${response.status} ${response.statusText}`;
    $("problem").hidden = false;
  }
  return response;
}

const fields = (form) => Object.fromEntries(new FormData(form));

$("who").addEventListener("submit", (e) => {
  e.preventDefault();
  user = $("user").value.trim() || user;
  localStorage.setItem("live.user", user);
  state.loadHistory.clear();
  connect();
});

$("open-form").addEventListener("submit", (e) => {
  e.preventDefault();
  send("api/accounts", { accountId: fields(e.target).accountId, owner: user, reference: reference() });
});

$("move-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const f = fields(e.target), op = e.submitter?.value ?? "deposits";
  send(`api/accounts/${encodeURIComponent(f.accountId)}/${op}`, { amount: Number(f.amount), reference: reference() });
});

$("transfer-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const f = fields(e.target);
  send("api/transfers", { fromAccountId: f.fromAccountId, toAccountId: f.toAccountId, amount: Number(f.amount), reference: reference() });
});

$("job-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const f = fields(e.target);
  send("api/jobs", { instance: f.instance, name: f.name || f.instance, owner: user, budgetMs: Number(f.budgetMs), parallelism: Number(f.parallelism) });
});

connect();
