// Dockyard: the README editor's live preview. As you type (after a short pause) the text goes to
// the server, which renders and sanitises it exactly as the Overview does, and the preview shows
// the result. Without JavaScript the "Preview" button does the same with a page load.
(function () {
  "use strict";

  var form = document.querySelector("form[data-preview]");
  if (!form || !window.fetch) return;
  var area = form.querySelector("textarea[name=full_description]");
  var preview = document.getElementById("readme-preview");
  var token = form.querySelector("input[name=csrf_token]");
  if (!area || !preview || !token) return;
  var timer = null;
  var sent = 0;

  function refresh() {
    var mine = ++sent;
    var body = new URLSearchParams();
    body.set("csrf_token", token.value);
    body.set("full_description", area.value);
    fetch(form.getAttribute("data-preview"), { method: "POST", body: body, credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        if (html !== null && mine === sent) {
          preview.innerHTML = html;  // rendered and sanitised by the server (hub/markdown.py)
          preview.removeAttribute("data-stale");
        }
      })
      .catch(function () { preview.setAttribute("data-stale", "true"); });
  }

  area.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(refresh, 300);
  });
  if (area.value !== area.defaultValue) refresh();  // typed before this script ran
  var button = form.querySelector(".preview-button");
  if (button) button.hidden = true;  // the preview is live
})();
