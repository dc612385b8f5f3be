// The downloads page's slice form: POST /api/export, then the file (or the API's reason).
(function () {
  "use strict";
  const form = document.getElementById("slice-form");
  if (!form) return;
  const lines = (id) => document.getElementById(id).value.split(/[\s,;]+/).filter((s) => s);
  const value = (id) => document.getElementById(id).value.trim();
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const error = document.getElementById("slice-error");
    error.textContent = "";
    const body = { format: value("slice-format") };
    const ids = lines("slice-sig-ids");
    if (ids.length) body.sig_ids = ids;
    const filters = {};
    for (const [field, id] of [["cell_id", "slice-cell-id"], ["pert_type", "slice-pert-type"],
                               ["pert_id", "slice-pert-id"]]) {
      if (value(id)) filters[field] = [value(id)];
    }
    if (Object.keys(filters).length) body.filters = filters;
    const genes = lines("slice-genes");
    if (genes.length) body.genes = genes;
    const response = await fetch("/api/export", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
    });
    if (!response.ok) {
      const reason = await response.json().catch(() => ({ detail: response.statusText }));
      error.textContent = typeof reason.detail === "string" ? reason.detail :
        Object.entries(reason).map(([k, v]) => k + ": " + [].concat(v).join(" ")).join("; ");
      return;
    }
    const name = (response.headers.get("Content-Disposition") || "").match(/filename="?([^";]+)/);
    const link = document.createElement("a");
    link.href = URL.createObjectURL(await response.blob());
    link.download = name ? name[1] : "slice." + body.format;
    document.body.appendChild(link);
    link.click();
    link.remove();
  });
})();
