// Bundles the pages (src/web) with esbuild into dist/web: hls.js is bundled, nothing is fetched from a CDN.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'dist', 'web');
mkdirSync(out, { recursive: true });
await build({
  entryPoints: { watch: join(root, 'src/web/watch.ts'), studio: join(root, 'src/web/studio.ts'), lti: join(root, 'src/web/lti.ts') },
  bundle: true, format: 'iife', target: ['es2020', 'safari14'], minify: true, sourcemap: true, outdir: out, logLevel: 'warning',
  legalComments: 'linked',
});
copyFileSync(join(root, 'src/web/app.css'), join(out, 'app.css'));
console.log('web assets built into dist/web');
