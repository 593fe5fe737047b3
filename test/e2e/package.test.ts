// The npm package as a user meets it: `npm pack` (dist/ built at pack time, in a copy of the
// checkout so this tree's dist/ is left alone) makes a tarball that installs into an empty
// directory with production dependencies only, and `npx gitgate` then runs --version, serve
// and token, and git clones and pushes through it. Offline: the install uses the npm cache
// that `npm ci` filled, and compiles better-sqlite3 from source (.prebuild-installrc) instead
// of downloading a binary. Slow (the native build): once per CI run.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { builtinModules } from 'node:module';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commitFiles, gitOk, tmpDir } from '../helpers/git.js';

const ROOT = path.resolve(__dirname, '../..');
const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { name: string; version: string; dependencies: Record<string, string> };
const INSTALL_TIMEOUT_MS = 20 * 60_000;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** The environment minus what `npm test` exports (npm_config_*, npm_lifecycle_*…): nested npm
 *  must see what a user's shell would, or it warns about keys it does not know. */
function userEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^npm_/i.test(k) && k !== 'INIT_CWD' && k !== 'NODE') env[k] = v;
  return { ...env, GITGATE_BCRYPT_ROUNDS: '4', ...extra };
}

function sh(cmd: string, args: string[], cwd: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, env: userEnv() });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.stdin.end();
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

async function shOk(cmd: string, args: string[], cwd: string): Promise<Run> {
  const r = await sh(cmd, args, cwd);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.code}):\n${r.stderr.slice(-4000)}`);
  return r;
}

/** A lockfile for an app depending only on the tarball: our lockfile's production entries, with
 *  the registry URLs npm would resolve (so npm needs no registry metadata, only cached tarballs). */
function appLock(tarball: string): object {
  const lock = JSON.parse(fs.readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, Record<string, unknown>> };
  const root = lock.packages['']!;
  const packages: Record<string, object> = {
    '': { name: 'app', dependencies: { [pkg.name]: `file:${tarball}` } },
    [`node_modules/${pkg.name}`]: { version: pkg.version, resolved: `file:${tarball}`, dependencies: root.dependencies, bin: root.bin, engines: root.engines },
  };
  for (const [key, entry] of Object.entries(lock.packages)) {
    if (key === '' || entry.dev || entry.link) continue;
    const name = (entry.name as string | undefined) ?? key.slice(key.lastIndexOf('node_modules/') + 'node_modules/'.length);
    packages[key] = { resolved: `https://registry.npmjs.org/${name}/-/${name.split('/').pop()}-${String(entry.version)}.tgz`, ...entry };
  }
  return { name: 'app', lockfileVersion: 3, requires: true, packages };
}

