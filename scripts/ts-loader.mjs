// Lets a child process run gitgate's TypeScript sources (`node --import ./scripts/ts-loader.mjs`):
// what the repack worker uses when the server itself runs from source (tests under vitest).
// Installed servers run the compiled dist/ and never load this.
import { register } from 'node:module';

register('./ts-hooks.mjs', import.meta.url);
