// The review page: evidence highlighting, per-segment playback, copy as text, and active review time.
(function () {
  "use strict";
  var review = document.getElementById("review");
  if (!review) return;
  var meta = document.querySelector('meta[name="csrf-token"]');
  var csrf = meta ? meta.getAttribute("content") : "";
  var player = document.getElementById("player");
  var status = document.getElementById("evidence-status");
  var stopAt = null;
  var HEARTBEAT_MS = 15000;
  var ACTIVE_MS = 60000;
  var lastInteraction = Date.now();

  function showEvidence(trigger) {
    var ids = (trigger.dataset.evidence || "").split(/\s+/).filter(Boolean);
    document.querySelectorAll(".segment.is-evidence").forEach(function (el) { el.classList.remove("is-evidence"); });
    document.querySelectorAll(".evidence-link.is-selected").forEach(function (el) { el.classList.remove("is-selected"); });
    trigger.classList.add("is-selected");
    var found = ids.map(function (id) { return document.getElementById("seg-" + id); }).filter(Boolean);
    found.forEach(function (el) { el.classList.add("is-evidence"); });
    if (found.length) found[0].scrollIntoView({ block: "center", behavior: "smooth" });
    if (status) {
      status.textContent = found.length ? "Evidence: segment" + (found.length > 1 ? "s " : " ") + ids.join(", ") +
        " highlighted in the transcript." : "No evidence cited for this item.";
    }
  }

  function play(button) {
    if (!player) return;
    var start = parseFloat(button.dataset.start);
    stopAt = parseFloat(button.dataset.end);
    player.currentTime = start;
    var playing = player.play();
    if (playing && playing.catch) playing.catch(function () { stopAt = null; });
  }

  if (player) {
    player.addEventListener("timeupdate", function () {
      if (stopAt !== null && player.currentTime >= stopAt) { player.pause(); stopAt = null; }
    });
  }

  async function copyText(button) {
    var label = document.getElementById("copy-status");
    try {
      var response = await fetch(button.dataset.url, { credentials: "same-origin" });
      if (!response.ok) throw new Error("HTTP " + response.status);
      await navigator.clipboard.writeText(await response.text());
      if (label) label.textContent = "Copied: paste it into the patient record.";
    } catch (err) {
      if (label) label.textContent = "Could not copy (" + err.message + "): use Download as text.";
    }
  }

  document.addEventListener("click", function (event) {
    var link = event.target.closest(".evidence-link");
    if (link) { showEvidence(link); return; }
    var button = event.target.closest(".play-seg");
    if (button) { play(button); return; }
    var copy = event.target.closest(".copy-text");
    if (copy) copyText(copy);
  });

  ["keydown", "pointerdown", "pointermove", "scroll", "input"].forEach(function (name) {
    document.addEventListener(name, function () { lastInteraction = Date.now(); }, { passive: true, capture: true });
  });

  setInterval(function () {
    if (document.visibilityState !== "visible" || Date.now() - lastInteraction > ACTIVE_MS) return;
    fetch(review.dataset.heartbeat, {
      method: "POST", credentials: "same-origin", headers: { "X-CSRF-Token": csrf },
    }).catch(function () { /* metrics only: a missed beat is not worth bothering the clinician */ });
  }, HEARTBEAT_MS);
})();
