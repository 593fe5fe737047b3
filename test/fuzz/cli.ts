// `npm run fuzz` (through scripts/fuzz.mjs): runs the fuzzer against `gitgate serve` and
// prints a summary; exits 1 on any failure.
import fs from 'node:fs';
import { CATEGORIES, type Category } from './cases.js';
import { parseSeed } from './prng.js';
import { formatReport, runFuzz, type FuzzOptions } from './runner.js';

const HELP = `usage: npm run fuzz -- [options]

  --cases N          number of cases (default 10000)
  --seed S           seed, a number or any text (default 1)
  --case I[,J…]      run only these case indexes (reproduce a failure)
  --start I          first case index (default 0)
  --category C[,…]   only these categories: ${CATEGORIES.join(', ')}
  --timeout MS       per-case time limit (default 10000)
  --checkpoint K     clone + fsck every K cases (default 250)
  --max-bomb-mb N    largest decompressed bomb (default 1024)
  --max-rss-mb N     fail when the server's peak RSS exceeds N MiB (default 1536)
  --out DIR          where reproducers go (default $TMPDIR/gitgate-fuzz-<seed>)
  --json FILE        also write the report as JSON
  --verbose          log every case
  --in-process       run the server in this process instead of \`gitgate serve\`
`;

function parseArgs(argv: string[]): { opts: FuzzOptions; json?: string } {
  const opts: FuzzOptions = { seed: 1, cases: 10_000, server: 'spawn', maxRssMb: 1536 };
  let json: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const next = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    const int = (v: string) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 0) throw new Error(`${a}: not a non-negative integer: ${v}`);
      return n;
    };
    switch (a) {
      case '--cases':
        opts.cases = int(next());
        break;
      case '--seed':
        opts.seed = parseSeed(next());
        break;
      case '--case':
        opts.only = next().split(',').map(int);
        break;
      case '--start':
        opts.start = int(next());
        break;
      case '--category': {
        const cats = next().split(',');
        for (const c of cats) if (!(CATEGORIES as readonly string[]).includes(c)) throw new Error(`unknown category ${c}`);
        opts.categories = cats as Category[];
        break;
      }
      case '--timeout':
        opts.timeoutMs = int(next());
        break;
      case '--checkpoint':
        opts.checkpointEvery = Math.max(1, int(next()));
        break;
      case '--max-bomb-mb':
        opts.maxBombBytes = int(next()) * 1024 * 1024;
        break;
      case '--max-rss-mb':
        opts.maxRssMb = int(next());
        break;
      case '--out':
        opts.outDir = next();
        break;
      case '--json':
        json = next();
        break;
      case '--verbose':
      case '-v':
        opts.verbose = true;
        break;
      case '--in-process':
        opts.server = 'in-process';
        break;
      case '--help':
      case '-h':
        process.stdout.write(HELP);
        process.exit(0);
        break;
      default:
        throw new Error(`unknown option ${a}`);
    }
  }
  return { opts, json };
}

async function main(): Promise<number> {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs(process.argv.slice(2).filter((a) => a !== '--'));
  } catch (err) {
    process.stderr.write(`fuzz: ${(err as Error).message}\n${HELP}`);
    return 2;
  }
  const { opts, json } = parsed;
  opts.log = (line) => process.stderr.write(`${line}\n`);
  const report = await runFuzz(opts);
  process.stdout.write(`${formatReport(report)}\n`);
  if (json) fs.writeFileSync(json, JSON.stringify(report, null, 2));
  return report.failures.length ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    process.stderr.write(`fuzz: ${err.stack ?? err.message}\n`);
    process.exit(2);
  },
);
