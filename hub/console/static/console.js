// The console's only script: keyboard shortcuts, select-all for bulk actions, confirmations.
// Every page works without it; it only saves clicks.
(function () {
  "use strict";

  function typing(target) {
    var tag = target && target.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || (target && target.isContentEditable);
  }

  // An element with data-key="x" is clicked when x is pressed (outside a text field).
  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
    var key = event.key === "?" ? "?" : event.key.toLowerCase();
    var target = document.querySelector('[data-key="' + key + '"]');
    if (!target) return;
    event.preventDefault();
    target.click();
  });

  document.addEventListener("change", function (event) {
    var box = event.target;
    if (box.matches && box.matches("[data-select-all]")) {
      var form = box.form || document;
      form.querySelectorAll('input[type=checkbox][name="' + box.dataset.selectAll + '"]').forEach(function (each) {
        each.checked = box.checked;
      });
    }
  });

  document.addEventListener("submit", function (event) {
    var form = event.target;
    var submitter = event.submitter;
    var question = (submitter && submitter.dataset.confirm) || form.dataset.confirm;
    if (question && !window.confirm(question)) event.preventDefault();
  });

  // Keys help: "?" shows the list of shortcuts a page declares.
  document.addEventListener("DOMContentLoaded", function () {
    var help = document.getElementById("keys-help");
    var toggle = document.querySelector('[data-key="?"]');
    if (help && toggle) {
      toggle.addEventListener("click", function () { help.hidden = !help.hidden; });
    }
  });
})();
