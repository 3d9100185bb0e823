/* Stepdown: small progressive enhancements, no framework. Every page works without this file.
 *
 * - "/" focuses the search field of a list ([data-search])
 * - menus (<details data-menu>) close on Escape and on a click elsewhere; the nav collapses on phones
 * - [data-confirm] asks before a destructive submit or link
 * - [data-copy] copies its value to the clipboard
 * - the idle warning: one minute before the automatic sign-out, offer "Stay signed in"
 * - form error summaries take focus; htmx search results are announced
 */
(function () {
  "use strict";

  var doc = document;
  doc.documentElement.classList.add("js");

  function isTyping(el) {
    if (!el) return false;
    var tag = el.tagName;
    return el.isContentEditable || tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT";
  }

  function csrfToken() {
    var meta = doc.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  var announcer = doc.getElementById("messages");
  function announce(text) {
    var live = doc.getElementById("search-status") || announcer;
    if (live) live.textContent = text;
  }

  /* ---- Keyboard: "/" to search, Escape closes menus ------------------------------------------------ */
  doc.addEventListener("keydown", function (event) {
    if (event.key === "/" && !event.ctrlKey && !event.metaKey && !event.altKey && !isTyping(event.target)) {
      var search = doc.querySelector("[data-search]");
      if (search) {
        event.preventDefault();
        search.focus();
        search.select();
      }
    } else if (event.key === "Escape") {
      doc.querySelectorAll("details[data-menu][open]").forEach(function (menu) {
        menu.open = false;
        var summary = menu.querySelector("summary");
        if (summary && menu.contains(doc.activeElement)) summary.focus();
      });
    }
  });

  /* ---- Menus: one open at a time, close on outside click ------------------------------------------- */
  doc.addEventListener("click", function (event) {
    doc.querySelectorAll("details[data-menu][open]").forEach(function (menu) {
      if (!menu.contains(event.target)) menu.open = false;
    });
  });

  /* ---- Mobile navigation toggle --------------------------------------------------------------------- */
  var toggle = doc.querySelector(".nav-toggle");
  var panel = doc.getElementById("site-nav");
  if (toggle && panel) {
    toggle.hidden = false;
    toggle.addEventListener("click", function () {
      var open = panel.classList.toggle("open");
      toggle.setAttribute("aria-expanded", open ? "true" : "false");
    });
  }

  /* ---- Confirm before destructive actions ----------------------------------------------------------- */
  var dialog = null;
  function confirmDialog(message, onYes) {
    if (typeof HTMLDialogElement !== "function") {
      if (window.confirm(message)) onYes();
      return;
    }
    if (!dialog) {
      dialog = doc.createElement("dialog");
      dialog.className = "confirm";
      dialog.setAttribute("aria-labelledby", "confirm-text");
      dialog.innerHTML =
        '<form method="dialog"><p id="confirm-text"></p><div class="actions">' +
        '<button value="cancel" class="secondary" autofocus>Cancel</button>' +
        '<button value="ok" class="danger">Confirm</button></div></form>';
      doc.body.appendChild(dialog);
    }
    dialog.querySelector("#confirm-text").textContent = message;
    dialog.onclose = function () {
      if (dialog.returnValue === "ok") onYes();
    };
    dialog.returnValue = "";
    dialog.showModal();
  }

  doc.addEventListener("click", function (event) {
    var trigger = event.target.closest("[data-confirm]");
    if (!trigger || trigger.dataset.confirmed === "1") return;
    event.preventDefault();
    confirmDialog(trigger.dataset.confirm, function () {
      trigger.dataset.confirmed = "1";
      if (trigger.tagName === "A") {
        window.location.href = trigger.href;
      } else if (trigger.form) {
        trigger.form.requestSubmit(trigger);
      } else {
        trigger.click();
      }
      delete trigger.dataset.confirmed;
    });
  });

  /* ---- Copy to clipboard ---------------------------------------------------------------------------- */
  doc.querySelectorAll("[data-copy]").forEach(function (button) {
    if (!navigator.clipboard) return; // stays hidden: nothing to offer
    button.hidden = false;
    var label = button.textContent;
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(button.dataset.copy).then(
        function () {
          button.textContent = "Copied";
          announce("Copied to the clipboard.");
          window.setTimeout(function () { button.textContent = label; }, 2000);
        },
        function () { announce("Could not copy. Select the text and copy it by hand."); }
      );
    });
  });

  /* ---- Forms: the error summary takes focus so the problems are read out first ---------------------- */
  var summary = doc.getElementById("error-summary") || doc.getElementById("order-check");
  if (summary) summary.focus();

  /* ---- htmx: announce search results; a sign-out during a partial request reloads the page --------- */
  doc.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail.target && event.detail.target.id === "patient-rows") {
      var count = event.detail.target.querySelector("[data-result-count]");
      if (count) announce(count.textContent.trim());
    }
  });
  doc.addEventListener("htmx:beforeSwap", function (event) {
    var xhr = event.detail.xhr;
    if (xhr && xhr.responseURL && xhr.responseURL.indexOf("/accounts/login/") !== -1) {
      window.location.reload(); // the session ended: show the sign-in page, not a page inside a page
    }
  });

  /* ---- Idle warning --------------------------------------------------------------------------------- */
  var body = doc.body;
  var timeout = parseInt(body.dataset.idleTimeout || "", 10);
  var sessionUrl = body.dataset.sessionUrl;
  var banner = doc.getElementById("idle-warning");
  var WARN_BEFORE = 60; // seconds
  if (sessionUrl && banner) {
    var countdownEl = banner.querySelector("[data-idle-countdown]");
    var stayButton = banner.querySelector("[data-idle-stay]");
    var checkTimer = null;
    var tickTimer = null;
    var signOutAt = 0;

    var schedule = function (remaining) {
      window.clearTimeout(checkTimer);
      signOutAt = Date.now() + remaining * 1000;
      checkTimer = window.setTimeout(check, Math.max(0, remaining - WARN_BEFORE) * 1000);
    };

    var hideBanner = function () {
      banner.hidden = true;
      window.clearInterval(tickTimer);
    };

    var signedOut = function () {
      hideBanner();
      window.location.reload(); // the server has ended the session; it will show the sign-in page
    };

    var tick = function () {
      var left = Math.round((signOutAt - Date.now()) / 1000);
      if (left <= 0) {
        // Ask once more: another tab may have kept the session alive.
        window.clearInterval(tickTimer);
        probe("GET").then(function (state) {
          if (state.remaining > 0) { hideBanner(); schedule(state.remaining); } else { signedOut(); }
        }, signedOut);
        return;
      }
      countdownEl.textContent = String(left);
    };

    var showBanner = function () {
      if (!banner.hidden) return;
      countdownEl.textContent = String(Math.max(0, Math.round((signOutAt - Date.now()) / 1000)));
      banner.hidden = false;
      window.clearInterval(tickTimer);
      tickTimer = window.setInterval(tick, 1000);
    };

    // GET carries X-Stepdown-Background so asking is not activity; POST is ("Stay signed in").
    var probe = function (method) {
      var headers = { "X-CSRFToken": csrfToken(), Accept: "application/json" };
      if (method === "GET") headers["X-Stepdown-Background"] = "1";
      return fetch(sessionUrl, { method: method, credentials: "same-origin", headers: headers }).then(function (response) {
        var type = response.headers.get("content-type") || "";
        if (type.indexOf("application/json") === -1) return { remaining: 0 };
        return response.json().then(function (data) { return data.signed_in ? data : { remaining: 0 }; });
      });
    };

    var check = function () {
      probe("GET").then(function (state) {
        if (state.remaining <= 0) return signedOut();
        if (state.timeout > 0) timeout = state.timeout;
        signOutAt = Date.now() + state.remaining * 1000;
        if (state.remaining > WARN_BEFORE + 5) { hideBanner(); schedule(state.remaining); } else { showBanner(); }
      }, function () {
        showBanner(); // offline or server trouble: warn on the local clock rather than say nothing
      });
    };

    stayButton.addEventListener("click", function () {
      probe("POST").then(function (state) {
        if (state.remaining <= 0) return signedOut();
        hideBanner();
        schedule(state.remaining);
        announce("You are still signed in.");
      }, signedOut);
    });

    // Any htmx request that is not marked background counts as activity on the server too.
    doc.addEventListener("htmx:afterRequest", function (event) {
      var headers = (event.detail.requestConfig && event.detail.requestConfig.headers) || {};
      if (!headers["X-Stepdown-Background"] && timeout > 0) { hideBanner(); schedule(timeout); }
    });

    // The page was just served, so a full timeout is left; without the number (first page after
    // signing in) ask the server.
    if (timeout > 0) { schedule(timeout); } else { check(); }
  }
})();