describe('the npm package', () => {
  let work: string;
  let tarball: string;
  let app: string;
  let bin: string;
  let serve: ReturnType<typeof spawn> | null = null;

  beforeAll(async () => {
    work = tmpDir('gitgate-pkg-');
    // a copy of what a release checkout has (no dist/), with this checkout's dev dependencies
    const checkout = path.join(work, 'checkout');
    fs.mkdirSync(checkout);
    for (const f of ['src', 'bin', 'package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'README.md']) {
      fs.cpSync(path.join(ROOT, f), path.join(checkout, f), { recursive: true });
    }
    fs.symlinkSync(fs.realpathSync(path.join(ROOT, 'node_modules')), path.join(checkout, 'node_modules'));
    await shOk('npm', ['pack', '--pack-destination', work], checkout);
    tarball = path.join(work, `${pkg.name}-${pkg.version}.tgz`);

    app = path.join(work, 'app');
    fs.mkdirSync(app);
    fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, dependencies: { [pkg.name]: `file:${tarball}` }, allowScripts: { bcrypt: true, 'better-sqlite3': true } }));
    fs.writeFileSync(path.join(app, 'package-lock.json'), JSON.stringify(appLock(tarball)));
    // better-sqlite3 is built here from source, never downloaded (see README: Installing the package)
    fs.writeFileSync(path.join(app, '.prebuild-installrc'), 'buildFromSource=true\n');
    const started = process.hrtime.bigint();
    await shOk('npm', ['ci', '--offline', '--no-audit', '--no-fund'], app);
    process.stderr.write(`package.test: npm ci of the tarball took ${Number(process.hrtime.bigint() - started) / 1e9} s\n`);
    bin = path.join(app, 'node_modules', '.bin', 'gitgate');
  }, INSTALL_TIMEOUT_MS);

  afterAll(() => {
    serve?.kill('SIGTERM');
  });

  it('packs bin, dist (built at pack time) and README only; dist imports only Node built-ins and dependencies', async () => {
    const list = (await shOk('tar', ['tzf', tarball], work)).stdout.trim().split('\n').sort();
    expect(list).toContain('package/bin/gitgate.js');
    expect(list).toContain('package/dist/cli/main.js');
    expect(list).toContain('package/README.md');
    expect(list.filter((f) => !/^package\/(bin\/|dist\/.*\.js$|README\.md$|package\.json$)/.test(f))).toEqual([]);
    const installed = path.join(app, 'node_modules', pkg.name, 'dist');
    const bare = new Set<string>();
    for (const f of fs.readdirSync(installed, { recursive: true }).map(String).filter((f) => f.endsWith('.js'))) {
      const text = fs.readFileSync(path.join(installed, f), 'utf8');
      // the module specifiers the parser sees (comments and strings that merely look like imports do not count)
      for (const i of ts.preProcessFile(text, true, true).importedFiles) if (!i.fileName.startsWith('.')) bare.add(i.fileName);
    }
    const allowed = new Set([...Object.keys(pkg.dependencies), ...builtinModules]);
    const stray = [...bare].map((s) => s.replace(/^node:/, '')).filter((s) => !allowed.has(s.startsWith('@') ? s.split('/').slice(0, 2).join('/') : s.split('/')[0]!));
    expect(stray).toEqual([]);
  });

  it('npx gitgate --version and -V print the version with no npm warning', async () => {
    for (const flag of ['--version', '-V']) {
      const r = await shOk('npx', ['--offline', 'gitgate', flag], app);
      expect(r.stdout).toBe(`${pkg.version}\n`);
      expect(r.stderr).toBe('');
    }
  });

  it('serves, mints a token, and git clones and pushes through the installed package', async () => {
    const data = path.join(work, 'data');
    const repo = (await shOk('npx', ['--offline', 'gitgate', 'repo', 'create', '--name', 'pkg', '--init', '--data', data], app)).stdout.trim();
    const token = (await shOk('npx', ['--offline', 'gitgate', 'token', 'create', '--repo', repo, '--permission', 'write', '--ttl', '1h', '--data', data], app)).stdout.trim();
    expect(token).toMatch(/^ggr_/);
    const url = await new Promise<string>((resolve, reject) => {
      serve = spawn(bin, ['serve', '--port', '0', '--data', data], { env: userEnv({ LOG_LEVEL: 'silent' }) });
      let out = '';
      serve.stdout!.on('data', (d) => {
        out += d;
        const m = /^listening on (http:\/\/\S+)$/m.exec(out);
        if (m) resolve(m[1]!);
      });
      serve.on('close', (code) => reject(new Error(`serve exited ${code}: ${out}`)));
    });
    // run as a program, the launcher's shell line exec'd node (same pid) with 2 malloc arenas
    expect(path.basename(fs.readlinkSync(`/proc/${serve!.pid}/exe`))).toMatch(/^node/);
    expect(fs.readFileSync(`/proc/${serve!.pid}/environ`, 'latin1').split('\0')).toContain('MALLOC_ARENA_MAX=2');
    const u = new URL(`${url}/v1/repo/${repo}.git`);
    u.username = 'token';
    u.password = token;
    const w = path.join(work, 'w');
    await gitOk(['clone', '-q', u.toString(), w]);
    const head = await commitFiles(w, { 'hello.txt': 'from the package\n' }, 'through the tarball');
    await gitOk(['push', '-q', 'origin', 'HEAD:main'], { cwd: w });
    expect((await gitOk(['--git-dir', path.join(data, `${repo}.git`), 'rev-parse', 'main'])).trim()).toBe(head);
    await gitOk(['--git-dir', path.join(data, `${repo}.git`), 'fsck', '--full']);
  });
});
