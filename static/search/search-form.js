// The search form of the home page: counts, one-click examples, POST /api/search, then the results.
(function () {
  "use strict";
  const form = document.getElementById("search-form");
  const examples = JSON.parse(document.getElementById("examples").textContent);
  const status = document.getElementById("search-status");
  const sides = ["up", "down"];

  function genes(name) {
    return document.getElementById(name).value.split(/[\s,;]+/).filter((s) => s.length > 0);
  }

  function recount() {
    for (const name of sides) {
      document.getElementById(name + "-count").textContent = genes(name).length;
    }
  }

  function showErrors(body) {
    // A refusal of the API: {"detail": message, "field": side, "report": ...} for a query that
    // cannot run, or {field: [messages]} for invalid input. Each message goes beside its field.
    for (const name of sides) document.getElementById("error-" + name).textContent = "";
    const messages = [];
    const place = (field, text) => {
      const slot = document.getElementById("error-" + field);
      if (slot) slot.textContent = text;
      else messages.push(field === "detail" ? text : field + ": " + text);
    };
    if (typeof body.detail === "string") place(body.field || "detail", body.detail);
    for (const [field, value] of Object.entries(body)) {
      if (["detail", "field", "report"].includes(field)) continue;
      const text = Array.isArray(value) ? value.join(" ") : typeof value === "string" ? value : "";
      if (text) place(field, text);
    }
    status.textContent = messages.join(" ");
  }

  for (const name of sides) document.getElementById(name).addEventListener("input", recount);
  for (const button of document.querySelectorAll("button.example")) {
    button.addEventListener("click", () => {
      const example = examples.find((e) => e.key === button.dataset.example);
      document.getElementById("up").value = example.up.join("\n");
      document.getElementById("down").value = example.down.join("\n");
      recount();
    });
  }

  // Gene autocomplete: suggestions from GET /api/genes?q= as you type, added to either side.
  const geneInput = document.getElementById("gene-input");
  const suggestions = document.getElementById("gene-suggestions");
  const hint = document.getElementById("gene-hint");
  let pending = null;
  geneInput.addEventListener("input", () => {
    clearTimeout(pending);
    const query = geneInput.value.trim();
    if (query.length < 2) return;
    pending = setTimeout(async () => {
      const response = await fetch("/api/genes?" + new URLSearchParams({ q: query, limit: 10 }));
      if (!response.ok) return;
      const body = await response.json();
      suggestions.replaceChildren(...body.results.map((gene) => {
        const option = document.createElement("option");
        option.value = gene.symbol;
        const landmark = gene.is_landmark ? " (landmark)" : "";
        option.label = gene.symbol + " · " + (gene.name || "") + landmark;
        return option;
      }));
      hint.textContent = body.results.length ? "" :
        "no symbol starts with " + query + " (an alias or an ID is still resolved when you search)";
    }, 150);
  });
  function addGene(side) {
    const symbol = geneInput.value.trim();
    if (!symbol) return;
    const box = document.getElementById(side);
    if (!genes(side).includes(symbol)) box.value = (box.value.trim() + "\n" + symbol).trim();
    geneInput.value = "";
    recount();
  }
  document.getElementById("add-up").addEventListener("click", () => addGene("up"));
  document.getElementById("add-down").addEventListener("click", () => addGene("down"));
  geneInput.addEventListener("keydown", (event) => {
    if (event.key === "Enter") { event.preventDefault(); addGene("up"); }
  });

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const filters = {};
    for (const key of ["pert_type", "cell_id", "pert_iname", "pert_time"]) {
      if (data.get(key)) filters[key] = [data.get(key)];
    }
    const request = {
      up: genes("up"), down: genes("down"), mode: data.get("mode"), score: data.get("score"),
      limit: Number(data.get("limit")), filters: filters, order: data.get("order") || "z",
    };
    status.textContent = "Searching…";
    let response;
    try {
      response = await fetch("/api/search", {
        method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(request),
      });
    } catch (error) {
      status.textContent = "The portal could not be reached (" + error.message + "); try again.";
      return;
    }
    const body = await response.json().catch(() => ({ detail: response.statusText }));
    if (response.ok) {
      window.location.assign(body.permalink);
    } else {
      showErrors(body);
    }
  });
  // Links from signature and perturbagen pages preset a filter (/?pert_iname=X, /?cell_id=Y) or
  // fill in the genes (/?up=A,B&down=C,D: "search with this signature"); the results page's
  // "search again without them" carries the search's options too (mode, score, order, limit).
  const preset = new URLSearchParams(window.location.search);
  for (const name of sides) {
    if (preset.get(name)) document.getElementById(name).value = preset.get(name).split(",").join("\n");
  }
  const unset = [];
  for (const key of ["pert_type", "cell_id", "pert_iname", "pert_time", "score", "order", "limit"]) {
    if (!preset.get(key)) continue;
    const field = document.getElementById(key);
    field.value = preset.get(key);
    if (field.value !== preset.get(key)) unset.push(key + " = " + preset.get(key));  // no such choice
  }
  if (unset.length) status.textContent = "Not among the choices, set again: " + unset.join("; ");
  const mode = form.querySelector(`input[name="mode"][value="${CSS.escape(preset.get("mode") || "")}"]`);
  if (mode) mode.checked = true;
  recount();
  // Back to this page: the browser restores what was typed, so the counts are made again.
  window.addEventListener("pageshow", recount);
})();
