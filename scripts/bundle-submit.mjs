// The submit bundle (after tsc): dist/commands/submit-main.js and the modules it
// imports, as one file in dist/submit/, with a chunk for each module it imports
// lazily; npm packages stay outside. Node 20 loads an ES module in about half a
// millisecond whatever its size, so a plain `qm submit` (cli.ts) loads this one
// file rather than its thirty-odd modules.
import { rmSync } from 'node:fs';
import { build } from 'esbuild';

const outdir = 'dist/submit';
rmSync(outdir, { recursive: true, force: true });
await build({
  entryPoints: ['dist/commands/submit-main.js'],
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  packages: 'external',
  chunkNames: 'chunks/[name]-[hash]',
  sourcemap: true,
  logLevel: 'warning',
});
