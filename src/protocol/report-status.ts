// report-status / report-status-v2 codec: "unpack ok|<reason>", then "ok <ref>" or
// "ng <ref> <reason>" per command, then flush. v2 may add "option" lines after "ok".
import { FLUSH, PktLineReader, pktText, pktToText } from './pkt-line.js';

export interface RefStatus {
  ref: string;
  ok: boolean;
  reason?: string;
}

export interface StatusReport {
  unpack: 'ok' | string;
  refs: RefStatus[];
}

export function writeReportStatus(report: StatusReport): Buffer {
  const out: Buffer[] = [pktText(report.unpack === 'ok' ? 'unpack ok' : `unpack ${report.unpack}`)];
  for (const r of report.refs) {
    out.push(pktText(r.ok ? `ok ${r.ref}` : `ng ${r.ref} ${r.reason ?? 'failed'}`));
  }
  out.push(FLUSH);
  return Buffer.concat(out);
}

export async function parseReportStatus(body: Buffer | PktLineReader): Promise<StatusReport> {
  const reader = body instanceof PktLineReader ? body : new PktLineReader([body]);
  const report: StatusReport = { unpack: '', refs: [] };
  for (;;) {
    const pkt = await reader.read();
    if (!pkt || pkt.type === 'flush') break;
    if (pkt.type !== 'data') continue;
    const line = pktToText(pkt.payload);
    if (line.startsWith('unpack ')) report.unpack = line.slice(7);
    else if (line.startsWith('ok ')) report.refs.push({ ref: line.slice(3), ok: true });
    else if (line.startsWith('ng ')) {
      const rest = line.slice(3);
      const sp = rest.indexOf(' ');
      report.refs.push({ ref: sp < 0 ? rest : rest.slice(0, sp), ok: false, reason: sp < 0 ? '' : rest.slice(sp + 1) });
    }
  }
  return report;
}
