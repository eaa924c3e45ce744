// Shared by every page: the header, the API (an error becomes the one-line banner), and elements built
// from data. Every value from the store or the user's code goes in as text (append/textContent), never as HTML.
"use strict";

const lp = (() => {
  // An element with attributes and children; strings become text nodes.
  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs)) {
      if (value === undefined || value === null || value === false) continue;
      if (name === "class") node.className = value;
      else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
      else node.setAttribute(name, value === true ? "" : String(value));
    }
    for (const child of children.flat()) {
      if (child === undefined || child === null) continue;
      node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }

  function showError(message) {
    const banner = document.getElementById("error");
    banner.textContent = message;
    banner.hidden = !message;
  }

  class ApiError extends Error {}

  // GET (or send) a JSON API path; an answer with {"error": ...} throws its one line.
  async function api(path, options = {}) {
    const response = await fetch(path, options);
    let data;
    try {
      data = await response.json();
    } catch (exc) {
      throw new ApiError(`${path}: ${response.status} ${response.statusText}`);
    }
    if (!response.ok || data.error) throw new ApiError(data.error || `${path}: ${response.status}`);
    return data;
  }

  let config = null;
  async function settings() {
    config = config || (await api("/api/config"));
    return config;
  }

  // Start a run (only offered when the server allows it); resolves to its run id.
  async function launch(select, partition) {
    const body = JSON.stringify(partition ? { select, partition } : { select });
    const started = await api("/api/materialize", {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-Lakeplan": "1" },
      body,
    });
    return started.run_id;
  }

  const assetHref = (key, partition) =>
    "/assets/" + key.split("/").map(encodeURIComponent).join("/") +
    (partition ? "?partition=" + encodeURIComponent(partition) : "");
  const runHref = (runId) => "/runs/" + encodeURIComponent(runId);
  const short = (hash, n = 12) => (hash ? String(hash).slice(0, n) : "-");
  const seconds = (value) => (value === null || value === undefined ? "-" : `${Number(value).toFixed(2)}s`);
  const counts = (c) => Object.entries(c || {}).filter(([, n]) => n).map(([k, n]) => `${k} ${n}`).join(", ") || "-";
  const status = (word) => el("span", { class: "status " + String(word || "none").toLowerCase() }, word || "-");
  const value = (v) => (typeof v === "string" ? v : JSON.stringify(v));

  function table(headers, rows, attrs = {}) {
    return el(
      "table",
      attrs,
      el("thead", {}, el("tr", {}, headers.map((h) => el("th", {}, h)))),
      el("tbody", {}, rows.map((row) => (row instanceof Node ? row : el("tr", {}, row.map((c) => el("td", {}, c)))))),
    );
  }

  function section(title, ...children) {
    return el("section", {}, el("h2", {}, title), ...children);
  }

  // The header every page shares; ``active`` names this page's link.
  function header(active) {
    const nav = document.getElementById("nav");
    const links = [["/", "Graph"], ["/assets", "Assets"], ["/runs", "Runs"]];
    nav.replaceChildren(
      el("a", { href: "/", class: "brand" }, "lakeplan"),
      ...links.map(([href, text]) => el("a", { href, class: text === active ? "active" : "" }, text)),
    );
  }

  // Run a page's drawing; an API error is shown as the one-line banner instead.
  async function page(active, draw) {
    header(active);
    try {
      await draw();
    } catch (exc) {
      if (!(exc instanceof ApiError)) throw exc;
      showError(exc.message);
    }
  }

  return { el, api, settings, launch, assetHref, runHref, short, seconds, counts, status, value, table, section, page, showError, ApiError };
})();
