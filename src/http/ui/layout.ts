// The console's page shell, its security headers and its two static assets (a style sheet and
// the small script that makes the event list live). No inline script or style: the CSP forbids
// both, so an injected tag could not run even if escaping ever failed.
import type { NextFunction, Request, Response } from 'express';
import type { TokenRecord } from '../../auth/token-record.js';
import { html, type Html } from './html.js';

export const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

/** Every /ui response: no framing, no sniffing, no caching, no referrer to other sites (URLs name
 *  repositories and refs). same-origin, not no-referrer: with no-referrer browsers post forms
 *  with `Origin: null`, and the forms' origin check needs the real one. */
export function securityHeaders(_req: Request, res: Response, next: NextFunction): void {
  res.setHeader('Content-Security-Policy', CSP);
  res.setHeader('X-Frame-Options', 'DENY');
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Referrer-Policy', 'same-origin');
  res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
  res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
  res.setHeader('Cache-Control', 'no-store');
  next();
}

export interface PageOptions {
  title: string;
  body: Html;
  /** The signed-in token and the session's CSRF token (for the sign-out form); none on the sign-in page. */
  signedIn?: { token: TokenRecord; csrf: string };
  /** Which nav entry is current. */
  section?: 'repos' | 'events' | 'tokens';
  scripts?: string[];
}

