// Console pages for repositories: the list (size, last push), one repository's branches and
// tags, its tree and files, its commits (paged) and the comparison of two refs with a rendered
// diff. Every repository goes through resolveRepo (auth/policy.ts): out of the token's scope is
// 404, exactly as for REST.
import type { Request, RequestHandler, Response, Router } from 'express';
import { GitgateError } from '../../errors.js';
import { isTreeMode, type TreeEntry } from '../../repo/objects/tree.js';
import type { Repository } from '../../repo/repository.js';
import type { RepoRow } from '../../db/repos-table.js';
import type { Services } from '../../service/services.js';
import { compare, describeCommit, MAX_COMPARE_COMMITS } from '../../service/compare/compare.js';
import { logPage } from '../../service/compare/history.js';
import { contentPath } from '../../service/content/paths.js';
import { readFileAt } from '../../service/content/read.js';
import { commitTree, isBinary, lookupPath, readObjectOfType, readTree } from '../../service/content/tree.js';
import { listRefs } from '../../service/refs/ref-api.js';
import { repoDiskBytes } from '../../service/repo-size.js';
import { resolveCommitish } from '../../service/revision.js';
import { resolveRepo } from '../auth.js';
import { formatBytes, href, html, shortOid, when, type Html } from './html.js';
import { sendPage } from './layout.js';
import { signedIn } from './session.js';

const REPOS_PER_PAGE = 50;
const COMMITS_PER_PAGE = 30;
const MAX_REFS_SHOWN = 500;
const MAX_TREE_ENTRIES = 5_000;
/** Deepest commit page (git log walks every commit before it). */
const MAX_COMMIT_PAGE = 3_000;
/** Diff text rendered on one compare page; the rest is named, not shown. */
const MAX_DIFF_CHARS = 2 * 1024 * 1024;
/** Files larger than this are not shown inline (a download link instead). */
export const MAX_SHOWN_BYTES = 1024 * 1024;

/** One string query parameter (repeated or over-long ones are 400). */
export function queryString(req: Request, name: string, max = 1024): string | undefined {
  const v = req.query[name];
  if (v === undefined || v === '') return undefined;
  if (typeof v !== 'string' || v.length > max) throw new GitgateError('VALIDATION', { detail: `${name} must be one value of at most ${max} characters` });
  return v;
}

export function queryPage(req: Request): number {
  const raw = queryString(req, 'page', 9);
  if (raw === undefined) return 0;
  if (!/^\d+$/.test(raw)) throw new GitgateError('VALIDATION', { detail: 'page must be a non-negative integer' });
  return Number(raw);
}

