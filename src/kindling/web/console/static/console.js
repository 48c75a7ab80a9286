// Kindling admin console: progressive enhancements only (every form works without JS).
(function () {
  "use strict";

  function announce(text) {
    var live = document.getElementById("live-region");
    if (live) { live.textContent = ""; setTimeout(function () { live.textContent = text; }, 30); }
  }

  function textOf(el) {
    if ("value" in el && typeof el.value === "string" && el.tagName !== "BUTTON") return el.value;
    return el.textContent || "";
  }

  function fallbackCopy(text) {
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.className = "sr-only";
    document.body.appendChild(area);
    area.select();
    var ok = false;
    try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
    document.body.removeChild(area);
    return ok;
  }

  function copy(button) {
    var target = document.getElementById(button.getAttribute("data-copy"));
    if (!target) return;
    var text = textOf(target);
    var done = function () {
      var label = button.textContent;
      button.classList.add("copied");
      button.textContent = "Copied";
      announce("Copied to the clipboard");
      setTimeout(function () { button.textContent = label; button.classList.remove("copied"); }, 1500);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () { if (fallbackCopy(text)) done(); });
    } else if (fallbackCopy(text)) {
      done();
    }
  }

  document.addEventListener("click", function (event) {
    var el = event.target instanceof Element ? event.target.closest("[data-copy],[data-check-all],[data-uncheck-all]") : null;
    if (!el) return;
    if (el.hasAttribute("data-copy")) { copy(el); return; }
    var all = el.hasAttribute("data-check-all");
    var grid = document.getElementById(el.getAttribute(all ? "data-check-all" : "data-uncheck-all"));
    if (!grid) return;
    grid.querySelectorAll(".scope:not([hidden]) input[type=checkbox]").forEach(function (box) { box.checked = all; });
  });

  document.addEventListener("submit", function (event) {
    var form = event.target;
    var message = form.getAttribute && form.getAttribute("data-confirm");
    if (message && !window.confirm(message)) event.preventDefault();
  });

  document.addEventListener("input", function (event) {
    var input = event.target;
    if (!input.hasAttribute || !input.hasAttribute("data-filter-scopes")) return;
    var grid = document.getElementById(input.getAttribute("data-filter-scopes"));
    var needle = input.value.trim().toLowerCase();
    if (!grid) return;
    grid.querySelectorAll(".scope").forEach(function (label) {
      label.hidden = needle !== "" && label.getAttribute("data-scope").toLowerCase().indexOf(needle) === -1;
    });
  });

  // A page rendered by a form post (a secret shown once) gets its own address, so a reload
  // shows the page instead of sending the form again.
  var canonical = document.body.getAttribute("data-canonical");
  if (canonical && window.history.replaceState) window.history.replaceState(null, "", canonical);

  // Select a freshly shown secret or token so it is easy to copy by keyboard too.
  var once = document.querySelector(".secret-once");
  if (once) once.focus();
})();
