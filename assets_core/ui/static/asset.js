// The asset pages: /assets lists every asset with its status; /assets/KEY shows one asset: status and
// why, versions, what the code version is made of, history with metadata and checks, a diff of any two
// versions, logs and tracebacks, lineage both ways, partitions.
"use strict";

if (/^\/assets(\/|$)/.test(location.pathname)) {
  const { el } = lp;
  const main = document.getElementById("main");

  function assetList(data) {
    const search = el("input", { type: "search", placeholder: "search assets", id: "search", "aria-label": "search assets" });
    const rows = data.assets.map((a) =>
      el(
        "tr",
        { "data-key": a.key },
        el("td", {}, a.kind === "asset" ? el("a", { href: lp.assetHref(a.key) }, a.key) : a.key),
        el("td", {}, a.kind),
        el("td", {}, a.group),
        el("td", {}, lp.status(a.status)),
        el("td", {}, a.partitions || ""),
        el("td", { class: "why" }, a.causes.map((c) => el("div", {}, c.message || `${c.kind}: ${c.reason}`))),
      ),
    );
    search.addEventListener("input", () => {
      const wanted = search.value.toLowerCase();
      for (const row of rows) row.hidden = !row.dataset.key.toLowerCase().includes(wanted);
    });
    main.replaceChildren(
      el("h1", {}, "Assets"),
      search,
      lp.table(["ASSET", "KIND", "GROUP", "STATUS", "PARTITIONS", "WHY"], rows, { id: "assets" }),
    );
  }

  function lineageTree(node) {
    const mat = node.materialization;
    const what = mat ? `${mat.kind} #${mat.id} in run ` : node.removed ? "removed" : "source or unrecorded";
    return el(
      "li",
      {},
      el("a", { href: lp.assetHref(node.asset.split("/partition=")[0]) }, node.asset),
      " ",
      el("code", {}, lp.short(node.data_version)),
      " (",
      what,
      mat ? el("a", { href: lp.runHref(mat.run_id) }, mat.run_id) : "",
      ")",
      node.children.length ? el("ul", {}, node.children.map(lineageTree)) : "",
    );
  }

  function diffLines(diff) {
    const lines = [];
    const change = (name, c) => c && lines.push(`${name}: ${lp.value(c.old)} -> ${lp.value(c.new)}`);
    change("code version", diff.code_version);
    for (const [name, how] of Object.entries(diff.functions)) lines.push(`  ${name} ${how}`);
    for (const [name, c] of Object.entries(diff.inputs)) change(`input ${name}`, c);
    change("data version", diff.data_version);
    change("rows", diff.metadata.rows);
    for (const [name, type] of Object.entries(diff.metadata.columns_added)) lines.push(`column added: ${name} (${type})`);
    for (const [name, type] of Object.entries(diff.metadata.columns_removed)) lines.push(`column removed: ${name} (${type})`);
    for (const group of ["columns_retyped", "metrics", "other"])
      for (const [name, c] of Object.entries(diff.metadata[group])) change(name, c);
    for (const [name, [a, b]] of Object.entries(diff.checks)) lines.push(`check ${name}: ${a || "-"} -> ${b || "-"}`);
    return lines.length ? lines : ["no changes"];
  }

  function history(found, partition) {
    const mats = found.history.materializations;
    const output = el("pre", { id: "diff", hidden: true });
    const picked = { a: null, b: null };
    const compare = el("button", { type: "button", id: "compare", disabled: true }, "Compare A and B");
    compare.addEventListener("click", async () => {
      const query = new URLSearchParams({ from: picked.a, to: picked.b });
      if (partition) query.set("partition", partition);
      const diff = await lp.api(`/api/assets/${found.asset}/diff?${query}`);
      output.textContent = diffLines(diff).join("\n");
      output.hidden = false;
    });
    const pick = (side, id) =>
      el("input", {
        type: "radio",
        name: side,
        value: id,
        "aria-label": `${side.toUpperCase()}: #${id}`,
        onchange: () => {
          picked[side] = id;
          compare.disabled = !(picked.a && picked.b);
        },
      });
    const rows = mats.map((m) => {
      const details = [];
      if (m.traceback) details.push(el("details", {}, el("summary", {}, "traceback"), el("pre", {}, m.traceback)));
      if (m.printed) {
        const log = el("pre", { class: "log", hidden: true });
        const show = el("button", { type: "button", class: "show-log" }, "output");
        show.addEventListener("click", async () => {
          const query = new URLSearchParams({ run: m.run_id });
          if (partition) query.set("partition", partition);
          const logs = await lp.api(`/api/assets/${found.asset}/logs?${query}`);
          log.textContent = logs.attempts.map((a) => a.log ?? "(no output kept)").join("\n");
          log.hidden = false;
        });
        details.push(show, log);
      }
      const ok = m.kind !== "failed" && m.data_version;
      return el(
        "tr",
        { class: m.kind, "data-id": m.id },
        el("td", {}, ok ? pick("a", m.id) : "", ok ? pick("b", m.id) : ""),
        el("td", {}, (m.id === found.history.head ? "*" : "") + m.id),
        el("td", {}, m.finished_at),
        el("td", {}, lp.status(m.kind)),
        el("td", {}, el("a", { href: lp.runHref(m.run_id) }, m.run_id)),
        el("td", {}, lp.seconds(m.seconds)),
        el("td", {}, el("code", {}, lp.short(m.code_version))),
        el("td", {}, el("code", {}, lp.short(m.data_version))),
        el("td", { class: "metadata" }, Object.entries(m.metadata).map(([k, v]) => el("div", {}, `${k}=${lp.value(v)}`))),
        el("td", {}, m.checks.map((c) => el("div", { class: c.passed ? "passed" : "failed" }, `${c.check}: ${c.passed ? "passed" : c.error || "failed"}`))),
        el("td", {}, m.error || "", details),
      );
    });
    return lp.section(
      "History",
      lp.table(["A B", "ID", "WHEN", "KIND", "RUN", "TOOK", "CODE", "DATA", "METADATA", "CHECKS", "ERROR"], rows, { id: "history" }),
      compare,
      output,
    );
  }

  async function assetPage(key, partition) {
    const query = partition ? `?partition=${encodeURIComponent(partition)}` : "";
    const [found, config] = await Promise.all([lp.api(`/api/assets/${key}${query}`), lp.settings()]);
    document.title = `lakeplan: ${found.key}`;
    const parts = [el("h1", {}, found.key)];
    if (found.history && found.history.removed) parts.push(el("p", { class: "note" }, "removed: today's code no longer declares it"));
    const status = found.status;
    if (status) {
      parts.push(
        el("p", { id: "status" }, lp.status(status.status), " ", status.causes.length ? "" : "up to date"),
        el("ul", { class: "why" }, status.causes.map((c) => el("li", {}, `${c.kind}: ${c.message}`))),
      );
    }
    if (config.allow_launch && found.definition) {
      const button = el("button", { type: "button", id: "launch" }, "Materialize");
      button.addEventListener("click", async () => {
        button.disabled = true;
        try {
          location.href = lp.runHref(await lp.launch(found.asset, partition));
        } catch (exc) {
          lp.showError(exc.message);
          button.disabled = false;
        }
      });
      parts.push(button);
    }
    const def = found.definition;
    const head = found.history && found.history.materializations.find((m) => m.id === found.history.head);
    parts.push(
      lp.section(
        "Versions",
        lp.table(
          ["", ""],
          [
            ["code version", el("code", { id: "code-version" }, found.code ? found.code.code_version : "-")],
            ["data version", el("code", { id: "data-version" }, head ? head.data_version : found.history ? "never built" : "per partition")],
            ["group", def ? def.group : "-"],
            ["upstream", def ? def.upstream.join(", ") || "-" : "-"],
            ["description", def ? def.description : ""],
            ["declared metadata", Object.entries(def ? def.metadata : {}).map(([k, v]) => el("div", {}, `${k}=${lp.value(v)}`))],
          ],
          { class: "facts" },
        ),
      ),
    );
    if (found.code) {
      const code = found.code;
      parts.push(
        lp.section(
          "What the code version is made of",
          code.explicit
            ? el("p", {}, "declared with code_version= (no code is hashed)")
            : lp.table(
                ["PART", "KIND", "HASH", "NOTE"],
                code.parts.map((p) => [p.name, p.kind, el("code", {}, lp.short(p.hash)), p.reason ? `conservative: ${p.reason}` : ""]),
                { id: "code-parts" },
              ),
          el("p", {}, code.timeout_seconds ? `each attempt may run ${code.timeout_seconds}s` : "no time limit"),
        ),
      );
    }
    if (found.partitions && found.partitions.partitioned) {
      const p = found.partitions;
      parts.push(
        lp.section(
          "Partitions",
          el("p", { id: "partitions" }, `${p.stale} of ${p.planned} partitions stale`, p.stale_ranges.length ? `: ${p.stale_ranges.join(", ")}` : ""),
          el("ul", {}, p.causes.map((c) => el("li", {}, `${c.kind}: ${c.reason} (${c.partitions})`))),
        ),
      );
    }
    if (found.partition_statuses) {
      parts.push(
        lp.section(
          "Each partition",
          el(
            "ul",
            { id: "partition-list" },
            found.partition_statuses.map((p) => el("li", {}, el("a", { href: lp.assetHref(found.asset, p.partition) }, p.partition), " ", lp.status(p.status))),
          ),
        ),
      );
    }
    if (found.history) parts.push(history(found, partition));
    if (found.lineage) {
      parts.push(
        lp.section(
          "Lineage",
          el("p", { class: "note" }, `${found.lineage.depth} levels each way; 'lakeplan lineage ${found.key}' shows all`),
          el("h3", {}, "built from"),
          el("ul", { class: "tree", id: "upstream" }, lineageTree(found.lineage.upstream)),
          el("h3", {}, "built from it"),
          el("ul", { class: "tree", id: "downstream" }, lineageTree(found.lineage.downstream)),
        ),
      );
    }
    main.replaceChildren(...parts);
  }

  lp.page("Assets", async () => {
    const key = decodeURIComponent(location.pathname.replace(/^\/assets\/?/, ""));
    if (!key) return assetList(await lp.api("/api/assets"));
    return assetPage(key, new URLSearchParams(location.search).get("partition"));
  });
}
