// Author, committer and tagger lines: "Name <email> 1700000000 +0100".

export interface Ident {
  name: string;
  email: string;
  timestamp: number; // seconds
  timezone: string; // '+0100'
}

/** Split "Name <email> 1700000000 +0100"; null when it does not have that shape. */
export function parseIdent(ident: string): Ident | null {
  const m = /^(.*?) ?<([^<>]*)> +(\d+) ([+-]\d{4})$/.exec(ident);
  if (!m) return null;
  return { name: m[1]!, email: m[2]!, timestamp: Number(m[3]), timezone: m[4]! };
}
