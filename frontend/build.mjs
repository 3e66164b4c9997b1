// Builds dist/app.js and dist/app.css (minified) with esbuild.
import { build } from 'esbuild';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, 'dist');
const require = createRequire(import.meta.url);

await rm(dist, { recursive: true, force: true });
await mkdir(dist, { recursive: true });

const common = {
  bundle: true,
  minify: true,
  legalComments: 'none',
  logLevel: 'warning',
  absWorkingDir: here,
};

// JavaScript: htmx plus our entry point, as one classic script (IIFE).
await build({
  ...common,
  entryPoints: ['src/app.js'],
  outfile: join(dist, 'app.js'),
  format: 'iife',
  target: ['es2020'],
  platform: 'browser',
});

// CSS: Pico first, then our tweaks, in one file.
const picoCss = require.resolve('@picocss/pico/css/pico.css');
const entryCss = `@import ${JSON.stringify(picoCss)};\n@import "./src/app.css";\n`;
await build({
  ...common,
  stdin: { contents: entryCss, loader: 'css', resolveDir: here, sourcefile: 'app-entry.css' },
  outfile: join(dist, 'app.css'),
  target: ['chrome100', 'firefox100', 'safari15'],
});

const files = (await readdir(dist)).sort();
const expected = ['app.css', 'app.js'];
if (JSON.stringify(files) !== JSON.stringify(expected)) {
  throw new Error(`dist/ should hold exactly ${expected.join(', ')} but holds ${files.join(', ')}`);
}
