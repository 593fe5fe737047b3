// The token-management category: mint (repo, workspace, apikey), rotate, revoke, read and
// list, called by ref-scoped, expiring, protected-ref and unrestricted tokens on each other.
// A case names roles; the runner mints a fresh family of tokens for it (rotating or revoking
// one must not spoil the next case), fills the roles in, and asks judgeTokenCase, whose
// oracle is written here independently of src/auth/policy.ts: no response may hand a secret
// (or a token's record, or a revocation) to a caller that could not have minted that token.
import type { FuzzCase, GenEnv } from './cases.js';
import type { Rng } from './prng.js';

export type Role = 'root' | 'wsScoped' | 'wsExpiring' | 'repoAdmin' | 'repoRefAdmin' | 'mainAdmin' | 'otherAdmin' | 'repoWrite' | 'child';
export const FRESH_ROLES: Role[] = ['wsScoped', 'wsExpiring', 'repoAdmin', 'repoRefAdmin', 'mainAdmin', 'otherAdmin', 'repoWrite', 'child'];

export type TokenOp = 'rotate' | 'revoke' | 'read' | 'list' | 'mint-repo' | 'mint-workspace' | 'apikey';

export interface TokenPlan {
  op: TokenOp;
  caller: Role;
  target?: Role;
  /** rotate: whether the body is one the server must accept */
  validBody?: boolean;
}

/** What the oracle knows of a token (the fields of the public record). */
export interface TokenFacts {
  id: string;
  kind: 'workspace' | 'repo';
  permission: 'read' | 'write' | 'admin';
  repo_ids: string[];
  refs: string[];
  allow_force: boolean;
  allow_delete: boolean;
  expires_at: string | null;
}

export interface Member {
  secret: string;
  facts: TokenFacts;
}

export type Family = Record<Role, Member>;

export type Api = (method: string, path: string, token: string, body?: unknown) => Promise<{ status: number; json: Record<string, unknown> }>;

const SECRET = /gg[rw]_[0-9A-Za-z]{54}/g;

// ---------------------------------------------------------------- generation

export function tokenCase(rng: Rng, env: GenEnv, c: FuzzCase): void {
  const op = rng.weighted<TokenOp>([
    ['rotate', 5],
    ['revoke', 3],
    ['read', 2],
    ['list', 1],
    ['mint-repo', 4],
    ['mint-workspace', 2],
    ['apikey', 1],
  ]);
  const callers: Role[] = ['root', ...FRESH_ROLES];
  const caller = rng.pick(callers);
  const plan: TokenPlan = { op, caller };
  c.bodyKind = 'json';
  c.headers = [['Authorization', `Bearer {{secret:${caller}}}`]];
  if (op === 'rotate' || op === 'revoke' || op === 'read') {
    // root may be a target of everyone but itself (rotating it would end the run)
    const target = rng.pick(caller === 'root' ? FRESH_ROLES : [...callers, caller]);
    plan.target = target;
    const ref = rng.chance(0.8) ? `{{id:${target}}}` : `{{secret:${target}}}`;
    c.path = `/v1/repo_token/${ref}${op === 'rotate' ? '/rotate' : ''}`;
    c.method = op === 'rotate' ? 'POST' : op === 'revoke' ? 'DELETE' : 'GET';
    if (op === 'rotate') {
      const grace = rng.pick<unknown>([undefined, 0, 60, 604800, 604801, -1, 'soon', null]);
      plan.validBody = grace === undefined || (typeof grace === 'number' && grace >= 0 && grace <= 604800);
      c.headers.push(['Content-Type', 'application/json']);
      c.body = Buffer.from(JSON.stringify(grace === undefined ? {} : { grace_seconds: grace }));
      c.what.push(`grace ${JSON.stringify(grace)}`);
    }
  } else if (op === 'list') {
    c.method = 'GET';
    c.path = `/v1/repo_token?include_revoked=${rng.pick(['true', 'false'])}&page_size=1000`;
  } else {
    c.method = 'POST';
    c.headers.push(['Content-Type', 'application/json']);
    const body: Record<string, unknown> = {};
    const maybe = (key: string, values: unknown[]) => {
      const v = rng.pick([undefined, ...values]);
      if (v !== undefined) body[key] = v;
    };
    if (op === 'apikey') {
      c.path = `/v1/repo/${rng.pick([env.target.id, env.scratch.name])}/apikey`;
      body.accessType = rng.pick(['READ', 'WRITE', 'ADMIN']);
    } else {
      c.path = op === 'mint-repo' ? '/v1/repo_token' : '/v1/workspace_token';
      if (op === 'mint-repo') body.repo_ids = rng.pick([[env.target.id], [env.scratch.id], [env.target.name, env.scratch.id]]);
      maybe('permission', ['read', 'write', 'admin']);
      maybe('ttl_seconds', [null, 30, 600, 3600, 7200, 10 ** 9]);
      maybe('refs', [[], ['refs/heads/agent/*'], ['refs/heads/agent/x'], ['refs/heads/agent/x/*'], ['refs/heads/*'], ['refs/heads/main'], ['refs/*']]);
      maybe('allow_force', [true, false]);
      maybe('allow_delete', [true, false]);
    }
    c.body = Buffer.from(JSON.stringify(body));
  }
  c.tokenPlan = plan;
  c.what.unshift(`${op} by ${caller}${plan.target ? ` of ${plan.target}` : ''}`);
}

