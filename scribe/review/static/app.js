// scribe: small behaviours every page shares. No inline scripts anywhere (the CSP forbids them).
(function () {
  "use strict";

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }

  // Other scripts (recorder.js, review.js) send the token with fetch: headers: {"X-CSRF-Token": scribe.csrfToken()}.
  window.scribe = { csrfToken: csrfToken };

  // htmx requests carry the session's CSRF token in a header.
  document.addEventListener("htmx:configRequest", function (event) {
    var token = csrfToken();
    if (token) {
      event.detail.headers["X-CSRF-Token"] = token;
    }
  });

  // htmx does not swap error responses by default; show their message instead of failing silently.
  document.addEventListener("htmx:responseError", function (event) {
    var xhr = event.detail.xhr;
    var message = "The server refused that (" + xhr.status + "). Reload the page and try again.";
    try {
      var doc = new DOMParser().parseFromString(xhr.responseText, "text/html");
      var found = doc.querySelector(".message--error");
      if (found) {
        message = found.textContent.trim();
      }
    } catch (e) {
      // keep the generic message
    }
    showAlert(message);
  });

  document.addEventListener("htmx:sendError", function () {
    showAlert("The server could not be reached. Check the connection and try again.");
  });

  function showAlert(message) {
    var box = document.getElementById("app-alert");
    if (!box) {
      box = document.createElement("p");
      box.id = "app-alert";
      box.className = "message message--error app-alert";
      box.setAttribute("role", "alert");
      var main = document.getElementById("main");
      (main || document.body).prepend(box);
    }
    box.textContent = message;
  }

  // Forms with data-confirm ask before submitting (disable a user, reject a note, ...).
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form instanceof HTMLFormElement && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
      event.preventDefault();
    }
  }, true);
})();