export function page(o: PageOptions): string {
  const nav = (key: PageOptions['section'], url: string, label: string) =>
    html`<li><a href="${url}"${o.section === key ? html` aria-current="page"` : ''}>${label}</a></li>`;
  const header = o.signedIn
    ? html`<header class="top"><a class="brand" href="/ui/repos">gitgate</a>
<nav aria-label="Main"><ul>${nav('repos', '/ui/repos', 'Repositories')}${nav('events', '/ui/events', 'Events')}${nav('tokens', '/ui/tokens', 'Tokens')}</ul></nav>
<div class="who">Signed in with <strong>${o.signedIn.token.name}</strong> <span class="muted">(${o.signedIn.token.kind}, ${o.signedIn.token.permission})</span>
<form method="post" action="/ui/sign-out" class="inline"><input type="hidden" name="csrf" value="${o.signedIn.csrf}"><button type="submit">Sign out</button></form></div></header>`
    : html`<header class="top"><span class="brand">gitgate</span></header>`;
  const doc = html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${o.title} · gitgate</title><link rel="stylesheet" href="/ui/static/console.css">
${(o.scripts ?? []).map((s) => html`<script src="${s}" defer></script>`)}</head>
<body><a class="skip" href="#main">Skip to content</a>${header}<main id="main">${o.body}</main></body></html>`;
  return doc.value;
}

export function sendPage(res: Response, status: number, o: PageOptions): void {
  res.status(status).type('text/html; charset=utf-8').send(page(o));
}

export const CONSOLE_CSS = `
:root { color-scheme: light dark; --fg: #1b1f24; --muted: #5b636d; --bg: #fff; --line: #d0d7de; --accent: #0a58ca; --add: #e6ffec; --del: #ffebe9; --hunk: #ddf4ff; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6edf3; --muted: #9da7b3; --bg: #0d1117; --line: #30363d; --accent: #58a6ff; --add: #12361f; --del: #4a1d1d; --hunk: #0c2d6b; } }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 system-ui, sans-serif; color: var(--fg); background: var(--bg); }
a { color: var(--accent); }
.skip { position: absolute; left: -999px; } .skip:focus { left: 8px; top: 8px; background: var(--bg); padding: 4px; }
header.top { display: flex; flex-wrap: wrap; gap: 1rem; align-items: center; padding: .5rem 1rem; border-bottom: 1px solid var(--line); }
.brand { font-weight: 700; text-decoration: none; color: var(--fg); }
nav ul { display: flex; gap: 1rem; list-style: none; margin: 0; padding: 0; }
nav a[aria-current] { font-weight: 700; text-decoration: none; color: var(--fg); }
.who { margin-left: auto; }
main { padding: 1rem; max-width: 1200px; }
table { border-collapse: collapse; width: 100%; margin: .5rem 0 1rem; }
th, td { text-align: left; padding: .3rem .5rem; border-bottom: 1px solid var(--line); vertical-align: top; }
code, pre, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 13px; }
pre { overflow-x: auto; border: 1px solid var(--line); padding: .5rem; margin: 0; }
.muted { color: var(--muted); }
.inline { display: inline; }
form.stack label { display: block; margin: .5rem 0 .2rem; }
input[type=text], input[type=password] { padding: .35rem; min-width: 20rem; max-width: 100%; }
button { padding: .3rem .8rem; cursor: pointer; }
.notice { border: 1px solid var(--line); padding: .5rem 1rem; }
.error { border-left: 4px solid #cf222e; padding: .5rem 1rem; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; }
dl.meta dt { font-weight: 600; }
.diff { border: 1px solid var(--line); margin-bottom: 1rem; }
.diff h3 { margin: 0; padding: .4rem .6rem; font-size: 14px; border-bottom: 1px solid var(--line); }
.diff pre { border: 0; padding: 0; }
.diff pre span { display: block; padding: 0 .5rem; white-space: pre; }
.diff .add { background: var(--add); } .diff .del { background: var(--del); } .diff .hunk { background: var(--hunk); }
ol.code { margin: 0; padding-left: 4em; border: 1px solid var(--line); overflow-x: auto; }
ol.code li { white-space: pre; font-family: ui-monospace, monospace; font-size: 13px; }
.pager { display: flex; gap: 1rem; }
`;

/** Makes the event list live: Server-Sent Events from /ui/events/stream, rows built with DOM APIs (never innerHTML). */
export const EVENTS_JS = `'use strict';
(function () {
  var list = document.getElementById('events');
  var status = document.getElementById('live-status');
  if (!list || !window.EventSource) return;
  var url = '/ui/events/stream?after=' + encodeURIComponent(list.getAttribute('data-cursor') || '0');
  var source = new EventSource(url);
  source.onopen = function () { status.textContent = 'Live: new events appear at the top.'; };
  source.onerror = function () { status.textContent = 'Live updates paused; reload the page to see new events.'; };
  function cell(row, text) { var td = document.createElement('td'); td.textContent = text; row.appendChild(td); return td; }
  function summary(ev) {
    var d = ev.data || {};
    if (ev.type === 'push' && d.ref_updates) return d.ref_updates.map(function (u) { return u.ref + ' ' + u.before.slice(0, 10) + '..' + u.after.slice(0, 10); }).join(', ');
    if (ev.type === 'ref.update') return d.ref + ' ' + d.before.slice(0, 10) + '..' + d.after.slice(0, 10) + (d.via ? ' (' + d.via + ')' : '');
    if (ev.type.indexOf('token.') === 0) return 'token ' + (d.token_id || '');
    return (d.repository && d.repository.name) || '';
  }
  function add(e) {
    var ev = JSON.parse(e.data);
    var row = document.createElement('tr');
    var t = document.createElement('time'); t.setAttribute('datetime', ev.created_at); t.textContent = ev.created_at.slice(0, 16).replace('T', ' ') + ' UTC';
    cell(row, '').appendChild(t);
    cell(row, ev.type);
    var repoCell = cell(row, '');
    if (ev.repo_id) {
      var link = '/ui/repos/' + encodeURIComponent(ev.repo_id);
      var known = list.querySelector('a[href="' + CSS.escape(link) + '"]'); // a row already names it
      var a = document.createElement('a'); a.href = link; a.textContent = known ? known.textContent : ev.repo_id; repoCell.appendChild(a);
    }
    cell(row, ev.actor_token_id || 'operator').className = 'mono';
    cell(row, summary(ev)).className = 'mono';
    var body = list.tBodies[0];
    body.insertBefore(row, body.firstChild);
  }
  (list.getAttribute('data-types') || '').split(' ').forEach(function (t) { if (t) source.addEventListener(t, add); });
})();
`;
