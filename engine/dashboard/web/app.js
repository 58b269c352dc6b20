// hako dashboard: draws the apps the event stream describes. Everything
// from the server is set as text (never as HTML).
"use strict";
(function () {
  const base = document.querySelector('meta[name="base"]').content;
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const apps = new Map(); // name -> AppView
  const traffic = new Map(); // name -> TrafficView
  const explain = new Map(); // name -> Narrative
  const hcodes = new Map(); // name -> [event]
  let selected = location.hash.slice(1) || "";
  let stream = "";
  let logLines = [];
  let revealed = false;

  function el(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") e.className = v;
      else if (k === "text") e.textContent = v;
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else if (v !== undefined && v !== null && v !== false) e.setAttribute(k, v === true ? "" : v);
    }
    for (const k of kids) if (k) e.append(k);
    return e;
  }

  async function post(path, body) {
    const r = await fetch(base + path, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(body || {}),
    });
    if (!r.ok && r.status !== 204) {
      let msg = r.statusText;
      try { msg = (await r.json()).message; } catch (e) { /* not JSON */ }
      throw new Error(msg);
    }
    return r.status === 204 ? null : r.json();
  }

  function status(msg, bad) {
    const s = document.getElementById("action-status");
    s.textContent = msg;
    s.className = bad ? "error" : "";
  }

  function spark(values) {
    const w = 120, h = 24, max = Math.max(1, ...values);
    const pts = values.map((v, i) => `${(i * w / (values.length - 1)).toFixed(1)},${(h - v * h / max).toFixed(1)}`).join(" ");
    const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    svg.setAttribute("viewBox", `0 0 ${w} ${h}`);
    svg.setAttribute("class", "spark");
    svg.setAttribute("role", "img");
    svg.setAttribute("aria-label", "requests per second, last minute");
    const pl = document.createElementNS("http://www.w3.org/2000/svg", "polyline");
    pl.setAttribute("points", pts);
    svg.append(pl);
    return svg;
  }

  // diagram draws an app as the seeds do: the router in front of its
  // web dynos, workers beside, the release and slug they run, add-ons.
  function diagram(a) {
    const t = traffic.get(a.name);
    const router = el("div", { class: "router" }, el("strong", { text: "router" }),
      el("span", { class: "rps", text: t ? `${t.rps.toFixed(1)} req/s` : "idle" }));
    if (t) router.append(spark(t.spark));
    const types = new Map();
    for (const f of a.formation) types.set(f.type, []);
    for (const d of a.dynos) { if (!types.has(d.type)) types.set(d.type, []); types.get(d.type).push(d); }
    const procs = el("div", { class: "procs" });
    for (const [type, ds] of types) {
      const row = el("div", { class: "ptype " + (type === "web" ? "web" : "worker") }, el("span", { class: "plabel", text: type }));
      if (ds.length === 0) row.append(el("span", { class: "none", text: "scaled to 0" }));
      for (const d of ds) {
        const rps = t && t.dynos[d.name] ? ` ${t.dynos[d.name].toFixed(1)}/s` : "";
        row.append(el("span", { class: "dyno " + d.state + (d.staged ? " staged" : ""), "data-dyno": d.name, "data-state": d.state,
          "data-staged": d.staged ? "true" : null,
          title: `${d.name} ${d.state} on v${d.release}${d.staged ? ", not serving yet" : ""}`,
          text: `${d.name} ${d.state}${d.staged ? " (v" + d.release + ", new)" : ""}${rps}` }));
      }
      procs.append(row);
    }
    const slug = a.slug ? `slug ${a.slug.id.slice(0, 8)} (${kb(a.slug.size)}${a.slug.commit ? ", " + a.slug.commit.slice(0, 7) : ""})` : "no slug yet";
    const meta = el("div", { class: "meta" }, el("span", { class: "release", text: `v${a.release}` }), el("span", { text: slug }));
    for (const ad of a.addons) meta.append(el("span", { class: "addon", "data-addon": ad.name,
      text: `${ad.service} (${ad.as}${ad.app && ad.app !== a.name ? ", of ⬢ " + ad.app : ""})` }));
    if (a.maintenance) meta.append(el("span", { class: "maint", text: "maintenance" }));
    return el("div", { class: "flow" }, router, el("span", { class: "arrow", "aria-hidden": "true", text: "→" }), procs, meta);
  }

  function kb(n) { return n >= 1048576 ? (n / 1048576).toFixed(1) + " MB" : n >= 1024 ? (n / 1024).toFixed(1) + " KB" : n + " B"; }

  function drawOverview() {
    const groups = new Map();
    for (const a of [...apps.values()].sort((x, y) => x.name.localeCompare(y.name))) {
      if (!groups.has(a.owner)) groups.set(a.owner, []);
      groups.get(a.owner).push(a);
    }
    const root = document.getElementById("groups");
    root.replaceChildren();
    document.getElementById("no-apps").hidden = apps.size > 0;
    for (const owner of [...groups.keys()].sort()) {
      const g = el("section", { class: "group" }, el("h3", { text: owner }));
      for (const a of groups.get(owner)) {
        const card = el("article", { class: "card" + (a.name === selected ? " selected" : ""), "data-app": a.name },
          el("h4", {}, el("a", { href: "#" + a.name, text: a.name, onclick: (e) => { e.preventDefault(); select(a.name); } })),
          diagram(a));
        const ex = explain.get(a.name);
        if (ex && ex.steps.length) {
          const last = ex.steps[ex.steps.length - 1];
          card.append(el("p", { class: "laststep " + (ex.failed ? "error" : ""), text: last.text }));
        }
        g.append(card);
      }
      root.append(g);
    }
  }

  function drawDetail() {
    const sec = document.getElementById("detail");
    const a = apps.get(selected);
    if (!a) { sec.hidden = true; return; }
    sec.hidden = false;
    document.getElementById("detail-title").textContent = a.name;
    const d = document.getElementById("diagram");
    d.replaceChildren(diagram(a), el("p", {}, el("a", { href: a.url, text: a.url, rel: "noopener" })));
    drawTraffic(a);
    drawHcodes(a);
    drawFormation(a);
    drawReleases(a);
    drawConfig(a);
    drawExplain(a);
  }

  function drawTraffic(a) {
    const t = traffic.get(a.name);
    const box = document.getElementById("traffic");
    if (!t) { box.replaceChildren(el("p", { text: "No requests in the last minute." })); return; }
    const cls = Object.entries(t.classes).map(([k, v]) => `${k}: ${v}`).join(", ") || "none";
    const dl = el("dl", { class: "stats" },
      el("dt", { text: "Requests/s" }), el("dd", { id: "rps", text: t.rps.toFixed(1) }),
      el("dt", { text: "p50 / p95" }), el("dd", { text: `${t.p50_ms} ms / ${t.p95_ms} ms` }),
      el("dt", { text: "Status classes (5 s)" }), el("dd", { text: cls }));
    for (const [dy, r] of Object.entries(t.dynos).sort()) dl.append(el("dt", { text: dy }), el("dd", { text: r.toFixed(1) + " req/s" }));
    box.replaceChildren(spark(t.spark), dl);
  }

  function drawHcodes(a) {
    const ol = document.getElementById("hcodes");
    ol.replaceChildren(...(hcodes.get(a.name) || []).slice(-10).reverse().map((h) =>
      el("li", { class: "error", text: `${new Date(h.time).toLocaleTimeString()} ${h.code} ${h.desc} ${h.dyno || ""} (${h.status})` })));
  }

  function drawFormation(a) {
    const box = document.getElementById("formation");
    if (document.activeElement && box.contains(document.activeElement) && document.activeElement.dataset.dragging) return;
    box.replaceChildren();
    if (a.formation.length === 0) { box.append(el("p", { text: "Push code first: the Procfile declares the process types." })); return; }
    for (const f of a.formation) {
      const id = "scale-" + f.type;
      const out = el("output", { for: id, id: id + "-value", text: String(f.quantity) });
      const input = el("input", { type: "range", id, min: "0", max: "10", step: "1", value: String(f.quantity), "data-type": f.type });
      input.addEventListener("input", () => { out.textContent = input.value; input.dataset.dragging = "1"; });
      input.addEventListener("change", async () => {
        delete input.dataset.dragging;
        status(`Scaling ${f.type} to ${input.value}…`);
        try { await post(`/apps/${encodeURIComponent(a.name)}/scale`, { type: f.type, quantity: Number(input.value) }); status(`Scaled ${f.type} to ${input.value}.`); }
        catch (e) { status(e.message, true); }
      });
      box.append(el("div", { class: "slider" }, el("label", { for: id, text: `${f.type} dynos` }), input, out));
    }
    for (const dy of a.dynos) {
      box.append(el("button", { type: "button", class: "small", "data-restart": dy.name, text: `Restart ${dy.name}`,
        onclick: () => restart(a.name, dy.name) }));
    }
  }

  async function restart(app, dyno) {
    status(`Restarting ${dyno || "all dynos"}…`);
    try { await post(`/apps/${encodeURIComponent(app)}/restart`, { dyno }); status(`Restarted ${dyno || "all dynos"}.`); }
    catch (e) { status(e.message, true); }
  }

  function drawReleases(a) {
    const tb = document.querySelector("#releases tbody");
    tb.replaceChildren(...a.releases.map((r) => {
      const act = el("td");
      if (r.current) act.append(el("span", { class: "current", text: "current" }));
      else if (r.status === "succeeded" || r.status === "") act.append(el("button", { type: "button", class: "small", "data-rollback": String(r.version),
        "aria-label": `Roll back to v${r.version}`, text: "Roll back",
        onclick: async () => {
          status(`Rolling back to v${r.version}…`);
          try { const res = await post(`/apps/${encodeURIComponent(a.name)}/rollback`, { version: r.version }); status(`Rolled back: v${res.version} ${res.description}.`); }
          catch (e) { status(e.message, true); }
        } }));
      return el("tr", { "data-version": String(r.version), class: r.current ? "cur" : "" }, el("td", { text: "v" + r.version }), el("td", { text: r.description }),
        el("td", { text: r.user }), el("td", { text: r.status }), act);
    }));
  }

  async function drawConfig(a) {
    const dl = document.getElementById("config");
    const btn = document.getElementById("reveal-config");
    btn.setAttribute("aria-pressed", String(revealed));
    btn.textContent = revealed ? "Hide values" : "Show values";
    let values = null;
    if (revealed) {
      try {
        const r = await fetch(`${base}/apps/${encodeURIComponent(a.name)}/config`, { credentials: "same-origin", headers: { "X-CSRF-Token": csrf } });
        if (r.ok) values = await r.json();
      } catch (e) { /* shown hidden */ }
    }
    dl.replaceChildren();
    if (a.config_keys.length === 0) dl.append(el("dt", { text: "none" }));
    for (const k of a.config_keys) dl.append(el("dt", { text: k }), el("dd", { class: values ? "" : "hidden", text: values ? values[k] : "••••••" }));
  }

  function drawExplain(a) {
    const ol = document.getElementById("explain");
    const ex = explain.get(a.name);
    if (!ex || ex.steps.length === 0) { ol.replaceChildren(el("li", { text: "No deploy seen yet: git push to watch one here." })); return; }
    ol.replaceChildren(...ex.steps.map((s) => {
      const li = el("li", { class: "step step-" + s.step, "data-step": s.step },
        el("strong", { text: s.step }), " ", el("time", { datetime: s.time, text: new Date(s.time).toLocaleTimeString() }), " ", el("span", { text: s.text }));
      if (s.detail && s.detail.length) li.append(el("pre", { text: s.detail.join("\n") }));
      return li;
    }));
  }

  function drawLogs() {
    const src = document.getElementById("log-source").value;
    const dyno = document.getElementById("log-dyno").value;
    const pre = document.getElementById("logs");
    const shown = logLines.filter((l) => (!src || l.source === src) && (!dyno || l.proc === dyno));
    pre.textContent = shown.slice(-300).map((l) => `${l.time.slice(11, 23)} ${l.source}[${l.proc}]: ${l.text}`).join("\n");
    pre.scrollTop = pre.scrollHeight;
    const sel = document.getElementById("log-dyno");
    const procs = [...new Set(logLines.map((l) => l.proc))].sort();
    const have = [...sel.options].map((o) => o.value);
    for (const p of procs) if (!have.includes(p)) sel.append(el("option", { value: p, text: p }));
  }

  async function select(name) {
    selected = name;
    history.replaceState(null, "", "#" + name);
    logLines = [];
    revealed = false;
    drawOverview();
    drawDetail();
    drawLogs();
    if (stream) { try { await post("/focus", { stream, app: name }); } catch (e) { status(e.message, true); } }
  }

  document.getElementById("reveal-config").addEventListener("click", () => { revealed = !revealed; const a = apps.get(selected); if (a) drawConfig(a); });
  document.getElementById("restart-all").addEventListener("click", () => restart(selected, ""));
  document.getElementById("log-source").addEventListener("change", drawLogs);
  document.getElementById("log-dyno").addEventListener("change", drawLogs);

  let pending = false;
  function redraw() {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => { pending = false; drawOverview(); const a = apps.get(selected); if (a) { drawTraffic(a); drawHcodes(a); drawExplain(a); } });
  }

  const live = document.getElementById("live");
  const es = new EventSource(base + "/events");
  const on = (name, f) => es.addEventListener(name, (e) => f(JSON.parse(e.data)));
  on("hello", (d) => { stream = d.stream; });
  on("ready", () => { live.textContent = "live"; live.className = "ok"; drawOverview(); if (selected && apps.has(selected)) select(selected); });
  on("app", (a) => {
    const first = !apps.has(a.name);
    apps.set(a.name, a);
    redraw();
    if (a.name === selected) { drawDetail(); } else if (first && !selected && stream && apps.size === 1) select(a.name);
  });
  on("gone", (d) => { apps.delete(d.app); traffic.delete(d.app); if (d.app === selected) { selected = ""; drawDetail(); } redraw(); });
  on("traffic", (t) => { traffic.set(t.app, t); redraw(); });
  on("hcode", (h) => { const l = hcodes.get(h.app) || []; l.push(h); hcodes.set(h.app, l.slice(-50)); redraw(); });
  on("explain", (n) => { explain.set(n.app, n); redraw(); });
  on("logs", (b) => { if (b.app === selected) { logLines = b.lines || []; drawLogs(); } });
  on("log", (l) => { if (l.app === selected) { logLines.push(l); if (logLines.length > 1000) logLines = logLines.slice(-500); drawLogs(); } });
  es.onerror = () => { live.textContent = "reconnecting…"; live.className = "error"; };
})();