// ---------------------------------------------------------------- the family

interface Spec {
  kind: 'workspace' | 'repo';
  permission: 'read' | 'write' | 'admin';
  repo: 'target' | 'scratch' | null;
  ttl: number | null;
  refs: string[];
  allow_force: boolean;
  allow_delete: boolean;
  /** minted by (root when absent) */
  by?: Role;
}

const FAMILY_SPEC: Record<Role, Spec> = {
  root: { kind: 'workspace', permission: 'admin', repo: null, ttl: null, refs: [], allow_force: true, allow_delete: true },
  wsScoped: { kind: 'workspace', permission: 'admin', repo: null, ttl: 300, refs: ['refs/heads/agent/*'], allow_force: false, allow_delete: false },
  wsExpiring: { kind: 'workspace', permission: 'admin', repo: null, ttl: 3600, refs: [], allow_force: true, allow_delete: true },
  repoAdmin: { kind: 'repo', permission: 'admin', repo: 'target', ttl: null, refs: [], allow_force: true, allow_delete: true },
  repoRefAdmin: { kind: 'repo', permission: 'admin', repo: 'target', ttl: 600, refs: ['refs/heads/agent/*'], allow_force: false, allow_delete: false, by: 'repoAdmin' },
  mainAdmin: { kind: 'repo', permission: 'admin', repo: 'scratch', ttl: 3600, refs: ['refs/heads/main'], allow_force: true, allow_delete: false },
  otherAdmin: { kind: 'repo', permission: 'admin', repo: 'scratch', ttl: null, refs: [], allow_force: true, allow_delete: true },
  repoWrite: { kind: 'repo', permission: 'write', repo: 'target', ttl: null, refs: [], allow_force: true, allow_delete: true },
  child: { kind: 'repo', permission: 'read', repo: 'target', ttl: 60, refs: ['refs/heads/agent/x'], allow_force: false, allow_delete: false, by: 'repoRefAdmin' },
};

/** Mints a fresh family (root is the bootstrap token) and protects main on the scratch
 *  repository, so that mainAdmin's scope is a protected ref. */
