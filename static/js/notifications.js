// The unread badge in the top bar follows the person's notifications over a WebSocket; a new one is
// read out by screen readers (aria-live) and the badge's label always says the count.
(function () {
  "use strict";
  var badge = document.getElementById("notif-badge");
  if (!badge || !window.WebSocket) return;
  var count = document.getElementById("notif-count");
  var live = document.getElementById("notif-live");

  function show(unread, notification) {
    count.textContent = unread > 99 ? "99+" : String(unread);
    count.hidden = unread === 0;
    badge.classList.toggle("has-unread", unread > 0);
    badge.dataset.unread = unread;
    badge.setAttribute("aria-label", "Notifications: " + unread + " unread");
    if (notification && live) {
      live.textContent = "New notification: " + notification.message;
      badge.classList.remove("bump");
      void badge.offsetWidth; // restart the animation
      badge.classList.add("bump");
    }
  }

  var delay = 1000;
  function connect() {
    var ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + badge.dataset.wsPath);
    ws.onopen = function () { delay = 1000; };
    ws.onmessage = function (m) {
      var data = JSON.parse(m.data);
      if (data.kind === "notifications") show(data.unread, data.notification);
    };
    ws.onclose = function (e) {
      if (e.code === 4401) return; // signed out
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 30000);
    };
    window.aiosNotificationSocket = ws;
  }
  connect();
})();
