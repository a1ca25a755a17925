// Dockyard: light progressive enhancement. Every page works without this file.
(function () {
  "use strict";

  // Copy buttons: <button class="copy" data-copy="text">.
  document.addEventListener("click", function (event) {
    var button = event.target.closest("button.copy");
    if (!button) return;
    var text = button.getAttribute("data-copy") || "";
    var done = function (ok) {
      var label = button.textContent;
      button.textContent = ok ? "Copied" : "Press Ctrl+C";
      button.classList.toggle("copied", ok);
      setTimeout(function () { button.textContent = label; button.classList.remove("copied"); }, 1800);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(function () { done(true); }, function () { done(fallback(text)); });
    } else {
      done(fallback(text));
    }
  });

  function fallback(text) {
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.style.position = "fixed";
    area.style.opacity = "0";
    document.body.appendChild(area);
    area.select();
    var ok = false;
    try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
    document.body.removeChild(area);
    return ok;
  }

  // Confirm dialogs: <form data-confirm="Really?">.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var message = form.getAttribute("data-confirm");
    if (message && !window.confirm(message)) event.preventDefault();
  });

  // Bulk delete on the Tags page: "select all" ticks the page's boxes; the button waits for one.
  document.querySelectorAll("form[data-bulk]").forEach(function (form) {
    var boxes = function () { return document.querySelectorAll('input[type=checkbox][form="' + form.id + '"]'); };
    var all = form.querySelector("[data-select-all]");
    var button = form.querySelector("[data-bulk-submit]");
    var update = function () {
      var ticked = Array.prototype.filter.call(boxes(), function (box) { return box.checked; }).length;
      if (button) button.disabled = ticked === 0;
      if (all) {
        all.checked = ticked > 0 && ticked === boxes().length;
        all.indeterminate = ticked > 0 && ticked < boxes().length;
      }
    };
    if (all) {
      all.addEventListener("change", function () {
        boxes().forEach(function (box) { box.checked = all.checked; });
        update();
      });
    }
    boxes().forEach(function (box) { box.addEventListener("change", update); });
    update();
  });

  // Typed confirmation: the delete button stays disabled until the name is typed exactly.
  document.querySelectorAll("form[data-typed-confirm]").forEach(function (form) {
    var expected = form.getAttribute("data-typed-confirm");
    var input = form.querySelector("input[name=confirm]");
    var button = form.querySelector("button[type=submit]");
    if (!input || !button) return;
    var update = function () { button.disabled = input.value.trim() !== expected; };
    input.addEventListener("input", update);
    update();
  });
})();
