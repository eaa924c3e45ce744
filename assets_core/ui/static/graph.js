// The asset graph page: /api/graph laid out in layers (left to right, a barycentre pass against
// crossings) and drawn on a canvas, culled to the view and with less detail when zoomed out, so 10k
// assets stay quick. Everything from the store is drawn with fillText or shown with textContent.
"use strict";

const ROW_H = 30, BOX_H = 22, COL_GAP = 60, CHAR_W = 7, PAD = 10;
const COLLAPSED_ABOVE = 2000;  // assets: a bigger graph opens with its groups collapsed (?groups=expanded opens all)
const EDGE = "#90a4ae", MATCH = "#6a1b9a", GROUP_BORDER = "#37474f";

const canvas = document.getElementById("canvas");
const stage = document.getElementById("stage");
const tooltip = document.getElementById("tooltip");
const statusLine = document.getElementById("status");
const searchBox = document.getElementById("search");
const matchList = document.getElementById("matches");
const groupList = document.getElementById("groups");

let data, colours, nodes = [], edges = [], layers = [];
let assetNode = [];  // asset index -> index of the node drawing it (itself, or its collapsed group)
const collapsed = new Set();
const view = { scale: 1, x: 0, y: 0 };
let matches = [], current = -1, pending = false;

// -- the graph drawn: one node per asset, or per collapsed group -----------------------------------

function build() {
  const assets = data.assets, index = new Map(assets.map((a, i) => [a.key, i]));
  const groupNode = new Map();
  nodes = [];
  assetNode = assets.map((asset, i) => {
    if (!collapsed.has(asset.group)) {
      nodes.push({ label: asset.key, asset: i, group: asset.group, state: asset.state, first: i });
      return nodes.length - 1;
    }
    let n = groupNode.get(asset.group);
    if (n === undefined) {
      n = nodes.push({ label: asset.group, asset: -1, group: asset.group, counts: {}, size: 0, first: i }) - 1;
      groupNode.set(asset.group, n);
    }
    const counts = nodes[n].counts;
    counts[asset.state] = (counts[asset.state] || 0) + 1;
    nodes[n].size += 1;
    return n;
  });
  const seen = new Set();
  edges = [];
  assets.forEach((asset, i) => {
    const to = assetNode[i];
    for (const dep of asset.deps) {
      if (!index.has(dep)) continue;
      const from = assetNode[index.get(dep)];
      const id = from * nodes.length + to;
      if (from !== to && !seen.has(id)) { seen.add(id); edges.push([from, to]); }
    }
  });
  layout();
}

// Columns by longest path (an edge against the assets' topological order, possible only between
// collapsed groups, is left out of it), then rows ordered by the mean row of each node's neighbours.
function layout() {
  const ups = nodes.map(() => []), downs = nodes.map(() => []);
  for (const [from, to] of edges) {
    if (nodes[from].first < nodes[to].first) { ups[to].push(from); downs[from].push(to); }
  }
  layers = [];
  nodes.forEach((node, n) => {  // nodes are in order of their first asset: upstreams come first
    node.layer = ups[n].reduce((most, u) => Math.max(most, nodes[u].layer + 1), 0);
    (layers[node.layer] ||= []).push(n);
  });
  for (const layer of layers) {
    layer.sort((a, b) => (nodes[a].group < nodes[b].group ? -1 : nodes[a].group > nodes[b].group ? 1 : a - b));
    layer.forEach((n, row) => { nodes[n].row = row; });
  }
  const sweep = (range, neighbours) => {
    for (const l of range) {
      const layer = layers[l];
      for (const n of layer) {
        const near = neighbours[n];
        nodes[n].weight = near.length ? near.reduce((sum, m) => sum + centred(m), 0) / near.length : centred(n);
      }
      layer.sort((a, b) => nodes[a].weight - nodes[b].weight);
      layer.forEach((n, row) => { nodes[n].row = row; });
    }
  };
  const down = layers.map((_, l) => l).slice(1), up = layers.map((_, l) => l).reverse().slice(1);
  for (let pass = 0; pass < 2; pass++) { sweep(down, ups); sweep(up, downs); }
  let x = PAD;
  for (const layer of layers) {
    const width = Math.max(...layer.map((n) => boxWidth(nodes[n])));
    for (const n of layer) {
      const node = nodes[n];
      node.x = x; node.w = width;
      node.y = (node.row - (layer.length - 1) / 2) * ROW_H - BOX_H / 2;
    }
    x += width + COL_GAP;
  }
}

function centred(n) {
  return nodes[n].row - (layers[nodes[n].layer].length - 1) / 2;
}

