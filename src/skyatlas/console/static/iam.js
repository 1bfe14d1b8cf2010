// IAM pages: more key/value rows on demand, and the service-account form showing the AWS
// fields only for provider aws. Everything works without this script (fewer rows, all fields).
(function () {
  "use strict";

  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("[data-kv-add]") : null;
    if (!button) return;
    var box = document.querySelector(button.getAttribute("data-kv-add"));
    if (!box) return;
    var rows = box.querySelectorAll(".kv-row");
    var last = rows[rows.length - 1];
    if (!last) return;
    var n = rows.length + 1;
    var copy = last.cloneNode(true);
    copy.querySelectorAll("input").forEach(function (input) {
      input.value = "";
      input.id = input.id.replace(/-\d+$/, "-" + n);
    });
    copy.querySelectorAll("label").forEach(function (label) {
      label.htmlFor = label.htmlFor.replace(/-\d+$/, "-" + n);
      label.textContent = label.textContent.replace(/\d+$/, String(n));
    });
    last.after(copy);
    var first = copy.querySelector("input");
    if (first) first.focus();
  });

  function providerFields() {
    var input = document.getElementById("provider");
    if (!input) return;
    var value = input.value.trim().toLowerCase();
    document.querySelectorAll("[data-provider]").forEach(function (el) {
      var wanted = el.getAttribute("data-provider");
      var show = wanted === "aws" ? value === "aws" : value !== "aws";
      el.hidden = !show;
    });
  }
  document.addEventListener("input", function (event) {
    if (event.target && event.target.id === "provider") providerFields();
  });
  document.addEventListener("DOMContentLoaded", providerFields);
})();
