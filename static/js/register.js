// The register page: preview the priority from impact x urgency as they are chosen.
// The matrix comes from the form's data-priority-matrix ("11:1,12:2,..."), the one the
// service uses.
(function () {
  "use strict";

  function ready() {
    var form = document.getElementById("register-form");
    if (!form) return;
    var matrix = {};
    (form.getAttribute("data-priority-matrix") || "").split(",").forEach(function (pair) {
      var parts = pair.split(":");
      if (parts.length === 2) matrix[parts[0]] = parts[1];
    });
    var impact = form.querySelector("[name='impact']");
    var urgency = form.querySelector("[name='urgency']");
    var output = document.getElementById("priority-preview");
    function update() {
      var p = impact && urgency ? matrix[impact.value + urgency.value] : null;
      output.textContent = p ? "P" + p : "—";
      output.className = p ? "badge prio prio-" + p : "";
    }
    if (impact && urgency && output) {
      impact.addEventListener("change", update);
      urgency.addEventListener("change", update);
      update();
    }
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", ready);
  else ready();
})();
