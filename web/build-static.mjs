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
//
// Node built-ins only.
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
for (const p of [cssIn, jsIn, assetsIn, join(srcDir, 'belonging.css'), join(srcDir, 'belonging.js')]) {
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
    `(removed ${fontFaces.length} remote @font-face rule(s))`
);
