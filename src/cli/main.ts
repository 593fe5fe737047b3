// The gitgate command line: serve, token create|list|revoke|rotate, repo create|list|delete|protect|unprotect|protected.
import { Command, CommanderError, Option } from 'commander';
import { loadConfig, type ConfigFlags } from '../config.js';
import { GitgateError } from '../errors.js';
import { startServer } from '../http/server.js';
import { installSignalHandlers } from '../http/shutdown.js';
import { loadSecureContextOptions } from '../http/tls.js';
import { auditCommand } from './audit.js';
import { backupCommands } from './backup.js';
import { credentialCommand } from './credential.js';
import { recoverDataDir } from '../repo/recovery.js';
import { bootstrapAdminToken } from '../service/bootstrap.js';
import { acquireDataDirLock } from '../service/data-dir-lock.js';
import { bootstrapDestination, deliverBootstrapToken } from './bootstrap-delivery.js';
import { setProtectedRefs } from '../service/protected-refs.js';
import { createContext, createLogger, type Context } from '../service/context.js';
import { createRepo, deleteRepo, describeRepo } from '../service/repo-service.js';
import type { Permission } from '../auth/permissions.js';
import { normalizeRefPatterns, RefPatternError } from '../auth/ref-policy.js';
import type { TokenRecord } from '../auth/token-record.js';
import { MAX_ROTATION_GRACE_SECONDS } from '../auth/token-service.js';

class UsageError extends Error {}

function out(line: string): void {
  process.stdout.write(`${line}\n`);
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** Open the data directory for a one-shot command (never memory: nothing would persist). */
async function withContext<T>(flags: ConfigFlags, fn: (ctx: Context) => Promise<T>): Promise<T> {
  const config = loadConfig({ data: flags.data });
  const ctx = createContext(config, createLogger('silent'));
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
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(n) || n < 0 || n > MAX_ROTATION_GRACE_SECONDS) {
    throw new UsageError(`--grace must be a number of seconds from 0 to ${MAX_ROTATION_GRACE_SECONDS}, got ${JSON.stringify(raw)}`);
  }
  return n;
}

/** One line of `token list`: id, permission, repositories, name, state, ref scope, rights, last use. */
function describeToken(t: TokenRecord): string {
  const scope = t.kind === 'workspace' ? 'workspace' : t.repo_ids.join(',');
  const state = t.revoked_at ? 'revoked' : t.expires_at ? `expires ${t.expires_at}` : 'no expiry';
  const refs = `refs=${t.refs.length ? t.refs.join(',') : 'all'}`;
  const rights = `force=${t.allow_force ? 'yes' : 'no'} delete=${t.allow_delete ? 'yes' : 'no'}`;
  const used = t.last_used_at ? `last used ${t.last_used_at}${t.last_used_ip ? ` from ${t.last_used_ip}` : ''}` : 'never used';
  return `${t.id}\t${t.permission}\t${scope}\t${t.name}\t${state}\t${refs}\t${rights}\t${used}`;
}

function parseTtl(raw: string | undefined): number | null {
  if (raw === undefined) return null;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) throw new UsageError(`--ttl must be a positive number of seconds, got ${JSON.stringify(raw)}`);
  return n;
}

