// runbot console: live updates (server-sent events), SLA countdowns and
// forms that answer in place. Every page also works without it.
"use strict";

function fmt(ms) {
  const s = Math.round(Math.abs(ms) / 1000);
  if (s < 60) return s + "s";
  const m = Math.floor(s / 60), r = s % 60;
  if (m < 60) return m + "m" + String(r).padStart(2, "0") + "s";
  const h = Math.floor(m / 60), mm = m % 60;
  if (h < 24) return h + "h" + String(mm).padStart(2, "0") + "m";
  return Math.floor(h / 24) + "d" + String(h % 24).padStart(2, "0") + "h";
}

// Countdowns: elements with data-due count down; past due, they say BREACHED.
function tick() {
  const now = Date.now();
  document.querySelectorAll("[data-due]").forEach((el) => {
    const left = Date.parse(el.dataset.due) - now;
    const label = el.textContent.split(" ")[0];
    el.textContent = label + " " + (left >= 0 ? "in " + fmt(left) : "BREACHED " + fmt(left) + " ago");
    el.classList.toggle("late", left < 0);
  });
}

// refresh fetches the page's live parts and swaps in the elements marked
// data-live, by id: forms are never replaced, so nothing typed is lost.
async function refresh() {
  const page = document.body.dataset.page;
  let url;
  // The board refreshes under the filters of its URL.
  if (page === "board") url = "/fragments/board" + location.search;
  if (page === "incident") url = "/fragments/incidents/" + document.body.dataset.incident;
  if (page === "morning") url = "/fragments/morning";
  if (!url) return;
  let doc;
  try {
    const res = await fetch(url, { credentials: "same-origin" });
    if (!res.ok) return;
    doc = new DOMParser().parseFromString(await res.text(), "text/html");
  } catch (_) {
    // runbot is restarting or the network is gone: the stream's
    // reconnection refreshes again, and the page says it is paused.
    return;
  }
  doc.querySelectorAll("[data-live][id]").forEach((fresh) => {
    const old = document.getElementById(fresh.id);
    if (!old) return;
    // A section someone opened or closed stays so: a refresh is not theirs.
    old.querySelectorAll("details[id]").forEach((d) => {
      const f = fresh.querySelector("#" + CSS.escape(d.id));
      if (f) f.open = d.open;
    });
    old.replaceWith(document.importNode(fresh, true));
  });
  tick();
}

let pending = null;
function refreshSoon() {
  if (pending) return;
  pending = setTimeout(() => { pending = null; refresh(); }, 100);
}

let stream = null;

function listen() {
  // A page with nothing live (sign-in, runbook, not found) follows nothing:
  // each stream counts against the person's cap.
  if (stream || document.hidden || !window.EventSource || !document.querySelector("[data-live]")) return;
  const live = document.getElementById("live");
  const es = new EventSource("/events");
  stream = es;
  // After a restart of runbot the browser reconnects by itself; what
  // changed meanwhile is caught up by refreshing on every (re)connection.
  es.addEventListener("open", () => { if (live) live.hidden = true; refreshSoon(); });
  es.addEventListener("error", () => {
    if (live) live.hidden = false;
    // Closed for good (runbot refused the stream: too many pages open):
    // refresh by polling, and ask again later.
    if (es.readyState === EventSource.CLOSED && stream === es) {
      stream = null;
      const poll = setInterval(refreshSoon, 30000);
      setTimeout(() => { clearInterval(poll); listen(); }, 60000);
    }
  });
  es.addEventListener("message", (e) => {
    const ev = JSON.parse(e.data);
    const mine = document.body.dataset.incident;
    const page = document.body.dataset.page;
    // "resync": runbot may have missed changes made through another of
    // its replicas; every page catches up.
    if (ev.type === "resync" || page === "board" || page === "morning" || (mine && String(ev.incident) === mine)) refreshSoon();
  });
}

// say shows runbot's answer to a form: in the form's own output, else at
// the top of the page, where the card's buttons are.
function say(form, text) {
  const out = form.querySelector(".answer") || document.getElementById("said") || document.querySelector(".command .answer");
  if (!out) return;
  out.textContent = text;
  out.hidden = !text;
}

// Forms marked data-async post in place and show runbot's answer. The
// form's attributes are read with getAttribute: a field named "action"
// or "method" shadows form.action and form.method.
document.addEventListener("submit", async (e) => {
  const form = e.target;
  if (!form.matches("form[data-async]")) return;
  e.preventDefault();
  const buttons = form.querySelectorAll("button");
  buttons.forEach((b) => { b.disabled = true; }); // one press, one action
  try {
    const res = await fetch(form.getAttribute("action"), {
      method: (form.getAttribute("method") || "post").toUpperCase(),
      body: new URLSearchParams(new FormData(form, e.submitter)),
      headers: { Accept: "application/json" },
      credentials: "same-origin",
    });
    let answer = {};
    try { answer = await res.json(); } catch (_) { answer = { reply: res.statusText }; }
    say(form, answer.reply || answer.error || "");
    if (res.ok) form.querySelectorAll("input[type=text], textarea").forEach((el) => { el.value = ""; });
  } catch (_) {
    say(form, "runbot did not answer: nothing was done. Try again in a moment.");
  } finally {
    buttons.forEach((b) => { b.disabled = false; });
  }
  refreshSoon();
});

// A browser keeps six connections to a server over HTTP/1.1, for all its
// tabs together: streams left open by pages in the back-forward cache or
// by tabs in the background starve the page in front, whose requests then
// wait for ever. A page closes its stream when it is hidden and opens it
// again when it shows, and the opening refreshes what changed meanwhile.
function stop() {
  if (stream) stream.close();
  stream = null;
}
window.addEventListener("pagehide", stop);
window.addEventListener("pageshow", (e) => { if (e.persisted) listen(); });
document.addEventListener("visibilitychange", () => { if (document.hidden) stop(); else listen(); });

document.addEventListener("DOMContentLoaded", () => { tick(); setInterval(tick, 1000); listen(); });
