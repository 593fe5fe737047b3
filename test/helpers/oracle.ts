// C Git's own receive-pack as the oracle for push tests: the same scenario runs against a
// gitgate repository and against a local bare repository reached over file:// (receive-pack
// with receive.fsckObjects=true and every other setting at its default), both seeded with the
// same history, and the outcomes (exit code, git's per-ref status lines, the remote's refs)
// are compared.
import path from 'node:path';
import { gitBytes, gitOk, tmpDir, type GitResult } from './git.js';
import { fastImportCommits } from './push.js';
import type { TestServer } from './server.js';

export interface Twins {
  /** gitgate repository id and its token URL. */
  id: string;
  gitgate: string;
  /** file:// URL of the C Git bare repository, and its directory. */
  cgit: string;
  cgitDir: string;
}

export interface Outcome {
  code: number;
  /** git's per-ref status lines ("   abc..def  main -> main", " ! [remote rejected] … (reason)"). */
  status: string[];
  /** The remote's refs afterwards, "<oid> <name>" lines. */
  refs: string;
}

/**
 * A source repository with a history both remotes start from: main (12 commits, a second
 * apart), an annotated tag v1 at main~6, dev branching off main~4 with 3 commits of its own.
 */
export async function seedHistory(): Promise<string> {
  const src = path.join(tmpDir('gitgate-seed-'), 'src');
  await gitOk(['init', '-q', '-b', 'main', src]);
  await fastImportCommits(src, 'refs/heads/main', 12);
  await gitOk(['tag', '-a', '-m', 'v1', 'v1', 'main~6'], { cwd: src });
  const fork = (await gitOk(['rev-parse', 'main~4'], { cwd: src })).trim();
  await fastImportCommits(src, 'refs/heads/dev', 3, { parent: fork, files: 2 });
  return src;
}

/** A gitgate repository and a C Git bare repository, both holding the seed's branches and tags. */
export async function twinRemotes(s: TestServer, seed: string): Promise<Twins> {
  const id = await s.createRepo();
  const gitgate = s.gitUrl(id, s.admin);
  const cgitDir = path.join(tmpDir('gitgate-oracle-'), 'oracle.git');
  await gitOk(['init', '-q', '--bare', '-b', 'main', cgitDir]);
  await gitOk(['config', 'receive.fsckObjects', 'true'], { cwd: cgitDir });
  await gitOk(['config', 'uploadpack.allowFilter', 'true'], { cwd: cgitDir });
  const cgit = `file://${cgitDir}`;
  for (const url of [gitgate, cgit]) await gitOk(['push', '-q', url, 'refs/heads/*:refs/heads/*', 'refs/tags/*:refs/tags/*'], { cwd: seed });
  return { id, gitgate, cgit, cgitDir };
}

/** Git's per-ref status lines from push output, with the remote's URL left out. */
export function statusLines(stderr: string): string[] {
  return stderr
    .split('\n')
    .filter((l) => / -> |\[deleted\]|\[new (branch|tag|reference)\]/.test(l) && !l.startsWith('remote:'))
    .map((l) => l.trimEnd());
}

/** The outcome of `result` (the push under test) on the remote at `url`. */
export async function outcome(result: GitResult, url: string): Promise<Outcome> {
  const refs = (await gitOk(['ls-remote', url]))
    .split('\n')
    .filter(Boolean)
    .map((l) => l.replace('\t', ' '))
    .join('\n');
  return { code: result.code, status: statusLines(result.stderr), refs };
}

/**
 * Run `scenario` once against each remote, in a fresh directory each time; it returns the
 * result of the push under test. Commit dates and identities are fixed (gitEnv), so both runs
 * create the same objects and the outcomes compare literally.
 */
export async function againstOracle(
  twins: Twins,
  scenario: (url: string, dir: string) => Promise<GitResult>,
): Promise<{ gitgate: Outcome; cgit: Outcome; gitgateResult: GitResult; cgitResult: GitResult }> {
  const cgitResult = await scenario(twins.cgit, tmpDir('gitgate-oracle-run-'));
  const gitgateResult = await scenario(twins.gitgate, tmpDir('gitgate-run-'));
  return {
    gitgate: await outcome(gitgateResult, twins.gitgate),
    cgit: await outcome(cgitResult, twins.cgit),
    gitgateResult,
    cgitResult,
  };
}

/** `git receive-pack --stateless-rpc` on the oracle with a crafted request body: C Git's answer. */
export async function cgitReceive(cgitDir: string, body: Buffer): Promise<Buffer> {
  return (await gitBytes(['receive-pack', '--stateless-rpc', cgitDir], { input: body })).stdout;
}
