// Resource Explorer and Tags: row selection. The tag buttons are enabled only while rows are
// selected, a header checkbox selects the page, and the count of selected rows is announced.
(function () {
  "use strict";

  function scopeOf(el) {
    return (el && el.closest && el.closest("form")) || document;
  }

  function update(scope) {
    var boxes = scope.querySelectorAll("input[type=checkbox][name=kcrn], input[type=checkbox][name=tag_id]");
    var checked = 0;
    boxes.forEach(function (box) { if (box.checked) checked += 1; });
    scope.querySelectorAll("[data-needs-selection]").forEach(function (button) {
      button.disabled = checked === 0;
    });
    var all = scope.querySelector("[data-select-all]");
    if (all) {
      all.checked = boxes.length > 0 && checked === boxes.length;
      all.indeterminate = checked > 0 && checked < boxes.length;
    }
    var label = scope.querySelector("#selection-count, #tags-selection");
    if (label) {
      var noun = label.id === "tags-selection" ? "tag" : "resource";
      label.textContent = checked === 0
        ? (noun === "tag" ? "" : "No resources selected.")
        : checked + " " + noun + (checked === 1 ? "" : "s") + " selected.";
    }
  }

  function updateAll() {
    document.querySelectorAll("#tag-form, #tags-form").forEach(update);
  }

  // One tag at a time: picking an existing tag clears a typed new one, and typing a new key
  // clears the pick, so what the buttons act on is always what the form shows.
  document.addEventListener("input", function (event) {
    var el = event.target;
    if (el && el.id === "new-tag-key" && el.value) {
      var choice = document.getElementById("tag-choice");
      if (choice) choice.value = "";
    }
  });

  document.addEventListener("change", function (event) {
    var el = event.target;
    if (el && el.id === "tag-choice" && el.value) {
      ["new-tag-key", "new-tag-value"].forEach(function (id) {
        var input = document.getElementById(id);
        if (input) input.value = "";
      });
      return;
    }
    if (!el || el.type !== "checkbox") return;
    var scope = scopeOf(el);
    if (el.hasAttribute("data-select-all")) {
      scope.querySelectorAll("input[type=checkbox][name=kcrn]").forEach(function (box) {
        box.checked = el.checked;
      });
    }
    update(scope);
  });

  document.addEventListener("DOMContentLoaded", function () {
    updateAll();
    // new rows (a page, a sort, rows refreshed after a tag change) change the selection
    document.body.addEventListener("htmx:afterSettle", updateAll);
  });
})();
