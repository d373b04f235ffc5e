/* Firebreak live pages (docs/live.md).
 *
 * 1. Polling: an element with `data-live` starts polling its `data-live-url` (or the
 *    page's own address) every `data-live-interval` seconds (5 by default) with
 *    `X-Firebreak-Live: 1` and the last ETag. A 304 costs nothing; a 200 replaces each
 *    `[data-live-region="name"]` of the page whose same-named region in the answer differs,
 *    unless the person is using it (the focus, an open panel, a changed field are in it):
 *    then the answer waits behind an "Updated: refresh this part" hint until they press it
 *    or leave the region. Ticked boxes the answer also has are kept.
 *    An htmx answer drawn over the regions (the page's own action, a filter) makes polls
 *    sent before it stale, and names the version it drew (X-Firebreak-Live-ETag).
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

  // --- what the person is doing ----------------------------------------------------
  // A field whose value is not the one the server drew: typed into, ticked, chosen.
  function changed(field) {
    var type = (field.type || "").toLowerCase();
    if (type === "hidden" || type === "submit" || type === "button" || type === "reset") return false;
    if (type === "checkbox" || type === "radio") return field.checked !== field.defaultChecked;
    if (field.tagName === "SELECT") {
      var options = Array.prototype.slice.call(field.options);
      if (field.multiple) return options.some(function (o) { return o.selected !== o.defaultSelected; });
      var drawn = -1;
      options.forEach(function (o, i) { if (o.defaultSelected) drawn = i; });
      if (drawn === -1 && field.size <= 1 && options.length) drawn = 0;
      return field.selectedIndex !== drawn;
    }
    return field.value !== field.defaultValue;
  }
  window.Firebreak = window.Firebreak || {};
  window.Firebreak.changed = changed;

  // --- polling -----------------------------------------------------------------------
  // A poll's answer never replaces a region the person is using: one that holds the focus,
  // an open <details> or <dialog>, or a field they changed (text typed, a box ticked that
  // the answer would drop). Such a region keeps the answer aside and shows, just before
  // itself, "Updated: refresh this part"; the answer goes in when they press it, or when
  // they have left the region. A region whose answer is what it already shows is not
  // touched at all. An htmx answer that draws the regions (the page's own action, a filter)
  // makes older polls stale and says in X-Firebreak-Live-ETag which version it drew.
  var DRAWN_HEADER = "X-Firebreak-Live-ETag";
  var live = { etag: "", generation: 0, pending: {}, busy: false };

  function regionNamed(name, root) {
    return (root || document).querySelector('[data-live-region="' + CSS.escape(name) + '"]');
  }

  function hintFor(name) {
    return document.querySelector('[data-live-hint="' + CSS.escape(name) + '"]');
  }

  function dropHint(name) {
    var hint = hintFor(name);
    if (hint) hint.remove();
  }

  // The region as the server drew it: without what the page changes by itself (the
  // countdowns' words, tabindex="-1" given by j/k and the focus keeper).
  function asDrawn(node) {
    var copy = node.cloneNode(true);
    [copy].concat(Array.prototype.slice.call(copy.querySelectorAll("*"))).forEach(function (el) {
      if (el.getAttribute("tabindex") === "-1") el.removeAttribute("tabindex");
      if (el.matches("time[data-countdown]")) {
        el.textContent = "";
        el.classList.remove("countdown-overdue");
      }
      if (el.hasAttribute("class") && !el.classList.length) el.removeAttribute("class");
    });
    copy.normalize();
    return copy;
  }

  // Why the person is using `region` (so `fresh` must wait), or "".
  function inUse(region, fresh) {
    var active = document.activeElement;
    if (active && active !== document.body && region.contains(active)) return "focus";
    if (region.querySelector("details[open], dialog[open]")) return "open";
    var fields = region.querySelectorAll("input, textarea, select");
    for (var i = 0; i < fields.length; i++) {
      var field = fields[i];
      if (!changed(field)) continue;
      // A ticked box the answer also has is carried over (the queue's selection for bulk
      // actions); one the answer would drop makes the region wait.
      var box = field.type === "checkbox" || field.type === "radio";
      if (box && field.id && fresh.querySelector("#" + CSS.escape(field.id))) continue;
      return "changed";
    }
    return "";
  }

  function put(region, fresh) {
    var name = region.getAttribute("data-live-region");
    var hint = hintFor(name);
    var fromHint = hint && hint.contains(document.activeElement);
    var checked = Array.prototype.map.call(
      region.querySelectorAll("input[type=checkbox]:checked, input[type=radio]:checked"),
      function (el) { return el.id; });
    var node = document.importNode(fresh, true);
    region.replaceWith(node);
    checked.forEach(function (id) {
      var box = id && document.getElementById(id);
      if (box) box.checked = true;
    });
    if (window.htmx) window.htmx.process(node);
    tick(node);
    if (hint) hint.remove();
    if (fromHint) {
      // Pressed (or left for) the hint: go on reading the part it brought in.
      node.setAttribute("tabindex", "-1");
      node.focus({ preventScroll: true });
    }
    node.dispatchEvent(new CustomEvent("firebreak:live-updated", { bubbles: true }));
    return node;
  }

  function hold(region, name, fresh) {
    live.pending[name] = fresh;
    if (hintFor(name)) return;
    var hint = document.createElement("p");
    hint.className = "live-hint";
    hint.setAttribute("data-live-hint", name);
    hint.setAttribute("role", "status");
    var button = document.createElement("button");
    button.type = "button";
    button.className = "button button-small";
    button.textContent = "Updated: refresh this part";
    hint.appendChild(button);
    region.parentNode.insertBefore(hint, region);
  }

  function update(html) {
    var doc = new DOMParser().parseFromString(html, "text/html");
    document.querySelectorAll("[data-live-region]").forEach(function (region) {
      var name = region.getAttribute("data-live-region");
      var fresh = regionNamed(name, doc);
      if (!fresh) return;
      if (asDrawn(fresh).isEqualNode(asDrawn(region))) {
        delete live.pending[name];
        dropHint(name);
        return;
      }
      if (inUse(region, fresh)) {
        hold(region, name, fresh);
        return;
      }
      delete live.pending[name];
      put(region, fresh);
    });
  }

  // Put in each answer kept aside whose region the person has left.
  function release() {
    Object.keys(live.pending).forEach(function (name) {
      var region = regionNamed(name);
      var fresh = live.pending[name];
      if (!region) {
        delete live.pending[name];
        dropHint(name);
      } else if (!inUse(region, fresh)) {
        delete live.pending[name];
        put(region, fresh);
      }
    });
  }

  function forget() {
    live.pending = {};
    document.querySelectorAll("[data-live-hint]").forEach(function (hint) { hint.remove(); });
  }

  function poll() {
    var root = document.querySelector("[data-live]");
    if (!root || live.busy || document.hidden) return;
    release();
    live.busy = true;
    var generation = live.generation;
    var headers = { "HX-Request": "true", "HX-Current-URL": location.href };
    headers[LIVE_HEADER] = "1";
    if (live.etag) headers["If-None-Match"] = live.etag;
    var url = root.getAttribute("data-live-url") || location.pathname + location.search;
    var outcome = { status: 0, stale: false };
    fetch(url, { headers: headers, credentials: "same-origin", cache: "no-store" })
      .then(function (response) {
        outcome.status = response.status;
        var redirect = response.headers.get("HX-Redirect");
        if (redirect) { toLogin(redirect); return null; }
        if (response.status !== 200) return null;
        var etag = response.headers.get("ETag") || "";
        return response.text().then(function (html) {
          // An htmx answer drew the regions while this one was on its way: it is older.
          if (generation !== live.generation) { outcome.stale = true; return; }
          live.etag = etag;
          update(html);
        });
      })
      .catch(function () { /* offline for a moment: the next poll tries again */ })
      .then(function () {
        live.busy = false;
        // Each poll's outcome, for whoever watches the page (the browser tests do).
        document.dispatchEvent(new CustomEvent("firebreak:live-polled", { detail: outcome }));
      });
  }

  function touches(target) {
    return target.matches("[data-live], [data-live-region]") || !!target.closest("[data-live-region]") ||
      !!target.querySelector("[data-live-region]");
  }

  function startPolling(root) {
    var seconds = parseInt(root.getAttribute("data-live-interval"), 10) || 5;
    setInterval(poll, seconds * 1000);
    document.addEventListener("visibilitychange", function () { if (!document.hidden) poll(); });

    // The page's own htmx answers. One drawn over every region shows the server's state as
    // of that answer, whose version it names; over some of them only, the version of the
    // others is unknown (the next poll asks, and leaves alone what has not changed).
    var drawing = null;
    document.addEventListener("htmx:beforeSwap", function (event) {
      var target = event.detail.target;
      if (!target || !touches(target)) { drawing = null; return; }
      var regions = Array.prototype.slice.call(document.querySelectorAll("[data-live-region]"));
      drawing = {
        xhr: event.detail.xhr,
        names: regions.filter(function (r) { return target.contains(r) || r.contains(target); })
          .map(function (r) { return r.getAttribute("data-live-region"); }),
        all: regions.every(function (r) { return target.contains(r); })
      };
    });
    document.addEventListener("htmx:afterSwap", function (event) {
      if (!drawing || event.detail.xhr !== drawing.xhr) return;
      var swap = drawing;
      drawing = null;
      live.generation += 1;
      live.etag = swap.all ? (swap.xhr.getResponseHeader(DRAWN_HEADER) || "") : "";
      swap.names.forEach(function (name) {
        delete live.pending[name];
        dropHint(name);
      });
    });
    // A page restored from htmx's history may be stale: ask at once.
    document.addEventListener("htmx:historyRestore", function () {
      live.generation += 1;
      live.etag = "";
      forget();
      setTimeout(poll, 0);
    });

    // The hint: put the part in now. Leaving a region (focus elsewhere, a panel closed)
    // puts in what waited for it.
    document.addEventListener("click", function (event) {
      var hint = event.target.closest && event.target.closest("[data-live-hint]");
      if (!hint) return;
      var name = hint.getAttribute("data-live-hint");
      var region = regionNamed(name);
      var fresh = live.pending[name];
      delete live.pending[name];
      if (region && fresh) put(region, fresh);
      else hint.remove();
    });
    document.addEventListener("focusout", function () { setTimeout(release, 0); });
    document.addEventListener("toggle", function () { setTimeout(release, 0); }, true);
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
