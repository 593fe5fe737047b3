// GitHub's webhook signature: X-…-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>.
import crypto from 'node:crypto';

export function signatureHeader(secret: string, body: Buffer | string): string {
  return `sha256=${crypto.createHmac('sha256', secret).update(body).digest('hex')}`;
}
