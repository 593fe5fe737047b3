// Self-signed certificates for HTTPS tests, made by the openssl CLI (node's crypto cannot
// issue X.509), and a tiny HTTPS JSON client that trusts a given CA.
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';

export interface TestCert {
  cert: string;
  key: string;
  /** SHA-256 fingerprint as node reports it (fingerprint256) */
  fingerprint: string;
}

/** A self-signed certificate for 127.0.0.1 and localhost (its own CA), in `dir`. */
export function makeCert(dir: string, name: string): TestCert {
  const cert = path.join(dir, `${name}.crt`);
  const key = path.join(dir, `${name}.key`);
  try {
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2',
      '-subj', `/CN=gitgate test ${name}`, '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
      '-keyout', key, '-out', cert,
    ], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    throw new Error(`HTTPS tests need the openssl CLI (apt-get install openssl): ${(err as Error).message}`);
  }
  return { cert, key, fingerprint: new crypto.X509Certificate(fs.readFileSync(cert)).fingerprint256 };
}

/** A JSON request over HTTPS trusting `ca` only. */
export function httpsJson(url: string, opts: { ca: string; method?: string; token?: string; body?: unknown }): Promise<{ status: number; body: any; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const payload = opts.body === undefined ? undefined : JSON.stringify(opts.body);
    const req = https.request(url, {
      method: opts.method ?? 'GET',
      ca: fs.readFileSync(opts.ca),
      agent: false,
      headers: {
        ...(opts.token ? { Authorization: `Bearer ${opts.token}` } : {}),
        ...(payload ? { 'Content-Type': 'application/json' } : {}),
      },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        let body: unknown = text;
        try {
          body = JSON.parse(text);
        } catch {
          // not JSON: keep the text
        }
        resolve({ status: res.statusCode ?? 0, body, headers: res.headers });
      });
    });
    req.on('error', reject);
    req.end(payload);
  });
}
