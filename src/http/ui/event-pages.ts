// Console page of recent events (pushes, REST writes, repository and token activity), readable
// without JavaScript; events.js then streams new ones from /ui/events/stream (the REST feed's
// own SSE stream, ended when the session ends). What a token sees is events/visibility.ts's call.
import type { RequestHandler, Response, Router } from 'express';
import { EVENT_TYPES, type GitgateEvent } from '../../events/event.js';
import { readFeed } from '../../events/feed.js';
import type { Services } from '../../service/services.js';
import { stream } from '../event-routes.js';
import { href, html, when, type Html } from './html.js';
import { sendPage } from './layout.js';
import { queryString } from './repo-pages.js';
import { signedIn } from './session.js';

const SHOWN = 100;
/** How far back the page looks for events the token may see. */
const LOOKBACK = 5_000;

function summary(e: GitgateEvent): string {
  const d = e.data as Record<string, unknown> & { ref_updates?: { ref: string; before: string; after: string }[]; repository?: { name?: string } };
  const move = (u: { ref: string; before: string; after: string }) => `${u.ref} ${u.before.slice(0, 10)}..${u.after.slice(0, 10)}`;
  if (e.type === 'push' && d.ref_updates) return d.ref_updates.map(move).join(', ');
  if (e.type === 'ref.update') return `${move(d as unknown as { ref: string; before: string; after: string })}${d.via ? ` (${String(d.via)})` : ''}`;
  if (e.type.startsWith('token.')) return `token ${String(d.token_id ?? '')}`;
  return d.repository?.name ?? '';
}

export function eventPages(ctx: Services, router: Router, requireSession: RequestHandler, sessionOpen: (id: string) => boolean): void {
  router.get('/ui/events', requireSession, async (_req, res: Response) => {
    const { token, session } = signedIn(res);
    const latest = await ctx.audit.latestId();
    const page = await readFeed(ctx.audit, token, Math.max(0, latest - LOOKBACK), LOOKBACK, (id) => ctx.tokens.get(id));
    const items = page.items.slice(-SHOWN).reverse();
    const names = new Map<string, string>();
    const repoCell = async (id: string | null): Promise<Html> => {
      if (!id) return html``;
      if (!names.has(id)) names.set(id, (await ctx.repos.get(id))?.name ?? id);
      return html`<a href="${href(['repos', id])}">${names.get(id)}</a>`;
    };
    const rows: Html[] = [];
    for (const e of items) {
      rows.push(html`<tr><td>${when(e.created_at)}</td><td>${e.type}</td><td>${await repoCell(e.repo_id)}</td><td class="mono">${e.actor_token_id ?? 'operator'}</td><td class="mono">${summary(e)}</td></tr>`);
    }
    sendPage(res, 200, {
      title: 'Events',
      section: 'events',
      signedIn: { token, csrf: session.csrf },
      scripts: ['/ui/static/events.js'],
      body: html`<h1>Recent events</h1>
<p id="live-status" class="muted" role="status" aria-live="polite">The ${SHOWN} most recent events this token may see, newest first. Reload for new ones (with JavaScript, they appear live).</p>
<table id="events" data-cursor="${page.cursor}" data-types="${EVENT_TYPES.join(' ')}"><thead><tr><th scope="col">Time</th><th scope="col">Event</th><th scope="col">Repository</th><th scope="col">Token</th><th scope="col">What</th></tr></thead>
<tbody>${rows}</tbody></table>
${rows.length ? '' : html`<p class="muted">No events yet.</p>`}
<p class="muted">Ref moves read <span class="mono">ref before..after</span>; 0000000000 means created or deleted.</p>`,
    });
  });

  router.get('/ui/events/stream', requireSession, async (req, res) => {
    const { token, session } = signedIn(res);
    const raw = req.header('last-event-id') ?? queryString(req, 'after', 15) ?? '0';
    const after = /^\d{1,15}$/.test(raw) ? Number(raw) : 0;
    res.setHeader('Cache-Control', 'no-store');
    await stream(ctx, res, token, after, () => sessionOpen(session.id));
  });
}
