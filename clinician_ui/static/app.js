// Live queue: SSE from the alert stream, and a slow poll (a score can rise within its band without an alert
// event); either re-fetches the queue fragment (the server renders it). New cards are marked, counted in the
// title, and chime when this device opted in (a localStorage preference; the tone is synthesised, no file).
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

  const CHIME_KEY = "vward.chime";
  let audio = null;

  function chimeWanted() {
    try { return localStorage.getItem(CHIME_KEY) === "on"; } catch (e) { return false; }
  }

  function chime() {
    if (!chimeWanted()) return;
    const Ctx = window.AudioContext || window.webkitAudioContext;
    if (!Ctx) return;
    audio = audio || new Ctx();
    const osc = audio.createOscillator();
    const gain = audio.createGain();
    osc.frequency.value = 880;
    gain.gain.setValueAtTime(0.2, audio.currentTime);
    gain.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + 0.4);
    osc.connect(gain).connect(audio.destination);
    osc.start();
    osc.stop(audio.currentTime + 0.4);
  }

  function setupChime() {
    const box = document.getElementById("chime-optin");
    if (!box) return;
    box.checked = chimeWanted();
    box.addEventListener("change", function () {
      try { localStorage.setItem(CHIME_KEY, box.checked ? "on" : "off"); } catch (e) { /* private mode */ }
      if (box.checked) chime();  // a user gesture: lets the browser start audio, and lets her hear it
    });
  }

  function cardIds(queue) {
    return new Set(Array.from(queue.querySelectorAll("li.alert")).map(function (li) { return li.id; }));
  }

  // The header's open alerts by band, on every clinician page. Where the page has the live stream (the queue)
  // they are re-read on each alert event; elsewhere on a light poll and when the tab comes back into view: a
  // stream per open record would hold a server task and a Redis read loop per tab for numbers that change a
  // few times an hour, and would keep the page's network from ever going idle.
  const COUNTS_POLL_MS = 15000;

  function updateTitle() {
    const link = document.querySelector("#alert-counts [data-title]");
    const counts = link ? link.dataset.title : "";
    document.title = (counts ? "(" + counts + ") " : "") + document.title.replace(/^\([^)]*\) /, "");
  }

  function refreshCounts() {
    const box = document.getElementById("alert-counts");
    if (!box) return;
    fetch("/fragments/alert-counts", { headers: { Accept: "text/html" }, credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) {
        const fresh = document.createElement("template");
        fresh.innerHTML = html.trim();
        if (box.hasAttribute("data-pending") || fresh.content.textContent !== box.textContent) {
          box.replaceChildren(fresh.content);  // only on a change: a status region announces what it is given
          box.removeAttribute("data-pending");
        }
        updateTitle();
      })
      .catch(function () {});
  }

  function markNew(li) {
    li.classList.add("fresh");
    if (li.querySelector(".new-flag")) return;
    const flag = document.createElement("strong");
    flag.className = "new-flag";
    flag.textContent = "New";
    li.querySelector(".row1").prepend(flag);
  }

  // A refresh never takes the nurse's place: while she is typing in a card's field it waits until the focus
  // leaves the field (data-pending says one is waiting); what she typed, and the control her focus was on,
  // come back in the new cards.
  const FOCUSABLE = "a[href], button, summary, input:not([type=hidden]), textarea, select";

  function typing(queue) {
    const el = document.activeElement;
    return !!el && queue.contains(el) && el.matches("textarea, input:not([type=checkbox]):not([type=radio])");
  }

  function keepPlace(queue) {
    const el = document.activeElement;
    const card = el && queue.contains(el) ? el.closest("li.alert") : null;
    const typed = Array.from(queue.querySelectorAll("li.alert textarea, li.alert input:not([type=hidden])"))
      .filter(function (f) { return f.value !== f.defaultValue; })
      .map(function (f) { return [f.closest("li.alert").id, f.name, f.value]; });
    return function restore() {
      typed.forEach(function (t) {
        const field = document.querySelector("#" + CSS.escape(t[0]) + ' [name="' + t[1] + '"]');
        if (field) field.value = t[2];
      });
      const again = card && document.getElementById(card.id);
      if (!again) return;
      const stops = again.querySelectorAll(FOCUSABLE);
      const i = Array.from(card.querySelectorAll(FOCUSABLE)).indexOf(el);
      if (stops[i]) stops[i].focus();
    };
  }

  function refreshQueue(changedId) {
    const queue = document.getElementById("queue");
    if (typing(queue)) { queue.dataset.pending = "yes"; return; }
    fetch("/fragments/queue", { headers: { Accept: "text/html" }, credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) {
        if (typing(queue)) { queue.dataset.pending = "yes"; return; }
        delete queue.dataset.pending;
        const before = cardIds(queue);
        const fresh = Array.from(queue.querySelectorAll("li.fresh")).map(function (li) { return li.id; });
        const open = Array.from(queue.querySelectorAll("details[open]")).map(function (d) { return d.closest("li").id; });
        const restore = keepPlace(queue);
        queue.innerHTML = html;
        open.forEach(function (id) { const li = document.getElementById(id); if (li) li.querySelector("details").open = true; });
        restore();
        let arrived = false;
        queue.querySelectorAll("li.alert").forEach(function (li) {
          if (!before.has(li.id)) { arrived = true; markNew(li); } else if (fresh.indexOf(li.id) >= 0) { markNew(li); }
        });
        const row = changedId ? document.getElementById("alert-" + changedId) : null;
        if (row) row.classList.add("fresh");
        if (arrived) chime();
        updateTitle();
        tickCountdowns();
      })
      .catch(function () {});
  }

  function startLive(queue) {
    const status = document.getElementById("live-status");
    const es = new EventSource("/api/alerts/stream?since=" + encodeURIComponent(queue.dataset.since));
    es.onopen = function () { status.textContent = "Live"; };
    es.onerror = function () { status.textContent = "Reconnecting…"; };
    es.addEventListener("alert", function (ev) { refreshQueue(JSON.parse(ev.data).alert_id); refreshCounts(); });
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

  // Discharge, transfer and cutting a ward's beds ask first: each is hard to undo from a phone in a hallway.
  function confirmText(form) {
    if (form.dataset.confirm) {
      const sel = form.querySelector("select");
      return form.dataset.confirm + (sel ? " " + sel.options[sel.selectedIndex].text : "") + "?";
    }
    if (form.dataset.confirmCut) {
      const beds = Number(form.querySelector("input[name=beds]").value);
      const now = Number(form.dataset.confirmCut);
      if (beds < now) return "Cut " + form.dataset.ward + " from " + now + " to " + beds + " beds?";
    }
    return "";
  }

  // Forms marked data-inline-errors are sent in the background: on success the browser goes where the server
  // redirects; on a refusal the page stays (the input kept) and each message stands beside its field in plain
  // words, the rest above the form.
  function plain(text) {
    const t = text.replace(/^Value error, /, "").replace(/^Field required$/, "This is needed");
    return t.charAt(0).toUpperCase() + t.slice(1);
  }

  function showErrors(form, message) {
    form.querySelectorAll(".field-error, .form-error").forEach(function (el) { el.remove(); });
    form.querySelectorAll("[aria-invalid]").forEach(function (el) { el.removeAttribute("aria-invalid"); });
    const rest = [];
    message.split("; ").forEach(function (part) {
      const m = /^body\.([a-z_0-9]+)(?:\.\d+)?: (.*)$/.exec(part);
      const field = m && form.querySelector('[name="' + m[1] + '"]');
      if (!field) { rest.push(part.replace(/^body: /, "")); return; }
      const note = document.createElement("span");
      note.className = "field-error";
      note.id = "error-" + m[1];
      note.textContent = plain(m[2]);
      field.setAttribute("aria-invalid", "true");
      field.setAttribute("aria-describedby", note.id);
      field.insertAdjacentElement("afterend", note);
    });
    if (rest.length) {
      const box = document.createElement("p");
      box.className = "form-error notice error";
      box.setAttribute("role", "alert");
      box.textContent = plain(rest.join("; "));
      form.prepend(box);
    }
    const first = form.querySelector("[aria-invalid], .form-error");
    if (first) first.scrollIntoView({ block: "center" });
  }

  function sendInline(form) {
    fetch(form.action, { method: "POST", credentials: "same-origin", headers: { Accept: "text/html" },
      body: new URLSearchParams(new FormData(form)) })
      .then(function (r) {
        if (r.ok) { window.location.assign(r.url); return null; }
        return r.text().then(function (html) {
          const doc = new DOMParser().parseFromString(html, "text/html");
          const msg = doc.getElementById("error-message");
          showErrors(form, msg ? msg.textContent : "Could not save (error " + r.status + ")");
        });
      })
      .catch(function () { showErrors(form, "No connection: nothing was saved. Try again."); });
  }

  // The question is asked in the page (a modal <dialog>), not by window.confirm: it can be styled for a phone,
  // names the action on its button, and is worked by keyboard like the rest of the page. Focus starts on
  // Cancel (the safe answer), Tab stays inside while it is open, and Escape or Cancel closes it and gives the
  // focus back to the button that opened it.
  function confirmDialog() {
    let dlg = document.getElementById("confirm-dialog");
    if (dlg) return dlg;
    dlg = document.createElement("dialog");
    dlg.id = "confirm-dialog";
    dlg.setAttribute("aria-labelledby", "confirm-text");
    const text = document.createElement("p");
    text.id = "confirm-text";
    const cancel = document.createElement("button");
    cancel.type = "button"; cancel.className = "secondary"; cancel.textContent = "Cancel"; cancel.value = "cancel";
    const yes = document.createElement("button");
    yes.type = "button"; yes.id = "confirm-yes"; yes.value = "confirm";
    const row = document.createElement("div");
    row.className = "dialog-actions";
    row.append(cancel, yes);
    dlg.append(text, row);
    row.addEventListener("click", function (ev) { if (ev.target.value) dlg.close(ev.target.value); });
    dlg.addEventListener("keydown", function (ev) {
      if (ev.key !== "Tab") return;
      const stops = [cancel, yes];
      const i = stops.indexOf(document.activeElement);
      ev.preventDefault();
      stops[(i + (ev.shiftKey ? stops.length - 1 : 1)) % stops.length].focus();
    });
    document.body.append(dlg);
    return dlg;
  }

  function askFirst(form, submitter, question) {
    const dlg = confirmDialog();
    const opener = submitter || form.querySelector("button[type=submit], button:not([type])");
    dlg.querySelector("#confirm-text").textContent = question;
    dlg.querySelector("#confirm-yes").textContent = opener ? opener.textContent : "Confirm";
    dlg.returnValue = "";
    dlg.addEventListener("close", function () {
      if (dlg.returnValue === "confirm") {
        form.dataset.confirmed = "yes";
        form.requestSubmit(submitter || undefined);
      } else if (opener) {
        opener.focus();
      }
    }, { once: true });
    dlg.showModal();
    dlg.querySelector("button.secondary").focus();
  }

  // After an action on a queue card reloads the queue, a keyboard user is put back on that card's actions
  // rather than at the top of the page (a pointer user's focus is left alone).
  const RETURN_KEY = "vward.returnTo";
  let byKeyboard = false;
  document.addEventListener("keydown", function () { byKeyboard = true; }, true);
  document.addEventListener("pointerdown", function () { byKeyboard = false; }, true);

  function rememberCard(form) {
    const card = form.closest("#queue li.alert");
    try {
      if (card && byKeyboard) sessionStorage.setItem(RETURN_KEY, card.id); else sessionStorage.removeItem(RETURN_KEY);
    } catch (e) { /* private mode: the focus starts at the top */ }
  }

  function returnToCard() {
    let id = null;
    try { id = sessionStorage.getItem(RETURN_KEY); sessionStorage.removeItem(RETURN_KEY); } catch (e) { return; }
    const summary = id ? document.querySelector("#" + CSS.escape(id) + " details.actions > summary") : null;
    if (summary) summary.focus();
  }

  document.addEventListener("submit", function (ev) {
    const form = ev.target;
    rememberCard(form);
    const question = form.dataset.confirmed === "yes" ? "" : confirmText(form);
    delete form.dataset.confirmed;
    if (question) { ev.preventDefault(); askFirst(form, ev.submitter, question); return; }
    if (form.hasAttribute("data-inline-errors")) { ev.preventDefault(); sendInline(form); }
  });

  document.addEventListener("DOMContentLoaded", function () {
    // A table that scrolls sideways on a phone must be reachable by keyboard to be scrolled.
    document.querySelectorAll("table, .scroll").forEach(function (el) {
      if (el.scrollWidth > el.clientWidth) el.tabIndex = 0;
    });
    const queue = document.getElementById("queue");
    if (queue) {
      startLive(queue); setupPush(); setupChime(); tickCountdowns(); setInterval(tickCountdowns, 30000);
      returnToCard();
      setInterval(function () { refreshQueue(null); refreshCounts(); }, 1000 * Number(queue.dataset.pollS || 20));
      queue.addEventListener("click", function () { if (audio && audio.state === "suspended") audio.resume(); });
      queue.addEventListener("focusout", function () {
        setTimeout(function () { if (queue.dataset.pending && !typing(queue)) refreshQueue(null); }, 0);
      });
    } else if (document.getElementById("alert-counts")) {
      if (document.getElementById("alert-counts").hasAttribute("data-pending")) refreshCounts();
      setInterval(refreshCounts, COUNTS_POLL_MS);
      document.addEventListener("visibilitychange", function () { if (!document.hidden) refreshCounts(); });
    }
  });
})();
