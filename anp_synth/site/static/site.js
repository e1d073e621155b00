// alphanode: the reference site's one script (served as /static/site.<hash>.js, deferred).
// It only improves what the HTML already does: the page works without it.
(function () {
  "use strict";
  // Mark the navigation link of the section being read.
  var path = window.location.pathname;
  document.querySelectorAll(".site-nav a").forEach(function (link) {
    var href = link.getAttribute("href");
    if (href === path || (href !== "/" && path.indexOf(href + "/") === 0)) {
      link.setAttribute("aria-current", "page");
    }
  });
  // A "copy" button on code blocks, where the browser lets a page write the clipboard.
  if (!navigator.clipboard || !window.isSecureContext) {
    return;
  }
  document.querySelectorAll("pre > code").forEach(function (code) {
    var button = document.createElement("button");
    button.type = "button";
    button.className = "copy-code";
    button.textContent = "copy";
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(code.textContent).then(
        function () { button.textContent = "copied"; },
        function () { button.textContent = "copy failed"; }
      );
    });
    code.parentNode.appendChild(button);
  });
})();
