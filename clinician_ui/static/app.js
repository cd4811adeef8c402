// Live queue: SSE from the alert stream; on each event, re-fetch the queue fragment (the server renders it).
(function () {
  "use strict";
  const csrf = document.querySelector('meta[name="csrf-token"]').content;

  function tickCountdowns() {
    const now = Date.now();
    document.querySelectorAll("[data-due]").forEach(function (el) {
      const due = Date.parse(el.dataset.due);
      const mins = Math.round((due - now) / 60000);
      const what = el.textContent.split(" ")[0];
      el.textContent = what + (mins >= 0 ? " in " + mins + " min" : " overdue by " + -mins + " min");
      el.classList.toggle("overdue", mins < 0);
    });
  }

  function refreshQueue(changedId) {
    fetch("/fragments/queue", { headers: { Accept: "text/html" }, credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) {
        const queue = document.getElementById("queue");
        const open = Array.from(queue.querySelectorAll("details[open]")).map(function (d) { return d.closest("li").id; });
        queue.innerHTML = html;
        open.forEach(function (id) { const li = document.getElementById(id); if (li) li.querySelector("details").open = true; });
        const row = document.getElementById("alert-" + changedId);
        if (row) row.classList.add("fresh");
        tickCountdowns();
      })
      .catch(function () {});
  }

  function startLive(queue) {
    const status = document.getElementById("live-status");
    const es = new EventSource("/api/alerts/stream?since=" + encodeURIComponent(queue.dataset.since));
    es.onopen = function () { status.textContent = "Live"; };
    es.onerror = function () { status.textContent = "Reconnecting…"; };
    es.addEventListener("alert", function (ev) { refreshQueue(JSON.parse(ev.data).alert_id); });
  }

  function b64ToBytes(s) {
    const pad = "=".repeat((4 - (s.length % 4)) % 4);
    const raw = atob((s + pad).replace(/-/g, "+").replace(/_/g, "/"));
    return Uint8Array.from(raw, function (c) { return c.charCodeAt(0); });
  }

  function setupPush() {
    const btn = document.getElementById("push-optin");
    if (!btn || !("serviceWorker" in navigator) || !("PushManager" in window)) return;
    btn.hidden = false;
    btn.addEventListener("click", async function () {
      try {
        const key = await (await fetch("/api/push/vapid-public-key")).json();
        if (!key.key) throw new Error(key.detail || "no key");
        const reg = await navigator.serviceWorker.register("/static/sw.js", { scope: "/static/" });
        const sub = await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: b64ToBytes(key.key) });
        const r = await fetch("/api/push/subscriptions", { method: "POST", credentials: "same-origin",
          headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf }, body: JSON.stringify(sub.toJSON()) });
        btn.textContent = r.ok ? "Notifications on" : "Could not turn on notifications";
      } catch (e) { btn.textContent = "Notifications unavailable: " + e.message; }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    const queue = document.getElementById("queue");
    if (queue) { startLive(queue); setupPush(); tickCountdowns(); setInterval(tickCountdowns, 30000); }
  });
})();
