// Keyboard review: Y 同一人, N 非同一人 (choose a reason: digit keys or Enter), U 不确定, J/K next/previous.
// Served from this site only (the Content-Security-Policy forbids inline and remote scripts).
(function () {
  "use strict";
  var pair = document.getElementById("pair");
  if (!pair) { return; }
  var form = document.getElementById("decide");
  var panel = document.getElementById("reason-panel");
  var reason = document.getElementById("reason");
  var submitting = false;

  function submit(decision) {
    if (submitting) { return; }
    var button = form.querySelector('button[value="' + decision + '"]');
    if (!button) { return; }
    submitting = true;
    form.requestSubmit(button);
  }
  function openReasons() {
    panel.hidden = false;
    reason.focus();
  }
  function closeReasons() {
    panel.hidden = true;
    reason.value = "";
    document.activeElement.blur();
  }
  document.getElementById("btn-not-same").addEventListener("click", openReasons);
  form.addEventListener("submit", function (event) {
    var chosen = event.submitter && event.submitter.value;
    if (chosen === "not_same" && !reason.value) {
      event.preventDefault();
      submitting = false;
      openReasons();
    }
  });

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) { return; }
    var key = event.key;
    if (!panel.hidden) {
      if (key === "Escape") { event.preventDefault(); closeReasons(); return; }
      if (/^[1-9]$/.test(key) && document.activeElement !== document.getElementById("note")) {
        var option = reason.options[parseInt(key, 10)];
        if (option) { event.preventDefault(); reason.value = option.value; submit("not_same"); }
        return;
      }
      if (key === "Enter" && reason.value) { event.preventDefault(); submit("not_same"); }
      return;
    }
    var target = event.target;
    if (target && (target.tagName === "INPUT" || target.tagName === "TEXTAREA" || target.tagName === "SELECT")) { return; }
    switch (key.toLowerCase()) {
      case "y": event.preventDefault(); submit("same"); break;
      case "u": event.preventDefault(); submit("unsure"); break;
      case "n": event.preventDefault(); openReasons(); break;
      case "j": if (pair.dataset.next) { window.location.assign(pair.dataset.next); } break;
      case "k": if (pair.dataset.prev) { window.location.assign(pair.dataset.prev); } break;
    }
  });
}());

// Photos: zoom and rotate by CSS transform (no library: a scale and a rotation are all it needs).
(function () {
  "use strict";
  document.querySelectorAll("figure.zoomable").forEach(function (figure) {
    var img = figure.querySelector("img");
    var scale = 1;
    var turn = 0;
    function apply() { img.style.transform = "scale(" + scale + ") rotate(" + turn + "deg)"; img.dataset.scale = scale; img.dataset.turn = turn; }
    figure.querySelectorAll("button[data-photo]").forEach(function (button) {
      button.addEventListener("click", function () {
        var action = button.dataset.photo;
        if (action === "zoom-in") { scale = Math.min(4, scale * 1.5); }
        else if (action === "zoom-out") { scale = Math.max(0.5, scale / 1.5); }
        else if (action === "rotate") { turn = (turn + 90) % 360; }
        else { scale = 1; turn = 0; }
        apply();
      });
    });
    img.addEventListener("click", function () { scale = scale > 1 ? 1 : 2; apply(); });
  });
}());
