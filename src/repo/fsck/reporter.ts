// fsck.c's report(): applies the policy to each finding and tells the check whether to stop.
import type { FsckMsgId } from './messages.js';
import { outcomeOf, type FsckPolicy } from './policy.js';

export interface Finding {
  id: FsckMsgId;
  message: string;
  outcome: 'error' | 'warn';
}

export class Reporter {
  readonly findings: Finding[] = [];
  private readonly skipped: boolean;

  constructor(
    private readonly policy: FsckPolicy,
    oid: string,
  ) {
    this.skipped = policy.skip.has(oid);
  }

  /** Records a finding; true when it is an error (where fsck.c's `if (err) return err` stops). */
  report(id: FsckMsgId, message: string): boolean {
    if (this.skipped) return false;
    const outcome = outcomeOf(this.policy, id);
    if (outcome === 'ignore') return false;
    this.findings.push({ id, message, outcome });
    return outcome === 'error';
  }

  get maxPathnameLength(): number {
    return this.policy.maxPathnameLength;
  }
}