function boxWidth(node) {
  const text = node.asset >= 0 ? node.label : `${node.label} (${node.size})`;
  return Math.min(320, Math.max(60, text.length * CHAR_W + 2 * PAD));
}

function bounds() {
  let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
  for (const n of nodes) {
    x0 = Math.min(x0, n.x); y0 = Math.min(y0, n.y);
    x1 = Math.max(x1, n.x + n.w); y1 = Math.max(y1, n.y + BOX_H);
  }
  return nodes.length ? { x0, y0, x1, y1 } : { x0: 0, y0: 0, x1: 1, y1: 1 };
}

// -- drawing ---------------------------------------------------------------------------------------

function resize() {
  const ratio = window.devicePixelRatio || 1;
  canvas.width = Math.max(1, stage.clientWidth * ratio);
  canvas.height = Math.max(1, stage.clientHeight * ratio);
  canvas.style.width = stage.clientWidth + "px";
  canvas.style.height = stage.clientHeight + "px";
}

function redraw() {
  if (!pending) { pending = true; requestAnimationFrame(() => { pending = false; draw(); }); }
}

function draw() {
  const ratio = window.devicePixelRatio || 1, ctx = canvas.getContext("2d");
  const { scale, x: tx, y: ty } = view;
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  ctx.setTransform(ratio * scale, 0, 0, ratio * scale, ratio * tx, ratio * ty);
  const left = -tx / scale, top = -ty / scale;
  const right = left + stage.clientWidth / scale, bottom = top + stage.clientHeight / scale;
  const visible = (n) => n.x <= right && n.x + n.w >= left && n.y <= bottom && n.y + BOX_H >= top;
  const detailed = scale * BOX_H >= 10;

  ctx.strokeStyle = EDGE;
  ctx.lineWidth = 1 / scale;
  ctx.globalAlpha = detailed ? 1 : 0.5;
  ctx.beginPath();
  for (const [f, t] of edges) {
    const a = nodes[f], b = nodes[t];
    const sx = a.x + a.w, sy = a.y + BOX_H / 2, ex = b.x, ey = b.y + BOX_H / 2;
    if (Math.max(sx, ex) < left || Math.min(sx, ex) > right) continue;
    if (Math.max(sy, ey) < top || Math.min(sy, ey) > bottom) continue;
    ctx.moveTo(sx, sy);
    if (detailed) { const mid = (sx + ex) / 2; ctx.bezierCurveTo(mid, sy, mid, ey, ex, ey); } else ctx.lineTo(ex, ey);
  }
  ctx.stroke();
  ctx.globalAlpha = 1;

  const shown = nodes.filter(visible);
  for (const state of Object.keys(colours)) {  // one path per colour: a few fills, not one per node
    ctx.fillStyle = colours[state].fill;
    ctx.strokeStyle = colours[state].border;
    ctx.beginPath();
    for (const n of shown) if (n.asset >= 0 && n.state === state) ctx.rect(n.x, n.y, n.w, BOX_H);
    ctx.fill();
    if (detailed) ctx.stroke();
  }
  for (const n of shown) if (n.asset < 0) drawGroup(ctx, n, detailed);
  const marked = new Set(matches.map((i) => assetNode[i]));
  ctx.lineWidth = 3 / scale;
  ctx.strokeStyle = MATCH;
  for (const n of marked) {
    const node = nodes[n];
    if (visible(node)) ctx.strokeRect(node.x - 2 / scale, node.y - 2 / scale, node.w + 4 / scale, BOX_H + 4 / scale);
  }
  if (detailed) {
    ctx.fillStyle = "#212121";
    ctx.font = "12px system-ui, sans-serif";
    ctx.textBaseline = "middle";
    for (const n of shown) {
      const text = n.asset >= 0 ? n.label : `${n.label} (${n.size})`;
      ctx.fillText(text, n.x + PAD / 2, n.y + BOX_H / 2 - (n.asset < 0 ? 3 : 0), n.w - PAD);
    }
  }
}

// A collapsed group: a box whose bottom strip shows its members' states in proportion.
function drawGroup(ctx, n, detailed) {
  ctx.fillStyle = "#fafafa";
  ctx.fillRect(n.x, n.y, n.w, BOX_H);
  let x = n.x;
  for (const state of Object.keys(colours)) {
    const width = ((n.counts[state] || 0) / n.size) * n.w;
    ctx.fillStyle = colours[state].border;
    ctx.fillRect(x, n.y + BOX_H - 5, width, 5);
    x += width;
  }
  if (detailed) {
    ctx.lineWidth = 2 / view.scale;
    ctx.strokeStyle = GROUP_BORDER;
    ctx.strokeRect(n.x, n.y, n.w, BOX_H);
  }
}

// -- the view: fit, zoom, pan, centre ---------------------------------------------------------------

