// Console page of tokens (never secrets): the ones the signed-in token may manage, as REST's
// listing shows them (policy.canManageToken), with scope, expiry and last use, and revocation
// through the same check as DELETE /v1/repo_token/:id (TokenService.manageable).
import type { Request, RequestHandler, Response, Router } from 'express';
import type { TokenRecord } from '../../auth/token-record.js';
import { GitgateError } from '../../errors.js';
import type { Services } from '../../service/services.js';
import { href, html, when, type Html } from './html.js';
import { sendPage } from './layout.js';
import { queryPage, queryString } from './repo-pages.js';
import { signedIn } from './session.js';

const PER_PAGE = 50;

export type PostForm = (handler: (req: Request, res: Response, form: Record<string, unknown>) => Promise<void> | void) => RequestHandler[];

function state(t: TokenRecord, now: number): Html {
  if (t.revoked_at) return html`<strong>revoked</strong> ${when(t.revoked_at)}`;
  if (t.expires_at && Date.parse(t.expires_at) <= now) return html`<strong>expired</strong> ${when(t.expires_at)}`;
  return t.expires_at ? html`expires ${when(t.expires_at)}` : html`no expiry`;
}

export function tokenPages(ctx: Services, router: Router, requireSession: RequestHandler, postForm: PostForm): void {
  router.get('/ui/tokens', requireSession, async (req, res) => {
    const { token, session } = signedIn(res);
    const pageNo = queryPage(req);
    const all = queryString(req, 'all') === '1';
    const list = await ctx.tokens.list({ visibleTo: token, page_size: PER_PAGE, page_start: pageNo * PER_PAGE, include_revoked: all });
    const revoked = queryString(req, 'revoked', 40);
    const now = Date.now();
    const repoNames = new Map<string, string>();
    const repos = async (t: TokenRecord): Promise<Html> => {
      if (t.kind === 'workspace') return html`<em>all</em>`;
      const out: Html[] = [];
      for (const id of t.repo_ids) {
        if (!repoNames.has(id)) repoNames.set(id, (await ctx.repos.get(id))?.name ?? id);
        out.push(html`<a href="${href(['repos', id])}">${repoNames.get(id)}</a> `);
      }
      return html`${out}`;
    };
    const rows: Html[] = [];
    for (const t of list.items) {
      const live = !t.revoked_at && !(t.expires_at && Date.parse(t.expires_at) <= now);
      rows.push(html`<tr><td>${t.name}${t.id === token.id ? html` <span class="muted">(this session)</span>` : ''}<br><span class="muted mono">${t.id}</span></td>
<td>${t.kind}, ${t.permission}</td><td>${await repos(t)}</td>
<td class="mono">${t.refs.length ? t.refs.join(' ') : html`<em>all refs</em>`}<br><span class="muted">force ${t.allow_force ? 'yes' : 'no'}, delete ${t.allow_delete ? 'yes' : 'no'}</span></td>
<td>${state(t, now)}</td><td>${when(t.last_used_at)}${t.last_used_ip ? html`<br><span class="muted">from ${t.last_used_ip}</span>` : ''}</td>
<td>${live ? html`<a href="${href(['tokens', t.id, 'revoke'])}" aria-label="Revoke ${t.name}">Revoke…</a>` : ''}</td></tr>`);
    }
    sendPage(res, 200, {
      title: 'Tokens',
      section: 'tokens',
      signedIn: { token, csrf: session.csrf },
      body: html`<h1>Tokens</h1>
${revoked ? html`<p class="notice" role="status">Revoked token <span class="mono">${revoked}</span> and every token it minted.</p>` : ''}
<p class="muted">The tokens this token may manage (itself, and tokens it could have minted); secrets are never shown.
${all ? html`Revoked tokens included: <a href="/ui/tokens">hide them</a>.` : html`<a href="/ui/tokens?all=1">Show revoked tokens too</a>.`}</p>
<table><thead><tr><th scope="col">Name</th><th scope="col">Kind</th><th scope="col">Repositories</th><th scope="col">Refs</th><th scope="col">State</th><th scope="col">Last used</th><th scope="col"><span class="muted">Action</span></th></tr></thead>
<tbody>${rows.length ? rows : html`<tr><td colspan="7">No tokens.</td></tr>`}</tbody></table>
<nav class="pager" aria-label="Pages">${pageNo > 0 ? html`<a rel="prev" href="${href(['tokens'], { page: pageNo - 1 || undefined, all: all ? 1 : undefined })}">Newer</a>` : ''}${list.next_page !== null ? html`<a rel="next" href="${href(['tokens'], { page: pageNo + 1, all: all ? 1 : undefined })}">Older</a>` : ''}</nav>`,
    });
  });

  // Revoking asks first: it also revokes every token the target minted, and revoking the
  // signed-in token ends this session.
  router.get('/ui/tokens/:tokenId/revoke', requireSession, async (req, res) => {
    const { token, session } = signedIn(res);
    const ref = String(req.params.tokenId);
    if (ref.length > 100) throw new GitgateError('TOKEN_NOT_FOUND');
    const target = await ctx.tokens.manageable(token, ref);
    sendPage(res, 200, {
      title: 'Revoke a token',
      section: 'tokens',
      signedIn: { token, csrf: session.csrf },
      body: html`<h1>Revoke ${target.name}?</h1>
<p><span class="mono">${target.id}</span>: ${target.kind}, ${target.permission}, ${state(target, Date.now())}.</p>
<p class="notice">Its secret stops working at once, and so does every token it minted (and theirs).${target.id === token.id ? html` <strong>This is the token you are signed in with: you will be signed out.</strong>` : ''}</p>
<form method="post" action="${href(['tokens', target.id, 'revoke'])}"><input type="hidden" name="csrf" value="${session.csrf}">
<button type="submit">Revoke</button> <a href="/ui/tokens">Cancel</a></form>`,
    });
  });

  // Revoking: the REST rule (itself, or a token it could have minted), and the cascade to its children.
  router.post(
    '/ui/tokens/:tokenId/revoke',
    ...postForm(async (req, res) => {
      const { token } = signedIn(res);
      const ref = String(req.params.tokenId);
      if (ref.length > 100) throw new GitgateError('TOKEN_NOT_FOUND');
      const target = await ctx.tokens.manageable(token, ref);
      await ctx.tokens.revoke(target.id);
      res.redirect(303, href(['tokens'], { revoked: target.id }));
    }),
  );
}
