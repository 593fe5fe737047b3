// Serving HTTPS directly: the certificate and key come from files (PEM), are checked before the
// port is bound, and are re-read on SIGHUP (certbot and friends renew files in place). A reload
// swaps the secure context for new handshakes only: open connections keep theirs.
import fs from 'node:fs';
import tls from 'node:tls';
import { GitgateError } from '../errors.js';

export interface TlsFiles {
  cert: string;
  key: string;
}

/** TLS 1.0/1.1 are deprecated (RFC 8996): refuse them whatever Node's default is. */
export const TLS_MIN_VERSION = 'TLSv1.2';

/** Read both files and check they form a usable pair; errors name the file, never its content. */
export function loadSecureContextOptions(files: TlsFiles): tls.SecureContextOptions {
  const read = (file: string, what: string) => {
    try {
      return fs.readFileSync(file);
    } catch (err) {
      throw new GitgateError('CONFIG', { detail: `cannot read the TLS ${what} ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}` });
    }
  };
  const options: tls.SecureContextOptions = { cert: read(files.cert, 'certificate'), key: read(files.key, 'key'), minVersion: TLS_MIN_VERSION };
  try {
    tls.createSecureContext(options); // a key that does not match the certificate fails here
  } catch (err) {
    // OpenSSL's reason only (e.g. "key values mismatch"): no key material
    const reason = String((err as Error).message ?? err).split('\n')[0]!.slice(0, 200);
    throw new GitgateError('CONFIG', { detail: `the TLS certificate ${files.cert} and key ${files.key} are not usable: ${reason}` });
  }
  return options;
}
