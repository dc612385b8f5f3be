// Sortable tables: click a header to sort by its column (numbers or text), again to reverse.
window.PortalTables = (function () {
  "use strict";
  function format(value, type) {
    if (value === null || value === undefined || value === "") return "";
    if (type !== "num" || typeof value !== "number") return String(value);
    if (Number.isInteger(value)) return String(value);
    const size = Math.abs(value);
    return size !== 0 && (size < 1e-3 || size >= 1e5) ? value.toExponential(2) : value.toFixed(3);
  }

  function render(table, rows, cellFor) {
    const body = table.tBodies[0];
    body.replaceChildren();
    const headers = Array.from(table.tHead.rows[0].cells);
    for (const row of rows) {
      const tr = body.insertRow();
      for (const th of headers) {
        const td = tr.insertCell();
        const custom = cellFor && cellFor(th.dataset.key, row, td);
        if (!custom) td.textContent = format(row[th.dataset.key], th.dataset.type);
        if (th.dataset.type === "num") td.classList.add("num");
      }
    }
  }

  function sortable(table, getRows, setRows) {
    for (const th of table.tHead.rows[0].cells) {
      th.tabIndex = 0;  // reached with Tab, sorted with Enter or Space as with a click
      th.addEventListener("keydown", (event) => {
        if (event.key === "Enter" || event.key === " ") { event.preventDefault(); th.click(); }
      });
      th.addEventListener("click", () => {
        const ascending = th.getAttribute("aria-sort") !== "ascending";
        for (const other of table.tHead.rows[0].cells) other.removeAttribute("aria-sort");
        th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
        const key = th.dataset.key, numeric = th.dataset.type === "num";
        const rows = getRows().slice().sort((a, b) => {
          const x = a[key], y = b[key];
          const order = numeric ? (x ?? -Infinity) - (y ?? -Infinity) : String(x).localeCompare(String(y));
          return ascending ? order : -order;
        });
        setRows(rows);
      });
    }
  }
  return { render: render, sortable: sortable, format: format };
})();
