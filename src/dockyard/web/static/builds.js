// Dockyard: the build page's live log. The page shows the log as it was when served; while the
// build runs this follows its server-sent events and appends each new line, then shows the
// final state. Without JavaScript, reloading the page shows the newer lines.
(function () {
  "use strict";

  var log = document.getElementById("build-log");
  if (!log || log.getAttribute("data-finished") === "true" || !window.EventSource) return;
  var stateBox = document.getElementById("build-state");
  var status = document.getElementById("log-status");
  var url = log.getAttribute("data-stream") + "?after=" + encodeURIComponent(log.getAttribute("data-after") || "0");
  var source = new EventSource(url);

  function atBottom() {
    return log.scrollHeight - log.scrollTop - log.clientHeight < 40;
  }

  function setState(state) {
    if (!stateBox) return;
    var badge = document.createElement("span");
    badge.className = "build-state build-state-" + state;
    badge.setAttribute("data-state", state);
    badge.textContent = state;
    stateBox.replaceChildren(badge);
  }

  source.addEventListener("line", function (event) {
    var follow = atBottom();
    var line = document.createElement("span");
    line.className = "log-line";
    line.setAttribute("data-seq", event.lastEventId || "");
    line.textContent = JSON.parse(event.data) + "\n";
    log.appendChild(line);
    if (stateBox && stateBox.querySelector("[data-state=queued]")) setState("building");
    if (follow) log.scrollTop = log.scrollHeight;
  });

  source.addEventListener("end", function (event) {
    var state = JSON.parse(event.data);
    source.close();
    setState(state);
    var finished = document.getElementById("build-finished");
    if (finished) finished.textContent = "just now";
    log.setAttribute("data-finished", "true");
    document.querySelectorAll("[data-while-running]").forEach(function (el) { el.hidden = true; });
    document.querySelectorAll("[data-when-finished]").forEach(function (el) { el.hidden = false; });
    document.querySelectorAll(".build-badge img").forEach(function (img) {
      img.src = img.getAttribute("src").split("?")[0] + "?t=" + Date.now();
    });
    if (status) status.textContent = "The build has finished: " + state + ". Reload for its digest and times.";
  });

  source.addEventListener("error", function () {
    if (source.readyState === EventSource.CLOSED && status) {
      status.textContent = "The live log stopped; reload the page to see the rest.";
    }
  });
})();
