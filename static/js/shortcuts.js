// Keyboard shortcuts for the desk. They never fire while the focus is in a field (any
// input, textarea, select or contenteditable), nor with Ctrl, Alt or Meta held, nor while
// an input method is composing. "?" lists them (the dialog in base.html).
// A field that vanishes under the person's fingers leaves the focus on the page: the keys
// they go on typing there for a moment are still meant for it, so the shortcuts wait
// until they have stopped typing (QUIET_MS), unless they have clicked or moved the focus
// somewhere themselves since.
(function () {
  "use strict";

  var QUIET_MS = 1000;
  var lastTypedAt = -Infinity;

  function field(el) {
    if (!el || el.nodeType !== 1) return false;
    if (el.isContentEditable) return true;
    return !!el.closest("input, textarea, select, [contenteditable]:not([contenteditable='false'])");
  }

  function typing(event) {
    if (field(event.target) || field(document.activeElement)) return true;
    var path = event.composedPath ? event.composedPath() : [];
    for (var i = 0; i < path.length; i++) if (field(path[i])) return true;
    return false;
  }

  // The focus fell to the page itself (nothing, or the body) while the person was typing.
  function droppedWhileTyping() {
    var active = document.activeElement;
    var onPage = !active || active === document.body || active === document.documentElement;
    return onPage && performance.now() - lastTypedAt < QUIET_MS;
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
    if (typing(event)) {
      lastTypedAt = performance.now();
      return;
    }
    if (event.defaultPrevented || event.ctrlKey || event.altKey || event.metaKey) return;
    if (event.isComposing || event.key === "Process" || event.key === "Dead") return;
    if (droppedWhileTyping()) {
      lastTypedAt = performance.now();
      return;
    }
    if (event.key === "Enter" && !(document.activeElement && document.activeElement.closest("[data-nav-item]"))) return;
    var action = actions[event.key];
    if (!action) return;
    event.preventDefault();
    action();
  });

  // The person moved on: a click, or the focus on something that is not a field.
  document.addEventListener("pointerdown", function () { lastTypedAt = -Infinity; }, true);
  document.addEventListener("focusin", function (event) {
    if (!field(event.target)) lastTypedAt = -Infinity;
  });

  document.addEventListener("click", function (event) {
    var close = event.target.closest("[data-close-dialog]");
    if (close) close.closest("dialog").close();
  });
})();
