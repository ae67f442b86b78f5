/**
 * @module The review page's frame: the document, its styles (a Thai-first font stack), the header with who is
 * signed in, and the small script behind the keyboard shortcuts. Any element with `data-key="x"` is clicked
 * when x is pressed outside a text field; `?` lists them. The styles and the script are the page's only inline
 * code, and the pages' Content-Security-Policy (`PAGE_HEADERS`) allows exactly them, by hash: no other script,
 * style, frame, plugin or form target runs on a review page.
 */

import { createHash } from "node:crypto";
import { raw } from "hono/html";
import type { Child } from "hono/jsx";

const styles = `
:root {
  --thai: "Sarabun", "Noto Sans Thai", "Noto Sans Thai UI", "Leelawadee UI", "Thonburi", "Loma", "Garuda",
    "Tahoma", system-ui, sans-serif;
  --mono: ui-monospace, "DejaVu Sans Mono", "Tlwg Mono", "Menlo", monospace;
  --line: #d8dce3; --muted: #5b6472; --accent: #1d5fd1; --bad: #b3261e; --good: #1b7f3b; --bg: #f6f7f9;
}
* { box-sizing: border-box; }
body { margin: 0; font-family: var(--thai); font-size: 16px; line-height: 1.7; color: #1c2430; background: var(--bg); }
header.top { display: flex; gap: 1rem; align-items: center; padding: .5rem 1.25rem; background: #fff; border-bottom: 1px solid var(--line); }
header.top .brand { font-weight: 700; } header.top .who { margin-left: auto; color: var(--muted); font-size: .9rem; }
main { max-width: 72rem; margin: 1.25rem auto; padding: 0 1.25rem; }
h1 { font-size: 1.4rem; margin: 0 0 .75rem; } h2 { font-size: 1.1rem; margin: 1.25rem 0 .5rem; }
a { color: var(--accent); }
table { border-collapse: collapse; width: 100%; background: #fff; }
th, td { text-align: left; padding: .4rem .6rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-size: .85rem; color: var(--muted); font-weight: 600; }
progress.bar { appearance: none; width: 10rem; height: .6rem; border: 0; background: #e6e9ee; border-radius: .3rem; overflow: hidden; vertical-align: middle; }
progress.bar::-webkit-progress-bar { background: #e6e9ee; }
progress.bar::-webkit-progress-value { background: var(--good); }
progress.bar::-moz-progress-bar { background: var(--good); }
kbd { font-family: var(--mono); font-size: .8rem; border: 1px solid var(--line); border-bottom-width: 2px; border-radius: .25rem; padding: 0 .3rem; background: #fff; }
.muted { color: var(--muted); } .small { font-size: .85rem; }
.card { background: #fff; border: 1px solid var(--line); border-radius: .5rem; padding: .75rem 1rem; margin: .6rem 0; }
.turn { border-left: 4px solid var(--line); }
.turn.system { border-left-color: #8a63d2; background: #faf7ff; }
.turn.user { border-left-color: var(--accent); }
.turn.assistant { border-left-color: var(--good); }
.turn.tool { border-left-color: #c77700; background: #fffaf2; }
.role { font-size: .8rem; font-weight: 700; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); }
.content { white-space: pre-wrap; overflow-wrap: anywhere; }
pre, code, .json { font-family: var(--mono); font-size: .85rem; }
pre { white-space: pre-wrap; overflow-wrap: anywhere; margin: .3rem 0; background: #f3f4f7; padding: .5rem; border-radius: .3rem; }
.call { border: 1px dashed #9aa5b5; border-radius: .4rem; padding: .4rem .6rem; margin-top: .4rem; }
.tag { display: inline-block; font-size: .78rem; padding: 0 .45rem; border-radius: 1rem; background: #e8edf7; margin: 0 .25rem .25rem 0; }
.tag.pass { background: #e3f4e8; color: var(--good); } .tag.fail { background: #fbe5e3; color: var(--bad); }
.actions { position: sticky; bottom: 0; background: #fff; border-top: 1px solid var(--line); padding: .6rem 1rem; display: flex; gap: .6rem; align-items: center; flex-wrap: wrap; margin-top: 1rem; }
button, .button { font: inherit; font-size: .95rem; padding: .3rem .9rem; border-radius: .35rem; border: 1px solid var(--line); background: #fff; cursor: pointer; text-decoration: none; color: inherit; }
button.accept { border-color: var(--good); color: var(--good); } button.reject { border-color: var(--bad); color: var(--bad); }
button.primary { background: var(--accent); border-color: var(--accent); color: #fff; }
button kbd { color: #1c2430; }
#reject-panel { display: none; background: #fff; border: 1px solid var(--bad); border-radius: .5rem; padding: .75rem 1rem; margin-top: .75rem; }
#reject-panel.open { display: block; }
#reject-panel label { display: inline-block; margin: 0 1rem .3rem 0; }
textarea { width: 100%; font-family: var(--thai); font-size: 1rem; line-height: 1.6; padding: .5rem; border: 1px solid var(--line); border-radius: .35rem; }
textarea.code { font-family: var(--mono); font-size: .85rem; }
ins { background: #d7f5dd; text-decoration: none; } del { background: #fbdcd9; }
.diff { white-space: pre-wrap; overflow-wrap: anywhere; }
.notice { padding: .6rem 1rem; border-radius: .4rem; background: #eef3fd; border: 1px solid #c9d8f5; margin: .6rem 0; }
.notice.error { background: #fdeeee; border-color: #f1c4c0; }
dl.kv { display: grid; grid-template-columns: max-content 1fr; gap: .1rem 1rem; margin: 0; } dl.kv dt { color: var(--muted); }
#help { display: none; position: fixed; right: 1rem; bottom: 4.5rem; background: #fff; border: 1px solid var(--line); border-radius: .5rem; padding: .75rem 1rem; box-shadow: 0 4px 18px rgba(0,0,0,.12); }
#help.open { display: block; }
`;

