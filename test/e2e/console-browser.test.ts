// Issue 18 point 3, the web console in a real browser: headless Chromium (Debian's `chromium`)
// driven by playwright-core against a server on 127.0.0.1:0. Sign-in, browsing a repository
// (tree, file, commits), a diff, live events, revoking a token, a repository token confined to
// its repositories, sign-out, and a revoked token signed out. Without Chromium these tests fail
// with one line naming the package; they never skip. GITGATE_CONSOLE_SHOTS=DIR saves a
// screenshot of each page there.
import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commitFiles, gitOk, tmpDir } from '../helpers/git.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const CHROMIUM = process.env.GITGATE_CHROMIUM ?? '/usr/bin/chromium';
const SHOTS = process.env.GITGATE_CONSOLE_SHOTS;
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

async function shot(page: Page, name: string): Promise<void> {
  if (!SHOTS) return;
  fs.mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

describe('web console in a browser', () => {
  let s: TestServer;
  let browser: Browser;
  let webapp: string;
  let privateRepo: string;
  let work: string;
  /** Console messages at error level and uncaught page errors (a CSP violation shows up here). */
  const pageErrors: string[] = [];

  const newContext = async (opts: { javaScriptEnabled?: boolean } = {}): Promise<{ context: BrowserContext; page: Page }> => {
    const context = await browser.newContext({ baseURL: s.url, viewport: { width: 1200, height: 800 }, ...opts });
    const page = await context.newPage();
    page.on('console', (m) => {
      // HTTP error statuses (the 404 page) are asserted where they happen
      if (m.type() === 'error' && !m.text().startsWith('Failed to load resource: the server responded')) pageErrors.push(m.text());
    });
    page.on('pageerror', (e) => pageErrors.push(e.message));
    return { context, page };
  };

  const signIn = async (page: Page, secret: string) => {
    await page.goto('/ui');
    expect(new URL(page.url()).pathname).toBe('/ui/sign-in');
    await page.getByLabel('Token').fill(secret);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL('**/ui/repos');
  };

  /** Without Chromium every test fails with this one line (never a skip). */
  const missing = fs.existsSync(CHROMIUM) ? null : `the web console tests need Chromium at ${CHROMIUM}: apt-get install -y chromium (or set GITGATE_CHROMIUM)`;
  const test = (name: string, fn: () => Promise<void> | void) =>
    it(name, async () => {
      if (missing) throw new Error(missing);
      await fn();
    });

  beforeAll(async () => {
    if (missing) return;
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS });
    s = await startTestServer('fs');
    webapp = await s.createRepo({ name: 'webapp' });
    privateRepo = await s.createRepo({ name: 'private-b', source: { type: 'files', files: [{ filename: 'plans.md', content: 'not for you\n' }] } });
    work = tmpDir('gitgate-console-browser-');
    await gitOk(['init', '-q', '-b', 'main', work]);
    await gitOk(['config', 'user.name', 'Ada Agent'], { cwd: work });
    await gitOk(['config', 'user.email', 'ada@example.com'], { cwd: work });
    await commitFiles(work, { 'README.md': '# webapp\n\nA demo.\n', 'src/app.ts': 'export function greet(name: string) {\n  return `hello ${name}`;\n}\n', 'docs/guide.md': 'Read me.\n' }, 'Initial import');
    fs.writeFileSync(path.join(work, 'logo.bin'), Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 0, 0, 1, 2, 3]));
    fs.writeFileSync(path.join(work, 'large.txt'), 'a line of a large text file\n'.repeat(60_000)); // ~1.6 MiB
    await gitOk(['add', '-A'], { cwd: work });
    await gitOk(['commit', '-q', '-m', 'Add a logo and a large file'], { cwd: work });
    await gitOk(['checkout', '-q', '-b', 'feature/login'], { cwd: work });
    await commitFiles(work, { 'src/app.ts': 'export function greet(name: string) {\n  return `welcome back, ${name}`;\n}\n', 'src/login.ts': 'export const login = () => true;\n' }, 'Log users in');
    await gitOk(['push', '-q', s.gitUrl(webapp, s.admin), 'main', 'feature/login'], { cwd: work });
    await gitOk(['checkout', '-q', 'main'], { cwd: work });
  });

  afterAll(async () => {
    await browser?.close();
    await s?.fsck(webapp);
    await s?.close();
  });

  test('signs in and browses a repository: list, branches, tree, file, commits', async () => {
    const { context, page } = await newContext();
    await page.goto('/ui/repos');
    expect(new URL(page.url()).pathname).toBe('/ui/sign-in'); // no session: to the sign-in page
    await shot(page, '01-sign-in');
    await signIn(page, s.admin);
    await expect(page.getByRole('link', { name: 'webapp' }).isVisible()).resolves.toBe(true);
    await expect(page.getByRole('link', { name: 'private-b' }).isVisible()).resolves.toBe(true);
    await shot(page, '02-repositories');
    // the session cookie is HttpOnly and is not the token
    const cookies = await context.cookies();
    const session = cookies.find((c) => c.name === 'gitgate_session')!;
    expect(session.httpOnly).toBe(true);
    expect(session.sameSite).toBe('Strict');
    expect(session.value).not.toContain(s.admin);
    expect(await page.evaluate('document.cookie')).toBe('');

    await page.getByRole('link', { name: 'webapp' }).click();
    await expect(page.locator('h1').textContent()).resolves.toBe('webapp');
    const branchLinks = await page.locator('table').first().locator('tbody tr td:first-child a').allTextContents();
    expect(branchLinks).toEqual(['feature/login', 'main']);
    await shot(page, '03-repository');

    await page.getByRole('link', { name: 'Browse files' }).click();
    await expect(page.getByRole('link', { name: 'src/' }).isVisible()).resolves.toBe(true);
    await shot(page, '04-tree');
    await page.getByRole('link', { name: 'src/' }).click();
    await page.getByRole('link', { name: 'app.ts' }).click();
    const code = await page.getByLabel('File content').textContent();
    expect(code).toContain('return `hello ${name}`;');
    await shot(page, '05-file');

    // binary and large files are not shown inline
    await page.goto(`/ui/repos/${webapp}/blob?path=logo.bin`);
    await expect(page.locator('main').textContent()).resolves.toContain('Binary file, not shown.');
    await page.goto(`/ui/repos/${webapp}/blob?path=large.txt`);
    await expect(page.locator('main').textContent()).resolves.toContain('too large to show here');
    await shot(page, '06-large-file');

    await page.goto(`/ui/repos/${webapp}`);
    await page.getByRole('link', { name: 'Commits' }).click();
    const messages = await page.locator('tbody tr td:nth-child(2)').allTextContents();
    expect(messages).toEqual(['Add a logo and a large file', 'Initial import']);
    await shot(page, '07-commits');
    await context.close();
  });

  test('renders the diff between two branches', async () => {
    const { context, page } = await newContext();
    await signIn(page, s.admin);
    await page.goto(`/ui/repos/${webapp}`);
    await page.getByRole('link', { name: 'compare with main' }).click();
    expect(new URL(page.url()).pathname).toBe(`/ui/repos/${webapp}/compare`);
    const main = await page.locator('main').textContent();
    expect(main).toContain('ahead: 1 commit ahead, 0 behind');
    expect(main).toContain('Log users in');
    expect(await page.locator('.diff .add').allTextContents()).toEqual(expect.arrayContaining(['+  return `welcome back, ${name}`;', '+export const login = () => true;']));
    expect(await page.locator('.diff .del').allTextContents()).toEqual(expect.arrayContaining(['-  return `hello ${name}`;']));
    await shot(page, '08-compare');
    await context.close();
  });

  test('lists recent events and shows new ones live', async () => {
    const { context, page } = await newContext();
    await signIn(page, s.admin);
    await page.goto('/ui/events');
    await expect(page.locator('#events tbody tr').first().textContent()).resolves.toMatch(/push.*refs\/heads\/main/);
    await page.waitForFunction("document.getElementById('live-status').textContent.startsWith('Live')");
    const before = await page.locator('#events tbody tr').count();
    await commitFiles(work, { 'NEWS.md': 'pushed while watching\n' }, 'Live push');
    await gitOk(['push', '-q', s.gitUrl(webapp, s.admin), 'main'], { cwd: work });
    const head = (await gitOk(['rev-parse', 'HEAD'], { cwd: work })).trim().slice(0, 10);
    // the push's events arrive over SSE and are added at the top, without a reload
    await page.waitForFunction(`document.querySelector('#events tbody tr').textContent.includes('${head}')`);
    const top = await page.locator('#events tbody tr').first().textContent();
    expect(top).toMatch(/push|ref\.update/);
    expect(top).toContain(`refs/heads/main`);
    expect(await page.locator('#events tbody tr').count()).toBeGreaterThan(before);
    await shot(page, '09-events');
    await context.close();
    // without JavaScript the list is still there
    const noJs = await newContext({ javaScriptEnabled: false });
    await signIn(noJs.page, s.admin);
    await noJs.page.goto('/ui/events');
    await expect(noJs.page.locator('#events tbody tr').first().textContent()).resolves.toContain('refs/heads/main');
    await noJs.context.close();
  });

  test('revokes a token from the tokens page', async () => {
    const bot = await s.mint({ repo_ids: [webapp], permission: 'write', name: 'ci-bot', ttl_seconds: 3600 });
    const { context, page } = await newContext();
    await signIn(page, s.admin);
    await page.getByRole('link', { name: 'Tokens' }).click();
    const row = page.locator('tr', { hasText: bot.id });
    await expect(row.textContent()).resolves.toContain('expires');
    await shot(page, '10-tokens');
    expect(await page.content()).not.toContain(bot.token);
    await page.getByRole('link', { name: 'Revoke ci-bot' }).click();
    await expect(page.locator('h1').textContent()).resolves.toBe('Revoke ci-bot?'); // it asks first
    expect((await s.ctx.tokens.get(bot.id))!.revoked_at).toBeNull();
    await shot(page, '11-token-revoke-confirm');
    await page.getByRole('button', { name: 'Revoke' }).click();
    await expect(page.getByRole('status').textContent()).resolves.toContain(`Revoked token ${bot.id}`);
    expect((await s.ctx.tokens.get(bot.id))!.revoked_at).not.toBeNull();
    await shot(page, '12-token-revoked');
    // git agrees: the revoked token no longer clones
    const r = await gitOk(['ls-remote', s.gitUrl(webapp, bot.token)]).then(() => 'ok', () => 'refused');
    expect(r).toBe('refused');
    await context.close();
  });

  test('a repository token sees only its repositories; another one by URL is 404', async () => {
    const scoped = await s.mint({ repo_ids: [webapp], permission: 'read', name: 'reviewer' });
    const { context, page } = await newContext();
    await signIn(page, scoped.token);
    const names = await page.locator('tbody tr td:first-child a').allTextContents();
    expect(names).toEqual(['webapp']);
    await shot(page, '13-repo-token-repositories');
    const res = await page.goto(`/ui/repos/${privateRepo}/blob?path=plans.md`);
    expect(res!.status()).toBe(404);
    await expect(page.locator('main').textContent()).resolves.toContain('Repository not found');
    expect(await page.content()).not.toContain('not for you');
    await shot(page, '14-repo-token-404');
    await context.close();
  });

  test('signs out, and a revoked token is signed out at once', async () => {
    const { context, page } = await newContext();
    await signIn(page, s.admin);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL('**/ui/sign-in');
    await page.goto('/ui/repos');
    expect(new URL(page.url()).pathname).toBe('/ui/sign-in');
    await context.close();

    const temp = await s.mint({ repo_ids: [webapp], permission: 'admin', name: 'temporary' });
    const second = await newContext();
    await signIn(second.page, temp.token);
    await s.api.delete(`/v1/repo_token/${temp.id}`).set('Authorization', `Bearer ${s.admin}`).expect(204);
    await second.page.reload();
    expect(new URL(second.page.url()).pathname).toBe('/ui/sign-in');
    await expect(second.page.getByRole('status').textContent()).resolves.toContain('Your session ended');
    await shot(second.page, '15-session-ended');
    await second.context.close();
  });

  test('no page raised a script error or a CSP violation', () => {
    expect(pageErrors).toEqual([]);
  });
});