function fit() {
  const b = bounds(), w = stage.clientWidth, h = stage.clientHeight;
  view.scale = Math.min(2, (0.95 * w) / (b.x1 - b.x0), (0.95 * h) / (b.y1 - b.y0));
  view.x = (w - (b.x1 - b.x0) * view.scale) / 2 - b.x0 * view.scale;
  view.y = (h - (b.y1 - b.y0) * view.scale) / 2 - b.y0 * view.scale;
  redraw();
}

function zoom(factor, cx = stage.clientWidth / 2, cy = stage.clientHeight / 2) {
  const scale = Math.min(8, Math.max(0.005, view.scale * factor));
  view.x = cx - ((cx - view.x) * scale) / view.scale;
  view.y = cy - ((cy - view.y) * scale) / view.scale;
  view.scale = scale;
  redraw();
}

function centre(n) {
  const node = nodes[n];
  view.scale = Math.max(view.scale, 1);
  view.x = stage.clientWidth / 2 - (node.x + node.w / 2) * view.scale;
  view.y = stage.clientHeight / 2 - (node.y + BOX_H / 2) * view.scale;
  redraw();
}

function nodeAt(px, py) {
  const x = (px - view.x) / view.scale, y = (py - view.y) / view.scale;
  for (const layer of layers) {
    const first = nodes[layer[0]];
    if (x < first.x || x > first.x + first.w) continue;
    const row = Math.round((y + BOX_H / 2) / ROW_H + (layer.length - 1) / 2);
    const n = layer[row];
    return n !== undefined && y >= nodes[n].y && y <= nodes[n].y + BOX_H ? n : -1;
  }
  return -1;
}

// -- what a node says: tooltip, search, groups ------------------------------------------------------

function describe(n) {
  const node = nodes[n];
  if (node.asset < 0) {
    const counts = Object.keys(colours).filter((s) => node.counts[s]).map((s) => `${node.counts[s]} ${s}`);
    return [`group ${node.label}: ${node.size} assets (click to expand)`, counts.join(" · ")];
  }
  const asset = data.assets[node.asset];
  return [`${asset.key}: ${asset.state}`, `group ${asset.group}`, asset.note, ...asset.causes].filter(Boolean);
}

function showTooltip(n, px, py) {
  tooltip.textContent = describe(n).join("\n");
  tooltip.hidden = false;
  tooltip.style.left = Math.max(0, Math.min(px + 14, stage.clientWidth - tooltip.offsetWidth - 4)) + "px";
  tooltip.style.top = (py + 14 + tooltip.offsetHeight > stage.clientHeight ? py - 10 - tooltip.offsetHeight : py + 14) + "px";
}

function search(query) {
  const wanted = query.trim().toLowerCase();
  matches = wanted ? data.assets.flatMap((a, i) => (a.key.toLowerCase().includes(wanted) ? [i] : [])) : [];
  current = -1;
  matchList.replaceChildren(
    ...matches.slice(0, 50).map((i) => {
      const item = document.createElement("li"), link = document.createElement("a");
      link.href = assetPage(data.assets[i].key);
      link.textContent = `${data.assets[i].key} (${data.assets[i].state})`;
      item.appendChild(link);
      return item;
    }),
  );
  statusLine.textContent = wanted ? `${matches.length} match${matches.length === 1 ? "" : "es"}` : "";
  if (matches.length) next(); else redraw();
}

function next() {
  if (!matches.length) return;
  current = (current + 1) % matches.length;
  centre(assetNode[matches[current]]);
  if (matches.length > 1) statusLine.textContent = `match ${current + 1} of ${matches.length}`;
}

function assetPage(key) {
  return "/assets/" + key.split("/").map(encodeURIComponent).join("/");
}

function toggle(group) {
  if (collapsed.has(group)) collapsed.delete(group); else collapsed.add(group);
  rebuild();
}

function rebuild() {
  build();
  listGroups();
  fit();
}

function listGroups() {
  const counts = new Map();
  for (const a of data.assets) counts.set(a.group, (counts.get(a.group) || 0) + 1);
  groupList.replaceChildren(
    ...[...counts.keys()].sort().map((group) => {
      const item = document.createElement("li"), button = document.createElement("button");
      button.type = "button";
      button.className = "group-toggle";
      button.setAttribute("aria-expanded", String(!collapsed.has(group)));
      button.textContent = `${collapsed.has(group) ? "▸" : "▾"} ${group} (${counts.get(group)})`;
      button.addEventListener("click", () => toggle(group));
      item.appendChild(button);
      return item;
    }),
  );
}

