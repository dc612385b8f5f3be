// The results page: table (sort, filter), z up vs z down scatter, top perturbagens, consensus.
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("results-data").textContent);
  const query = JSON.parse(document.getElementById("query-data").textContent);

  // An ambiguous identifier's candidate, picked: the same search again with that choice.
  for (const button of document.querySelectorAll("button.choose")) {
    button.addEventListener("click", async () => {
      const choices = { ...(query.choices || {}), [button.dataset.query]: button.dataset.candidate };
      const response = await fetch("/api/search", {
        method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ ...query, choices: choices }),
      });
      const body = await response.json().catch(() => ({ detail: response.statusText }));
      if (response.ok) window.location.assign(body.permalink);
      else button.parentElement.append(" " + (body.detail || JSON.stringify(body)));
    });
  }
  const table = document.getElementById("results-table");
  const consensusTable = document.getElementById("consensus-table");
  const directionFilter = document.getElementById("direction-filter");
  const textFilter = document.getElementById("text-filter");
  let shown = data.rows;

  const UNITS = { pert_dose: "pert_dose_unit", pert_time: "pert_time_unit" };

  function signatureCell(key, row, td) {
    if (UNITS[key]) {  // a dose or a time with its unit, as the signature page gives it
      const value = row[key], unit = row[UNITS[key]];
      td.textContent = value === null || value === undefined ? "" : value + (unit ? " " + unit : "");
      return true;
    }
    if (key !== "sig_id" && key !== "pert_iname") return false;
    if (key === "pert_iname" && !row.pert_id) return false;  // no perturbagen page to link to
    const a = document.createElement("a");
    a.href = key === "sig_id" ? row.url : "/perturbagens/" + encodeURIComponent(row.pert_id);
    a.textContent = row[key];
    td.appendChild(a);
    if (key === "pert_iname") td.className = row.direction;
    return true;
  }

  function visible() {
    const direction = directionFilter.value, text = textFilter.value.trim().toLowerCase();
    return shown.filter((row) => (!direction || row.direction === direction) && (!text ||
      [row.pert_iname, row.cell_id, row.pert_type, row.sig_id].join(" ").toLowerCase().includes(text)));
  }

  function refresh() {
    const rows = visible();
    PortalTables.render(table, rows, signatureCell);
    document.getElementById("row-count").textContent = rows.length + " of " + data.rows.length + " shown";
  }

  PortalTables.sortable(table, () => shown, (rows) => { shown = rows; refresh(); });
  directionFilter.addEventListener("change", refresh);
  textFilter.addEventListener("input", refresh);
  refresh();

  const consensus = {};
  for (const row of data.rows) {
    const c = consensus[row.pert_iname] ||= { pert_iname: row.pert_iname, n: 0, mimic: 0, reverse: 0,
      cellSet: new Set(), total: 0 };
    c.n += 1; c[row.direction] += 1; c.cellSet.add(row.cell_id); c.total += row.score;
  }
  let consensusRows = Object.values(consensus).map((c) => ({ ...c,
    cells: Array.from(c.cellSet).sort().join(", "), mean: c.total / c.n }))
    .sort((a, b) => Math.abs(b.mean) - Math.abs(a.mean));
  PortalTables.render(consensusTable, consensusRows);
  PortalTables.sortable(consensusTable, () => consensusRows,
    (rows) => { consensusRows = rows; PortalTables.render(consensusTable, rows); });

  if (window.Plotly) {
    const groups = { mimic: "#1b7f3b", reverse: "#b3261e" };
    const traces = Object.entries(groups).map(([direction, color]) => {
      const rows = data.rows.filter((r) => r.direction === direction);
      return { type: "scatter", mode: "markers", name: direction + " (" + rows.length + ")",
        x: rows.map((r) => r.z_up), y: rows.map((r) => r.z_down), text: rows.map((r) => r.sig_id),
        marker: { color: color, size: 6, opacity: 0.7 } };
    });
    Plotly.newPlot("scatter", traces, { title: { text: "z up against z down" },
      xaxis: { title: { text: "z up" } }, yaxis: { title: { text: "z down" } },
      margin: { t: 40, r: 10 } }, { displaylogo: false, responsive: true });
    const top = consensusRows.slice(0, 15).reverse();
    Plotly.newPlot("bars", [{ type: "bar", orientation: "h", x: top.map((c) => c.mean),
      y: top.map((c) => c.pert_iname), marker: { color: top.map((c) => c.mean >= 0 ? "#1b7f3b" : "#b3261e") } }],
      { title: { text: "top perturbagens (mean score)" }, margin: { t: 40, l: 120, r: 10 } },
      { displaylogo: false, responsive: true });
  }
})();
