// Squall dashboard: draws /api/clusters/NAME, follows its event stream, sends changes.
// Plain JS, no build step. The token arrives once in the URL (?token=...), is kept in
// sessionStorage and removed from the address bar; changes send it as a Bearer header.
"use strict";

const COLORS = ["#2d6cdf", "#1b998b", "#8a5cc2", "#c2410c", "#0e7490", "#a16207", "#be185d"];
const SVGNS = "http://www.w3.org/2000/svg";
const W = 720, H = 470;
const $ = (id) => document.getElementById(id);

const params = new URLSearchParams(location.search);
if (params.get("token")) {
  sessionStorage.setItem("squall-token", params.get("token"));
  params.delete("token");
  const rest = params.toString();
  history.replaceState(null, "", location.pathname + (rest ? "?" + rest : ""));
}
const token = sessionStorage.getItem("squall-token") || "";
let cluster = null;      // name
let overview = null;     // last GET /api/clusters/NAME
let streamOpen = false;
let pollTimer = null;
window.squallPageId = Math.random().toString(36).slice(2);  // tests: same page, no reload

function say(text, isError) {
  const m = $("message");
  m.textContent = text;
  m.className = isError ? "error" : "";
}

async function call(method, path, body) {
  const headers = { Authorization: "Bearer " + token };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (e) { data = { error: text }; }
  if (!response.ok) throw new Error((data && data.error) || response.status + " " + text);
  return data;
}

async function change(method, path, body) {
  try {
    const done = await call(method, "/api/clusters/" + cluster + path, body);
    say(done && done.message ? done.message : "done", false);
  } catch (e) {
    say(e.message, true);
  }
  await refresh();
}

// ---- drawing ---------------------------------------------------------------------

function el(name, attrs, text) {
  const node = document.createElementNS(SVGNS, name);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

function hull(points) {  // convex hull (monotone chain); fine for a handful of points
  const p = points.slice().sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  if (p.length < 3) return p;
  const cross = (o, a, b) => (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]);
  const lower = [], upper = [];
  for (const q of p) {
    while (lower.length >= 2 && cross(lower[lower.length - 2], lower[lower.length - 1], q) <= 0) lower.pop();
    lower.push(q);
  }
  for (const q of p.slice().reverse()) {
    while (upper.length >= 2 && cross(upper[upper.length - 2], upper[upper.length - 1], q) <= 0) upper.pop();
    upper.push(q);
  }
  return lower.slice(0, -1).concat(upper.slice(0, -1));
}

function layout(services, networksOf) {
  const order = services.slice().sort((a, b) =>
    (networksOf[a][0] || "").localeCompare(networksOf[b][0] || "") || a.localeCompare(b));
  const pos = {};
  const n = order.length;
  const r = Math.min(W, H) / 2 - 95;
  order.forEach((name, i) => {
    const angle = -Math.PI / 2 + (2 * Math.PI * i) / Math.max(n, 1);
    pos[name] = n === 1 ? [W / 2, H / 2 - 10] : [W / 2 + r * 1.35 * Math.cos(angle), H / 2 - 10 + r * Math.sin(angle)];
  });
  return pos;
}

