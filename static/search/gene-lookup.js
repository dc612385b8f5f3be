// Gene lookup on the home page: sends the pasted identifiers to POST /api/genes/resolve.
(function () {
  "use strict";
  const form = document.getElementById("resolve-form");
  const table = document.getElementById("resolve-table");
  const summary = document.getElementById("resolve-summary");

  function cell(row, text, className) {
    const td = row.insertCell();
    td.textContent = text;
    if (className) td.className = className;
  }

  function geneText(result) {
    if (result.gene) return result.gene.symbol + " (" + result.gene.entrez_id + ")";
    return result.candidates.map((g) => g.symbol + " (" + g.entrez_id + ")").join(", ");
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const identifiers = document.getElementById("identifiers").value
      .split(/[\s,;]+/).filter((s) => s.length > 0);
    const response = await fetch("/api/genes/resolve", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ identifiers }),
    });
    const body = await response.json();
    if (!response.ok) {
      summary.textContent = "Refused: " + JSON.stringify(body);
      return;
    }
    summary.textContent = body.summary.resolved + " resolved, " + body.summary.ambiguous +
      " ambiguous, " + body.summary.unknown + " unknown";
    const tbody = table.tBodies[0];
    tbody.replaceChildren();
    for (const result of body.results) {
      const row = tbody.insertRow();
      cell(row, result.query);
      cell(row, result.status, "status-" + result.status);
      cell(row, result.matched_by || "");
      cell(row, geneText(result));
      cell(row, result.gene ? result.gene.l1000_type : "");
      cell(row, result.gene ? result.gene.name : "");
    }
    table.hidden = false;
  });
})();
