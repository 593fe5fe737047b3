// A local webhook receiver (on recordingListener) that verifies every delivery's signature the
// way a GitHub receiver does, answers with a status the test chooses, and hands deliveries to
// the test in arrival order.
import crypto from 'node:crypto';
import type http from 'node:http';
import { recordingListener, type Listener } from './listener.js';

export interface ReceivedDelivery {
  headers: http.IncomingHttpHeaders;
  raw: Buffer;
  body: { id: string; type: string; repo_id: string | null; actor_token_id: string | null; data: Record<string, any> };
  /** The X-Gitgate-Signature-256 header matched the HMAC of the raw body under the secret. */
  signatureValid: boolean;
  /** The status the receiver answered. */
  answered: number;
}

export interface Receiver {
  url: string;
  listener: Listener;
  received: ReceivedDelivery[];
  /** What the next requests are answered with (default 200; 0: never answered, the request hangs). */
  status: number;
  /** The next delivery not yet taken (waits for it). */
  next(): Promise<ReceivedDelivery>;
  close(): Promise<void>;
}

export function verifySignature(secret: string, raw: Buffer, header: string | string[] | undefined): boolean {
  if (typeof header !== 'string' || !header.startsWith('sha256=')) return false;
  const expected = Buffer.from(`sha256=${crypto.createHmac('sha256', secret).update(raw).digest('hex')}`);
  const given = Buffer.from(header);
  return given.length === expected.length && crypto.timingSafeEqual(given, expected);
}

export async function webhookReceiver(secret: string): Promise<Receiver> {
  let taken = 0;
  const waiters: (() => void)[] = [];
  const receiver: Receiver = {
    url: '',
    listener: null as unknown as Listener,
    received: [],
    status: 200,
    async next() {
      while (receiver.received.length <= taken) await new Promise<void>((resolve) => waiters.push(resolve));
      return receiver.received[taken++]!;
    },
    close: () => receiver.listener.close(),
  };
  receiver.listener = await recordingListener((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const answered = receiver.status;
      if (answered !== 0) res.writeHead(answered, { 'Content-Type': 'text/plain' }).end('ok');
      receiver.received.push({
        headers: req.headers,
        raw,
        body: JSON.parse(raw.toString('utf8')),
        signatureValid: verifySignature(secret, raw, req.headers['x-gitgate-signature-256']),
        answered,
      });
      for (const w of waiters.splice(0)) w();
    });
  });
  receiver.url = `${receiver.listener.url}/hook`;
  return receiver;
}
