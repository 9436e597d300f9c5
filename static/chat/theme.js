// Theme: "light", "dark" or "system", remembered in localStorage. Loaded as a blocking
// <script src> in <head> so the right colours apply before the first paint. The CSS reads
// <html data-theme> (color-scheme + light-dark()), so "system" follows the OS live.
(function () {
  "use strict";
  var KEY = "minimax-web:theme";
  var ORDER = ["system", "light", "dark"];
  var LABELS = { system: "System", light: "Light", dark: "Dark" };
  var root = document.documentElement;

  function read() {
    var value = null;
    try {
      value = window.localStorage.getItem(KEY);
    } catch (e) {
      value = null; // storage disabled: fall back to the OS preference
    }
    return ORDER.indexOf(value) >= 0 ? value : "system";
  }

  function labelButtons(theme) {
    var buttons = document.querySelectorAll("[data-theme-toggle]");
    for (var i = 0; i < buttons.length; i++) {
      var next = ORDER[(ORDER.indexOf(theme) + 1) % ORDER.length];
      buttons[i].setAttribute(
        "aria-label",
        "Theme: " + LABELS[theme].toLowerCase() + ". Switch to " + LABELS[next].toLowerCase()
      );
      var label = buttons[i].querySelector("[data-theme-label]");
      if (label) label.textContent = LABELS[theme];
    }
  }

  function apply(theme) {
    root.setAttribute("data-theme", theme);
    labelButtons(theme);
  }

  apply(read());

  document.addEventListener("DOMContentLoaded", function () {
    labelButtons(read());
  });

  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-theme-toggle]");
    if (!button) return;
    var current = root.getAttribute("data-theme") || "system";
    var next = ORDER[(ORDER.indexOf(current) + 1) % ORDER.length];
    try {
      window.localStorage.setItem(KEY, next);
    } catch (e) {
      // not remembered, still applied for this page
    }
    apply(next);
  });

  // Another tab changed the theme.
  window.addEventListener("storage", function (event) {
    if (event.key === KEY) apply(read());
  });
})();
