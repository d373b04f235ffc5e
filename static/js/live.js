/* Firebreak live pages (docs/live.md).
 *
 * 1. Polling: an element with `data-live` starts polling its `data-live-url` (or the
 *    page's own address) every `data-live-interval` seconds (5 by default) with
 *    `X-Firebreak-Live: 1` and the last ETag. A 304 costs nothing; a 200 replaces each
 *    `[data-live-region="name"]` of the page with the same-named region of the answer.
 *    Forms and what the person is typing stay outside the regions; checked boxes and the
 *    focused element inside a region are kept.
 * 2. Countdowns: `<time data-countdown datetime="...">` reads "in 23 min" or "overdue
 *    1 h 5 min", ticking; its title keeps the absolute time and zone.
 * 3. Session expiry: an htmx request (or a poll) answered with HX-Redirect to the login
 *    keeps the drafts typed into the page's forms, and the page puts them back after.
 */
(function () {
  "use strict";

  var LIVE_HEADER = "X-Firebreak-Live";

  // --- countdowns --------------------------------------------------------------------
  function span(minutes) {
    var d = Math.floor(minutes / 1440), h = Math.floor((minutes % 1440) / 60), m = minutes % 60;
    if (d > 0) return d + " d" + (h ? " " + h + " h" : "");
    if (h > 0) return h + " h" + (m ? " " + m + " min" : "");
    return m + " min";
  }

  function tick(root) {
    var now = Date.now();
    (root || document).querySelectorAll("time[data-countdown]").forEach(function (el) {
      var at = Date.parse(el.getAttribute("datetime"));
      if (isNaN(at)) return;
      var minutes = Math.round(Math.abs(at - now) / 60000);
      el.textContent = at >= now ? "in " + span(minutes) : "overdue " + span(minutes);
      el.classList.toggle("countdown-overdue", at < now);
    });
  }

  // --- drafts kept over a redirect to the login ----------------------------------------
  var DRAFTS = "firebreak-drafts:" + location.pathname;

  function fieldKey(el) {
    var form = el.form;
    return (form ? form.getAttribute("action") || "" : "") + "#" + (el.name || el.id);
  }

  function saveDrafts() {
    var drafts = {};
    document.querySelectorAll("form textarea, form input[type=text], form input:not([type])").forEach(function (el) {
      if (el.value && el.name !== "csrfmiddlewaretoken") drafts[fieldKey(el)] = el.value;
    });
    try { sessionStorage.setItem(DRAFTS, JSON.stringify(drafts)); } catch (e) { /* storage full or off */ }
  }

  function restoreDrafts() {
    var raw;
    try { raw = sessionStorage.getItem(DRAFTS); sessionStorage.removeItem(DRAFTS); } catch (e) { return; }
    if (!raw) return;
    var drafts = JSON.parse(raw);
    document.querySelectorAll("form textarea, form input[type=text], form input:not([type])").forEach(function (el) {
      var value = drafts[fieldKey(el)];
      if (value && !el.value) {
        el.value = value;
        var panel = el.closest("details");
        if (panel) panel.open = true;
      }
    });
  }

  function toLogin(url) {
    saveDrafts();
    window.location.href = url;
  }

  // htmx follows HX-Redirect itself; keep the drafts first.
  document.addEventListener("htmx:beforeOnLoad", function (event) {
    var xhr = event.detail.xhr;
    var target = xhr && xhr.getResponseHeader("HX-Redirect");
    if (target && target.indexOf("/login/") === 0) saveDrafts();
  });

  // --- polling -----------------------------------------------------------------------
  function replaceRegions(html) {
    var doc = new DOMParser().parseFromString(html, "text/html");
    document.querySelectorAll("[data-live-region]").forEach(function (region) {
      var name = region.getAttribute("data-live-region");
      var fresh = doc.querySelector('[data-live-region="' + CSS.escape(name) + '"]');
      if (!fresh) return;
      var checked = Array.prototype.map.call(
        region.querySelectorAll("input[type=checkbox]:checked"), function (el) { return el.id; });
      var focused = region.contains(document.activeElement) ? document.activeElement.id : null;
      var node = document.importNode(fresh, true);
      region.replaceWith(node);
      checked.forEach(function (id) {
        var box = id && document.getElementById(id);
        if (box) box.checked = true;
      });
      if (window.htmx) window.htmx.process(node);
      tick(node);
      if (focused) {
        var again = document.getElementById(focused);
        if (again) again.focus({ preventScroll: true });
      }
      node.dispatchEvent(new CustomEvent("firebreak:live-updated", { bubbles: true }));
    });
  }

  function startPolling(root) {
    var seconds = parseInt(root.getAttribute("data-live-interval"), 10) || 5;
    var etag = "";
    var busy = false;

    function poll() {
      if (busy || document.hidden) return;
      busy = true;
      var headers = { "HX-Request": "true", "HX-Current-URL": location.href };
      headers[LIVE_HEADER] = "1";
      if (etag) headers["If-None-Match"] = etag;
      var url = root.getAttribute("data-live-url") || location.pathname + location.search;
      fetch(url, { headers: headers, credentials: "same-origin", cache: "no-store" })
        .then(function (response) {
          var redirect = response.headers.get("HX-Redirect");
          if (redirect) { toLogin(redirect); return null; }
          if (response.status !== 200) return null;
          etag = response.headers.get("ETag") || "";
          return response.text();
        })
        .then(function (html) { if (html) replaceRegions(html); })
        .catch(function () { /* offline for a moment: the next poll tries again */ })
        .then(function () { busy = false; });
    }

    setInterval(poll, seconds * 1000);
    document.addEventListener("visibilitychange", function () { if (!document.hidden) poll(); });
    // A page restored from htmx's history or swapped by an action may be stale: ask at once.
    document.body.addEventListener("htmx:afterSettle", function () { etag = ""; });
  }

  function start() {
    restoreDrafts();
    tick();
    setInterval(tick, 20000);
    var root = document.querySelector("[data-live]");
    if (root) startPolling(root);
    document.body.addEventListener("htmx:afterSettle", function (event) { tick(event.target); });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
