// Dockyard: the build page's live parts. The page shows the build as it was when served; while it
// runs this follows the log's server-sent events and appends each new line, polls the build's
// status for its state, start, commit and end, and counts the duration up every second.
// Without JavaScript, reloading the page shows the newer lines and times.
(function () {
  "use strict";

  var log = document.getElementById("build-log");
  if (!log || log.getAttribute("data-finished") === "true") return;
  var stateBox = document.getElementById("build-state");
  var status = document.getElementById("log-status");
  var durationBox = document.getElementById("build-duration");
  var finished = false;
  var poller = null;
  var ticker = null;

  function text(id, value) {
    var el = document.getElementById(id);
    if (el && value !== null && value !== undefined && value !== "") el.textContent = value;
  }

  function setState(state) {
    if (!stateBox || stateBox.querySelector("[data-state=" + state + "]")) return;
    var badge = document.createElement("span");
    badge.className = "build-state build-state-" + state;
    badge.setAttribute("data-state", state);
    badge.textContent = state;
    stateBox.replaceChildren(badge);
  }

  function formatDuration(ms) {
    var seconds = Math.max(0, Math.floor(ms / 1000));
    var minutes = Math.floor(seconds / 60);
    seconds = seconds % 60;
    return minutes ? minutes + "m " + (seconds < 10 ? "0" : "") + seconds + "s" : seconds + "s";
  }

  function tick() {
    if (!durationBox) return;
    var started = durationBox.getAttribute("data-started");
    if (!started) return;
    var end = durationBox.getAttribute("data-finished");
    var until = end ? new Date(end).getTime() : Date.now();
    durationBox.textContent = formatDuration(until - new Date(started).getTime());
  }

  function finish(state) {
    if (finished) return;
    finished = true;
    setState(state);
    log.setAttribute("data-finished", "true");
    document.querySelectorAll("[data-while-running]").forEach(function (el) { el.hidden = true; });
    document.querySelectorAll("[data-when-finished]").forEach(function (el) { el.hidden = false; });
    document.querySelectorAll(".build-badge img").forEach(function (img) {
      img.src = img.getAttribute("src").split("?")[0] + "?t=" + Date.now();
    });
    if (status) status.textContent = "The build has finished: " + state + ".";
    if (ticker) clearInterval(ticker);
    poll();  // the final times, digest and duration
  }

  function apply(info) {
    setState(info.state);
    if (info.started_at && durationBox) {
      durationBox.setAttribute("data-started", info.started_at);
      text("build-started", "at " + new Date(info.started_at).toLocaleTimeString());
    }
    if (info.commit) text("build-commit", info.commit.slice(0, 7));
    if (info.commit_message) text("build-commit-message", info.commit_message);
    if (info.finished) {
      if (durationBox && info.finished_at) durationBox.setAttribute("data-finished", info.finished_at);
      if (info.finished_at) text("build-finished", "at " + new Date(info.finished_at).toLocaleTimeString());
      if (poller) clearInterval(poller);
      if (!finished) finish(info.state);
    }
    tick();
  }

  function poll() {
    var url = log.getAttribute("data-status");
    if (!url || !window.fetch) return;
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (info) { if (info) apply(info); })
      .catch(function () { /* the next poll tries again */ });
  }

  ticker = setInterval(tick, 1000);
  poller = setInterval(poll, 2000);

  if (!window.EventSource) return;
  var url = log.getAttribute("data-stream") + "?after=" + encodeURIComponent(log.getAttribute("data-after") || "0");
  var source = new EventSource(url);

  function atBottom() {
    return log.scrollHeight - log.scrollTop - log.clientHeight < 40;
  }

  source.addEventListener("line", function (event) {
    var follow = atBottom();
    var line = document.createElement("span");
    line.className = "log-line";
    line.setAttribute("data-seq", event.lastEventId || "");
    line.textContent = JSON.parse(event.data) + "\n";
    log.appendChild(line);
    if (stateBox && stateBox.querySelector("[data-state=queued]")) {
      setState("building");
      poll();
    }
    if (follow) log.scrollTop = log.scrollHeight;
  });

  source.addEventListener("end", function (event) {
    source.close();
    finish(JSON.parse(event.data));
  });

  source.addEventListener("error", function () {
    if (source.readyState === EventSource.CLOSED && status && !finished) {
      status.textContent = "The live log stopped; reload the page to see the rest.";
    }
  });
})();
