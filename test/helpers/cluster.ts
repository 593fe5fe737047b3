// gitgate nodes for the cluster tests: `gitgate serve` processes (127.0.0.1:0) on one data
// directory and one fresh PostgreSQL database, with the requests a test makes through node n.
import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'vitest';
import { gitOk, tmpDir } from './git.js';
import { freshDatabase } from './postgres.js';
import { readBootstrapToken, runServe, stopServe, type ServeRun } from './serve.js';

export type ClusterNode = ServeRun & { url: string };

export class TestCluster {
  readonly nodes: ClusterNode[] = [];
  data = '';
  db!: { url: string; drop: () => Promise<void> };
  admin = '';

  /** `env`: what every node is started with (besides the database, the data directory and its id). */
  constructor(
    private readonly prefix: string,
    private readonly env: Record<string, string> = {},
  ) {}

  /** Fresh data directory and database, then the nodes (all at once: they race to migrate and bootstrap). */
  async start(ids: string[]): Promise<void> {
    this.data = tmpDir(this.prefix);
    this.db = await freshDatabase();
    const started = await Promise.allSettled(ids.map((id) => this.node(id)));
    for (const o of started) if (o.status === 'fulfilled') this.nodes.push(o.value); // stopped by close() either way
    for (const o of started) if (o.status === 'rejected') throw o.reason;
    this.admin = readBootstrapToken(this.data);
  }

  /** Start one more node (not added to `nodes`). */
  async node(id: string, env: Record<string, string> = {}): Promise<ClusterNode> {
    const run = await runServe(['--port', '0', '--data', this.data], { env: { GITGATE_DATABASE_URL: this.db.url, GITGATE_NODE_ID: id, ...this.env, ...env } });
    if (!run.url) throw new Error(`node ${id} did not start (${run.code}): ${run.stderr()}`);
    return run as ClusterNode;
  }

  api(n: number, route: string, init: { method?: string; body?: unknown; token?: string } = {}): Promise<Response> {
    return fetch(`${this.nodes[n]!.url}${route}`, {
      method: init.method ?? 'GET',
      headers: { Authorization: `Bearer ${init.token ?? this.admin}`, ...(init.body ? { 'Content-Type': 'application/json' } : {}) },
      body: init.body ? JSON.stringify(init.body) : undefined,
    });
  }

  gitUrl(n: number, repo: string, secret = this.admin): string {
    const u = new URL(`${this.nodes[n]!.url}/v1/repo/${repo}.git`);
    u.username = 'token';
    u.password = secret;
    return u.toString();
  }

  async createRepo(n: number): Promise<string> {
    const res = await this.api(n, '/v1/repo', { method: 'POST', body: { source: { type: 'files', files: [{ filename: 'README', content: 'base\n' }] } } });
    expect(res.status).toBe(201);
    return ((await res.json()) as { repo_id: string }).repo_id;
  }

  packDir(repo: string): string {
    return path.join(this.data, `${repo}.git`, 'objects', 'pack');
  }

  async fsck(repo: string): Promise<void> {
    await gitOk(['--git-dir', path.join(this.data, `${repo}.git`), 'fsck', '--full', '--strict', '--no-dangling']);
  }

  async close(): Promise<void> {
    await Promise.all(this.nodes.map((n) => stopServe(n)));
    await this.db?.drop();
    if (this.data) fs.rmSync(this.data, { recursive: true, force: true });
  }
}

/** Wait until `check()` holds (background work on a node); fails naming `what` if it never does. */
export async function until(what: string, check: () => Promise<boolean> | boolean, ms = 45_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
