// Records the consultation in the browser: MediaRecorder (WebM/Opus) in 2-second chunks, each sent at once
// and retried until the server has it, so a closed tab or a dropped connection loses at most seconds.
(function () {
  "use strict";
  var root = document.getElementById("recorder");
  if (!root) return;
  var startButton = document.getElementById("rec-start");
  var stopButton = document.getElementById("rec-stop");
  var timeLabel = document.getElementById("rec-time");
  var stateLabel = document.getElementById("rec-state");
  var meta = document.querySelector('meta[name="csrf-token"]');
  var csrf = meta ? meta.getAttribute("content") : "";
  var MIME = "audio/webm;codecs=opus";
  var TIMESLICE_MS = 2000;
  var recorder = null;
  var stream = null;
  var queue = [];
  var sending = false;
  var seq = 0;
  var startedAt = 0;
  var ticker = null;
  var fatal = null;

  function say(text) { stateLabel.textContent = text; }
  function sleep(ms) { return new Promise(function (resolve) { setTimeout(resolve, ms); }); }

  function post(url, body, type) {
    var headers = { "X-CSRF-Token": csrf, "Accept": "application/json" };
    if (type) headers["Content-Type"] = type;
    return fetch(url, { method: "POST", body: body, headers: headers, credentials: "same-origin" });
  }

  async function pump() {
    if (sending) return;
    sending = true;
    var delay = 1000;
    while (queue.length && !fatal) {
      var item = queue[0];
      try {
        var response = await post(root.dataset.chunkUrl + item.seq, item.blob, "audio/webm");
        if (response.ok) {
          queue.shift();
          delay = 1000;
          if (recorder && recorder.state === "recording") say("Recording. Everything so far is saved.");
          continue;
        }
        if (response.status === 401 || response.status === 403 || response.status === 409 || response.status === 413) {
          fatal = "The server refused the recording (" + response.status + "): " +
            (response.status === 401 ? "you were signed out; sign in again in another tab, then press Resume." :
              "reload the page to see why.");
          break;
        }
        throw new Error("HTTP " + response.status);
      } catch (err) {
        say("Connection problem: " + queue.length + " piece(s) waiting, retrying in " + Math.round(delay / 1000) + " s.");
        await sleep(delay);
        delay = Math.min(delay * 2, 15000);
      }
    }
    sending = false;
    if (fatal) say(fatal);
  }

  function tick() {
    var seconds = Math.floor((Date.now() - startedAt) / 1000);
    timeLabel.textContent = Math.floor(seconds / 60) + ":" + String(seconds % 60).padStart(2, "0");
  }

  async function start() {
    if (!window.MediaRecorder || !MediaRecorder.isTypeSupported(MIME)) {
      say("This browser cannot record WebM/Opus audio. Use Chrome, Edge or Firefox, or upload a recording.");
      return;
    }
    startButton.disabled = true;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio: { echoCancellation: false, noiseSuppression: false } });
    } catch (err) {
      startButton.disabled = false;
      say("The microphone is not available (" + err.name + "). Allow microphone access for this site and try again.");
      return;
    }
    var response = await post(root.dataset.startUrl, null, null);
    if (!response.ok) {
      stream.getTracks().forEach(function (t) { t.stop(); });
      startButton.disabled = false;
      say("The server did not start the recording (" + response.status + "). Reload the page.");
      return;
    }
    var started = await response.json();
    seq = started.next_seq || 0;
    fatal = null;
    recorder = new MediaRecorder(stream, { mimeType: MIME });
    recorder.addEventListener("dataavailable", function (event) {
      if (event.data && event.data.size > 0) {
        queue.push({ seq: seq, blob: event.data });
        seq += 1;
        pump();
      }
    });
    recorder.start(TIMESLICE_MS);
    startedAt = Date.now();
    ticker = setInterval(tick, 500);
    root.dataset.recording = "true";
    stopButton.disabled = false;
    stopButton.focus();
    say("Recording. Everything so far is saved.");
  }

  async function stop() {
    if (!recorder) return;
    stopButton.disabled = true;
    say("Stopping: sending the last seconds.");
    var stopped = new Promise(function (resolve) { recorder.addEventListener("stop", resolve, { once: true }); });
    recorder.stop();
    await stopped;
    stream.getTracks().forEach(function (t) { t.stop(); });
    clearInterval(ticker);
    while ((queue.length || sending) && !fatal) await sleep(250);
    if (fatal) { say(fatal); return; }
    var response = await post(root.dataset.stopUrl, null, null);
    if (!response.ok) {
      stopButton.disabled = false;
      say("The server could not finish the recording (" + response.status + "). Press Stop again.");
      return;
    }
    root.dataset.recording = "false";
    recorder = null;
    window.location.assign(root.dataset.doneUrl);
  }

  window.addEventListener("beforeunload", function (event) {
    if ((recorder && recorder.state === "recording") || queue.length) {
      event.preventDefault();
      event.returnValue = "";
    }
  });
  startButton.addEventListener("click", start);
  stopButton.addEventListener("click", stop);
})();