export async function mintFamily(api: Api, env: GenEnv): Promise<Family> {
  const root: Member = {
    secret: env.tokens.admin,
    facts: { id: idOf(env.tokens.admin), kind: 'workspace', permission: 'admin', repo_ids: [], refs: [], allow_force: true, allow_delete: true, expires_at: null },
  };
  const p = await api('PUT', `/v1/repo/${env.scratch.id}/protected_refs`, root.secret, { patterns: ['refs/heads/main'] });
  if (p.status !== 200) throw new Error(`protecting scratch main: ${p.status}`);
  const family = { root } as Family;
  for (const role of FRESH_ROLES) {
    const s = FAMILY_SPEC[role];
    const minter = family[s.by ?? 'root'];
    const body = {
      name: `fuzz ${role}`,
      permission: s.permission,
      ttl_seconds: s.ttl,
      refs: s.refs,
      allow_force: s.allow_force,
      allow_delete: s.allow_delete,
      ...(s.kind === 'repo' ? { repo_ids: [s.repo === 'target' ? env.target.id : env.scratch.id] } : {}),
    };
    const r = await api('POST', s.kind === 'repo' ? '/v1/repo_token' : '/v1/workspace_token', minter.secret, body);
    if (r.status !== 201) throw new Error(`minting the fuzz family's ${role}: ${r.status} ${JSON.stringify(r.json)}`);
    family[role] = { secret: r.json.token as string, facts: factsOf(r.json) };
  }
  return family;
}

/** Replaces {{secret:role}} and {{id:role}} in the case's path and headers. */
export function fillRoles(c: FuzzCase, family: Family): void {
  const fill = (s: string) => s.replace(/\{\{(secret|id):(\w+)\}\}/g, (_, what: string, role: Role) => (what === 'secret' ? family[role].secret : family[role].facts.id));
  c.path = fill(c.path);
  c.headers = c.headers.map(([k, v]) => [k, fill(v)]);
  const auth = c.headers.find(([k]) => k === 'Authorization');
  if (auth) c.credential = auth[1].slice('Bearer '.length);
}

// ---------------------------------------------------------------- the judge

/** Problems with the answer to a token case: any secret, record or revocation that reached
 *  a caller which could not have minted that token (itself excepted). */
export async function judgeTokenCase(plan: TokenPlan, family: Family, status: number, body: string, api: Api): Promise<{ kind: string; detail: string }[]> {
  const problems: { kind: string; detail: string }[] = [];
  const caller = family[plan.caller].facts;
  const entitled = (t: TokenFacts) => t.id === caller.id || couldMintFacts(caller, t);
  // every secret in the answer: whose is it, and could the caller have minted it?
  for (const secret of new Set(body.match(SECRET) ?? [])) {
    if (status < 200 || status >= 300) {
      problems.push({ kind: 'secret-leak', detail: `HTTP ${status} answer carries a secret (${secret.slice(0, 8)}…)` });
      continue;
    }
    const r = await api('GET', `/v1/repo_token/${idOf(secret)}`, family.root.secret);
    if (r.status !== 200) {
      problems.push({ kind: 'token-authority', detail: `answer carries a secret of ${idOf(secret)}, which the bootstrap token cannot read (${r.status})` });
      continue;
    }
    const owner = factsOf(r.json);
    if (!entitled(owner)) problems.push({ kind: 'token-authority', detail: `${plan.caller} (${describe(caller)}) was handed the secret of a token it could not have minted: ${describe(owner)}` });
    if (plan.op === 'read' || plan.op === 'list' || plan.op === 'revoke') problems.push({ kind: 'secret-leak', detail: `${plan.op} answered with a secret` });
  }
  if (plan.target) {
    // a token manages itself and what it could have minted: 404 outside its repositories,
    // 403 when stronger; allowed ones succeed (a bad rotation body is still 400)
    const target = family[plan.target].facts;
    const allowed = entitled(target);
    const want = !allowed ? [403, 404] : plan.op === 'read' ? [200] : plan.op === 'revoke' ? [204] : plan.validBody ? [200] : [400];
    if (!want.includes(status)) {
      problems.push({ kind: 'token-authority', detail: `${plan.op} of ${plan.target} (${describe(target)}) by ${plan.caller} (${describe(caller)}): expected ${want.join('/')}, got ${status}` });
    }
  }
  if (status >= 200 && status < 300) {
    if (plan.op === 'list') {
      let items: TokenFacts[] = [];
      try {
        items = ((JSON.parse(body) as { items?: unknown[] }).items ?? []).map((i) => factsOf(i as Record<string, unknown>));
      } catch {
        // a malformed body is the JSON oracle's business
      }
      const shown = items.filter((x) => !entitled(x));
      if (shown.length) problems.push({ kind: 'token-authority', detail: `list by ${plan.caller} shows ${shown.length} token(s) it could not have minted, e.g. ${describe(shown[0]!)}` });
    }
  }
  return problems;
}

