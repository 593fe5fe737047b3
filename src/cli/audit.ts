// `gitgate audit list [--repo ID] [--action A] [--limit N] [--json] [--data DIR]`: the audit
// trail, newest first (reads the data directory's SQLite; works while the server runs).
import type { Command } from 'commander';
import { Option } from 'commander';
import { AUDIT_ACTIONS, type AuditEvent } from '../audit/audit-log.js';
import type { ConfigFlags } from '../config.js';
import type { Services } from '../service/services.js';

type WithServices = <T>(flags: ConfigFlags, fn: (ctx: Services) => Promise<T>) => Promise<T>;

function short(oid: string | null): string {
  return oid ? oid.slice(0, 12) : '-';
}

export function describeEvent(e: AuditEvent): string {
  const who = `${e.actor_token_id ?? 'local'}${e.client_ip ? `@${e.client_ip}` : ''}`;
  const what =
    e.action === 'ref.update'
      ? `${e.repo_id ?? '-'} ${e.ref} ${short(e.old_oid)} -> ${short(e.new_oid)}${e.detail?.via ? ` (${String(e.detail.via)})` : ''}`
      : e.action === 'push'
        ? `${e.repo_id ?? '-'} ${((e.detail?.refs ?? []) as { ref: string }[]).map((r) => r.ref).join(' ')}`
        : e.action.startsWith('repo.')
          ? `${e.repo_id ?? '-'}${typeof e.detail?.name === 'string' ? ` (${e.detail.name})` : ''}`
          : `${e.target_token_id}${e.repo_ids.length ? ` repos=${e.repo_ids.join(',')}` : ''}${e.detail?.cascade_from ? ` (cascade from ${String(e.detail.cascade_from)})` : ''}`;
  return `${e.at}\t${e.action}\t${who}\t${what}`;
}

/** Adds `audit list` to the program (via .command, so it inherits exitOverride and output settings). */
export function auditCommand(program: Command, dataOption: () => Option, withServices: WithServices, out: (line: string) => void): Command {
  const audit = program.command('audit').description('read the audit trail (pushes, ref updates, repositories created and deleted, token creation, rotation and revocation)');
  audit
    .command('list')
    .description('list audit events, newest first')
    .option('--repo <id>', 'only events of this repository (id or name)')
    .addOption(new Option('--action <action>', 'only this kind of event').choices([...AUDIT_ACTIONS]))
    .option('--limit <n>', 'at most this many events (default 100, max 1000)')
    .option('--json', 'print JSON')
    .addOption(dataOption())
    .action(async (opts: { repo?: string; action?: string; limit?: string; json?: boolean; data?: string }) => {
      await withServices(opts, async (ctx) => {
        const repoId = opts.repo === undefined ? undefined : ((await ctx.repos.get(opts.repo))?.id ?? opts.repo);
        const page = await ctx.audit.list({ repoId, action: opts.action, pageSize: opts.limit === undefined ? 100 : Number(opts.limit) });
        if (opts.json) return out(JSON.stringify(page.items));
        for (const e of page.items) out(describeEvent(e));
      });
    });
  return audit;
}
