// The release function of a hold (a pin, a held table, held-back scheduling): callers may call
// it more than once (a finally after an early release), and a counted hold must drop only once.

/** `release`, made safe to call again: only the first call runs it. */
export function releaseOnce(release: () => void): () => void {
  let held = true;
  return () => {
    if (!held) return;
    held = false;
    release();
  };
}