function legend() {
  const list = document.getElementById("legend");
  list.replaceChildren(
    ...Object.entries(colours).map(([state, { fill, border }]) => {
      const item = document.createElement("li"), swatch = document.createElement("span");
      swatch.className = "swatch";
      swatch.style.background = fill;
      swatch.style.borderColor = border;
      item.append(swatch, state);
      return item;
    }),
  );
}

// -- events ----------------------------------------------------------------------------------------

function listen() {
  let drag = null;
  canvas.addEventListener("pointerdown", (e) => {
    drag = { x: e.clientX, y: e.clientY, vx: view.x, vy: view.y, moved: false };
    canvas.setPointerCapture(e.pointerId);
  });
  canvas.addEventListener("pointermove", (e) => {
    const rect = canvas.getBoundingClientRect(), px = e.clientX - rect.left, py = e.clientY - rect.top;
    if (drag) {
      const dx = e.clientX - drag.x, dy = e.clientY - drag.y;
      drag.moved ||= Math.abs(dx) + Math.abs(dy) > 4;
      if (drag.moved) { view.x = drag.vx + dx; view.y = drag.vy + dy; tooltip.hidden = true; redraw(); return; }
    }
    const n = nodeAt(px, py);
    canvas.style.cursor = n >= 0 ? "pointer" : "grab";
    if (n >= 0) showTooltip(n, px, py); else tooltip.hidden = true;
  });
  canvas.addEventListener("pointerup", (e) => {
    const wasClick = drag && !drag.moved;
    drag = null;
    if (!wasClick) return;
    const rect = canvas.getBoundingClientRect(), n = nodeAt(e.clientX - rect.left, e.clientY - rect.top);
    if (n < 0) return;
    if (nodes[n].asset >= 0) window.location.href = assetPage(data.assets[nodes[n].asset].key);
    else toggle(nodes[n].group);
  });
  canvas.addEventListener("pointerleave", () => { tooltip.hidden = true; });
  canvas.addEventListener("wheel", (e) => {
    e.preventDefault();
    const rect = canvas.getBoundingClientRect();
    zoom(Math.exp(-e.deltaY / 500), e.clientX - rect.left, e.clientY - rect.top);
  }, { passive: false });
  document.getElementById("zoom-in").addEventListener("click", () => zoom(1.5));
  document.getElementById("zoom-out").addEventListener("click", () => zoom(1 / 1.5));
  document.getElementById("fit").addEventListener("click", fit);
  document.getElementById("collapse-all").addEventListener("click", () => {
    for (const a of data.assets) collapsed.add(a.group);
    rebuild();
  });
  document.getElementById("expand-all").addEventListener("click", () => { collapsed.clear(); rebuild(); });
  searchBox.addEventListener("input", () => search(searchBox.value));
  searchBox.addEventListener("keydown", (e) => { if (e.key === "Enter") { e.preventDefault(); next(); } });
  window.addEventListener("resize", () => { resize(); redraw(); });
}

// For tests and screenshots: where a drawn asset or collapsed group is on the page.
window.graphPage = {
  where(name) {
    const n = nodes.findIndex((node) => node.label === name);
    if (n < 0) return null;
    const rect = canvas.getBoundingClientRect(), node = nodes[n];
    return {
      x: rect.left + view.x + (node.x + node.w / 2) * view.scale,
      y: rect.top + view.y + (node.y + BOX_H / 2) * view.scale,
    };
  },
};

// Why there is no graph (the store unreachable, the project failing to load), in place of it.
function explain(text) {
  const message = document.getElementById("message");
  message.textContent = text;
  message.hidden = false;
  canvas.hidden = true;
}

(async () => {
  let response;
  try {
    response = await fetch("/api/graph");
    data = await response.json();
  } catch (error) {
    explain(`cannot reach the lakeplan ui server: ${error.message}`);
    return;
  }
  if (!response.ok) { explain(data.error || `cannot load the graph (HTTP ${response.status})`); return; }
  const fetched = performance.now();
  colours = data.states;
  const groups = new Set(data.assets.map((a) => a.group));
  const opening = new URLSearchParams(window.location.search).get("groups");
  if (opening === "collapsed" || (opening !== "expanded" && data.assets.length > COLLAPSED_ABOVE && groups.size > 1)) {
    for (const group of groups) collapsed.add(group);
  }
  document.getElementById("target").textContent = data.target;
  legend();
  listGroups();
  resize();
  build();
  const laidOut = performance.now();
  listen();
  fit();
  draw();
  document.body.dataset.fetchMs = fetched.toFixed(1);
  document.body.dataset.layoutMs = (laidOut - fetched).toFixed(1);
  document.body.dataset.painted = performance.now().toFixed(1);
  statusLine.textContent = `${data.assets.length} assets`;
})();
