// fsck_blob (fsck.c) for blobs a tree names .gitattributes: git refuses to parse huge files
// and long lines, so a checkout would silently lose attributes.
import type { Reporter } from './reporter.js';

const ATTR_MAX_FILE_SIZE = 100 * 1024 * 1024;
const ATTR_MAX_LINE_LENGTH = 2048;

export function fsckGitattributes(content: Buffer, r: Reporter): void {
  if (content.length > ATTR_MAX_FILE_SIZE) {
    r.report('gitattributesLarge', '.gitattributes too large to parse');
    return;
  }
  // git reads it as a C string: a NUL ends it
  const nul = content.indexOf(0);
  const end = nul < 0 ? content.length : nul;
  for (let p = 0; p < end; ) {
    const lf = content.indexOf(0x0a, p);
    const eol = lf < 0 || lf > end ? end : lf;
    if (eol - p >= ATTR_MAX_LINE_LENGTH) {
      r.report('gitattributesLineLength', '.gitattributes has too long lines to parse');
      return;
    }
    p = eol + 1;
  }
}
