// Git's credential-helper wire format: parsing what git sends, formatting what the helper answers.
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { CredentialProtocolError, formatCredential, parseCredential, readCredential } from '../../src/cli/credential-protocol.js';
import { defaultMinRemaining, targetOf } from '../../src/cli/credential.js';

describe('parseCredential', () => {
  it('reads key=value lines up to the first blank line', () => {
    const c = parseCredential('protocol=https\nhost=git.example.com:8443\npath=v1/repo/abc.git\nusername=bob\n\npassword=ignored\n');
    expect({ ...c.attrs }).toEqual({ protocol: 'https', host: 'git.example.com:8443', path: 'v1/repo/abc.git', username: 'bob' });
  });

  it('reads to the end without a blank line, tolerates CRLF, keeps "=" in values, last value wins', () => {
    const c = parseCredential('protocol=http\r\nhost=a\r\nhost=b\npassword=x=y==\n');
    expect({ ...c.attrs }).toEqual({ protocol: 'http', host: 'b', password: 'x=y==' });
  });

  it('collects key[] values into lists, an empty value clearing the list', () => {
    const c = parseCredential('capability[]=authtype\ncapability[]=state\nwwwauth[]=Basic realm="x"\nwwwauth[]=\nwwwauth[]=Bearer\n');
    expect(c.lists.capability).toEqual(['authtype', 'state']);
    expect(c.lists.wwwauth).toEqual(['Bearer']);
  });

  it('expands url= into its parts, as git does', () => {
    const c = parseCredential('host=old\npath=old\nurl=https://us%40er:p%3Ass@Git.Example.com:8443/v1/repo/my%20repo.git?x=1#f\n');
    expect({ ...c.attrs }).toEqual({
      protocol: 'https',
      host: 'Git.Example.com:8443',
      path: 'v1/repo/my repo.git',
      username: 'us@er',
      password: 'p:ss',
    });
    const bare = parseCredential('username=kept?\nurl=http://127.0.0.1:8080\n');
    expect({ ...bare.attrs }).toEqual({ protocol: 'http', host: '127.0.0.1:8080' });
    // attributes after url= still apply
    expect(parseCredential('url=http://h/v1/repo/a.git\npath=v1/repo/b.git\n').attrs.path).toBe('v1/repo/b.git');
  });

  it('rejects lines that are not key=value and url= that is not a URL', () => {
    expect(() => parseCredential('protocol=https\nnonsense\n')).toThrow(CredentialProtocolError);
    expect(() => parseCredential('=value\n')).toThrow(CredentialProtocolError);
    expect(() => parseCredential('url=not a url\n')).toThrow(CredentialProtocolError);
  });
});

describe('formatCredential', () => {
  it('writes one key=value line per attribute, skipping undefined ones', () => {
    expect(formatCredential({ username: 'x-access-token', password: 'ggr_abc', password_expiry_utc: 1767225600, quit: undefined })).toBe(
      'username=x-access-token\npassword=ggr_abc\npassword_expiry_utc=1767225600\n',
    );
    expect(formatCredential({})).toBe('');
  });

  it('refuses values that would break the framing', () => {
    expect(() => formatCredential({ password: 'a\nusername=evil' })).toThrow(CredentialProtocolError);
    expect(() => formatCredential({ password: 'a\0b' })).toThrow(CredentialProtocolError);
    expect(() => formatCredential({ 'bad key': 'v' })).toThrow(CredentialProtocolError);
  });

  it('round-trips through parseCredential', () => {
    const attrs = { protocol: 'https', host: 'h:1', path: 'v1/repo/x.git', username: 'u', password: 'p=q' };
    expect({ ...parseCredential(formatCredential(attrs)).attrs }).toEqual(attrs);
  });
});

describe('readCredential', () => {
  it('stops at the blank line even when the stream stays open', async () => {
    const s = new PassThrough();
    const done = readCredential(s);
    s.write('protocol=http\nhost=a');
    s.write('\npath=v1/repo/r\n');
    s.write('\n');
    const c = await done; // resolves although the stream never ends
    expect({ ...c.attrs }).toEqual({ protocol: 'http', host: 'a', path: 'v1/repo/r' });
  });

  it('reads to end of input', async () => {
    const s = new PassThrough();
    s.end('url=https://h/v1/repo/r.git');
    expect((await readCredential(s)).attrs.path).toBe('v1/repo/r.git');
  });
});

describe('targetOf', () => {
  const t = (text: string, server: string) => targetOf(parseCredential(text), new URL(server));
  it('finds the repository in a URL of its server: same scheme, host and port', () => {
    expect(t('url=https://Git.Example.com/v1/repo/abc.git', 'https://git.example.com')).toEqual({ base: 'https://git.example.com', repo: 'abc' });
    expect(t('url=https://git.example.com:443/v1/repo/abc.git', 'HTTPS://GIT.example.com/')).toEqual({ base: 'https://git.example.com', repo: 'abc' });
    expect(t('url=http://127.0.0.1:8080/v1/repo/my-name', 'http://127.0.0.1:8080')).toEqual({ base: 'http://127.0.0.1:8080', repo: 'my-name' });
    expect(t('protocol=http\nhost=h\npath=v1/repo/x.git/info/refs', 'http://h')).toEqual({ base: 'http://h', repo: 'x' });
    expect(t('url=https://h/git/v1/repo/x.git', 'https://h/git/')).toEqual({ base: 'https://h/git', repo: 'x' });
  });
  it('is null for another scheme, host, port or path prefix, for anything else, and without a path', () => {
    const server = 'https://h';
    expect(t('url=http://h/v1/repo/x.git', server)).toBeNull();
    expect(t('url=https://h:8443/v1/repo/x.git', server)).toBeNull();
    expect(t('url=https://h.evil.example/v1/repo/x.git', server)).toBeNull();
    expect(t('url=https://evil.example/h/v1/repo/x.git', server)).toBeNull();
    expect(t('url=https://h/v1/repo/x.git', 'https://h/git')).toBeNull();
    expect(t('url=https://h/other/v1/repo/x.git', server)).toBeNull();
    expect(t('protocol=https\nhost=h', server)).toBeNull();
    expect(t('url=https://h/owner/repo.git', server)).toBeNull();
    expect(t('url=https://h/v1/repo/', server)).toBeNull();
    expect(t('url=ssh://h/v1/repo/x.git', server)).toBeNull();
    expect(t('protocol=https\npath=v1/repo/x.git', server)).toBeNull();
  });
});

describe('defaultMinRemaining', () => {
  it('is 10% of the TTL, at least a minute, at most half the TTL', () => {
    expect(defaultMinRemaining(3600)).toBe(360);
    expect(defaultMinRemaining(300)).toBe(60);
    expect(defaultMinRemaining(60)).toBe(30);
    expect(defaultMinRemaining(5)).toBe(2.5);
  });
});
