// A raw HTTP connection that sent its head (and maybe part of a body) and then went quiet: a
// request the server has admitted and is still waiting on.
import net from 'node:net';

export interface Stalled {
  socket: net.Socket;
  /** Resolves with the ms the socket stayed open once it closes. */
  closed: Promise<number>;
  data: () => string;
}

export function stalled(url: string, head: string | Buffer): Promise<Stalled> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), hostname, () => {
      socket.write(head);
      const t0 = Date.now();
      const closed = new Promise<number>((r) => socket.on('close', () => r(Date.now() - t0)));
      resolve({ socket, closed, data: () => received });
    });
    let received = '';
    socket.on('data', (d) => (received += d.toString('latin1')));
    socket.on('error', () => undefined);
    socket.once('error', reject);
  });
}

export function basic(secret: string): string {
  return `Basic ${Buffer.from(`token:${secret}`).toString('base64')}`;
}
