// The gitgate command line: serve, token create|list|revoke|rotate, repo create|list|delete|protect|unprotect|protected, audit, backup, restore, migrate, db copy, credential, mcp.
import fs from 'node:fs';
import os from 'node:os';
import readline from 'node:readline/promises';
import { Command, CommanderError, Option } from 'commander';
import { loadConfig, type ConfigFlags } from '../config.js';
import { GitgateError } from '../errors.js';
import { startServer } from '../http/server.js';
import { installSignalHandlers } from '../http/shutdown.js';
import { loadSecureContextOptions } from '../http/tls.js';
import { auditCommand } from './audit.js';
import { backupCommands } from './backup.js';
import { credentialCommand } from './credential.js';
import { mcpCommand } from './mcp.js';
import { dbCommands } from './db.js';
import { PostgresStores } from '../db/postgres/stores.js';
import { recoverDataDir } from '../repo/recovery.js';
import { setBitmapWarningHandler } from '../repo/bitmap-index.js';
import { bootstrapAdminToken } from '../service/bootstrap.js';
import { acquireDataDirLock } from '../service/data-dir-lock.js';
import { ClusterRecovery } from '../service/cluster-recovery.js';
import { bootstrapDestination, deliverBootstrapToken } from './bootstrap-delivery.js';
import { setProtectedRefs } from '../service/protected-refs.js';
import { createServices, createLogger, type Services } from '../service/services.js';
import { createRepo, deleteRepo, describeRepo } from '../service/repo-service.js';
import type { Permission } from '../auth/permissions.js';
import { normalizeRefPatterns, RefPatternError } from '../auth/ref-policy.js';
import type { TokenRecord } from '../auth/token-record.js';
import { MAX_ROTATION_GRACE_SECONDS } from '../auth/token-service.js';
import { parseDuration } from './duration.js';

class UsageError extends Error {}