function draw(data) {
  const svg = $("topology");
  svg.replaceChildren();
  const status = data.status;
  const services = status.services.map((s) => s.service);
  const networksOf = {};
  for (const s of status.services) networksOf[s.service] = s.addresses.map((a) => a.network).sort();
  const networks = data.networks.map((n) => n.name);
  for (const s of services) for (const n of networksOf[s]) if (!networks.includes(n)) networks.push(n);
  const pos = layout(services, networksOf);

  // networks: translucent rounded hulls around their members
  const legend = $("legend");
  legend.replaceChildren();
  networks.forEach((net, i) => {
    const color = COLORS[i % COLORS.length];
    const members = services.filter((s) => networksOf[s].includes(net));
    const item = document.createElement("span");
    item.innerHTML = `<i style="background:${color}"></i>`;
    item.append(`${net} (${members.length})`);
    legend.append(item);
    if (!members.length) return;
    const pts = hull(members.map((s) => pos[s]));
    const width = Math.max(30, 96 - 22 * i);
    const d = "M" + pts.map((p) => p.join(",")).join("L") + (pts.length > 2 ? "Z" : "");
    svg.append(el("path", {
      d: pts.length === 1 ? `M${pts[0][0]},${pts[0][1]}l0.1,0` : d,
      fill: color, "fill-opacity": 0.10, stroke: color, "stroke-opacity": 0.22,
      "stroke-width": width, "stroke-linejoin": "round", "stroke-linecap": "round",
      class: "network", "data-network": net,
    }));
    // the label sits outside the group, away from the picture's centre
    const cx = members.reduce((t, s) => t + pos[s][0], 0) / members.length;
    const cy = members.reduce((t, s) => t + pos[s][1], 0) / members.length;
    let dx = cx - W / 2, dy = cy - (H / 2 - 10);
    const len = Math.hypot(dx, dy);
    if (len < 1) { dx = 0; dy = -1; } else { dx /= len; dy /= len; }
    const reach = members.length === 1 ? 50 : width / 2 + 14;
    svg.append(el("text", { x: cx + dx * reach, y: cy + dy * reach + 4, fill: color,
      "text-anchor": "middle", class: "net-label" }, net));
  });

  // links: every pair that shares a network, drawn cut where a partition separates it
  // (services with no network in common have no link to cut)
  const cuts = {};
  for (const [src, dst, oneWay] of status.partition.cuts) cuts[src + ">" + dst] = oneWay;
  const shapesTo = {};
  for (const [svc, views] of Object.entries(data.shapes)) {
    for (const v of views) for (const peer of v.to_services) {
      (shapesTo[svc + ">" + peer] = shapesTo[svc + ">" + peer] || []).push(v.description);
    }
  }
  for (let i = 0; i < services.length; i++) {
    for (let j = i + 1; j < services.length; j++) {
      const a = services[i], b = services[j];
      const shared = networksOf[a].some((n) => networksOf[b].includes(n));
      const ab = (a + ">" + b) in cuts, ba = (b + ">" + a) in cuts;
      const [x1, y1] = pos[a], [x2, y2] = pos[b];
      if (shared && (ab || ba)) {
        const pair = ab && ba ? `${a}|${b}` : ab ? `${a}>${b}` : `${b}>${a}`;
        svg.append(el("line", { x1, y1, x2, y2, class: "cut", "data-pair": pair }));
        const mx = (x1 + x2) / 2, my = (y1 + y2) / 2;
        const mark = ab && ba ? "✕" : ab ? `${a} ⇸ ${b}` : `${b} ⇸ ${a}`;
        svg.append(el("text", { x: mx, y: my + 6, "text-anchor": "middle", class: "cut-mark" }, mark));
      } else if (shared) {
        svg.append(el("line", { x1, y1, x2, y2, class: "link", "data-pair": `${a}|${b}` }));
      }
      for (const [src, dst] of [[a, b], [b, a]]) {
        const labels = shapesTo[src + ">" + dst];
        if (!labels) continue;
        const [sx, sy] = pos[src], [dx, dy] = pos[dst];
        svg.append(el("line", { x1: sx, y1: sy, x2: sx + (dx - sx) * 0.45, y2: sy + (dy - sy) * 0.45,
          class: "shaped-link", "data-pair": `${src}>${dst}` }));
        svg.append(el("text", { x: sx + (dx - sx) * 0.3, y: sy + (dy - sy) * 0.3 - 8,
          "text-anchor": "middle", class: "link-label" }, labels.join("; ")));
      }
    }
  }

  // services
  for (const s of status.services) {
    const [x, y] = pos[s.service];
    const own = (data.shapes[s.service] || []).filter((v) => !v.to_services.length);
    const fill = { running: "#2d6cdf", paused: "#a16207", missing: "#ffffff" }[s.state] || "#6b7385";
    const g = el("g", { class: "service", "data-service": s.service, "data-state": s.state });
    g.append(el("circle", { cx: x, cy: y, r: 27, fill,
      stroke: own.length ? "var(--shape)" : "#1d2330", "stroke-width": own.length ? 5 : 1.5,
      "stroke-dasharray": s.state === "missing" ? "4 3" : "" }));
    g.append(el("text", { x, y: y + 5, "text-anchor": "middle", class: "node-name",
      fill: s.state === "missing" ? "#1d2330" : "#fff" }, s.service));
    let line = y + 44;
    const role = data.holy.includes(s.service) ? "holy" : data.neutral.includes(s.service) ? "neutral" : "";
    const info = [s.state !== "running" ? s.state : "", role].filter(Boolean).join(" · ");
    if (info) { g.append(el("text", { x, y: line, "text-anchor": "middle", class: "node-role" }, info)); line += 14; }
    for (const v of own) {
      g.append(el("text", { x, y: line, "text-anchor": "middle", class: "node-shape" }, v.description));
      line += 13;
    }
    const drift = s.faults.drift || [];
    if (drift.length) g.append(el("text", { x, y: line, "text-anchor": "middle", class: "cut-mark",
      "font-size": 11 }, "drift: " + drift.length));
    svg.append(g);
  }

  const p = status.partition;
  $("partition-text").textContent = !p.cuts.length ? "no partition: every service reaches every other"
    : p.groups.length ? `partition (${p.kind}): ` + p.groups.map((g) => g.join(",")).join(" | ")
    : `partition (${p.kind}): ` + p.cuts.map((c) => `${c[0]}⇸${c[1]}`).join(", ");
}

