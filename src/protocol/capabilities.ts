// Capability lists (gitprotocol-capabilities): parsing the client's, building ours.
export const AGENT = 'gitgate/0.1.0';

/** Parse a capability list into a map name -> value ('' for flags). */
export function parseCapabilities(text: string): Map<string, string> {
  const caps = new Map<string, string>();
  for (const word of text.split(' ')) {
    if (!word) continue;
    const eq = word.indexOf('=');
    if (eq < 0) caps.set(word, '');
    else caps.set(word.slice(0, eq), word.slice(eq + 1));
  }
  return caps;
}

export const UPLOAD_PACK_CAPS = [
  'multi_ack',
  'thin-pack',
  'side-band',
  'side-band-64k',
  'ofs-delta',
  'shallow',
  'deepen-since',
  'deepen-not',
  'deepen-relative',
  'no-progress',
  'include-tag',
  'multi_ack_detailed',
  'no-done',
  'filter',
  'allow-tip-sha1-in-want',
  'allow-reachable-sha1-in-want',
  'object-format=sha1',
  `agent=${AGENT}`,
];

export const RECEIVE_PACK_CAPS = [
  'report-status',
  'report-status-v2',
  'delete-refs',
  'side-band-64k',
  'quiet',
  'atomic',
  'ofs-delta',
  'push-options',
  'object-format=sha1',
  `agent=${AGENT}`,
];
