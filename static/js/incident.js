// The incident page: keep the person's place after an htmx action swaps the page
// region in. The element that had focus (or the form that was sent) gets it back; after a
// successful message the composer is ready for the next one.
(function () {
  "use strict";
  var remembered = null;

  document.addEventListener("htmx:beforeSwap", function (event) {
    if (!event.detail.target || event.detail.target.id !== "incident") return;
    var active = document.activeElement;
    var form = event.detail.requestConfig && event.detail.requestConfig.elt && event.detail.requestConfig.elt.closest("form");
    remembered = {
      id: active && active.id ? active.id : null,
      form: form && form.id ? form.id : null
    };
  });

  document.addEventListener("htmx:afterSettle", function (event) {
    if (!remembered || !event.detail.target || event.detail.target.id !== "incident") return;
    var target = null;
    if (remembered.form === "composer-form") target = document.getElementById("id_compose_body");
    if (!target && remembered.id) target = document.getElementById(remembered.id);
    if (!target && remembered.form) {
      var form = document.getElementById(remembered.form);
      target = form && form.querySelector("[aria-invalid='true'], .field-invalid input, .field-invalid textarea, .field-invalid select, button");
    }
    if (!target) target = document.querySelector("#incident .message, #incident-title");
    if (target) {
      if (!target.hasAttribute("tabindex") && !/^(A|BUTTON|INPUT|SELECT|TEXTAREA)$/.test(target.tagName)) {
        target.setAttribute("tabindex", "-1");
      }
      target.focus({ preventScroll: false });
    }
    remembered = null;
  });
})();
