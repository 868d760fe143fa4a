// Behaviour every page's forms share, without inline handlers (the Content-Security-Policy allows
// only scripts from this site):
// * <form data-confirm="Question?">: asks before submitting; Cancel keeps the page as it is.
// * <form data-tz-offset>: fills its tz_offset_minutes field with the browser's offset from UTC for
//   the moment chosen in its publish_at field.
(function () {
  "use strict";
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement)) return;
    if (form.dataset.confirm !== undefined && !window.confirm(form.dataset.confirm)) {
      event.preventDefault();
      event.stopImmediatePropagation();
      return;
    }
    if (form.dataset.tzOffset !== undefined && form.elements.publish_at && form.elements.tz_offset_minutes) {
      form.elements.tz_offset_minutes.value = new Date(form.elements.publish_at.value).getTimezoneOffset();
    }
  }, true);
})();
