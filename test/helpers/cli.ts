// Running the built gitgate CLI (dist/, through bin/gitgate.js) as a user would.
import { spawn } from 'node:child_process';
import { BIN } from './serve.js';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** `gitgate ...args`, with fast bcrypt and silent logs unless `env` says otherwise. */
export function runCli(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, GITGATE_BCRYPT_ROUNDS: '4', LOG_LEVEL: 'silent', ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}
