// Promise list and promise page: keyboard navigation, draft editing and copying. No inline script (CSP).
"use strict";

(function () {
  function typing(e) {
    const t = e.target;
    return t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT" || t.isContentEditable);
  }

  // --- the "Promises" list: j / k move, Enter opens ---------------------------------
  const table = document.getElementById("promises");
  if (table) {
    const rows = () => Array.from(table.querySelectorAll("tr.prow"));
    let at = 0;
    const mark = (i) => {
      const rs = rows();
      if (!rs.length) return;
      at = Math.max(0, Math.min(rs.length - 1, i));
      rs.forEach((r, j) => r.classList.toggle("focused", j === at));
      rs[at].scrollIntoView({ block: "nearest" });
    };
    mark(0);
    document.addEventListener("keydown", (e) => {
      if (typing(e) || e.ctrlKey || e.metaKey || e.altKey) return;
      if (e.key === "j") { mark(at + 1); e.preventDefault(); }
      else if (e.key === "k") { mark(at - 1); e.preventDefault(); }
      else if (e.key === "Enter" || e.key === "o") {
        const r = rows()[at];
        if (r) { window.location.href = r.querySelector("a.open").href; e.preventDefault(); }
      } else if (e.key === "f") { document.getElementById("filter-status").focus(); e.preventDefault(); }
    });
    return;
  }

  const root = document.getElementById("promise");
  if (!root) return;
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const promiseId = root.dataset.promiseId;
  const flash = document.getElementById("flash");
  const conflictBox = document.getElementById("conflict");
  const keysHelp = document.getElementById("keys");
  const labels = JSON.parse(root.dataset.labels || "{}");
  // A message in the interface language; {name} parts are filled from vals.
  const T = (msg, vals) => Object.entries(vals || {}).reduce((t, [k, v]) => t.replace("{" + k + "}", v), labels[msg] || msg);

  function say(text, isError) {
    flash.textContent = text;
    flash.classList.toggle("error", !!isError);
    flash.classList.remove("hidden");
  }

  // --- timeline ------------------------------------------------------------------
  const items = () => Array.from(document.querySelectorAll("#timeline li.tl"));
  let focus = 0;
  function setFocus(i) {
    const its = items();
    if (!its.length) return;
    focus = Math.max(0, Math.min(its.length - 1, i));
    its.forEach((el, j) => el.classList.toggle("focused", j === focus));
    its[focus].scrollIntoView({ block: "nearest" });
  }

  // --- drafts --------------------------------------------------------------------
  const box = (kind) => document.getElementById(kind);
  const area = (kind) => box(kind).querySelector("textarea");

  function show(state) {
    const b = box(state.kind);
    b.dataset.reviewId = state.review_id == null ? "" : String(state.review_id);
    area(state.kind).value = state.text;
    b.querySelector(".machine-draft").textContent = state.machine;
    b.querySelector(".draft-by").textContent = state.by ? T("edited by {name}", { name: state.by }) : T("machine draft");
    b.querySelector(".undo-draft").disabled = state.review_id == null;
  }

  async function post(url, body) {
    const r = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(body),
      credentials: "same-origin",
    });
    let data = {};
    try { data = await r.json(); } catch (err) { data = { error: "bad answer from the server" }; }
    return { ok: r.ok, status: r.status, data };
  }

  async function save(kind) {
    const b = box(kind);
    const seen = b.dataset.reviewId ? parseInt(b.dataset.reviewId, 10) : null;
    const res = await post("/api/promises/" + encodeURIComponent(promiseId) + "/drafts",
      { kind, text: area(kind).value, seen });
    if (res.status === 409) {
      conflictBox.textContent = res.data.error;
      conflictBox.classList.remove("hidden");
      return;
    }
    if (!res.ok) { say(res.data.error || T("not saved"), true); return; }
    show(res.data);
    say(T("saved {kind}", { kind: T(kind) }));
  }

  async function undo(kind) {
    const b = box(kind);
    if (!b.dataset.reviewId) return;
    const res = await post("/api/promises/" + encodeURIComponent(promiseId) + "/drafts/undo",
      { kind, seen: parseInt(b.dataset.reviewId, 10) });
    if (res.status === 409) {
      conflictBox.textContent = res.data.error;
      conflictBox.classList.remove("hidden");
      return;
    }
    if (!res.ok) { say(res.data.error || T("not undone"), true); return; }
    show(res.data);
    say(T("edit undone"));
  }

  async function copy(kind) {
    const text = area(kind).value;
    try {
      await navigator.clipboard.writeText(text);
    } catch (err) {
      const a = area(kind);
      a.focus();
      a.select();
      document.execCommand("copy");
      a.blur();
    }
    root.dataset.copied = kind;
    say(T("copied {kind} ({num} characters)", { kind: T(kind), num: text.length }));
  }

  document.querySelectorAll(".draft").forEach((b) => {
    const kind = b.dataset.kind;
    b.querySelector(".save-draft").addEventListener("click", () => save(kind));
    b.querySelector(".copy-draft").addEventListener("click", () => copy(kind));
    b.querySelector(".undo-draft").addEventListener("click", () => undo(kind));
    b.querySelector("textarea").addEventListener("keydown", (e) => {
      if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); save(kind); }
      else if (e.key === "Escape") { e.preventDefault(); e.target.blur(); }
    });
  });
  document.getElementById("show-keys").addEventListener("click", () => keysHelp.classList.toggle("hidden"));

  document.addEventListener("keydown", (e) => {
    if (typing(e) || e.ctrlKey || e.metaKey || e.altKey) return;
    const k = e.key;
    if (k === "j") setFocus(focus + 1);
    else if (k === "k") setFocus(focus - 1);
    else if (k === "Enter" || k === "o") {
      const it = items()[focus];
      if (!it) return;
      window.location.href = it.querySelector("a.open-letter").href;
    } else if (k === "e") area("result_draft").focus();
    else if (k === "E") area("sources_draft").focus();
    else if (k === "c") copy("result_draft");
    else if (k === "s") copy("sources_draft");
    else if (k === "l") window.location.href = "/promises";
    else if (k === "?") keysHelp.classList.toggle("hidden");
    else if (k === "Escape") keysHelp.classList.add("hidden");
    else return;
    e.preventDefault();
  });
  setFocus(0);
})();
