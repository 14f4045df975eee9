// Starts a real Belonging server for browser tests: a fresh SQLite database with the
// demo sign-ins, listening on an ephemeral loopback port.
//
//   const server = await startServer();   // { url, stop() }
//   const server = await startServer({ plugins: ['admin', 'networks', 'experience'] });
//   ...
//   await server.stop();                  // SIGTERM, wait for exit, remove the temp dir
//
// The binary is $BELONGING_BIN, or <repo>/build/asan/belonging when that is unset.

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// The experience plugin encrypts wave keys under this; a fresh one per test run.
process.env.BELONGING_EXPERIENCE_KEY ||= randomBytes(32).toString('hex');

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

const READY = /Belonging is ready at (http:\/\/127\.0\.0\.1:\d+)/;
const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 15_000;

function binaryPath() {
  return process.env.BELONGING_BIN || path.join(repoRoot, 'build', 'asan', 'belonging');
}

// TOML basic strings: escape backslashes and double quotes.
function tomlString(s) {
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

function tail(text, lines = 40) {
  return text.split('\n').slice(-lines).join('\n');
}

// Runs the binary to completion; rejects with its output unless it exits 0.
function run(bin, args) {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => { output += d; });
    child.stderr.on('data', (d) => { output += d; });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code === 0) resolve(output);
      else reject(new Error(`${bin} ${args.join(' ')} exited with ${code ?? signal}:\n${tail(output)}`));
    });
  });
}

// Options: `plugins`, the [plugins] enabled list (default admin and networks);
// `config`, extra TOML lines appended to the config file (e.g. a [plugins.NAME] section).
export async function startServer({ plugins = ['admin', 'networks'], config: extraConfig = [] } = {}) {
  const bin = binaryPath();
  await fs.access(bin).catch(() => {
    throw new Error(`Belonging binary not found at ${bin}: build it (scripts/test) or set BELONGING_BIN`);
  });

  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'belonging-browser-'));
  const removeDir = () => fs.rm(dir, { recursive: true, force: true });
  const config = path.join(dir, 'belonging.toml');
  await fs.writeFile(config, [
    '[server]',
    'listen = "127.0.0.1:0"',
    'threads = 8',
    `static_dir = ${tomlString(path.join(repoRoot, 'web', 'static'))}`,
    '[database]',
    `url = ${tomlString(`sqlite:${path.join(dir, 'b.db')}`)}`,
    '[log]',
    'access_log = "off"',
    '[plugins]',
    `enabled = [${plugins.map(tomlString).join(', ')}]`,
    'required = ["admin"]',
    ...extraConfig,
    '',
  ].join('\n'));

  try {
    await run(bin, ['--config', config, 'demo']);
  } catch (err) {
    await removeDir();
    throw err;
  }

  const child = spawn(bin, ['--config', config, 'serve'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = once(child, 'exit').then(([code, signal]) => ({ code, signal }));
  let output = '';
  child.stderr.on('data', (d) => { output += d; });

  let url;
  try {
    url = await new Promise((resolve, reject) => {
      let stdout = '';
      const timer = setTimeout(
        () => reject(new Error(`server did not report ready within ${START_TIMEOUT_MS} ms:\n${tail(output)}`)),
        START_TIMEOUT_MS);
      child.stdout.on('data', (d) => {
        stdout += d;
        output += d;
        const m = READY.exec(stdout);
        if (m) { clearTimeout(timer); resolve(m[1]); }
      });
      child.on('error', (err) => { clearTimeout(timer); reject(err); });
      exited.then(({ code, signal }) => {
        clearTimeout(timer);
        reject(new Error(`server exited with ${code ?? signal} before it was ready:\n${tail(output)}`));
      });
    });
  } catch (err) {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
    await removeDir();
    throw err;
  }
  // Keep draining stdout so a chatty server never blocks on a full pipe.
  child.stdout.on('data', () => {});

  let stopping;
  async function stop() {
    stopping ??= (async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
      const { code, signal } = await exited;
      clearTimeout(timer);
      await removeDir();
      // A clean shutdown exits 0; anything else (an ASan report, a crash, a SIGKILL) is a failure.
      if (code !== 0) {
        throw new Error(`server exited with ${code ?? signal} on SIGTERM:\n${tail(output)}`);
      }
    })();
    return stopping;
  }

  return { url, stop, output: () => output, binary: bin, config };
}
