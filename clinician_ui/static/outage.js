// Outage banner: polls /api/status and shows, on every page, which part of the alert path is silent.
(function () {
  "use strict";
  const POLL_MS = 3000;
  const banner = document.getElementById("outage-banner");
  if (!banner) return;

  function show(lines) {
    banner.replaceChildren.apply(banner, lines.map(function (text) {
      const p = document.createElement("p");
      p.textContent = text;
      return p;
    }));
    banner.hidden = lines.length === 0;
  }

  function poll() {
    fetch("/api/status", { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (r) {
        if (r.status === 401 || r.status === 403) return { outages: [] };  // signed out: nothing to say
        return r.ok ? r.json() : Promise.reject(r.status);
      })
      .then(function (body) { show(body.outages.map(function (o) { return o.text; })); })
      .catch(function () { show(["Cannot reach the vward server — this page may be out of date; watch the queue"]); })
      .finally(function () { setTimeout(poll, POLL_MS); });
  }

  poll();
})();
