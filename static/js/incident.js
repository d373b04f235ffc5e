// The incident page: keep the person's place when an htmx action draws the page again.
// 1. What they were doing elsewhere on the page stays: text typed into another form,
//    choices made, open panels. The form that was sent comes back as the server drew it
//    (emptied after success, with its errors otherwise).
// 2. Focus: the element that had it (or the form that was sent) gets it back; after a
//    successful message the composer is ready for the next one. Done as the answer is
//    swapped in, not when htmx settles it 20 ms later: by then the person may already be
//    typing somewhere else, and pulling the focus away would send their keys to the page.
(function () {
  "use strict";
  var remembered = null;

  function changed(field) {
    return window.Firebreak && window.Firebreak.changed ? window.Firebreak.changed(field) : field.value !== field.defaultValue;
  }

  // A panel is known by the address its form posts to.
  function panelKey(panel) {
    var form = panel.querySelector("form[action]");
    return form ? form.getAttribute("action") : null;
  }

  function keep(target, sent) {
    var fields = [];
    target.querySelectorAll("input[id], textarea[id], select[id]").forEach(function (field) {
      if ((sent && field.form === sent) || field.type === "file" || !changed(field)) return;
      fields.push({
        id: field.id,
        type: field.type,
        value: field.value,
        checked: field.checked,
        selected: field.tagName === "SELECT"
          ? Array.prototype.map.call(field.options, function (o) { return o.selected; }) : null
      });
    });
    var panels = [];
    target.querySelectorAll("details[open]").forEach(function (panel) {
      var key = panelKey(panel);
      if (key && !(sent && panel.contains(sent))) panels.push(key);
    });
    return { fields: fields, panels: panels };
  }

  function putBack(kept) {
    kept.fields.forEach(function (saved) {
      var field = document.getElementById(saved.id);
      if (!field || field.type !== saved.type) return;
      if (saved.type === "checkbox" || saved.type === "radio") field.checked = saved.checked;
      else if (saved.selected && field.options.length === saved.selected.length) {
        Array.prototype.forEach.call(field.options, function (o, i) { o.selected = saved.selected[i]; });
      } else field.value = saved.value;
    });
    if (!kept.panels.length) return;
    document.querySelectorAll("#incident details").forEach(function (panel) {
      if (kept.panels.indexOf(panelKey(panel)) !== -1) panel.open = true;
    });
  }

  document.addEventListener("htmx:beforeSwap", function (event) {
    var target = event.detail.target;
    if (!target || target.id !== "incident") return;
    var active = document.activeElement;
    var elt = event.detail.requestConfig && event.detail.requestConfig.elt;
    var sent = elt && elt.closest ? elt.closest("form") : null;
    remembered = {
      xhr: event.detail.xhr,
      id: active && active.id ? active.id : null,
      form: sent && sent.id ? sent.id : null,
      kept: keep(target, sent)
    };
  });

  document.addEventListener("htmx:afterSwap", function (event) {
    if (!remembered || event.detail.xhr !== remembered.xhr) return;
    var was = remembered;
    remembered = null;
    putBack(was.kept);
    // The first of these that can take the focus (a field in a panel that closed cannot).
    var form = was.form && document.getElementById(was.form);
    var candidates = [
      was.form === "composer-form" && document.getElementById("id_compose_body"),
      was.id && document.getElementById(was.id),
      form && form.querySelector("[aria-invalid='true'], .field-invalid input, .field-invalid textarea, .field-invalid select, button"),
      document.querySelector("#incident .message"),
      document.getElementById("incident-title")
    ];
    for (var i = 0; i < candidates.length; i++) {
      var target = candidates[i];
      if (!target) continue;
      if (!target.hasAttribute("tabindex") && !/^(A|BUTTON|INPUT|SELECT|TEXTAREA)$/.test(target.tagName)) {
        target.setAttribute("tabindex", "-1");
      }
      target.focus({ preventScroll: false });
      if (document.activeElement === target) break;
    }
  });
})();
