// Gene page: volcano plot (log2 fold change against |CD|), box plot by cell line, TSV export.
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("gene-data").textContent);
  const rows = [];
  for (const [kind, ways] of Object.entries(data.tables)) {
    for (const [way, list] of Object.entries(ways)) {
      for (const row of list) rows.push({ ...row, direction: way, kind: kind });
    }
  }
  const columns = ["pert_type", "direction", "sig_id", "pert_iname", "cell_id", "pert_dose",
    "pert_time", "cd", "log2_fold_change", "rank"];
  const tsv = [columns.join("\t")].concat(rows.map((row) => columns.map((c) =>
    c === "pert_type" ? row.kind : (row[c] ?? "")).join("\t"))).join("\n") + "\n";
  document.getElementById("gene-tsv-link").href =
    URL.createObjectURL(new Blob([tsv], { type: "text/tab-separated-values" }));

  if (!window.Plotly) return;
  const colors = { up: "#1b7f3b", down: "#b3261e" };
  // The stored reverse-search entries (top signatures by CD, with fold changes) when the index
  // has them; otherwise the rows of the tables below.
  const points = data.volcano && data.volcano.length ? data.volcano : rows;
  const traces = Object.entries(colors).map(([way, color]) => {
    const part = points.filter((r) => r.direction === way && r.log2_fold_change != null);
    return { type: "scatter", mode: "markers", name: way === "up" ? "raise" : "lower",
      x: part.map((r) => r.log2_fold_change), y: part.map((r) => Math.abs(r.cd)),
      text: part.map((r) => r.sig_id + " · " + r.pert_type), marker: { color: color, size: 6 } };
  });
  Plotly.newPlot("volcano", traces, { title: { text: data.gene.symbol + ": top signatures" },
    xaxis: { title: { text: "log2 fold change" } }, yaxis: { title: { text: "|CD coefficient|" } },
    margin: { t: 40, r: 10 } }, { displaylogo: false, responsive: true });
  const boxes = data.by_cell_line;
  Plotly.newPlot("by-cell", [{ type: "box", name: data.gene.symbol, x: boxes.map((b) => b.cell_id),
    q1: boxes.map((b) => b.q1), median: boxes.map((b) => b.median), q3: boxes.map((b) => b.q3),
    lowerfence: boxes.map((b) => b.lowerfence), upperfence: boxes.map((b) => b.upperfence),
    mean: boxes.map((b) => b.mean), marker: { color: "#1d3557" } }],
    { title: { text: "CD value in every signature, by cell line" },
      yaxis: { title: { text: "CD coefficient" } }, margin: { t: 40, r: 10 } },
    { displaylogo: false, responsive: true });
})();
