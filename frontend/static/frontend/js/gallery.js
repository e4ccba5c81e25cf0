// Listing photo gallery: thumbnails swap the main photo (buttons, so keyboard works).
(function () {
  "use strict";
  var main = document.getElementById("main-photo");
  if (!main) return;
  document.querySelectorAll(".gallery .thumbs button").forEach(function (button) {
    button.addEventListener("click", function () {
      main.src = button.dataset.full;
      document.querySelectorAll(".gallery .thumbs button").forEach(function (b) {
        b.setAttribute("aria-pressed", b === button ? "true" : "false");
      });
    });
  });
})();
