// Batch page: submit a GMT to POST /api/search/batch; batch detail page: poll until done.
(function () {
  "use strict";
  const form = document.getElementById("batch-form");
  if (form) {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const status = document.getElementById("batch-status");
      const file = document.getElementById("gmt-file").files[0];
      const gmt = file ? await file.text() : document.getElementById("gmt-text").value;
      status.textContent = "Submitting…";
      let response;
      try {
        response = await fetch("/api/search/batch", {
          method: "POST", headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ gmt: gmt, mode: document.getElementById("batch-mode").value,
            limit: Number(document.getElementById("batch-limit").value) }),
        });
      } catch (error) {
        status.textContent = "The portal could not be reached (" + error.message + "); try again.";
        return;
      }
      const body = await response.json().catch(() => ({ detail: response.statusText }));
      if (response.ok) window.location.assign(body.page);
      else status.textContent = "Refused: " + (body.detail ||
        Object.entries(body).map(([k, v]) => k + ": " + v).join("; "));
    });
  }
  const state = document.getElementById("batch-state");
  if (state) {
    const note = document.getElementById("batch-note");
    // A status check that fails (429, 503, a dropped connection) keeps the last state shown and
    // tries again a little later, saying so: the page never looks stuck without a reason.
    const poll = async () => {
      let body;
      try {
        const response = await fetch(state.dataset.statusUrl);
        if (!response.ok) throw new Error("status " + response.status);
        body = await response.json();
      } catch (error) {
        note.textContent = "Could not check the batch (" + error.message + "); trying again.";
        setTimeout(poll, 5000);
        return;
      }
      note.textContent = "";
      state.textContent = body.status;
      document.getElementById("batch-done").textContent = body.n_done;
      document.getElementById("batch-progress").value = body.n_done;
      document.getElementById("batch-error").textContent = body.error || "";
      body.queries.forEach((query, number) => {
        const row = document.querySelector(`tr[data-query="${number}"]`);
        if (!row || !query.done) return;
        row.querySelector('[data-field="results"]').textContent = query.n_results ?? "";
        row.querySelector('[data-field="unused"]').textContent =
          [...query.unknown, ...query.ambiguous, ...query.repeated, ...query.in_both,
            ...query.not_in_index].join(", ");
        row.querySelector('[data-field="error"]').textContent = query.error;
      });
      if (body.status === "done") document.getElementById("batch-download").hidden = false;
      else if (body.status !== "failed") setTimeout(poll, 1000);
    };
    poll();
  }
})();
