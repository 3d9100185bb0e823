/* Safety alert inbox: "select all" for the bulk-acknowledge checkboxes, and the selected count on the
 * button. Progressive: without this file every checkbox still works on its own. Delegated on the
 * document so it keeps working after htmx swaps the rows. */
(function () {
  "use strict";

  function boxes(form) {
    return Array.prototype.slice.call(form.querySelectorAll('input[type="checkbox"][name="alert"]'));
  }

  function refresh(form) {
    var all = boxes(form);
    var chosen = all.filter(function (box) { return box.checked; }).length;
    var button = form.querySelector("[data-bulk-submit]");
    if (button) {
      button.disabled = chosen === 0;
      button.textContent = chosen ? "Acknowledge " + chosen + " selected" : "Acknowledge selected";
    }
    var toggle = form.querySelector("[data-select-all]");
    if (toggle) {
      toggle.checked = all.length > 0 && chosen === all.length;
      toggle.indeterminate = chosen > 0 && chosen < all.length;
    }
  }

  document.addEventListener("change", function (event) {
    var form = event.target.closest("form[data-bulk]");
    if (!form) return;
    if (event.target.matches("[data-select-all]")) {
      boxes(form).forEach(function (box) { box.checked = event.target.checked; });
    }
    refresh(form);
  });

  function init() {
    document.querySelectorAll("form[data-bulk]").forEach(refresh);
  }
  document.addEventListener("htmx:afterSwap", init);
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
