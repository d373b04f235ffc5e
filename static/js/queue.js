/* The queue: how many incidents are selected for a bulk action, and forms that carry the
 * page's current filters (the address changes as the filters do, without a reload). */
(function () {
  "use strict";

  function selected() {
    return document.querySelectorAll('input[type=checkbox][name="incidents"][form="bulk"]:checked').length;
  }

  function showCount() {
    var out = document.getElementById("bulk-count");
    if (!out) return;
    var n = selected();
    out.textContent = n
      ? n + (n === 1 ? " incident selected." : " incidents selected.")
      : "Select incidents with their checkboxes to act on several at once.";
  }

  document.addEventListener("change", function (event) {
    if (event.target.name === "incidents") showCount();
  });
  document.addEventListener("firebreak:live-updated", showCount);
  document.addEventListener("htmx:afterSettle", showCount);

  document.addEventListener("submit", function (event) {
    event.target.querySelectorAll("[data-query-of-page]").forEach(function (input) {
      input.value = input.name === "next" ? location.pathname + location.search : location.search.replace(/^\?/, "");
    });
  }, true);
})();