/** Shortcuts: data-key clicks, digits in the reject panel, Ctrl+Enter / Ctrl+S / Escape on forms, ? for help. */
const script = `
(() => {
  const typing = (el) => el && (el.tagName === "TEXTAREA" || (el.tagName === "INPUT" && el.type !== "checkbox") || el.tagName === "SELECT");
  const panel = document.getElementById("reject-panel");
  const help = document.getElementById("help");
  if (help) {
    const list = help.querySelector("ul");
    for (const el of document.querySelectorAll("[data-key]")) {
      const li = document.createElement("li");
      li.innerHTML = "<kbd></kbd> ";
      li.firstChild.textContent = el.dataset.key;
      li.append(el.dataset.help || el.textContent.trim());
      list.append(li);
    }
  }
  for (const b of document.querySelectorAll("[data-open-panel]")) b.addEventListener("click", () => openPanel());
  const openPanel = () => { panel.classList.add("open"); (panel.querySelector("input[type=checkbox]") || panel.querySelector("textarea")).focus(); };
  document.addEventListener("keydown", (e) => {
    const t = e.target;
    if ((e.ctrlKey || e.metaKey) && e.key === "Enter") {
      const b = document.querySelector(panel && panel.classList.contains("open") ? "#reject-panel [type=submit]" : "[data-ctrl-enter]");
      if (b) { e.preventDefault(); b.click(); }
      return;
    }
    if ((e.ctrlKey || e.metaKey) && (e.key === "s" || e.key === "S")) {
      const b = document.querySelector("[data-ctrl-s]");
      if (b) { e.preventDefault(); b.click(); }
      return;
    }
    if (e.key === "Escape") {
      if (panel && panel.classList.contains("open")) { panel.classList.remove("open"); t.blur && t.blur(); e.preventDefault(); return; }
      if (help && help.classList.contains("open")) { help.classList.remove("open"); return; }
      const b = document.querySelector("[data-escape]");
      if (b) { e.preventDefault(); b.click(); }
      return;
    }
    if (typing(t) || e.ctrlKey || e.metaKey || e.altKey) return;
    if (panel && panel.classList.contains("open")) {
      if (/^[1-9]$/.test(e.key)) {
        const box = panel.querySelector('[data-digit="' + e.key + '"]');
        if (box) { box.checked = !box.checked; e.preventDefault(); }
        return;
      }
      if (e.key === "Enter") { e.preventDefault(); panel.querySelector("[type=submit]").click(); }
      return;
    }
    if (e.key === "?") { if (help) help.classList.toggle("open"); return; }
    const el = document.querySelector('[data-key="' + CSS.escape(e.key) + '"]');
    if (el) { e.preventDefault(); el.click(); }
  });
  const lease = document.querySelector("[data-expires]");
  if (lease) {
    const end = Date.parse(lease.dataset.expires);
    const tick = () => {
      const left = Math.max(0, Math.round((end - Date.now()) / 1000));
      lease.textContent = left > 0 ? "lease: " + Math.floor(left / 60) + ":" + String(left % 60).padStart(2, "0") + " left" : "lease expired: take the item again (n)";
      if (left > 0) setTimeout(tick, 1000);
    };
    tick();
  }
  const first = document.querySelector("[autofocus]");
  if (first) first.focus();
})();
`;

const sha256 = (text: string) => `'sha256-${createHash("sha256").update(text).digest("base64")}'`;

/** Headers of every review page, error pages included. */
export const PAGE_HEADERS: Record<string, string> = {
  "Content-Security-Policy": [
    "default-src 'none'",
    `script-src ${sha256(script)}`,
    `style-src ${sha256(styles)}`,
    "form-action 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "object-src 'none'",
  ].join("; "),
  "X-Frame-Options": "DENY",
  // Same-origin requests keep their Referer (the sign-in page uses it to come back); other sites get none.
  "Referrer-Policy": "same-origin",
  // A page holds what the reviewer saw: after sign-out, Back must not show it from the cache.
  "Cache-Control": "no-store",
};

export type Viewer = { name: string; role: string } | undefined;

export function Layout(props: { title: string; viewer: Viewer; auth: boolean; children?: Child }) {
  return (
    <html lang="th">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>{`${props.title} · Curator review`}</title>
        <style>{raw(styles)}</style>
      </head>
      <body>
        <header class="top">
          <a class="brand" href="/review">
            Curator review
          </a>
          <span class="who">
            {props.viewer
              ? `${props.viewer.name} (${props.viewer.role})`
              : props.auth
                ? "not signed in"
                : "access control off"}
          </span>
          {props.viewer ? (
            <form method="post" action="/review/sign-out">
              <button type="submit">Sign out</button>
            </form>
          ) : null}
        </header>
        <main>{props.children}</main>
        <div id="help" role="dialog" aria-label="Keyboard shortcuts">
          <strong>Keyboard</strong>
          <ul class="small" />
          <p class="small muted">
            <kbd>?</kbd> this list · <kbd>Esc</kbd> close
          </p>
        </div>
        <script>{raw(script)}</script>
      </body>
    </html>
  );
}

export function Progress(props: { done: number; total: number }) {
  const share = props.total ? props.done / props.total : 0;
  return (
    <span>
      <progress class="bar" value={props.done} max={props.total || 1} title={`${Math.round(share * 100)}%`} />{" "}
      <span class="small">
        {props.done} / {props.total}
      </span>
    </span>
  );
}