// ---------------------------------------------------------------- the oracle

const RANK = { read: 0, write: 1, admin: 2 } as const;

/** Does every ref `inner` matches also match `outer` (globs with at most one `*`)? */
function refWithin(inner: string, outer: string): boolean {
  const o = outer.indexOf('*');
  if (o < 0) return inner === outer;
  const [head, tail] = [outer.slice(0, o), outer.slice(o + 1)];
  const i = inner.indexOf('*');
  if (i < 0) return inner.length >= head.length + tail.length && inner.startsWith(head) && inner.endsWith(tail);
  return inner.slice(0, i).startsWith(head) && inner.slice(i + 1).endsWith(tail);
}

interface Rights {
  kind: 'workspace' | 'repo';
  permission: 'read' | 'write' | 'admin';
  repos: string[];
  /** comparable expiry: ms since epoch, or Infinity */
  expires: number;
  refs: string[];
  allow_force: boolean;
  allow_delete: boolean;
}

function couldMintRights(m: Rights, t: Rights): boolean {
  if (m.permission !== 'admin') return false;
  if (RANK[t.permission] > RANK[m.permission]) return false;
  if (t.kind === 'workspace' && m.kind !== 'workspace') return false;
  if (m.kind === 'repo' && (t.repos.length === 0 || t.repos.some((r) => !m.repos.includes(r)))) return false;
  if (t.expires > m.expires) return false;
  if (m.refs.length > 0 && (t.refs.length === 0 || !t.refs.every((p) => m.refs.some((q) => refWithin(p, q))))) return false;
  if (t.allow_force && !m.allow_force) return false;
  if (t.allow_delete && !m.allow_delete) return false;
  return true;
}

function couldMintFacts(m: TokenFacts, t: TokenFacts): boolean {
  const rights = (x: TokenFacts): Rights => ({ ...x, repos: x.repo_ids, expires: x.expires_at === null ? Infinity : Date.parse(x.expires_at) });
  return couldMintRights(rights(m), rights(t));
}

function factsOf(j: Record<string, unknown>): TokenFacts {
  return {
    id: j.id as string,
    kind: j.kind as TokenFacts['kind'],
    permission: j.permission as TokenFacts['permission'],
    repo_ids: (j.repo_ids as string[]) ?? [],
    refs: (j.refs as string[]) ?? [],
    allow_force: j.allow_force === true,
    allow_delete: j.allow_delete === true,
    expires_at: (j.expires_at as string | null) ?? null,
  };
}

/** The public id inside a secret: ggX_ + the 16-character id body + … */
function idOf(secret: string): string {
  return `tok_${secret.slice(4, 20)}`;
}

function describe(t: TokenFacts): string {
  const scope = t.kind === 'workspace' ? 'workspace' : `repos ${t.repo_ids.join(',') || '(none)'}`;
  return `${t.id} ${t.kind} ${t.permission}, ${scope}, refs ${t.refs.join(',') || 'all'}, force ${t.allow_force}, delete ${t.allow_delete}, expires ${t.expires_at ?? 'never'}`;
}
