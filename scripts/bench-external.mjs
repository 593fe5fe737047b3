// `npm run bench -- --repo PATH`: benchmark on an existing repository (bare, or a clone)
// instead of the synthetic one. Its branches and tags are taken as they are (a `git clone
// --bare` of it, objects hard-linked where the file system allows), cached under
// .bench/repos/ext-<key>/ keyed by the path and its refs.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { gitEnv, mkdirp, rmrf, run } from './bench-util.mjs';

async function gitDirOf(repoPath, env) {
  const res = await run('git', ['-C', repoPath, 'rev-parse', '--absolute-git-dir'], { env, allowFail: true });
  if (res.code !== 0) throw new Error(`--repo ${repoPath}: not a git repository (${res.stderr.trim().split('\n')[0]})`);
  return res.stdout.trim();
}

/** Returns { gitDir, params, stats, cached } like buildRepo(). */
export async function importRepo(benchDir, repoPath, log = () => {}) {
  const env = gitEnv(benchDir);
  const src = await gitDirOf(path.resolve(repoPath), env);
  const refs = (await run('git', ['--git-dir', src, 'for-each-ref', '--format=%(objectname) %(refname)', 'refs/heads/', 'refs/tags/'], { env })).stdout;
  const key = `ext-${crypto.createHash('sha256').update(`${src}\n${refs}`).digest('hex').slice(0, 12)}`;
  const dir = path.join(benchDir, 'repos', key);
  const gitDir = path.join(dir, 'repo.git');
  const statsFile = path.join(dir, 'stats.json');
  const params = { external: src, seed: 1 };
  if (fs.existsSync(statsFile)) return { gitDir, params, stats: JSON.parse(fs.readFileSync(statsFile, 'utf8')), cached: true };

  const tmp = path.join(benchDir, 'repos', `${key}.tmp-${process.pid}`);
  rmrf(tmp);
  mkdirp(tmp);
  const tmpGit = path.join(tmp, 'repo.git');
  const t0 = Date.now();
  log(`importing ${src} (branches and tags) …`);
  // --bare keeps exactly refs/heads/* and refs/tags/* (not a clone's refs/remotes/ or a
  // mirror's refs/pull/*); a local clone links or copies the packs as they are.
  await run('git', ['clone', '--bare', '-q', src, tmpGit], { env });
  await run('git', ['--git-dir', tmpGit, 'pack-refs', '--all', '--prune'], { env });
  const count = (await run('git', ['--git-dir', tmpGit, 'count-objects', '-v'], { env })).stdout;
  const field = (name) => Number((count.match(new RegExp(`^${name}: (\\d+)`, 'm')) ?? [])[1] ?? 0);
  const names = refs.trim().split('\n').map((l) => l.slice(41));
  const stats = {
    key,
    external: src,
    commits: Number((await run('git', ['--git-dir', tmpGit, 'rev-list', '--all', '--count'], { env })).stdout.trim()),
    objects: field('in-pack') + field('count'),
    packBytes: field('size-pack') * 1024,
    branches: names.filter((r) => r.startsWith('refs/heads/')).length,
    tags: names.filter((r) => r.startsWith('refs/tags/')).length,
    head: (await run('git', ['--git-dir', tmpGit, 'rev-parse', 'HEAD'], { env })).stdout.trim(),
    headRef: (await run('git', ['--git-dir', tmpGit, 'symbolic-ref', 'HEAD'], { env })).stdout.trim(),
    bitmap: fs.readdirSync(path.join(tmpGit, 'objects', 'pack')).some((f) => f.endsWith('.bitmap')),
    buildSeconds: Math.round((Date.now() - t0) / 100) / 10,
  };
  fs.writeFileSync(path.join(tmp, 'stats.json'), JSON.stringify(stats, null, 2));
  rmrf(dir);
  fs.renameSync(tmp, dir);
  log(`  imported in ${stats.buildSeconds} s: ${stats.commits} commits, ${stats.objects} objects, ${stats.branches} branches, ${stats.tags} tags`);
  return { gitDir, params, stats, cached: false };
}
