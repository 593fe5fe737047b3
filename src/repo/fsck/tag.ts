// fsck_tag_standalone (fsck.c): object, type, tag name, tagger, an optional gpgsig block.
import { isObjectType } from '../../pack/types.js';
import { isValidRefName } from '../ref-names.js';
import { fsckIdent, LF, nextLine, oidLineAt, skipPrefix, verifyHeaders } from './headers.js';
import type { Reporter } from './reporter.js';

export function fsckTag(buf: Buffer, r: Reporter): void {
  if (!verifyHeaders(buf, r)) return;
  let p = skipPrefix(buf, 0, 'object ');
  if (p < 0) {
    r.report('missingObject', "invalid format - expected 'object' line");
    return;
  }
  if (!oidLineAt(buf, p) && r.report('badObjectSha1', "invalid 'object' line format - bad sha1")) return;
  p = skipPrefix(buf, nextLine(buf, p), 'type ');
  if (p < 0) {
    r.report('missingTypeEntry', "invalid format - expected 'type' line");
    return;
  }
  let eol = buf.indexOf(LF, p);
  if (eol < 0) {
    r.report('missingType', "invalid format - unexpected end after 'type' line");
    return;
  }
  if (!isObjectType(buf.toString('latin1', p, eol)) && r.report('badType', "invalid 'type' value")) return;
  p = skipPrefix(buf, eol + 1, 'tag ');
  if (p < 0) {
    r.report('missingTagEntry', "invalid format - expected 'tag' line");
    return;
  }
  eol = buf.indexOf(LF, p);
  if (eol < 0) {
    r.report('missingTag', "invalid format - unexpected end after 'type' line");
    return;
  }
  const name = buf.toString('utf8', p, eol);
  if (!isValidRefName(`refs/tags/${name}`) && r.report('badTagName', `invalid 'tag' name: ${name}`)) return;
  p = eol + 1;
  const tagger = skipPrefix(buf, p, 'tagger ');
  if (tagger < 0) {
    // early tags have no tagger
    if (r.report('missingTaggerEntry', "invalid format - expected 'tagger' line")) return;
  } else {
    p = fsckIdent(buf, tagger, r).next; // fsck.c goes on to the signature even after an ident error
  }
  const sig = Math.max(skipPrefix(buf, p, 'gpgsig '), skipPrefix(buf, p, 'gpgsig-sha256 '));
  if (sig >= 0) {
    eol = buf.indexOf(LF, sig);
    if (eol < 0) {
      r.report('badGpgsig', "invalid format - unexpected end after 'gpgsig' or 'gpgsig-sha256' line");
      return;
    }
    p = eol + 1;
    while (p < buf.length && buf[p] === 0x20) {
      eol = buf.indexOf(LF, p);
      if (eol < 0) {
        r.report('badHeaderContinuation', "invalid format - unexpected end in 'gpgsig' or 'gpgsig-sha256' continuation line");
        return;
      }
      p = eol + 1;
    }
  }
  if (p < buf.length && buf[p] !== LF) r.report('extraHeaderEntry', "invalid format - extra header(s) after 'tagger'");
}
