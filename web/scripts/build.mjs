// Bundles the editor into <out-dir>: the pages and styles of web/public, the
// scripts of web/src bundled by esbuild, and a .gz sibling of every .js and
// .css (zlib, level 9) for clients that accept gzip.
// Usage: node web/scripts/build.mjs <out-dir> [--dev]
import { build } from 'esbuild';
import { cpSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync, statSync } from 'node:fs';
import { gzipSync, constants } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { join, resolve } from 'node:path';

const webDir = fileURLToPath(new URL('..', import.meta.url));
const outArg = process.argv[2];
if (!outArg) {
  console.error('usage: node web/scripts/build.mjs <out-dir> [--dev]');
  process.exit(2);
}
const outDir = resolve(outArg);
const dev = process.argv.includes('--dev');

rmSync(outDir, { recursive: true, force: true });
mkdirSync(outDir, { recursive: true });
cpSync(join(webDir, 'public'), outDir, { recursive: true });

await build({
  entryPoints: { index: join(webDir, 'src/index.js'), editor: join(webDir, 'src/editor.js') },
  bundle: true,
  format: 'esm',
  target: ['es2022'],
  minify: !dev,
  sourcemap: dev ? 'inline' : false,
  outdir: outDir,
  logLevel: 'warning',
  legalComments: 'eof',
});

function walk(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else out.push(p);
  }
  return out;
}
for (const file of walk(outDir)) {
  if (!/\.(js|css)$/.test(file)) continue;
  writeFileSync(file + '.gz', gzipSync(readFileSync(file), { level: constants.Z_BEST_COMPRESSION }));
}
