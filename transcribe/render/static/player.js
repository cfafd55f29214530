// Seek the player from timestamps and words, follow the playback in the transcript,
// honour #t=mm:ss (on load and when the address changes). No framework, works from file://.
(function () {
  "use strict";
  var player = document.getElementById("player");
  if (!player) return;
  var segments = Array.prototype.slice.call(document.querySelectorAll(".seg"));

  function parseTime(text) {
    var parts = String(text).split(":").map(Number), seconds = 0;
    for (var i = 0; i < parts.length; i++) seconds = seconds * 60 + (parts[i] || 0);
    return seconds;
  }
  function seekTo(seconds) {
    if (player.readyState >= 1) player.currentTime = seconds;
    else player.addEventListener("loadedmetadata", function () { player.currentTime = seconds; }, { once: true });
    highlight(seconds, true);
  }
  document.addEventListener("click", function (event) {
    var target = event.target.closest("[data-t]");
    if (!target) return;
    event.preventDefault();
    var seconds = parseFloat(target.getAttribute("data-t"));
    seekTo(seconds);
    var playing = player.play();
    if (playing && playing.catch) playing.catch(function () {});
    var shown = target.classList.contains("seg") ? null : target.textContent.split("–")[0].trim();
    history.replaceState(null, "", "#t=" + (shown || Math.floor(seconds)));
  });

  var current = null;
  function highlight(t, scroll) {
    var found = null;
    for (var i = 0; i < segments.length; i++) {
      if (parseFloat(segments[i].getAttribute("data-t")) > t) break;
      found = segments[i];
    }
    if (found === current) return;
    if (current) current.classList.remove("now");
    if (found) {
      found.classList.add("now");
      if (scroll) found.scrollIntoView({ block: "center", behavior: "smooth" });
    }
    current = found;
  }
  player.addEventListener("timeupdate", function () { highlight(player.currentTime, !player.paused); });

  // the timeline's playhead follows the playback
  var playhead = document.querySelector(".timeline .playhead");
  if (playhead) {
    player.addEventListener("timeupdate", function () {
      if (player.duration > 0) playhead.style.left = (100 * player.currentTime / player.duration) + "%";
    });
  }

  function fromAddress() {
    var match = /^#t=([\d:.]+)$/.exec(location.hash);
    if (match) seekTo(parseTime(match[1]));
  }
  window.addEventListener("hashchange", fromAddress);
  fromAddress();

  // "Copy a link to this moment": the page's address at the player's time (#t=m:ss)
  var moment = document.querySelector(".moment");
  if (moment) {
    var button = moment.querySelector("button"), said = moment.querySelector("output");
    moment.hidden = false;
    button.addEventListener("click", function () {
      var t = Math.floor(player.currentTime || 0);
      var h = Math.floor(t / 3600), m = Math.floor(t % 3600 / 60), s = t % 60;
      var stamp = (h ? h + ":" + String(m).padStart(2, "0") : m) + ":" + String(s).padStart(2, "0");
      var url = location.href.split("#")[0] + "#t=" + stamp;
      function shown(text) { said.textContent = text; }
      if (navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(url).then(
          function () { shown("Copied: " + url); },
          function () { shown("Copy this link: " + url); });
      } else {
        shown("Copy this link: " + url);
      }
    });
  }
})();