function out(line: string): void {
  process.stdout.write(`${line}\n`);
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** The version in package.json (dist/cli/main.js and src/cli/main.ts both sit two levels below it). */
function packageVersion(): string {
  return (JSON.parse(fs.readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}

/** Open the data directory for a one-shot command (never memory: nothing would persist). A
 *  directory that does not exist is a typo far more often than a wish for an empty one:
 *  refused unless --init. */
async function withServices<T>(flags: ConfigFlags & { init?: boolean }, fn: (ctx: Services) => Promise<T>): Promise<T> {
  const config = loadConfig({ data: flags.data, databaseUrl: flags.databaseUrl });
  if (!flags.init && !fs.existsSync(config.dataDir)) throw new GitgateError('DATA_DIR_MISSING', { dir: config.dataDir });
  const ctx = createServices(config, createLogger('silent'));
  try {
    return await fn(ctx);
  } finally {
    await ctx.close();
  }
}

interface TokenCreateFlags {
  workspace?: boolean;
  repo?: string[];
  permission?: Permission;
  ttl?: string;
  name?: string;
  ref?: string[];
  /** undefined unless --allow-force / --no-allow-force was given */
  allowForce?: boolean;
  allowDelete?: boolean;
  json?: boolean;
  data?: string;
}

function parseGrace(raw: string | undefined): number {
  if (raw === undefined) return 0;
  const n = parseDuration(raw);
  if (n === null || n > MAX_ROTATION_GRACE_SECONDS) {
    throw new UsageError(`--grace must be a duration from 0 to 7d (seconds, or 90s, 30m, 1h, 7d), got ${JSON.stringify(raw)}`);
  }
  return n;
}

/** One line of `token list`: id, permission, repositories (names where they have one), name,
 *  state (REVOKED/EXPIRED marked), ref scope, rights, last use. */
function describeToken(t: TokenRecord, repoName: (id: string) => string): string {
  const scope = t.kind === 'workspace' ? 'workspace' : t.repo_ids.map(repoName).join(',');
  const state = t.revoked_at
    ? `REVOKED ${t.revoked_at}`
    : t.expires_at && Date.parse(t.expires_at) <= Date.now()
      ? `EXPIRED ${t.expires_at}`
      : t.expires_at
        ? `expires ${t.expires_at}`
        : 'no expiry';
  const refs = `refs=${t.refs.length ? t.refs.join(',') : 'all'}`;
  const rights = `force=${t.allow_force ? 'yes' : 'no'} delete=${t.allow_delete ? 'yes' : 'no'}`;
  const used = t.last_used_at ? `last used ${t.last_used_at}${t.last_used_ip ? ` from ${t.last_used_ip}` : ''}` : 'never used';
  return `${t.id}\t${t.permission}\t${scope}\t${t.name}\t${state}\t${refs}\t${rights}\t${used}`;
}

function parseTtl(raw: string | undefined): number | null {
  if (raw === undefined) return null;
  const n = parseDuration(raw);
  if (n === null || n <= 0) throw new UsageError(`--ttl must be a positive duration (seconds, or 90s, 30m, 1h, 7d), got ${JSON.stringify(raw)}`);
  return n;
}

function parseLimit(raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < 1 || n > 1000) throw new UsageError(`--limit must be a whole number from 1 to 1000, got ${JSON.stringify(raw)}`);
  return n;
}

/** Confirmation for destructive commands: --yes, or the user types `expected` on a terminal.
 *  Without a terminal there is nobody to ask (as gh repo delete): refused without --yes. */
async function confirm(yes: boolean | undefined, prompt: string, expected: string): Promise<void> {
  if (yes) return;
  if (!process.stdin.isTTY || !process.stderr.isTTY) throw new UsageError('not a terminal: pass --yes to confirm');
  const rl = readline.createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question(`${prompt} Type ${expected} to confirm: `);
    if (answer.trim() !== expected) throw new UsageError('not confirmed: nothing deleted');
  } finally {
    rl.close();
  }
}

function buildProgram(): Command {
  const program = new Command('gitgate')
    .description('Self-hosted Git smart-HTTP server with scoped, expiring, revocable tokens')
    .version(packageVersion(), '-V, --version', 'print the gitgate version')
    .showHelpAfterError(false)
    .exitOverride()
    .configureOutput({
      writeErr: (s) => process.stderr.write(s),
      outputError: (s, write) => write(`gitgate: ${s.replace(/^error: /, '').trim()}\n`),
    });

  const dataOption = () => new Option('--data <dir>', 'data directory (env GITGATE_DATA, default ./repos)');
  const databaseOption = () => new Option('--database-url <url>', 'PostgreSQL for tokens, repositories, audit and webhooks: postgres://… (env GITGATE_DATABASE_URL; default SQLite in the data directory)');

  program
    .command('serve')
    .description('serve repositories over smart HTTP and the REST API')
    .option('--port <n>', 'port to listen on, 0 picks a free one (env PORT, default 8080)')
    .option('--host <host>', 'interface to bind (env HOST, default 127.0.0.1)')
    .addOption(dataOption())
    .addOption(databaseOption())
    .option('--memory', 'keep everything in memory (memfs + in-memory SQLite)')
    .option('--log-pretty', 'human-readable log lines instead of JSON (env LOG_FORMAT=pretty)')
    .option('--trust-proxy <value>', 'take the client address from X-Forwarded-For set by these proxies: loopback, CIDRs (comma-separated) or a hop count (env GITGATE_TRUST_PROXY, default off)')
    .option('--tls-cert <file>', 'serve HTTPS with this PEM certificate chain (env GITGATE_TLS_CERT; needs --tls-key; SIGHUP reloads both)')
    .option('--tls-key <file>', 'the PEM private key for --tls-cert (env GITGATE_TLS_KEY)')
    .action(async (opts: ConfigFlags) => {
      const config = loadConfig(opts);
      if (config.tls) loadSecureContextOptions(config.tls); // a bad pair fails before anything is touched
      // one server owns a data directory: lock it before anything else touches it (a second
      // serve exits here), and keep the lock until the process exits
      // on PostgreSQL (a cluster node) the lock is per node id: other nodes share the directory
      const lock = config.memory ? null : acquireDataDirLock(config.dataDir, config.databaseUrl ? config.nodeId : undefined);
      if (lock) process.once('exit', () => lock.release());
      try {
        const ctx = createServices(config);
        // whatever a killed predecessor left half-done goes first
        if (ctx.stores instanceof PostgresStores) {
          // a cluster node removes only its own earlier run's files and dead nodes' (their
          // names carry node ids), then registers with a heartbeat and keeps sweeping after
          // nodes that die (README, Running several nodes)
          const { heartbeatMs, nodeExpiryMs, staleLockMs } = config.cluster;
          const recovery = new ClusterRecovery(ctx.storage, ctx.stores, { nodeId: config.nodeId, intervalMs: heartbeatMs, nodeExpiryMs, staleLockMs, also: () => ctx.guards.prune() }, ctx.log);
          if (!config.memory) await recovery.atStart();
          await ctx.stores.startHeartbeat(config.nodeId, os.hostname(), process.pid, heartbeatMs);
          if (!config.memory) recovery.start();
        } else if (!config.memory) {
          const recovered = await recoverDataDir(ctx.storage);
          if (recovered.removed.length) ctx.log.warn({ removed: recovered.removed }, 'removed leftovers of an interrupted run');
        }
        ctx.manager.onMaintenanceError = (err, repoId) => ctx.log.error({ err, repo: repoId }, 'background repack failed');
        setBitmapWarningHandler((message, detail) => ctx.log.warn(detail, message));
        if ((await ctx.tokens.count()) === 0) {
          // where the first token goes is checked before it is minted, and it is delivered
          // before the port is bound: neither a bad path nor a busy port may lose it
          const destination = bootstrapDestination(config.dataDir, process.env, process.stdout.isTTY === true);
          const secret = await bootstrapAdminToken(ctx);
          if (secret) deliverBootstrapToken(secret, destination, out);
        }
        const running = await startServer(ctx, config.host, config.port);
        ctx.manager.onMaintenanceRun = (outcome) => running.runtime.metrics.maintenance.inc({ outcome });
        // SIGTERM/SIGINT: stop accepting, let running requests finish (GITGATE_SHUTDOWN_TIMEOUT_SECONDS), close SQLite.
        // Installed before the listening line: whoever reads that line may signal at once.
        installSignalHandlers(running, ctx);
        out(`listening on ${running.url}`);
      } catch (err) {
        lock?.release();
        throw err;
      }
    });

  const token = program.command('token').description('manage access tokens');
  token
    .command('create')
    .description('mint a token and print its secret (only the secret, unless --json)')
    .option('--workspace', 'a workspace token: every repository plus the control plane')
    .option('--repo <id>', 'a repository token for this repository id or name (repeatable)', collect)
    .addOption(new Option('--permission <p>', 'read, write or admin').choices(['read', 'write', 'admin']))
    .option('--ttl <duration>', 'expire after this long: seconds, or 90s, 30m, 1h, 7d (operator tokens ignore GITGATE_MAX_TOKEN_TTL_SECONDS)')
    .option('--name <name>', 'a label for the token')
    .option('--ref <pattern>', 'ref scope: may create/update/delete only refs matching this pattern, e.g. refs/heads/agent/* (repeatable; default every ref)', collect)
    .option('--allow-force', 'may force-push (non-fast-forward updates; default: yes without --ref, no with it)')
    .option('--no-allow-force', 'may not force-push')
    .option('--allow-delete', 'may delete refs (default: yes without --ref, no with it)')
    .option('--no-allow-delete', 'may not delete refs')
    .option('--json', 'print the whole record as JSON')
    .addOption(dataOption())
    .action(async (opts: TokenCreateFlags) => {
      if (!!opts.workspace === !!opts.repo?.length) throw new UsageError('give exactly one of --workspace or --repo ID');
      const ttlSeconds = parseTtl(opts.ttl);
      const refs = opts.ref ? refPatterns(opts.ref, '--ref') : undefined;
      await withServices(opts, async (ctx) => {
        const { secret, record } = await ctx.tokens.create(
          {
            kind: opts.workspace ? 'workspace' : 'repo',
            permission: opts.permission,
            name: opts.name,
            repoIds: opts.repo,
            ttlSeconds,
            refs,
            allowForce: opts.allowForce,
            allowDelete: opts.allowDelete,
          },
          null,
        );
        out(opts.json ? JSON.stringify({ token: secret, ...record }) : secret);
      });
    });
  token
    .command('list')
    .description('list tokens (never their secrets)')
    .option('--repo <id>', 'only tokens scoped to this repository')
    .option('--all', 'include revoked tokens')
    .option('--limit <n>', 'show the newest n tokens (default 100, at most 1000)')
    .option('--json', 'print JSON')
    .addOption(dataOption())
    .action(async (opts: { repo?: string; all?: boolean; limit?: string; json?: boolean; data?: string }) => {
      const limit = parseLimit(opts.limit, 100);
      await withServices(opts, async (ctx) => {
        const repoId = opts.repo === undefined ? undefined : ((await ctx.repos.get(opts.repo))?.id ?? opts.repo);
        const query = { repo_id: repoId, include_revoked: !!opts.all };
        // stored oldest first: the newest `limit` are the last page
        const total = (await ctx.tokens.list({ ...query, page_size: 1 })).total_items;
        const items = (await ctx.tokens.list({ ...query, page_size: limit, page_start: Math.max(0, total - limit) })).items.reverse();
        if (opts.json) out(JSON.stringify(items));
        else {
          const names = new Map<string, string>();
          for (const id of new Set(items.flatMap((t) => t.repo_ids))) names.set(id, (await ctx.repos.get(id))?.name ?? id);
          const repoName = (id: string) => names.get(id) ?? id;
          for (const t of items) out(describeToken(t, repoName));
        }
        // on stderr, so stdout stays one token a line (or one JSON array)
        if (total > items.length) process.stderr.write(`gitgate: ${total - items.length} older token(s) not shown; use --limit (at most 1000) or --repo\n`);
      });
    });
  token
    .command('rotate')
    .description('issue a new secret for a token (same id, scope and rights) and print it (only the secret, unless --json)')
    .argument('<id>', 'token id or secret')
    .option('--grace <duration>', 'keep the old secret working this long: seconds, or 90s, 30m, 1h, 7d (default 0: it stops at once; at most 7d)')
    .option('--json', 'print the whole record as JSON')
    .addOption(dataOption())
    .action(async (ref: string, opts: { grace?: string; json?: boolean; data?: string }) => {
      const graceSeconds = parseGrace(opts.grace);
      await withServices(opts, async (ctx) => {
        const record = await ctx.tokens.resolve(ref);
        if (!record) throw new GitgateError('TOKEN_NOT_FOUND');
        const rotated = await ctx.tokens.rotate(record.id, { graceSeconds });
        out(
          opts.json
            ? JSON.stringify({ token: rotated.secret, ...rotated.record, previous_secret_valid_until: rotated.previous_secret_valid_until })
            : rotated.secret,
        );
      });
    });
  token
    .command('revoke')
    .description('revoke a token (and every token it minted)')
    .argument('<id>', 'token id or secret')
    .option('--json', 'print JSON {"id", "revoked"} (revoked: how many tokens this revoked, descendants included)')
    .addOption(dataOption())
    .action(async (ref: string, opts: { json?: boolean; data?: string }) => {
      await withServices(opts, async (ctx) => {
        const record = await ctx.tokens.resolve(ref);
        if (!record) throw new GitgateError('TOKEN_NOT_FOUND');
        const n = await ctx.tokens.revoke(record.id);
        out(opts.json ? JSON.stringify({ id: record.id, revoked: n }) : `revoked ${record.id}${n > 1 ? ` and ${n - 1} token(s) it minted` : ''}`);
      });
    });

  auditCommand(program, dataOption, withServices, out);
  backupCommands(program, dataOption, out);
  dbCommands(program, dataOption, databaseOption, out);
  credentialCommand(program);
  mcpCommand(program);

  const repo = program.command('repo').description('manage repositories');
  repo
    .command('create')
    .description('create an empty repository and print its id')
    .option('--name <name>', 'unique name usable in URLs instead of the id')
    .option('--metadata <key=value>', 'metadata entry (repeatable)', collect)
    .option('--json', 'print JSON')
    .addOption(dataOption())
    .action(async (opts: { name?: string; metadata?: string[]; json?: boolean; data?: string }) => {
      const metadata = opts.metadata ? Object.fromEntries(opts.metadata.map(splitPair)) : null;
      await withServices(opts, async (ctx) => {
        const info = await createRepo(ctx, { name: opts.name ?? null, metadata });
        out(opts.json ? JSON.stringify(info) : info.repo_id);
      });
    });
  repo
    .command('list')
    .description('list repositories')
    .option('--json', 'print JSON')
    .addOption(dataOption())
    .action(async (opts: { json?: boolean; data?: string }) => {
      await withServices(opts, async (ctx) => {
        const page = await ctx.repos.list({ page_size: 1000 });
        if (opts.json) return out(JSON.stringify(page.items.map(describeRepo)));
        for (const r of page.items) out(`${r.id}\t${r.name ?? ''}\t${r.created_at}`);
      });
    });
  repo
    .command('delete')
    .description('delete a repository, its data and its token scopes')
    .argument('<id>', 'repository id or name')
    .option('-y, --yes', 'do not ask for confirmation (required when stdin is not a terminal)')
    .option('--json', 'print JSON {"repo_id", "deleted": true}')
    .addOption(dataOption())
    .action(async (ref: string, opts: { yes?: boolean; json?: boolean; data?: string }) => {
      await withServices(opts, async (ctx) => {
        const row = await ctx.repos.get(ref);
        if (!row) throw new GitgateError('REPO_NOT_FOUND');
        await confirm(opts.yes, `This deletes repository ${row.name ?? row.id} and all its data.`, row.name ?? row.id);
        await deleteRepo(ctx, row.id);
        out(opts.json ? JSON.stringify({ repo_id: row.id, deleted: true }) : `deleted ${row.id}`);
      });
    });
  repo
    .command('protect')
    .description('protect refs: only admin tokens may create, update or delete refs matching the patterns')
    .argument('<id>', 'repository id or name')
    .argument('<pattern...>', 'ref patterns, e.g. refs/heads/main refs/tags/*')
    .option('--json', 'print JSON {"patterns": [...]}: the whole list')
    .addOption(dataOption())
    .action(async (ref: string, patterns: string[], opts: { json?: boolean; data?: string }) => {
      const add = refPatterns(patterns, 'pattern');
      await withServices(opts, async (ctx) => {
        const row = await ctx.repos.get(ref);
        if (!row) throw new GitgateError('REPO_NOT_FOUND');
        const now = await setProtectedRefs(ctx, row.id, refPatterns([...(await ctx.repos.protectedRefs(row.id)), ...add], 'pattern'));
        printPatterns(now, opts.json);
      });
    });
  repo
    .command('unprotect')
    .description('remove ref patterns from the protected list')
    .argument('<id>', 'repository id or name')
    .argument('<pattern...>', 'patterns to remove, exactly as listed by `gitgate repo protected`')
    .option('--json', 'print JSON {"patterns": [...]}: what remains')
    .addOption(dataOption())
    .action(async (ref: string, patterns: string[], opts: { json?: boolean; data?: string }) => {
      await withServices(opts, async (ctx) => {
        const row = await ctx.repos.get(ref);
        if (!row) throw new GitgateError('REPO_NOT_FOUND');
        const current = await ctx.repos.protectedRefs(row.id);
        const missing = patterns.filter((p) => !current.includes(p));
        if (missing.length) throw new UsageError(`not protected: ${missing.join(', ')}`);
        const now = await setProtectedRefs(ctx, row.id, current.filter((p) => !patterns.includes(p)));
        printPatterns(now, opts.json);
      });
    });
  repo
    .command('protected')
    .description("list a repository's protected ref patterns, one a line")
    .argument('<id>', 'repository id or name')
    .option('--json', 'print JSON {"patterns": [...]}')
    .addOption(dataOption())
    .action(async (ref: string, opts: { json?: boolean; data?: string }) => {
      await withServices(opts, async (ctx) => {
        const row = await ctx.repos.get(ref);
        if (!row) throw new GitgateError('REPO_NOT_FOUND');
        printPatterns(await ctx.repos.protectedRefs(row.id), opts.json);
      });
    });
  addInitOption(program);
  return program;
}

function printPatterns(patterns: string[], json: boolean | undefined): void {
  if (json) return out(JSON.stringify({ patterns }));
  for (const p of patterns) out(p);
}

/** Every command that opens an existing data directory (all with --data but serve, backup and
 *  restore) gets --init: create it when missing. */
function addInitOption(cmd: Command): void {
  for (const sub of cmd.commands) {
    if (!['serve', 'backup', 'restore', 'migrate'].includes(sub.name()) && sub.options.some((o) => o.long === '--data')) {
      sub.option('--init', 'create the data directory when it does not exist');
      sub.option('--database-url <url>', 'PostgreSQL instead of SQLite in the data directory (env GITGATE_DATABASE_URL)');
    }
    addInitOption(sub);
  }
}

function refPatterns(patterns: string[], what: string): string[] {
  try {
    return normalizeRefPatterns(patterns, what);
  } catch (err) {
    if (err instanceof RefPatternError) throw new UsageError(err.message);
    throw err;
  }
}

function splitPair(pair: string): [string, string] {
  const eq = pair.indexOf('=');
  if (eq <= 0) throw new UsageError(`--metadata takes key=value, got ${JSON.stringify(pair)}`);
  return [pair.slice(0, eq), pair.slice(eq + 1)];
}

/** Runs the CLI; resolves to an exit code (serve keeps the process alive). */
export async function main(argv: string[]): Promise<number | undefined> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: 'user' });
    return undefined;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version exit 0; usage errors were already printed on one line and exit 2
      return err.exitCode === 0 ? 0 : 2;
    }
    const message = err instanceof GitgateError || err instanceof UsageError ? err.message : String((err as Error)?.message ?? err);
    process.stderr.write(`gitgate: ${message}\n`);
    // 2: the command line (or configuration) is wrong, 1: it was right and failed
    return err instanceof UsageError || (err instanceof GitgateError && err.code === 'CONFIG') ? 2 : 1;
  }
}
