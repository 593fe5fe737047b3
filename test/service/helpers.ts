// A gitgate context without HTTP, for service-level tests of the content API.
import fs from 'node:fs';
import { pino } from 'pino';
import { loadConfig } from '../../src/config.js';
import type { Repository } from '../../src/repo/repository.js';
import { createServices, type Services } from '../../src/service/services.js';
import { createRepo } from '../../src/service/repo-service.js';
import { tmpDir } from '../helpers/git.js';
import type { StorageKind } from '../helpers/storage.js';

export interface ServiceEnv {
  ctx: Services;
  dataDir: string;
  repo(files?: Record<string, string>): Promise<{ id: string; head: string | null; repo: Repository }>;
  close(): Promise<void>;
}

export function serviceEnv(kind: StorageKind, env: Record<string, string> = {}): ServiceEnv {
  const dataDir = tmpDir('gitgate-svc-');
  const ctx = createServices(loadConfig({ data: dataDir, memory: kind === 'memory' }, env), pino({ level: 'silent' }));
  return {
    ctx,
    dataDir,
    async repo(files) {
      const info = await createRepo(ctx, { files: files ? Object.entries(files).map(([filename, content]) => ({ filename, content })) : undefined });
      return { id: info.repo_id, head: info.repo_head, repo: ctx.manager.get(info.repo_id) };
    },
    async close() {
      await ctx.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
