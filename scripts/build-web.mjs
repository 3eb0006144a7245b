// Bundles the pages (src/web) with esbuild into dist/web: hls.js is bundled, nothing is fetched from a CDN.
import { build } from 'esbuild';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
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
// Our styles, then uPlot's (the charts in the studio's reports), in one file: the pages link only app.css.
writeFileSync(join(out, 'app.css'), readFileSync(join(root, 'src/web/app.css'), 'utf8') + '\n' + readFileSync(join(root, 'node_modules/uplot/dist/uPlot.min.css'), 'utf8'));
console.log('web assets built into dist/web');