const shortRef = (ref: string) => ref.replace(/^refs\/(heads|tags)\//, '');

export function repoPages(ctx: Services, router: Router, requireSession: RequestHandler): void {
  const view = (res: Response, title: string, body: Html, status = 200) => {
    const { token, session } = signedIn(res);
    sendPage(res, status, { title, body, section: 'repos', signedIn: { token, csrf: session.csrf } });
  };
  /** The repository the URL names, if the signed-in token may read it (404 otherwise). */
  const open = async (req: Request, res: Response): Promise<{ row: RepoRow; repo: Repository }> => {
    const row = await resolveRepo(ctx, signedIn(res).token, String(req.params.id), 'read', 'browsing');
    return { row, repo: ctx.manager.get(row.id) };
  };
  const repoTitle = (row: RepoRow) => row.name ?? row.id;
  const crumbs = (row: RepoRow, ...rest: Html[]) =>
    html`<p class="crumbs"><a href="/ui/repos">Repositories</a> / <a href="${href(['repos', row.id])}">${repoTitle(row)}</a>${rest.map((r) => html` / ${r}`)}</p>`;

  router.get('/ui/repos', requireSession, async (req, res) => {
    const { token } = signedIn(res);
    const pageNo = queryPage(req);
    const list = await ctx.repos.list({
      page_size: REPOS_PER_PAGE,
      page_start: pageNo * REPOS_PER_PAGE,
      order_by: 'updated_at',
      order_descending: true,
      ids: token.kind === 'repo' ? token.repo_ids : undefined,
    });
    const rows: Html[] = [];
    for (const r of list.items) {
      const size = await repoDiskBytes(ctx.storage, ctx.manager.gitdirOf(r.id)).catch(() => null);
      rows.push(html`<tr><td><a href="${href(['repos', r.id])}">${repoTitle(r)}</a>${r.name ? html`<br><span class="muted mono">${r.id}</span>` : ''}</td>
<td>${r.default_branch}</td><td>${size === null ? '?' : formatBytes(size)}</td><td>${when(r.updated_at)}</td><td>${when(r.created_at)}</td></tr>`);
    }
    view(res, 'Repositories', html`<h1>Repositories</h1>
<p class="muted">${list.total_items} ${list.total_items === 1 ? 'repository' : 'repositories'} this token may read, most recently pushed first.</p>
<table><thead><tr><th scope="col">Repository</th><th scope="col">Default branch</th><th scope="col">Size</th><th scope="col">Last push</th><th scope="col">Created</th></tr></thead>
<tbody>${rows.length ? rows : html`<tr><td colspan="5">No repositories.</td></tr>`}</tbody></table>
${pager('repos', [], {}, pageNo, list.next_page !== null)}`);
  });

  router.get('/ui/repos/:id', requireSession, async (req, res) => {
    const { row, repo } = await open(req, res);
    const refs = await repo.track(() => listRefs(repo, { page_size: MAX_REFS_SHOWN }));
    const size = await repoDiskBytes(ctx.storage, ctx.manager.gitdirOf(row.id));
    const branches = refs.items.filter((r) => r.type === 'branch');
    const tags = refs.items.filter((r) => r.type === 'tag');
    const defaultRef = `refs/heads/${row.default_branch}`;
    const origin = `${req.protocol}://${req.headers.host ?? ''}`;
    const refRow = (r: (typeof refs.items)[number]) => html`<tr><td><a href="${href(['repos', row.id, 'tree'], { ref: r.ref })}">${shortRef(r.ref)}</a>${r.ref === defaultRef ? html` <span class="muted">(default)</span>` : ''}</td>
<td class="mono">${r.commit ? html`<a href="${href(['repos', row.id, 'commits'], { ref: r.ref })}">${shortOid(r.commit)}</a>` : shortOid(r.object)}</td>
<td>${r.ref !== defaultRef && r.commit ? html`<a href="${href(['repos', row.id, 'compare'], { base: defaultRef, head: r.ref })}">compare with ${row.default_branch}</a>` : ''}</td></tr>`;
    view(res, repoTitle(row), html`${crumbs(row)}<h1>${repoTitle(row)}</h1>
<dl class="meta"><dt>Id</dt><dd class="mono">${row.id}</dd><dt>Clone</dt><dd class="mono">${origin}/v1/repo/${row.id}.git</dd>
<dt>Default branch</dt><dd>${row.default_branch}</dd><dt>Size</dt><dd>${formatBytes(size)}</dd><dt>Last push</dt><dd>${when(row.updated_at)}</dd><dt>Created</dt><dd>${when(row.created_at)}</dd></dl>
<p><a href="${href(['repos', row.id, 'tree'])}">Browse files</a> · <a href="${href(['repos', row.id, 'commits'])}">Commits</a> · <a href="${href(['repos', row.id, 'compare'])}">Compare</a></p>
<h2>Branches</h2>
${branches.length ? html`<table><thead><tr><th scope="col">Branch</th><th scope="col">Commit</th><th scope="col"><span class="muted">Compare</span></th></tr></thead><tbody>${branches.map(refRow)}</tbody></table>` : html`<p>No branches yet: push one with git.</p>`}
<h2>Tags</h2>
${tags.length ? html`<table><thead><tr><th scope="col">Tag</th><th scope="col">Commit</th><th scope="col"><span class="muted">Compare</span></th></tr></thead><tbody>${tags.map(refRow)}</tbody></table>` : html`<p>No tags.</p>`}
${refs.total_items > refs.items.length ? html`<p class="muted">Showing ${refs.items.length} of ${refs.total_items} branches and tags.</p>` : ''}`);
  });

  router.get('/ui/repos/:id/tree', requireSession, async (req, res) => {
    const { row, repo } = await open(req, res);
    const ref = queryString(req, 'ref') ?? `refs/heads/${row.default_branch}`;
    const rawPath = queryString(req, 'path', 4096);
    const path = rawPath === undefined ? '' : contentPath(rawPath);
    const body = await repo.track(async () => {
      const head = await repo.refs.resolve('HEAD');
      if (!head && ref === `refs/heads/${row.default_branch}`) return html`<p>This repository is empty: push a first commit with git.</p>`;
      const { commit } = await resolveCommitish(repo, ref);
      let tree = await commitTree(repo, commit);
      if (path) {
        const entry = await lookupPath(repo, tree, path);
        if (!entry || !isTreeMode(entry.mode)) throw new GitgateError('FILE_NOT_FOUND', { path });
        tree = entry.oid;
      }
      const all = await readTree(repo, tree);
      const entries = all.slice(0, MAX_TREE_ENTRIES);
      const item = (e: TreeEntry) => {
        const p = path ? `${path}/${e.name}` : e.name;
        if (isTreeMode(e.mode)) return html`<tr><td>dir</td><td><a href="${href(['repos', row.id, 'tree'], { ref, path: p })}">${e.name}/</a></td></tr>`;
        if (e.mode === '160000') return html`<tr><td>submodule</td><td>${e.name} <span class="muted mono">@ ${shortOid(e.oid)}</span></td></tr>`;
        return html`<tr><td>${e.mode === '120000' ? 'symlink' : 'file'}</td><td><a href="${href(['repos', row.id, 'blob'], { ref, path: p })}">${e.name}</a></td></tr>`;
      };
      return html`<p class="muted">At <span class="mono">${shortRef(ref)}</span> (<a class="mono" href="${href(['repos', row.id, 'commits'], { ref })}">${shortOid(commit)}</a>)</p>
<table><thead><tr><th scope="col">Type</th><th scope="col">Name</th></tr></thead><tbody>
${path ? html`<tr><td></td><td><a href="${href(['repos', row.id, 'tree'], { ref, path: path.includes('/') ? path.slice(0, path.lastIndexOf('/')) : undefined })}">..</a></td></tr>` : ''}
${entries.length ? entries.map(item) : html`<tr><td colspan="2">Empty tree.</td></tr>`}</tbody></table>
${all.length > entries.length ? html`<p class="muted">Showing the first ${entries.length} of ${all.length} entries; clone with git for the rest.</p>` : ''}`;
    });
    view(res, `${path || '/'} · ${repoTitle(row)}`, html`${crumbs(row, pathCrumbs(row, ref, path))}<h1>${path || 'Files'}</h1>${refForm(row, 'tree', ref, path)}${body}`);
  });

  router.get('/ui/repos/:id/blob', requireSession, async (req, res) => {
    const { row, repo } = await open(req, res);
    const ref = queryString(req, 'ref') ?? `refs/heads/${row.default_branch}`;
    const path = contentPath(queryString(req, 'path', 4096) ?? '');
    const body = await repo.track(async () => {
      const { commit } = await resolveCommitish(repo, ref);
      const entry = await lookupPath(repo, await commitTree(repo, commit), path);
      if (!entry || isTreeMode(entry.mode) || entry.mode === '160000') throw new GitgateError('FILE_NOT_FOUND', { path });
      const size = (await repo.objects.readType(entry.oid))?.size ?? 0;
      const raw = href(['repos', row.id, 'raw'], { ref: commit, path });
      const facts = html`<p class="muted">${formatBytes(size)} · <span class="mono">${shortOid(entry.oid)}</span> · mode ${entry.mode} · <a href="${raw}">Download</a></p>`;
      if (entry.mode === '120000') return html`${facts}<p>Symbolic link to <code>${(await readObjectOfType(repo, entry.oid, 'blob')).toString('utf8')}</code></p>`;
      if (size > MAX_SHOWN_BYTES) return html`${facts}<p class="notice">This file is too large to show here (over ${formatBytes(MAX_SHOWN_BYTES)}); download it or fetch it with git.</p>`;
      const content = await readObjectOfType(repo, entry.oid, 'blob');
      if (isBinary(content)) return html`${facts}<p class="notice">Binary file, not shown.</p>`;
      const lines = content.toString('utf8').replace(/\n$/, '').split('\n');
      return html`${facts}<ol class="code" aria-label="File content">${lines.map((l) => html`<li>${l || ' '}</li>`)}</ol>`;
    });
    view(res, `${path} · ${repoTitle(row)}`, html`${crumbs(row, pathCrumbs(row, ref, path))}<h1>${path.split('/').pop()}</h1>${body}`);
  });

  // A file's bytes as a download, never rendered by the browser (attachment, sandboxed, nosniff).
  router.get('/ui/repos/:id/raw', requireSession, async (req, res) => {
    const { repo } = await open(req, res);
    const ref = queryString(req, 'ref') ?? 'HEAD';
    const path = queryString(req, 'path', 4096) ?? '';
    const { content } = await repo.track(async () => {
      const { commit } = await resolveCommitish(repo, ref);
      return readFileAt(repo, path, { commit, maxBytes: ctx.config.maxReadBytes });
    });
    const name = path.split('/').pop() ?? 'file';
    res.setHeader('Content-Security-Policy', "default-src 'none'; sandbox");
    res.setHeader('Content-Disposition', `attachment; filename="${name.replace(/[^\w.-]/g, '_')}"; filename*=UTF-8''${encodeURIComponent(name)}`);
    res.type('application/octet-stream').send(content);
  });

  router.get('/ui/repos/:id/commits', requireSession, async (req, res) => {
    const { row, repo } = await open(req, res);
    const ref = queryString(req, 'ref') ?? `refs/heads/${row.default_branch}`;
    const pageNo = queryPage(req);
    if (pageNo > MAX_COMMIT_PAGE) throw new GitgateError('VALIDATION', { detail: `page must be at most ${MAX_COMMIT_PAGE}; use git log for older history` });
    const body = await repo.track(async () => {
      if (!(await repo.refs.resolve('HEAD')) && ref === `refs/heads/${row.default_branch}`) return html`<p>No commits yet.</p>`;
      const { commit } = await resolveCommitish(repo, ref);
      const { commits, more } = await logPage(repo.objects, commit, pageNo * COMMITS_PER_PAGE, COMMITS_PER_PAGE);
      const items: Html[] = [];
      for (const c of commits) {
        const d = await describeCommit(repo, c.oid);
        const [subject, ...rest] = d.commit.message.split('\n');
        const parent = c.parents[0];
        items.push(html`<tr><td class="mono"><a href="${href(['repos', row.id, 'tree'], { ref: c.oid })}" title="Browse the files at this commit">${shortOid(c.oid)}</a></td>
<td>${subject}${rest.some((l) => l.trim()) ? html`<details><summary class="muted">more</summary><pre>${rest.join('\n').trim()}</pre></details>` : ''}</td>
<td>${d.commit.author?.name ?? ''}</td><td>${when(d.commit.author?.date)}</td>
<td>${parent ? html`<a href="${href(['repos', row.id, 'compare'], { base: parent, head: c.oid })}">diff</a>` : html`<span class="muted">root</span>`}</td></tr>`);
      }
      return html`<table><thead><tr><th scope="col">Commit</th><th scope="col">Message</th><th scope="col">Author</th><th scope="col">Date</th><th scope="col">Changes</th></tr></thead>
<tbody>${items}</tbody></table>${pager('repos', [row.id, 'commits'], { ref }, pageNo, more)}`;
    });
    view(res, `Commits · ${repoTitle(row)}`, html`${crumbs(row, html`Commits`)}<h1>Commits on ${shortRef(ref)}</h1>${refForm(row, 'commits', ref, '')}${body}`);
  });

  router.get('/ui/repos/:id/compare', requireSession, async (req, res) => {
    const { row, repo } = await open(req, res);
    const base = queryString(req, 'base');
    const head = queryString(req, 'head');
    const form = html`<form method="get" action="${href(['repos', row.id, 'compare'])}" class="stack">
<label for="base">Base</label><input id="base" name="base" type="text" value="${base ?? `refs/heads/${row.default_branch}`}" required>
<label for="head">Head</label><input id="head" name="head" type="text" value="${head ?? ''}" required>
<p><button type="submit">Compare</button> <span class="muted">branches, tags or commit ids; shows <code>git diff base...head</code></span></p></form>`;
    let result: Html = html``;
    if (base && head) {
      let cmp: Awaited<ReturnType<typeof compare>>;
      try {
        cmp = await repo.track(() => compare(repo, base, head));
      } catch (err) {
        // a name that resolves to nothing, unrelated histories: said beside the form, to fix there
        if (!(err instanceof GitgateError) || err.status >= 500) throw err;
        view(res, `Compare · ${repoTitle(row)}`, html`${crumbs(row, html`Compare`)}<h1>Compare</h1>${form}<p class="error" role="alert">${err.message}</p>`, err.status);
        return;
      }
      let budget = MAX_DIFF_CHARS;
      result = html`<h2>${shortRef(base)}...${shortRef(head)}</h2>
<p>${cmp.status}: ${cmp.ahead_by} commit${cmp.ahead_by === 1 ? '' : 's'} ahead, ${cmp.behind_by} behind; merge base <span class="mono">${shortOid(cmp.merge_base_commit.sha)}</span>; ${cmp.files.length} file${cmp.files.length === 1 ? '' : 's'} changed.</p>
${cmp.commits.length ? html`<h3>Commits</h3><ul>${cmp.commits.map((c) => html`<li><span class="mono">${shortOid(c.sha)}</span> ${c.commit.message.split('\n')[0]} <span class="muted">${c.commit.author?.name ?? ''}</span></li>`)}</ul>${cmp.total_commits > MAX_COMPARE_COMMITS ? html`<p class="muted">Showing the last ${MAX_COMPARE_COMMITS} of ${cmp.total_commits}.</p>` : ''}` : ''}
<h3>Files</h3>${cmp.files.map((f) => {
        const shown = f.patch !== undefined && budget >= f.patch.length;
        if (f.patch) budget -= f.patch.length;
        return html`<section class="diff"><h3><span class="mono">${f.previous_filename ? `${f.previous_filename} → ` : ''}${f.filename}</span> <span class="muted">${f.status}, +${f.additions ?? 0} −${f.deletions ?? 0}</span></h3>
${shown ? html`<pre>${f.patch!.replace(/\n$/, '').split('\n').map((l) => html`<span class="${l.startsWith('@@') ? 'hunk' : l.startsWith('+') ? 'add' : l.startsWith('-') ? 'del' : 'ctx'}">${l || ' '}</span>`)}</pre>` : f.patch ? html`<p class="muted">Diff not shown: this comparison's diff is too large for one page; use <code>git diff</code>.</p>` : html`<p class="muted">${f.additions === 0 && f.deletions === 0 && f.status !== 'renamed' ? 'Binary or mode-only change: no text diff.' : 'No text changes.'}</p>`}</section>`;
      })}`;
    }
    view(res, `Compare · ${repoTitle(row)}`, html`${crumbs(row, html`Compare`)}<h1>Compare</h1>${form}${result}`);
  });
}

/** A GET form to look at another branch, tag or commit. */
function refForm(row: RepoRow, what: 'tree' | 'commits', ref: string, path: string): Html {
  return html`<form method="get" action="${href(['repos', row.id, what])}" class="inline"><label for="ref">Branch, tag or commit</label>
<input id="ref" name="ref" type="text" value="${ref}">${path ? html`<input type="hidden" name="path" value="${path}">` : ''} <button type="submit">Go</button></form>`;
}

function pathCrumbs(row: RepoRow, ref: string, path: string): Html {
  const parts = path ? path.split('/') : [];
  return html`<a href="${href(['repos', row.id, 'tree'], { ref })}">${shortRef(ref)}</a>${parts.map((p, i) => (i === parts.length - 1 ? html` / ${p}` : html` / <a href="${href(['repos', row.id, 'tree'], { ref, path: parts.slice(0, i + 1).join('/') })}">${p}</a>`))}`;
}

function pager(first: string, rest: string[], query: Record<string, string>, pageNo: number, more: boolean): Html {
  const link = (n: number) => href([first, ...rest], { ...query, page: n || undefined });
  return html`<nav class="pager" aria-label="Pages">${pageNo > 0 ? html`<a href="${link(pageNo - 1)}" rel="prev">Newer</a>` : ''}${more ? html`<a href="${link(pageNo + 1)}" rel="next">Older</a>` : ''}</nav>`;
}

