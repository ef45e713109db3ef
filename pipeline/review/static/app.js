// Review app page script: keyboard review of a letter. No framework, no inline script (CSP script-src 'self').
"use strict";

(function () {
  const root = document.getElementById("letter");
  if (!root) return;

  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  // A page answering a fields POST (a conflict or a refused value): reloading must not post again.
  if (root.dataset.posted && window.history.replaceState) {
    window.history.replaceState(null, "", window.location.pathname + window.location.search);
  }
  const letterId = root.dataset.letterId;
  const conflictBox = document.getElementById("conflict");
  const flash = document.getElementById("flash");
  const versionInput = document.getElementById("version-input");
  const keysHelp = document.getElementById("keys");
  let version = parseInt(root.dataset.version, 10);
  let busy = Promise.resolve(); // saves run one after another, each with the version the last one returned
  // A conflict shown by the server came with the current version; only a 409 seen here blocks saving.
  let blocked = false;

  const labels = JSON.parse(root.dataset.labels || "{}");
  const label = (code) => (code && labels[code]) || code || "";
  // A message in the interface language; {name} parts are filled from vals.
  const T = (msg, vals) => Object.entries(vals || {}).reduce((t, [k, v]) => t.replace("{" + k + "}", v), labels[msg] || msg);
  const cards = () => Array.from(document.querySelectorAll(".card"));
  let focus = 0;

  function setFocus(i) {
    const cs = cards();
    if (!cs.length) return;
    focus = Math.max(0, Math.min(cs.length - 1, i));
    cs.forEach((c, j) => c.classList.toggle("focused", j === focus));
    cs[focus].scrollIntoView({ block: "nearest" });
    showEvidence(cs[focus]);
    highlight(String(cs[focus].dataset.index), "evidence");
    // Bring the focused promise's evidence into view on the page images (it may be on page 2).
    const rect = document.querySelector('rect.box.evidence[data-target="' + cs[focus].dataset.index + '"]');
    const pane = document.querySelector(".pages");
    if (rect && pane) {
      const r = rect.getBoundingClientRect();
      const p = pane.getBoundingClientRect();
      if (r.top < p.top || r.bottom > p.bottom) pane.scrollTop += r.top - p.top - p.height / 3;
    }
  }

  function showEvidence(card) {
    // The passage box scrolls on its own: put the evidence sentence inside its visible part.
    const box = card.querySelector(".passage");
    const mark = box && box.querySelector("mark.evidence");
    if (!box || !mark || !mark.textContent) return;
    const top = mark.offsetTop - box.offsetTop;
    if (top < box.scrollTop || top + mark.offsetHeight > box.scrollTop + box.clientHeight) {
      box.scrollTop = Math.max(0, top - box.clientHeight / 4);
    }
  }

  // --- scan viewer: zoom and pan each page (CSS transform of the image and its boxes together) ---
  const views = new Map(); // figure -> {s, x, y}
  function view(fig) {
    if (!views.has(fig)) views.set(fig, { s: 1, x: 0, y: 0 });
    return views.get(fig);
  }
  function apply(fig) {
    const v = view(fig);
    const wrap = fig.querySelector(".pagewrap");
    // Keep the page inside its frame: no panning past an edge.
    const w = fig.clientWidth, h = fig.clientHeight;
    v.x = Math.min(0, Math.max(w - w * v.s, v.x));
    v.y = Math.min(0, Math.max(h - h * v.s, v.y));
    wrap.style.transform = "translate(" + v.x + "px," + v.y + "px) scale(" + v.s + ")";
    fig.dataset.zoom = v.s.toFixed(2);
  }
  function zoomAt(fig, factor, cx, cy) {
    const v = view(fig);
    const s = Math.max(1, Math.min(8, v.s * factor));
    const px = cx === undefined ? fig.clientWidth / 2 : cx, py = cy === undefined ? fig.clientHeight / 2 : cy;
    v.x = px - (px - v.x) * (s / v.s);
    v.y = py - (py - v.y) * (s / v.s);
    v.s = s;
    apply(fig);
  }
  function fit(fig) { views.set(fig, { s: 1, x: 0, y: 0 }); apply(fig); }
  function zoomToRect(rect) {
    // Zoom the rect's page so the box fills about a third of the frame's width, centred.
    const fig = rect.closest("figure.page");
    const svg = rect.ownerSVGElement;
    if (!fig || !svg) return;
    const vb = svg.viewBox.baseVal;
    const f = fig.clientWidth / vb.width; // page units -> frame pixels at zoom 1
    const bx = rect.x.baseVal.value, by = rect.y.baseVal.value;
    const bw = rect.width.baseVal.value, bh = rect.height.baseVal.value;
    const s = Math.max(1, Math.min(6, fig.clientWidth / (3 * Math.max(bw, 1) * f)));
    const v = view(fig);
    v.s = s;
    v.x = fig.clientWidth / 2 - (bx + bw / 2) * f * s;
    v.y = fig.clientHeight / 2 - (by + bh / 2) * f * s;
    apply(fig);
    fig.scrollIntoView({ block: "nearest" });
  }
  function focusedFigure() {
    const figs = Array.from(document.querySelectorAll("figure.page"));
    const pane = document.querySelector(".pages");
    if (!figs.length) return null;
    const top = pane ? pane.getBoundingClientRect().top : 0;
    return figs.find((f) => f.getBoundingClientRect().bottom > top + 40) || figs[0];
  }
  document.querySelectorAll("figure.page").forEach((fig) => {
    fig.addEventListener("wheel", (ev) => {
      if (!ev.ctrlKey) return;
      ev.preventDefault();
      const r = fig.getBoundingClientRect();
      zoomAt(fig, ev.deltaY < 0 ? 1.25 : 0.8, ev.clientX - r.left, ev.clientY - r.top);
    }, { passive: false });
    let drag = null;
    fig.addEventListener("mousedown", (ev) => {
      if (ev.button !== 0 || ev.target.closest("rect.box.field")) return;
      const v = view(fig);
      drag = { x: ev.clientX - v.x, y: ev.clientY - v.y };
      fig.classList.add("dragging");
      ev.preventDefault();
    });
    window.addEventListener("mousemove", (ev) => {
      if (!drag) return;
      const v = view(fig);
      v.x = ev.clientX - drag.x;
      v.y = ev.clientY - drag.y;
      apply(fig);
    });
    window.addEventListener("mouseup", () => { drag = null; fig.classList.remove("dragging"); });
  });
  function viewerKey(ev) {
    const fig = focusedFigure();
    if (!fig) return false;
    const step = 60;
    const v = view(fig);
    if (ev.code === "Equal" || ev.code === "NumpadAdd") zoomAt(fig, 1.25);
    else if (ev.code === "Minus" || ev.code === "NumpadSubtract") zoomAt(fig, 0.8);
    else if (ev.code === "KeyZ") fit(fig);
    else if (ev.shiftKey && ev.code.startsWith("Arrow")) {
      if (ev.code === "ArrowLeft") v.x += step;
      if (ev.code === "ArrowRight") v.x -= step;
      if (ev.code === "ArrowUp") v.y += step;
      if (ev.code === "ArrowDown") v.y -= step;
      apply(fig);
    } else return false;
    return true;
  }

  function highlight(target, kind) {
    document.querySelectorAll("rect.box").forEach((r) => {
      r.classList.toggle("active", r.dataset.target === target && r.classList.contains(kind));
    });
  }

  function say(text, isError) {
    flash.textContent = text;
    flash.classList.toggle("error", !!isError);
    flash.classList.remove("hidden");
  }

  function showConflict(text) {
    blocked = true;
    conflictBox.textContent = text;
    conflictBox.classList.remove("hidden");
  }

  function setVersion(v) {
    version = v;
    root.dataset.version = String(v);
    if (versionInput) versionInput.value = String(v);
  }

  function post(path, body) {
    return fetch(path, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf, Accept: "application/json" },
      body: JSON.stringify(body),
    }).then((resp) => resp.json().catch(() => ({})).then((data) => ({ resp, data })));
  }

  function queue(path, makeBody, what, after) {
    if (blocked) {
      say(T("Reload the letter first: it changed since you opened it."), true);
      return busy;
    }
    busy = busy.then(() =>
      post(path, makeBody()).then(({ resp, data }) => {
        if (resp.status === 409) {
          showConflict((data.error || T("Conflict: this letter changed.")) + " (" + T("You tried: {what}.", { what: what }) + ")");
        } else if (resp.status === 401) {
          say(T("Your session ended. Log in again (your last change was not saved)."), true);
        } else if (!resp.ok) {
          say(data.error || T("Not saved ({status}).", { status: resp.status }), true);
        } else {
          setVersion(data.version);
          redraw(data);
          say(T("Saved: {what}.", { what: what }));
          if (after) after(data);
        }
      }).catch(() => say(T("Network error: not saved ({what}).", { what: what }), true))
    );
    return busy;
  }

  function decide(decisions, what, after) {
    return queue("/api/letters/" + letterId + "/decisions",
      () => ({ version: version, decisions: decisions }), what, after);
  }

  function takeNote(card) {
    const input = card.querySelector("input.note");
    const note = input && input.value.trim() ? input.value.trim() : null;
    if (input) input.value = "";
    return note;
  }

  function judgeable(card) {
    if (card.classList.contains("state-rejected")) {
      say(T("This match was rejected (not this promise): press u to undo before judging it."), true);
      return false;
    }
    return true;
  }

  function closeLetter() {
    const live = cards().filter((c) => !c.classList.contains("state-rejected"));
    if (live.length) { say(T("This letter has promises to judge: decide or reject them first."), true); return; }
    if (root.dataset.closed) { say(T("Already closed.")); return; }
    decide([{ kind: "letter", key: "status", value: "no_promise", note: null }], "closed: no promise in this letter");
  }

  function undecided(c) {
    return c.classList.contains("state-suggested") || c.classList.contains("state-open");
  }

  function advance() {
    // One pass: after a decision, on to the next undecided promise; when none is left, say so
    // (Enter or n then opens the next letter).
    const cs = cards();
    for (let k = 1; k <= cs.length; k++) {
      const j = (focus + k) % cs.length;
      if (undecided(cs[j])) { setFocus(j); return; }
    }
    if (cs.length) say(T("Letter done: press Enter or n for the next letter."));
  }

  function allDecided() {
    const cs = cards();
    return cs.length ? !cs.some(undecided) : !!root.dataset.closed;
  }

  function verdict(card, value) {
    if (!judgeable(card)) return;
    const pid = card.dataset.promiseId;
    decide([{ kind: "verdict", key: pid, value: value, note: takeNote(card) }], value + " for " + pid, advance);
  }

  function accept(card) {
    if (!judgeable(card)) return;
    const mv = card.dataset.machineVerdict;
    if (!mv) { say(T("No suggestion to accept: choose 1, 2 or 3."), true); return; }
    const pid = card.dataset.promiseId;
    decide([{ kind: "verdict", key: pid, value: mv, note: takeNote(card) }], "accept " + mv + " for " + pid, advance);
  }

  function reject(card) {
    const pid = card.dataset.promiseId;
    decide([{ kind: "match", key: pid, value: "rejected", note: takeNote(card) }], "not promise " + pid, advance);
  }

  function useAlternative(card, alt) {
    const pid = card.dataset.promiseId;
    decide([
      { kind: "match", key: pid, value: "rejected", note: takeNote(card) },
      { kind: "match", key: alt, value: "added", note: null },
    ], "use " + alt + " instead of " + pid, () => window.location.reload());
  }

  function undo() {
    queue("/api/letters/" + letterId + "/undo", () => ({ version: version }), "undo", (data) => {
      // An undo can bring back cards (an undone "added") or remove them: redraw from the server.
      const known = cards().map((c) => c.dataset.promiseId).join(",");
      const now = data.promises.map((p) => p.promise_id).join(",");
      if (known !== now) window.location.reload();
    });
  }

  function redraw(data) {
    const byId = {};
    data.promises.forEach((p) => { byId[p.promise_id] = p; });
    cards().forEach((card) => {
      const p = byId[card.dataset.promiseId];
      if (!p) return;
      card.className = card.className.replace(/\bstate-\S+/g, "").trim() + " state-" + p.state;
      card.querySelector(".effective").textContent = p.verdict ? label(p.verdict) : "—";
      card.querySelector(".state").textContent = label(p.state);
      card.querySelector(".by").textContent = p.by ? T("by {name} at {at}", { name: p.by, at: p.at }) : "";
      const basis = card.querySelector(".basis");
      if (basis) {
        basis.textContent = label(p.basis);
        basis.classList.toggle("hidden", !p.basis || p.basis === "single");
        basis.classList.toggle("warn", p.basis === "disputed");
      }
      const resp = card.querySelector(".responses");
      if (resp && p.responses) {
        resp.classList.toggle("hidden", p.responses.length < 2);
        resp.textContent = T("Reviewers:") + " " + p.responses.map((r) => r[0] + ": " + label(r[1])).join(", ") +
          (p.basis === "disputed" ? " · they disagree: an adjudicator decides" : "");
      }
      const rejected = p.state === "rejected";
      card.querySelectorAll(".actions button").forEach((b) => {
        b.disabled = rejected || (b.classList.contains("accept") && !p.machine_verdict);
      });
      const note = card.querySelector(".rejected-note");
      if (note) note.classList.toggle("hidden", !rejected);
    });
    root.dataset.closed = data.closed ? "yes" : "";
    const closedNote = document.getElementById("closed-note");
    if (closedNote) closedNote.classList.toggle("hidden", !data.closed);
    const closeButton = document.getElementById("close-letter");
    if (closeButton) {
      closeButton.disabled = !!data.closed || data.promises.some((p) => p.state !== "rejected");
    }
    const tbody = document.querySelector("#history tbody");
    if (tbody) {
      tbody.textContent = "";
      data.history.forEach((h) => {
        const tr = document.createElement("tr");
        tr.className = "action-" + h.action;
        const what = h.action + " " + h.kind + " " + h.key + (h.undoes ? " (" + T("undoes") + " #" + h.undoes + ")" : "");
        [h.id, h.at, h.reviewer, what, h.machine || "", h.human || "", h.note || ""].forEach((v) => {
          const td = document.createElement("td");
          td.textContent = String(v); // textContent: reviewer notes are never parsed as HTML
          tr.appendChild(td);
        });
        tbody.appendChild(tr);
      });
    }
  }

  function toggleKeys(show) {
    const visible = show === undefined ? keysHelp.classList.contains("hidden") : show;
    keysHelp.classList.toggle("hidden", !visible);
  }

  function go(which) {
    // The server works out the neighbour (or sends us back to the queue at either end).
    busy.then(() => { window.location.href = root.dataset[which]; });
  }

  document.addEventListener("keydown", (ev) => {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const t = ev.target;
    const typing = t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT" || t.isContentEditable);
    if (typing) {
      if (ev.key === "Escape") t.blur();
      return;
    }
    if (ev.key === "Enter" && t && (t.tagName === "BUTTON" || t.tagName === "A" || t.tagName === "SUMMARY")) return;
    if (viewerKey(ev)) { ev.preventDefault(); return; }
    const card = cards()[focus];
    // By the key's place (event.code), not the character it types: the Ukrainian or Russian layout
    // puts ф, ч, г on the keys of a, x, u, and those must work the same.
    const handlers = {
      Digit1: () => card && verdict(card, "fulfilled"),
      Numpad1: () => card && verdict(card, "fulfilled"),
      Digit2: () => card && verdict(card, "in_progress"),
      Numpad2: () => card && verdict(card, "in_progress"),
      Digit3: () => card && verdict(card, "not_fulfilled"),
      Numpad3: () => card && verdict(card, "not_fulfilled"),
      Digit0: closeLetter,
      Numpad0: closeLetter,
      KeyA: () => card && accept(card),
      Enter: () => (allDecided() ? go("next") : card && accept(card)),
      NumpadEnter: () => (allDecided() ? go("next") : card && accept(card)),
      KeyF: () => {
        const flagged = document.querySelector("#fields-form tr.flagged input");
        if (flagged) flagged.focus(); else say(T("No field is flagged for checking."));
      },
      KeyX: () => card && reject(card),
      KeyU: undo,
      KeyJ: () => setFocus(focus + 1),
      KeyK: () => setFocus(focus - 1),
      KeyN: () => go("next"),
      KeyP: () => go("prev"),
      Escape: () => toggleKeys(false),
    };
    let h = handlers[ev.code];
    if (!h && (ev.key === "?" || (ev.code === "Slash" && ev.shiftKey))) h = () => toggleKeys();
    if (!h && !ev.code) {
      // Some virtual keyboards send no code: fall back to the character.
      const byKey = { a: "KeyA", x: "KeyX", u: "KeyU", j: "KeyJ", k: "KeyK", n: "KeyN", p: "KeyP" };
      const code = /^[0-9]$/.test(ev.key) ? "Digit" + ev.key : byKey[ev.key];
      h = handlers[code];
    }
    if (h) {
      ev.preventDefault();
      h();
    }
  });

  cards().forEach((card, i) => {
    card.addEventListener("click", () => setFocus(i));
    card.querySelectorAll("button.verdict").forEach((b) =>
      b.addEventListener("click", () => verdict(card, b.dataset.verdict)));
    const acc = card.querySelector("button.accept");
    if (acc) acc.addEventListener("click", () => accept(card));
    const rej = card.querySelector("button.reject");
    if (rej) rej.addEventListener("click", () => reject(card));
    card.querySelectorAll("button.use-alt").forEach((b) =>
      b.addEventListener("click", () => useAlternative(card, b.dataset.alt)));
  });

  document.querySelectorAll("#fields-form input[data-target], #fields-form tr[data-target]").forEach((el) => {
    el.addEventListener("focus", () => highlight(el.dataset.target, "field"));
    el.addEventListener("mouseenter", () => highlight(el.dataset.target, "field"));
  });
  // Click a field's row (its name) or a card's evidence: the scan zooms to its box.
  document.querySelectorAll("#fields-form tr[data-target] th").forEach((th) => {
    th.addEventListener("click", () => {
      const target = th.parentElement.dataset.target;
      const rect = document.querySelector('rect.box.field[data-target="' + target + '"]');
      if (rect) { highlight(target, "field"); zoomToRect(rect); }
    });
  });
  cards().forEach((card) => {
    const mark = card.querySelector("mark.evidence");
    if (!mark) return;
    mark.addEventListener("click", () => {
      const rect = document.querySelector('rect.box.evidence[data-target="' + card.dataset.index + '"]');
      if (rect) zoomToRect(rect);
    });
  });
  document.querySelectorAll("rect.box.field").forEach((r) => {
    r.addEventListener("click", () => {
      const input = document.getElementById("field-" + r.dataset.target);
      if (input) input.focus();
    });
  });
  const addButton = document.getElementById("add-promise");
  const addInput = document.getElementById("add-promise-id");
  if (addButton && addInput) {
    addButton.addEventListener("click", () => {
      const pid = addInput.value.trim();
      if (!pid) { say(T("Type or pick a promise id first."), true); return; }
      decide([{ kind: "match", key: pid, value: "added", note: null }], "add promise " + pid,
        () => window.location.reload());
    });
  }
  const closeButton = document.getElementById("close-letter");
  if (closeButton) closeButton.addEventListener("click", closeLetter);
  const showKeys = document.getElementById("show-keys");
  if (showKeys) showKeys.addEventListener("click", () => toggleKeys());

  // Start on the first promise still undecided.
  const firstOpen = cards().findIndex(undecided);
  setFocus(firstOpen >= 0 ? firstOpen : 0);
})();

(function () {
  // The queue: Enter or o opens the first letter shown.
  const table = document.getElementById("queue");
  if (!table) return;
  document.addEventListener("keydown", (ev) => {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const t = ev.target;
    if (t && (t.tagName === "INPUT" || t.tagName === "SELECT" || t.tagName === "TEXTAREA" || t.tagName === "BUTTON" || t.tagName === "A")) return;
    if (ev.code === "Enter" || ev.code === "KeyO") {
      const first = table.querySelector("tbody a.open");
      if (first) { ev.preventDefault(); window.location.href = first.getAttribute("href"); }
    }
  });
})();
