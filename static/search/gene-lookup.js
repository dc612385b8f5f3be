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

  // A gene as a link to its page (the signatures that raise or lower it most), with its Entrez id.
  function geneLink(gene) {
    const span = document.createElement("span");
    const link = document.createElement("a");
    link.href = "/genes/" + encodeURIComponent(gene.symbol);
    link.textContent = gene.symbol;
    span.append(link, " (" + gene.entrez_id + ")");
    return span;
  }

  function geneCell(row, result) {
    const td = row.insertCell();
    const genes = result.gene ? [result.gene] : result.candidates;
    genes.forEach((gene, at) => {
      if (at > 0) td.append(", ");
      td.append(geneLink(gene));
    });
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const identifiers = document.getElementById("identifiers").value
      .split(/[\s,;]+/).filter((s) => s.length > 0);
    let response;
    try {
      response = await fetch("/api/genes/resolve", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ identifiers }),
      });
    } catch (error) {
      summary.textContent = "The portal could not be reached (" + error.message + "); try again.";
      return;
    }
    const body = await response.json().catch(() => ({ detail: response.statusText }));
    if (!response.ok) {  // the reason in words; an earlier answer's table is not left standing
      table.hidden = true;
      summary.textContent = "Refused: " + (body.detail || Object.values(body).flat().join(" "));
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
      geneCell(row, result);
      cell(row, result.gene ? result.gene.l1000_type : "");
      cell(row, result.gene ? result.gene.name : "");
    }
    table.hidden = false;
  });
})();