function drawPicks(data) {
  const box = $("service-picks");
  const names = data.status.services.map((s) => s.service);
  const have = [...box.querySelectorAll("input")].map((i) => i.value);
  if (have.join() === names.join()) return;
  box.replaceChildren();
  for (const name of names) {
    const label = document.createElement("label");
    const input = document.createElement("input");
    input.type = "checkbox";
    input.value = name;
    label.append(input, " " + name);
    box.append(label);
  }
}

function picked() {
  return [...$("service-picks").querySelectorAll("input:checked")].map((i) => i.value);
}

// ---- events ----------------------------------------------------------------------

function addEvent(ev) {
  const li = document.createElement("li");
  const when = (ev.time || "").slice(11, 19);
  const who = document.createElement("span");
  who.className = "who who-" + ev.who;
  who.textContent = ev.who;
  const what = [ev.what, (ev.targets || []).join(",")].filter(Boolean).join(" ");
  li.append(when + " ", who, " " + what);
  if (ev.result !== "ok") {
    const err = document.createElement("span");
    err.className = "err";
    err.textContent = "  ✗ " + (ev.error || "failed");
    li.append(err);
  }
  const list = $("events");
  list.prepend(li);
  while (list.children.length > 200) list.lastChild.remove();
}

async function follow() {
  const page = await call("GET", `/api/clusters/${cluster}/events?limit=50`);
  page.events.forEach(addEvent);
  let since = page.offset;
  const connect = () => {
    const url = `/api/clusters/${cluster}/events/stream?since=${since}&token=${encodeURIComponent(token)}`;
    const source = new EventSource(url);
    source.addEventListener("hello", () => { streamOpen = true; setLive(); });
    source.onmessage = (m) => {
      if (m.lastEventId) since = Number(m.lastEventId);
      addEvent(JSON.parse(m.data));
      refresh();
    };
    source.onerror = () => { streamOpen = false; setLive(); };
  };
  connect();
}

function setLive() {
  const badge = $("live");
  badge.textContent = streamOpen ? "live" : "polling";
  badge.className = "badge " + (streamOpen ? "live" : "polling");
  clearInterval(pollTimer);
  pollTimer = setInterval(refresh, streamOpen ? 3000 : 1000);
}

// ---- probe and chaos (shown when this server answers them) -----------------------

