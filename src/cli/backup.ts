// `gitgate backup --to DIR` and `gitgate restore --from DIR --data DIR` (src/service/backup.ts).
import { Command, Option } from 'commander';
import { loadConfig } from '../config.js';
import { GitgateError } from '../errors.js';
import { backupDataDir, restoreDataDir, type BackupManifest } from '../service/backup.js';

function summary(m: BackupManifest): string {
  const refs = m.repos.reduce((n, r) => n + Object.keys(r.refs).length, 0);
  return `${m.repos.length} repositories, ${refs} refs`;
}

export function backupCommands(program: Command, dataOption: () => Option, out: (line: string) => void): void {
  program
    .command('backup')
    .description('copy the data directory (also while a server runs on it): SQLite through its online backup API, repositories with refs first and objects hard-linked where possible')
    .requiredOption('--to <dir>', 'a new or empty directory for the backup')
    .option('--json', 'print the manifest (backup.json) as JSON')
    .addOption(dataOption())
    .action(async (opts: { to: string; json?: boolean; data?: string }) => {
      const config = loadConfig({ data: opts.data });
      if (config.databaseUrl) {
        throw new GitgateError('CONFIG', { detail: 'gitgate backup copies SQLite; with GITGATE_DATABASE_URL back up PostgreSQL with pg_dump, then the repositories (README, Running several nodes)' });
      }
      const manifest = await backupDataDir(config.dataDir, opts.to);
      out(opts.json ? JSON.stringify(manifest) : `backed up ${summary(manifest)} to ${opts.to}`);
    });
  program
    .command('restore')
    .description('restore a backup into a data directory no server is using')
    .requiredOption('--from <dir>', 'a directory made by gitgate backup')
    .option('--force', 'replace the contents of a non-empty data directory')
    .option('--json', 'print the manifest of what was restored as JSON')
    .addOption(dataOption())
    .action((opts: { from: string; force?: boolean; json?: boolean; data?: string }) => {
      const config = loadConfig({ data: opts.data });
      const manifest = restoreDataDir(opts.from, config.dataDir, { force: !!opts.force });
      out(opts.json ? JSON.stringify(manifest) : `restored ${summary(manifest)} from ${manifest.created_at} into ${config.dataDir}`);
    });
}
