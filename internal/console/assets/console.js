// Switchboard console: live updates only. Every page reads fully without
// this script; it adds new deliveries to the log as they come in and
// refreshes a pending delivery's page when it settles. It polls with an
// ETag (nothing new: 204 or 304), and not while the tab is hidden.
"use strict";
(function () {
  var every = 3000;

  function poll(fn) {
    function tick() {
      if (document.hidden) { setTimeout(tick, every); return; }
      // fn resolves true when there is more to fetch right away.
      fn().catch(function () {}).then(function (more) { setTimeout(tick, more === true ? 0 : every); });
    }
    setTimeout(tick, every);
  }

  // The delivery log: rows newer than the newest shown are prepended.
  var rows = document.querySelector("[data-live]");
  if (rows) {
    var etag = "";
    poll(function () {
      var headers = etag ? { "If-None-Match": etag } : {};
      return fetch(rows.dataset.live, { headers: headers, credentials: "same-origin" }).then(function (resp) {
        if (resp.status !== 200) { return; }
        etag = resp.headers.get("ETag") || "";
        var newest = resp.headers.get("X-Newest");
        return resp.text().then(function (html) {
          var empty = rows.querySelector("tr.empty");
          if (empty) { empty.remove(); }
          rows.insertAdjacentHTML("afterbegin", html); // rendered and escaped by the server
          if (newest) {
            var u = new URL(rows.dataset.live, location.href);
            u.searchParams.set("after", newest);
            rows.dataset.live = u.pathname + u.search;
          }
          return resp.headers.get("X-More") === "1"; // a full page: fetch the next now
        });
      });
    });
  }

  // A pending delivery: reload its page once its state changes.
  var state = document.querySelector("[data-live-state]");
  if (state) {
    poll(function () {
      return fetch(state.dataset.liveState, { credentials: "same-origin" }).then(function (resp) {
        return resp.ok ? resp.text() : state.dataset.current;
      }).then(function (now) {
        if (now !== state.dataset.current) { location.reload(); }
      });
    });
  }
})();