function drawProbe(report) {
  const box = $("heatmap");
  if (!report || !report.pairs) { box.textContent = "no probe yet"; return; }
  const names = report.services;
  const table = document.createElement("table");
  table.className = "heat";
  const head = table.insertRow();
  head.append(Object.assign(document.createElement("th"), { textContent: "from \\ to" }));
  for (const n of names) head.append(Object.assign(document.createElement("th"), { textContent: n }));
  for (const src of names) {
    const row = table.insertRow();
    row.append(Object.assign(document.createElement("th"), { textContent: src }));
    for (const dst of names) {
      const cell = row.insertCell();
      const found = report.pairs.filter((p) => p.src === src && p.dst === dst);
      if (src === dst || !found.length) { cell.textContent = src === dst ? "" : "-"; continue; }
      const p = found[0];
      const loss = p.loss, rtt = p.rtt_p50_ms;
      cell.textContent = loss >= 1 ? "✕ cut" : `${rtt === null ? "?" : rtt.toFixed(1)} ms` + (loss > 0 ? ` ${(loss * 100).toFixed(0)}%` : "");
      const heat = loss >= 1 ? 1 : Math.min(1, (rtt || 0) / 200 + loss);
      cell.style.background = `hsl(${120 - 120 * heat}, 70%, ${loss >= 1 ? 55 : 80}%)`;
    }
  }
  box.replaceChildren(table);
}

async function refreshExtras(data) {
  $("probe").hidden = !data.features.probe;
  $("chaos-controls").hidden = !data.features.chaos;
  if (data.features.probe) {
    try { drawProbe(await call("GET", `/api/clusters/${cluster}/probe`)); } catch (e) { drawProbe(null); }
  }
  if (data.features.chaos) {
    try {
      const c = await call("GET", `/api/clusters/${cluster}/chaos`);
      $("chaos-state").textContent = c.running ? `running (pid ${c.pid})` : "not running";
    } catch (e) { $("chaos-state").textContent = e.message; }
  }
}

// ---- refresh and controls --------------------------------------------------------

let refreshing = null;
async function refresh() {
  if (refreshing) return refreshing;
  refreshing = (async () => {
    try {
      overview = await call("GET", `/api/clusters/${cluster}`);
      draw(overview);
      drawPicks(overview);
      document.body.dataset.partition = JSON.stringify(overview.status.partition.cuts);
      refreshExtras(overview);
    } catch (e) {
      say(e.message, true);
    } finally {
      refreshing = null;
    }
  })();
  return refreshing;
}

function targets() {
  const services = picked();
  if (!services.length) { say("pick one or more services first", true); return null; }
  return { services };
}

function wire() {
  for (const b of document.querySelectorAll("[data-preset]")) {
    b.onclick = () => { const t = targets(); if (t) change("POST", "/presets/" + b.dataset.preset, t); };
  }
  $("btn-shape").onclick = () => {
    const t = targets();
    if (!t) return;
    const body = { ...t };
    for (const k of ["delay", "jitter", "loss", "rate"]) {
      const v = $("shape-" + k).value.trim();
      if (v) body[k] = v;
    }
    const to = $("shape-to").value.trim();
    if (to) body.to = to.split(",").map((s) => s.trim()).filter(Boolean);
    change("POST", "/shapes", body);
  };
  $("btn-partition").onclick = () => {
    const text = $("partition-groups").value.trim();
    const groups = text.split(/\s+/).filter(Boolean).map((g) => g.split(",").filter(Boolean));
    change("PUT", "/partition", { groups });
  };
  $("btn-random").onclick = () => change("PUT", "/partition", { random: true });
  $("btn-join").onclick = () => change("DELETE", "/partition");
  $("btn-probe").onclick = () => change("POST", "/probe", {});
  $("btn-chaos-start").onclick = () => {
    const body = { duration: $("chaos-duration").value.trim() || "5m" };
    const seed = $("chaos-seed").value.trim();
    if (seed) body.seed = Number(seed);
    change("POST", "/chaos", body);
  };
  $("btn-chaos-stop").onclick = () => change("DELETE", "/chaos");
}

async function main() {
  wire();
  try {
    const list = await call("GET", "/api/clusters");
    cluster = list.clusters[0].name;
  } catch (e) {
    say(e.message, true);
    return;
  }
  $("cluster-name").textContent = cluster;
  document.title = "Squall · " + cluster;
  await refresh();
  setLive();
  follow().catch((e) => say(e.message, true));
}

main();