function buildProgram(): Command {
  const program = new Command('gitgate')
    .description('Self-hosted Git smart-HTTP server with scoped, expiring, revocable tokens')
    .showHelpAfterError(false)
    .exitOverride()
    .configureOutput({
      writeErr: (s) => process.stderr.write(s),
      outputError: (s, write) => write(`gitgate: ${s.replace(/^error: /, '').trim()}\n`),
    });

  const dataOption = () => new Option('--data <dir>', 'data directory (env GITGATE_DATA, default ./repos)');

  program
    .command('serve')
    .description('serve repositories over smart HTTP and the REST API')
    .option('--port <n>', 'port to listen on, 0 picks a free one (env PORT, default 8080)')
    .option('--host <host>', 'interface to bind (env HOST, default 127.0.0.1)')
    .addOption(dataOption())
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
      const lock = config.memory ? null : acquireDataDirLock(config.dataDir);
      if (lock) process.once('exit', () => lock.release());
      try {
        const ctx = createContext(config);
        // whatever a killed predecessor left half-done goes first
        if (!config.memory) {
          const recovered = await recoverDataDir(ctx.storage);
          if (recovered.removed.length) ctx.log.warn({ removed: recovered.removed }, 'removed leftovers of an interrupted run');
        }
        ctx.manager.onMaintenanceError = (err, repoId) => ctx.log.error({ err, repo: repoId }, 'background repack failed');
        if (ctx.tokens.count() === 0) {
          // where the first token goes is checked before it is minted, and it is delivered
          // before the port is bound: neither a bad path nor a busy port may lose it
          const destination = bootstrapDestination(config.dataDir, process.env, process.stdout.isTTY === true);
          const secret = await bootstrapAdminToken(ctx);
          if (secret) deliverBootstrapToken(secret, destination, out);
        }
        const running = await startServer(ctx, config.host, config.port);
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
    .option('--ttl <seconds>', 'expire after this many seconds')
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
      await withContext(opts, async (ctx) => {
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
    .option('--json', 'print JSON')
    .addOption(dataOption())
    .action(async (opts: { repo?: string; all?: boolean; json?: boolean; data?: string }) => {
      await withContext(opts, async (ctx) => {
        const page = ctx.tokens.list({ repo_id: opts.repo, include_revoked: !!opts.all, page_size: 1000 });
        if (opts.json) return out(JSON.stringify(page.items));
        for (const t of page.items) out(describeToken(t));
      });
    });
  token
    .command('rotate')
    .description('issue a new secret for a token (same id, scope and rights) and print it (only the secret, unless --json)')
    .argument('<id>', 'token id or secret')
    .option('--grace <seconds>', 'keep the old secret working this many seconds (default 0: it stops at once; at most 7 days)')
    .option('--json', 'print the whole record as JSON')
    .addOption(dataOption())
    .action(async (ref: string, opts: { grace?: string; json?: boolean; data?: string }) => {
      const graceSeconds = parseGrace(opts.grace);
      await withContext(opts, async (ctx) => {
        const record = ctx.tokens.resolve(ref);
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
    .addOption(dataOption())
    .action(async (ref: string, opts: { data?: string }) => {
      await withContext(opts, async (ctx) => {
        const record = ctx.tokens.resolve(ref);
        if (!record) throw new GitgateError('TOKEN_NOT_FOUND');
        const n = ctx.tokens.revoke(record.id);
        out(`revoked ${record.id}${n > 1 ? ` and ${n - 1} token(s) it minted` : ''}`);
      });
    });

  auditCommand(program, dataOption, withContext, out);
  backupCommands(program, dataOption, out);
  credentialCommand(program);

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
      await withContext(opts, async (ctx) => {
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
      await withContext(opts, async (ctx) => {
        const page = ctx.repos.list({ page_size: 1000 });
        if (opts.json) return out(JSON.stringify(page.items.map(describeRepo)));
        for (const r of page.items) out(`${r.id}\t${r.name ?? ''}\t${r.created_at}`);
      });
    });
  repo
    .command('delete')
    .description('delete a repository, its data and its token scopes')
    .argument('<id>', 'repository id or name')
    .addOption(dataOption())
    .action(async (ref: string, opts: { data?: string }) => {
      await withContext(opts, async (ctx) => {
        const row = ctx.repos.get(ref);
        if (!row) throw new GitgateError('REPO_NOT_FOUND');
        await deleteRepo(ctx, row.id);
        out(`deleted ${row.id}`);
      });
    });
  repo
    .command('protect')
    .description('protect refs: only admin tokens may create, update or delete refs matching the patterns')
    .argument('<id>', 'repository id or name')
    .argument('<pattern...>', 'ref patterns, e.g. refs/heads/main refs/tags/*')
    .addOption(dataOption())
    .action(async (ref: string, patterns: string[], opts: { data?: string }) => {
      const add = refPatterns(patterns, 'pattern');
      await withContext(opts, async (ctx) => {
        const row = ctx.repos.get(ref);
        if (!row) throw new GitgateError('REPO_NOT_FOUND');
        const now = setProtectedRefs(ctx, row.id, refPatterns([...ctx.repos.protectedRefs(row.id), ...add], 'pattern'));
        for (const p of now) out(p);
      });
    });
  repo
    .command('unprotect')
    .description('remove ref patterns from the protected list')
    .argument('<id>', 'repository id or name')
    .argument('<pattern...>', 'patterns to remove, exactly as listed by `gitgate repo protected`')
    .addOption(dataOption())
    .action(async (ref: string, patterns: string[], opts: { data?: string }) => {
      await withContext(opts, async (ctx) => {
        const row = ctx.repos.get(ref);
        if (!row) throw new GitgateError('REPO_NOT_FOUND');
        const current = ctx.repos.protectedRefs(row.id);
        const missing = patterns.filter((p) => !current.includes(p));
        if (missing.length) throw new UsageError(`not protected: ${missing.join(', ')}`);
        const now = setProtectedRefs(ctx, row.id, current.filter((p) => !patterns.includes(p)));
        for (const p of now) out(p);
      });
    });
  repo
    .command('protected')
    .description("list a repository's protected ref patterns, one a line")
    .argument('<id>', 'repository id or name')
    .option('--json', 'print JSON {"patterns": [...]}')
    .addOption(dataOption())
    .action(async (ref: string, opts: { json?: boolean; data?: string }) => {
      await withContext(opts, async (ctx) => {
        const row = ctx.repos.get(ref);
        if (!row) throw new GitgateError('REPO_NOT_FOUND');
        const patterns = ctx.repos.protectedRefs(row.id);
        if (opts.json) return out(JSON.stringify({ patterns }));
        for (const p of patterns) out(p);
      });
    });
  return program;
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
      // --help and --version exit 0; usage errors were already printed on one line.
      return err.exitCode;
    }
    const message = err instanceof GitgateError || err instanceof UsageError ? err.message : String((err as Error)?.message ?? err);
    process.stderr.write(`gitgate: ${message}\n`);
    return err instanceof UsageError ? 2 : 1;
  }
}
