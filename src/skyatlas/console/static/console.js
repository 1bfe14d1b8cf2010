// The console's own script: no inline scripts anywhere (the CSP forbids them), so behaviour
// is attached here to data attributes.
(function () {
  "use strict";

  // Selects and checkboxes marked data-autosubmit submit their form when changed.
  document.addEventListener("change", function (event) {
    var el = event.target;
    if (el && el.hasAttribute && el.hasAttribute("data-autosubmit") && el.form) {
      el.form.requestSubmit ? el.form.requestSubmit() : el.form.submit();
    }
  });

  // Copy buttons: data-copy="#element-id" copies that element's text.
  document.addEventListener("click", function (event) {
    var el = event.target.closest ? event.target.closest("[data-copy]") : null;
    if (!el) return;
    var source = document.querySelector(el.getAttribute("data-copy"));
    if (source && navigator.clipboard) {
      navigator.clipboard.writeText(source.textContent.trim()).then(function () {
        el.textContent = "Copied";
      }, function () { el.textContent = "Select and copy"; });
    }
  });

  // Charts: <div data-chart="id-of-json-script"> draws the ECharts option kept in
  // <script type="application/json" id="...">.
  function drawCharts(root) {
    if (!window.echarts) return;
    var nodes = root.querySelectorAll ? root.querySelectorAll("[data-chart]") : [];
    nodes.forEach(function (node) {
      var source = document.getElementById(node.getAttribute("data-chart"));
      if (!source) return;
      var option = JSON.parse(source.textContent);
      var chart = window.echarts.getInstanceByDom(node) || window.echarts.init(node);
      chart.setOption(option, true);
      node.setAttribute("data-chart-ready", "true");
    });
  }
  window.addEventListener("resize", function () {
    if (!window.echarts) return;
    document.querySelectorAll("[data-chart]").forEach(function (node) {
      var chart = window.echarts.getInstanceByDom(node);
      if (chart) chart.resize();
    });
  });

  // Downloads of what a table shows: data-csv-table="#table-id" builds a CSV file locally.
  document.addEventListener("click", function (event) {
    var el = event.target.closest ? event.target.closest("[data-csv-table]") : null;
    if (!el) return;
    var table = document.querySelector(el.getAttribute("data-csv-table"));
    if (!table) return;
    var lines = [];
    table.querySelectorAll("tr").forEach(function (tr) {
      var cells = [];
      tr.querySelectorAll("th,td").forEach(function (cell) {
        var text = (cell.getAttribute("data-value") || cell.textContent).trim();
        cells.push(/[",\n]/.test(text) ? '"' + text.replace(/"/g, '""') + '"' : text);
      });
      lines.push(cells.join(","));
    });
    var blob = new Blob([lines.join("\n") + "\n"], { type: "text/csv" });
    var link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = el.getAttribute("data-filename") || "export.csv";
    document.body.appendChild(link);
    link.click();
    setTimeout(function () { URL.revokeObjectURL(link.href); link.remove(); }, 0);
  });

  document.addEventListener("DOMContentLoaded", function () {
    drawCharts(document);
    if (window.htmx) {
      window.htmx.onLoad(function (elt) { drawCharts(elt); });
    }
  });
})();
