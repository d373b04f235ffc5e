// Keyboard shortcuts for the desk. They never fire while typing in a field, nor with
// Ctrl, Alt or Meta held. "?" lists them (the dialog in base.html).
(function () {
  "use strict";

  function typing(target) {
    if (!target || !target.tagName) return false;
    var tag = target.tagName.toLowerCase();
    return tag === "input" || tag === "textarea" || tag === "select" || target.isContentEditable;
  }

  // The items "j" and "k" move between: queue rows, else timeline entries.
  function items() {
    var rows = document.querySelectorAll("[data-nav-item]");
    if (!rows.length) rows = document.querySelectorAll(".timeline > li");
    return Array.prototype.slice.call(rows);
  }

  function move(step) {
    var list = items();
    if (!list.length) return;
    var current = list.indexOf(document.activeElement && document.activeElement.closest("[data-nav-item], .timeline > li"));
    var next = list[Math.min(list.length - 1, Math.max(0, current + step))];
    if (!next.hasAttribute("tabindex")) next.setAttribute("tabindex", "-1");
    next.focus();
    next.scrollIntoView({ block: "nearest" });
  }

  function go(selector) {
    var link = document.querySelector(selector);
    if (link) window.location.assign(link.getAttribute("href"));
  }

  var actions = {
    "?": function () {
      var dialog = document.getElementById("shortcuts-help");
      if (dialog && !dialog.open) dialog.showModal();
    },
    "/": function () {
      var search = document.querySelector("input[name='q']");
      if (search) search.focus();
      else go("[data-shortcut-search]");
    },
    j: function () { move(1); },
    k: function () { move(-1); },
    c: function () { go("[data-shortcut-new]"); },
    a: function () {
      var button = document.querySelector("#assign-to-me button");
      if (button) button.click();
    },
    Enter: function () {
      var item = document.activeElement && document.activeElement.closest("[data-nav-item]");
      var link = item && item.querySelector("a[href]");
      if (link) link.click();
    }
  };

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.ctrlKey || event.altKey || event.metaKey) return;
    if (typing(event.target)) return;
    if (event.key === "Enter" && !(document.activeElement && document.activeElement.closest("[data-nav-item]"))) return;
    var action = actions[event.key];
    if (!action) return;
    event.preventDefault();
    action();
  });

  document.addEventListener("click", function (event) {
    var close = event.target.closest("[data-close-dialog]");
    if (close) close.closest("dialog").close();
  });
})();
