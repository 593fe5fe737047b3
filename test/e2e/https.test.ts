// HTTPS without a proxy: serve --tls-cert/--tls-key with a self-signed certificate made here,
// real git clone and push over https:// (GIT_SSL_CAINFO), TLS 1.2+ only, a SIGHUP reload to a
// second certificate while a connection stays open, and the credential helper over HTTPS.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commitFiles, git, gitOk, tmpDir } from '../helpers/git.js';
import { BIN, readBootstrapToken, runServe, stopServe, type ServeRun } from '../helpers/serve.js';
import { httpsJson, makeCert, type TestCert } from '../helpers/tls.js';

let dir: string;
let data: string;
let certA: TestCert;
let certB: TestCert;
/** the files serve is configured with; certificate A first, B copied over them later */
let live: { cert: string; key: string };
let run: ServeRun;
let admin: string;

function cli(args: string[]): string {
  return execFileSync(process.execPath, [BIN, ...args, '--data', data], { env: { ...process.env, GITGATE_BCRYPT_ROUNDS: '4' } }).toString().trim();
}

function untilStderr(re: RegExp): Promise<void> {
  return new Promise((resolve) => {
    const check = () => {
      if (re.test(run.stderr())) {
        run.child.stderr!.off('data', check);
        resolve();
      }
    };
    run.child.stderr!.on('data', check);
    check();
  });
}

/** One keep-alive TLS connection speaking HTTP/1.1 by hand, so the test knows it stays the same socket. */
function openConnection(url: string, ca: string): Promise<{ socket: tls.TLSSocket; get(p: string): Promise<string> }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: u.hostname, port: Number(u.port), ca: fs.readFileSync(ca), servername: undefined }, () => {
      let buffered = '';
      let waiting: ((s: string) => void) | null = null;
      socket.on('data', (d: Buffer) => {
        buffered += d.toString();
        const end = buffered.indexOf('\r\n\r\n');
        const len = /content-length: (\d+)/i.exec(buffered);
        if (end >= 0 && len && buffered.length >= end + 4 + Number(len[1]) && waiting) {
          const response = buffered;
          buffered = '';
          const w = waiting;
          waiting = null;
          w(response);
        }
      });
      resolve({
        socket,
        get: (p) =>
          new Promise((res) => {
            waiting = res;
            socket.write(`GET ${p} HTTP/1.1\r\nHost: ${u.host}\r\nConnection: keep-alive\r\n\r\n`);
          }),
      });
    });
    socket.once('error', reject);
  });
}

function peerFingerprint(url: string, opts: tls.ConnectionOptions = {}): Promise<string> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: u.hostname, port: Number(u.port), rejectUnauthorized: false, ...opts }, () => {
      const fp = socket.getPeerCertificate().fingerprint256;
      socket.end();
      resolve(fp);
    });
    socket.once('error', reject);
  });
}

beforeAll(async () => {
  dir = tmpDir('gitgate-tls-');
  certA = makeCert(dir, 'a');
  certB = makeCert(dir, 'b');
  live = { cert: path.join(dir, 'live.crt'), key: path.join(dir, 'live.key') };
  fs.copyFileSync(certA.cert, live.cert);
  fs.copyFileSync(certA.key, live.key);
  data = tmpDir('gitgate-tls-data-');
  run = await runServe(['--port', '0', '--data', data, '--tls-cert', live.cert, '--tls-key', live.key], { env: { LOG_LEVEL: 'info' } });
  if (!run.url) throw new Error(`serve did not start: ${run.stderr()}`);
  admin = readBootstrapToken(data);
});

afterAll(async () => {
  if (run) await stopServe(run);
});

