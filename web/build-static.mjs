#!/usr/bin/env node
// Copies the compiled NHS.UK frontend files and our own small additions into
// web/static/ with stable names, so the C++ server can serve them from
// /static/. Run from anywhere: `node web/build-static.mjs` (after `npm ci` in web/).
//
//   web/static/nhsuk.min.css   compiled NHS.UK CSS (remote @font-face removed)
//   web/static/nhsuk.min.js    compiled NHS.UK JS (classic script, self-initialising)
//   web/static/assets/...      favicons, icons, logos
//   web/static/belonging.css   web/src/belonging.css
//   web/static/belonging.js    web/src/belonging.js
//   web/static/experience.js   web/src/experience.js bundled by esbuild (with
//                              @cloudflare/blindrsa-ts) into one classic script
//
// Node built-ins plus esbuild (a devDependency in web/package.json).
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const webDir = dirname(fileURLToPath(import.meta.url));
const pkgDir = join(webDir, 'node_modules', 'nhsuk-frontend');
const srcDir = join(webDir, 'src');
const outDir = join(webDir, 'static');

function fail(msg) {
  console.error(`build-static: ${msg}`);
  process.exit(1);
}

if (!existsSync(join(pkgDir, 'package.json'))) {
  fail(`${pkgDir} not found: run "npm ci" (or "npm install") in ${webDir} first`);
}
const version = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8')).version;

const cssIn = join(pkgDir, 'dist', 'nhsuk.min.css');
const jsIn = join(pkgDir, 'dist', 'nhsuk.min.js');
const assetsIn = join(pkgDir, 'packages', 'assets');
for (const p of [cssIn, jsIn, assetsIn, join(srcDir, 'belonging.css'), join(srcDir, 'belonging.js'),
  join(srcDir, 'experience.js')]) {
  if (!existsSync(p)) fail(`missing ${p} (unexpected nhsuk-frontend ${version} layout?)`);
}

// Start clean so nothing stale is served.
rmSync(outDir, { recursive: true, force: true });
mkdirSync(outDir, { recursive: true });

// CSS. The package's @font-face rules load Frutiger from assets.nhs.uk; we use
// no third-party hosts (and the CSP would block them), and the font files are
// not in the package, so drop those rules: the font stack then falls back to
// Arial/sans-serif. Also drop the sourceMappingURL comment (no maps copied).
let css = readFileSync(cssIn, 'utf8');
const fontFaces = css.match(/@font-face\{[^}]*\}/g) || [];
css = css.replace(/@font-face\{[^}]*\}/g, '');
css = css.replace(/\/\*# sourceMappingURL=[^*]*\*\/\s*$/, '');
writeFileSync(join(outDir, 'nhsuk.min.css'), css);

// JS: the dist bundle is a classic (non-module) script that runs initAll() on
// DOMContentLoaded, so it only needs to be loaded with `defer`.
let js = readFileSync(jsIn, 'utf8');
js = js.replace(/\/\/# sourceMappingURL=\S*\s*$/, '');
writeFileSync(join(outDir, 'nhsuk.min.js'), js);

// Favicons, icons and logos.
cpSync(assetsIn, join(outDir, 'assets'), { recursive: true });

// Our additions.
cpSync(join(srcDir, 'belonging.css'), join(outDir, 'belonging.css'));
cpSync(join(srcDir, 'belonging.js'), join(outDir, 'belonging.js'));

// The survey page script. One self-contained classic script (IIFE): the page loads
// it with <script src="/static/experience.js" defer>, and `script-src 'self'` allows
// neither inline code nor anything fetched from elsewhere. Imported here, after the
// node_modules check above, so a missing `npm ci` gets that message, not a stack trace.
const esbuild = await import('esbuild').catch(() =>
  fail(`esbuild not found in ${join(webDir, 'node_modules')}: run "npm ci" in ${webDir}`));
const blindRsaPkg = join(webDir, 'node_modules', '@cloudflare', 'blindrsa-ts', 'package.json');
if (!existsSync(blindRsaPkg)) fail(`${blindRsaPkg} not found: run "npm ci" in ${webDir}`);
const blindRsaVersion = JSON.parse(readFileSync(blindRsaPkg, 'utf8')).version;
const bundle = await esbuild.build({
  entryPoints: [join(srcDir, 'experience.js')],
  outfile: join(outDir, 'experience.js'),
  bundle: true,
  format: 'iife',
  platform: 'browser',
  target: 'es2020',
  minify: true,
  sourcemap: false,
  // The libraries carry no /*! */ notices of their own, so name them and their licences.
  banner: { js: `/*! Belonging experience.js. Includes @cloudflare/blindrsa-ts ${blindRsaVersion} ` +
    '(Apache-2.0, https://github.com/cloudflare/blindrsa-ts) and the SJCL copy inside it ' +
    '(BSD-2-Clause, https://github.com/bitwiseshiftleft/sjcl). */' },
  // sjcl (inside blindrsa-ts) probes for Node's `crypto` module in a try/catch guarded
  // by `typeof module`; the browser never takes that branch, so resolve it to nothing
  // instead of letting a Node built-in into the bundle.
  plugins: [{
    name: 'no-node-builtins',
    setup(build) {
      build.onResolve({ filter: /^(node:)?crypto$/ }, () => ({ path: 'crypto', namespace: 'empty' }));
      build.onLoad({ filter: /.*/, namespace: 'empty' }, () => ({ contents: 'module.exports = {};' }));
    },
  }],
  logLevel: 'silent',
}).catch((err) => fail(`bundling experience.js failed:\n${err.message}`));
for (const w of bundle.warnings) console.warn(`build-static: esbuild warning: ${w.text}`);
const experienceJs = readFileSync(join(outDir, 'experience.js'), 'utf8');
// esbuild turns an unresolved require() into a __require() shim that throws in browsers.
if (/\b_*require\s*\(/.test(experienceJs)) fail('static/experience.js calls require(): a Node module leaked in');

// Every url(...) left in the CSS must be inline data or a file that exists
// relative to static/nhsuk.min.css (so it resolves under /static/; the server
// serves web/static/ at /static/, so /static/x maps to web/static/x).
const problems = [];
for (const m of css.matchAll(/url\(\s*(['"]?)([^'")]*)\1\s*\)/g)) {
  const url = m[2];
  if (url.startsWith('data:')) continue;
  if (/^[a-z][a-z0-9+.-]*:|^\/\//i.test(url)) {
    problems.push(`remote url(${url})`);
    continue;
  }
  const path = url.replace(/[?#].*$/, '');
  const local = path.startsWith('/') ? join(outDir, '..', path) : resolve(outDir, path);
  if (!existsSync(local)) problems.push(`url(${url}) -> ${local} does not exist`);
}
if (problems.length) fail(`nhsuk.min.css references:\n  ${problems.join('\n  ')}`);

console.log(
  `build-static: nhsuk-frontend ${version} -> ${outDir} ` +
    `(removed ${fontFaces.length} remote @font-face rule(s)); ` +
    `experience.js ${(experienceJs.length / 1024).toFixed(1)} KiB`
);
