// Asset inventory: rows of the advanced filter are added from a <template> and removed in the
// page (no round trip); the form then submits them like any other field.
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    var target = event.target;
    if (!target || !target.closest) return;
    var add = target.closest("[data-adv-add]");
    if (add) {
      var template = document.getElementById("adv-template");
      var rows = document.getElementById("adv-rows");
      if (!template || !rows) return;
      var n = rows.querySelectorAll("[data-adv-row]").length + 1;
      while (document.getElementById("ak-" + n)) n += 1;
      rows.insertAdjacentHTML("beforeend", template.innerHTML.replace(/__N__/g, String(n)));
      var key = document.getElementById("ak-" + n);
      if (key) key.focus();
      return;
    }
    var remove = target.closest("[data-adv-remove]");
    if (remove) {
      var row = remove.closest("[data-adv-row]");
      if (row) row.remove();
      var addButton = document.getElementById("adv-add");
      if (addButton) addButton.focus();
    }
  });
})();
