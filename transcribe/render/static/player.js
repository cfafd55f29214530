// Seek the player from timestamps, follow the playback in the transcript, honour #t=mm:ss.
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
  function seek(seconds) {
    player.currentTime = seconds;
    var playing = player.play();
    if (playing && playing.catch) playing.catch(function () {});
  }
  document.addEventListener("click", function (event) {
    var target = event.target.closest("[data-t]");
    if (!target) return;
    event.preventDefault();
    seek(parseFloat(target.getAttribute("data-t")));
    history.replaceState(null, "", "#t=" + target.textContent.split("–")[0].trim());
  });
  var current = null;
  player.addEventListener("timeupdate", function () {
    var t = player.currentTime, found = null;
    for (var i = 0; i < segments.length; i++) {
      var start = parseFloat(segments[i].getAttribute("data-t"));
      if (start > t) break;
      found = segments[i];
    }
    if (found === current) return;
    if (current) current.classList.remove("now");
    if (found) {
      found.classList.add("now");
      if (!player.paused) found.scrollIntoView({ block: "center", behavior: "smooth" });
    }
    current = found;
  });
  var match = /^#t=([\d:.]+)$/.exec(location.hash);
  if (match) {
    var start = parseTime(match[1]);
    if (player.readyState >= 1) player.currentTime = start;
    else player.addEventListener("loadedmetadata", function () { player.currentTime = start; }, { once: true });
  }
})();