describe('serve over HTTPS', () => {
  it('says https:// in the listening line and serves the REST API to a client trusting the certificate', async () => {
    expect(run.url!).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const res = await httpsJson(`${run.url!}/v1/repo`, { ca: certA.cert, token: admin });
    expect(res.status).toBe(200);
    // plain http to the same port gets no HTTP answer
    await expect(fetch(`${run.url!.replace('https:', 'http:')}/healthz`)).rejects.toThrow();
  });

  it('clones and pushes with real git over https:// (GIT_SSL_CAINFO); an untrusting git is refused', async () => {
    const repo = cli(['repo', 'create', '--name', 'tls-repo']);
    const token = cli(['token', 'create', '--repo', repo, '--permission', 'write']);
    const u = new URL(`${run.url}/v1/repo/${repo}.git`);
    u.username = 'token';
    u.password = token;
    const refused = await git(['clone', '-q', u.toString(), path.join(tmpDir(), 'w')]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/certificate|SSL/i);

    const w = path.join(tmpDir(), 'w');
    const env = { GIT_SSL_CAINFO: certA.cert };
    await gitOk(['clone', '-q', u.toString(), w], { env });
    const head = await commitFiles(w, { 'hello.txt': 'over tls\n' }, 'pushed over https');
    await gitOk(['push', '-q', 'origin', 'HEAD:main'], { cwd: w, env });
    const again = path.join(tmpDir(), 'again');
    await gitOk(['clone', '-q', u.toString(), again], { env });
    expect((await gitOk(['rev-parse', 'HEAD'], { cwd: again })).trim()).toBe(head);
    await gitOk(['--git-dir', path.join(data, `${repo}.git`), 'fsck', '--full']);
  });

  it('refuses TLS 1.1 and older', async () => {
    // the client offers only TLS 1.0/1.1 (with the security level lowered so it may)
    await expect(peerFingerprint(run.url!, { minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' })).rejects.toThrow(/version|protocol/i);
    expect(await peerFingerprint(run.url!, { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2' })).toBe(certA.fingerprint);
  });

  it('reloads a renewed certificate on SIGHUP without dropping an open connection', async () => {
    const conn = await openConnection(run.url!, certA.cert);
    expect(await conn.get('/healthz')).toMatch(/^HTTP\/1\.1 200/);
    expect(conn.socket.getPeerCertificate().fingerprint256).toBe(certA.fingerprint);

    // renew in place (as certbot does), then SIGHUP
    fs.copyFileSync(certB.cert, live.cert);
    fs.copyFileSync(certB.key, live.key);
    run.child.kill('SIGHUP');
    await untilStderr(/TLS certificate reloaded/);

    // the old connection is still open and still answers
    expect(await conn.get('/healthz')).toMatch(/^HTTP\/1\.1 200/);
    expect(conn.socket.destroyed).toBe(false);
    conn.socket.end();
    // new handshakes get the new certificate, and git trusting only it works
    expect(await peerFingerprint(run.url!)).toBe(certB.fingerprint);
    const repo = cli(['repo', 'create', '--name', 'after-reload']);
    const token = cli(['token', 'create', '--repo', repo, '--permission', 'read']);
    const u = new URL(`${run.url}/v1/repo/${repo}.git`);
    u.password = token;
    u.username = 'token';
    await gitOk(['clone', '-q', u.toString(), path.join(tmpDir(), 'w')], { env: { GIT_SSL_CAINFO: certB.cert } });
  });

  it('keeps the working certificate when the renewed files are unusable', async () => {
    fs.writeFileSync(live.key, fs.readFileSync(certA.key)); // B's certificate, A's key: a mismatch
    run.child.kill('SIGHUP');
    await untilStderr(/TLS certificate reload failed/);
    expect(run.stderr()).not.toContain('PRIVATE KEY');
    expect(await peerFingerprint(run.url!)).toBe(certB.fingerprint);
    fs.copyFileSync(certB.key, live.key);
  });

  it('the credential helper mints child tokens over HTTPS, trusting the CA from NODE_EXTRA_CA_CERTS', async () => {
    const repo = cli(['repo', 'create', '--name', 'helper-repo']);
    const home = tmpDir('gitgate-tls-home-');
    const helperCmd = `!'${process.execPath}' '${BIN}' credential --cache-dir '${path.join(home, 'cache')}'`;
    const args = ['-c', 'credential.helper=', '-c', `credential.helper=${helperCmd}`, '-c', 'credential.useHttpPath=true'];
    const env = { GIT_SSL_CAINFO: certB.cert, GITGATE_URL: run.url!, GITGATE_TOKEN: admin };
    // without the CA the helper cannot reach the server, so git gets no credential
    const refused = await git([...args, 'clone', '-q', `${run.url}/v1/repo/${repo}.git`, path.join(home, 'no')], { env });
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/gitgate credential: .*(certificate|reach|fetch)/i);

    const w = path.join(home, 'w');
    await gitOk([...args, 'clone', '-q', `${run.url}/v1/repo/${repo}.git`, w], { env: { ...env, NODE_EXTRA_CA_CERTS: certB.cert } });
    await commitFiles(w, { 'a.txt': 'helper over tls\n' }, 'via helper');
    await gitOk([...args, 'push', '-q', 'origin', 'HEAD:main'], { cwd: w, env: { ...env, NODE_EXTRA_CA_CERTS: certB.cert } });
    await gitOk(['--git-dir', path.join(data, `${repo}.git`), 'fsck', '--full']);
    const tokens = await httpsJson(`${run.url}/v1/repo_token?repo_id=${repo}`, { ca: certB.cert, token: admin });
    expect(tokens.body.items.some((t: { name: string; repo_ids: string[] }) => t.repo_ids.includes(repo))).toBe(true);
  });
});

describe('serve refuses a bad TLS configuration before touching anything', () => {
  it('needs both files, readable and matching, and says which', async () => {
    const d = tmpDir('gitgate-tls-bad-');
    for (const [args, re] of [
      [['--tls-cert', certA.cert], /both a certificate and a key/],
      [['--tls-cert', path.join(d, 'missing.crt'), '--tls-key', certA.key], /cannot read the TLS certificate .*missing\.crt: ENOENT/],
      [['--tls-cert', certA.cert, '--tls-key', certB.key], /not usable/],
    ] as const) {
      const r = await runServe(['--port', '0', '--data', path.join(d, 'data'), ...args]);
      expect(r.url).toBeNull();
      expect(r.code).toBe(2); // a configuration error, like a bad --port
      expect(r.stderr()).toMatch(re);
      expect(r.stderr().trim().split('\n')).toHaveLength(1);
      expect(fs.existsSync(path.join(d, 'data'))).toBe(false);
    }
  });
});
