// The runs pages: /runs lists the recorded runs (and starts one when the server allows it); /runs/ID shows
// one run: live while it runs (server-sent events), each asset's outcome and duration, the environment
// it captured, and what changed since the run before it.
"use strict";

if (/^\/runs(\/|$)/.test(location.pathname)) {
  const { el } = lp;
  const main = document.getElementById("main");

  function took(run) {
    if (!run.finished_at) return "-";
    return `${(Date.parse(run.finished_at.replace(" ", "T")) - Date.parse(run.started_at.replace(" ", "T"))) / 1000}s`;
  }

  function launchForm() {
    const select = el("input", { type: "text", id: "launch-select", placeholder: "selection, e.g. orders+ or *", "aria-label": "selection" });
    const button = el("button", { type: "submit", id: "launch" }, "Materialize");
    return el(
      "form",
      {
        class: "launch",
        onsubmit: async (event) => {
          event.preventDefault();
          button.disabled = true;
          try {
            location.href = lp.runHref(await lp.launch(select.value.trim() || "*"));
          } catch (exc) {
            lp.showError(exc.message);
            button.disabled = false;
          }
        },
      },
      select,
      button,
    );
  }

  async function runList() {
    const [data, config] = await Promise.all([lp.api("/api/runs"), lp.settings()]);
    const rows = data.runs.map((r) => {
      const git = (r.environment && r.environment.git) || {};
      return [
        el("a", { href: lp.runHref(r.run_id) }, r.run_id),
        r.started_at,
        lp.status(r.status),
        took(r),
        git.commit ? lp.short(git.commit, 8) + (git.dirty ? "+dirty" : "") : "-",
        r.selection,
        lp.counts(r.counts),
      ];
    });
    main.replaceChildren(
      el("h1", {}, "Runs"),
      config.allow_launch ? launchForm() : "",
      data.runs.length
        ? lp.table(["RUN", "STARTED", "STATUS", "TOOK", "COMMIT", "SELECTION", "COUNTS"], rows, { id: "runs" })
        : el("p", {}, "no runs recorded yet"),
    );
  }

  function outcomes(run) {
    const rows = run.materializations.map((m) => [
      el("a", { href: lp.assetHref(m.asset.split("/partition=")[0], m.asset.split("/partition=")[1]) }, m.asset),
      lp.status(m.kind),
      lp.seconds(m.seconds),
      el("code", {}, lp.short(m.data_version)),
      el("span", {}, m.error || "", m.traceback ? el("details", {}, el("summary", {}, "traceback"), el("pre", {}, m.traceback)) : ""),
    ]);
    for (const key of run.building || []) rows.push([key, lp.status("building"), "", "", ""]);
    return rows.length
      ? lp.table(["ASSET", "OUTCOME", "TOOK", "DATA", "ERROR"], rows, { id: "outcomes" })
      : el("p", { id: "outcomes" }, "nothing recorded yet");
  }

  function summary(run) {
    return el(
      "div",
      { id: "summary" },
      el("p", {}, lp.status(run.status), ` started ${run.started_at}`, run.finished_at ? `, took ${took(run)}` : "", `, selection ${run.selection}`),
      el("p", {}, `counts: ${lp.counts(run.counts)}`),
      run.building_when_abandoned.length ? el("p", { class: "note" }, `its process died while building: ${run.building_when_abandoned.join(", ")}`) : "",
    );
  }

  function environment(env) {
    const git = env.git || {};
    const facts = [
      ["python", `${env.python || "-"} (${env.implementation || "-"})`],
      ["platform", env.platform || "-"],
      ["host", env.host || "-"],
      ["image", env.image || "-"],
      ["git", git.commit ? `${git.commit}${git.dirty ? " (dirty)" : ""}` : "-"],
    ];
    const packages = Object.entries(env.packages || {}).map(([name, version]) => [name, version]);
    return lp.section(
      "Environment",
      lp.table(["", ""], facts, { class: "facts", id: "environment" }),
      el("details", {}, el("summary", {}, `${packages.length} packages`), lp.table(["PACKAGE", "VERSION"], packages)),
      el("details", {}, el("summary", {}, "configuration"), el("pre", {}, JSON.stringify(env.config || {}, null, 2))),
    );
  }

  function runDiff(diff, previous) {
    if (!diff) return lp.section("Against the previous run", el("p", {}, "the first run recorded"));
    const lines = [];
    for (const group of ["environment", "git", "packages", "config"])
      for (const [name, c] of Object.entries(diff[group])) lines.push(`${group} ${name}: ${lp.value(c.old)} -> ${lp.value(c.new)}`);
    for (const a of diff.assets) {
      const parts = [a.status];
      if (a.code_version) parts.push(`code ${lp.short(a.code_version.old)} -> ${lp.short(a.code_version.new)}`);
      if (a.data_version) parts.push(`data ${lp.short(a.data_version.old)} -> ${lp.short(a.data_version.new)}`);
      if (a.metadata.rows) parts.push(`rows ${a.metadata.rows.old} -> ${a.metadata.rows.new}`);
      lines.push(`${a.asset}: ${parts.join(", ")}`);
    }
    if (diff.unchanged.length) lines.push(`unchanged: ${diff.unchanged.join(", ")}`);
    return lp.section(
      "Against the previous run",
      el("p", {}, "compared with ", el("a", { href: lp.runHref(previous) }, previous)),
      el("pre", { id: "run-diff" }, lines.join("\n") || "no changes"),
    );
  }

  async function runPage(runId) {
    const data = await lp.api(`/api/runs/${encodeURIComponent(runId)}`);
    const run = { ...data.run, building: data.building };
    document.title = `lakeplan: run ${run.run_id}`;
    const live = el("div", { id: "live" }, summary(run), lp.section("Assets", outcomes(run)));
    main.replaceChildren(el("h1", {}, `Run ${run.run_id}`), live, runDiff(data.diff, data.previous), environment(run.environment));
    if (run.status !== "running") return;
    const events = new EventSource(`/api/runs/${encodeURIComponent(run.run_id)}/events`);
    events.onmessage = (event) => {
      const now = JSON.parse(event.data);
      live.replaceChildren(summary(now), lp.section("Assets", outcomes(now)));
    };
    events.addEventListener("end", () => {
      events.close();
      runPage(run.run_id).catch((exc) => lp.showError(exc.message));
    });
    events.addEventListener("failure", (event) => {
      events.close();
      lp.showError(JSON.parse(event.data).error);
    });
  }

  lp.page("Runs", async () => {
    const runId = decodeURIComponent(location.pathname.replace(/^\/runs\/?/, ""));
    return runId ? runPage(runId) : runList();
  });
}
