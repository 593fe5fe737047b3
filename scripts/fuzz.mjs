#!/usr/bin/env node
// npm run fuzz [-- --cases N --seed S …]: the deterministic fuzzer against `gitgate serve`.
// Rebuilds dist/ when it is older than src/ (the server runs from dist/), then runs
// test/fuzz/cli.ts through vite-node (shipped with vitest). `--help` lists the options.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);

function newest(dir) {
  let t = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : fs.statSync(p).mtimeMs);
  }
  return t;
}

if (!args.includes('--help') && !args.includes('-h') && !args.includes('--in-process') && !args.includes('--no-build')) {
  const main = path.join(root, 'dist', 'cli', 'main.js');
  const stale = !fs.existsSync(main) || fs.statSync(main).mtimeMs < newest(path.join(root, 'src'));
  if (stale) {
    process.stderr.write('dist/ is stale: npm run build …\n');
    const r = spawnSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' });
    if (r.status !== 0) process.exit(r.status ?? 1);
  }
}

const viteNode = path.join(root, 'node_modules', 'vite-node', 'vite-node.mjs');
const child = spawn(process.execPath, [viteNode, path.join(root, 'test', 'fuzz', 'cli.ts'), '--', ...args.filter((a) => a !== '--no-build')], {
  cwd: root,
  stdio: 'inherit',
});
child.on('exit', (code, signal) => process.exit(signal ? 1 : (code ?? 1)));
