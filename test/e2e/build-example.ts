// Builds an example plugin the way its author would: copied out of the tree, tickgate by path, npm install, tsc.
import type { Test } from 'tap';
import { execFileSync } from 'node:child_process';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../../core/config.js';

export const npm = (args: string[], cwd: string) => execFileSync('npm', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

/** Copies examples/<name> into `tmp`, points its tickgate dependency at this checkout, installs and compiles it. */
export function buildExample(t: Test, tmp: string, name: string): string {
  const dir = join(tmp, name);
  cpSync(join(PACKAGE_ROOT, 'examples', name), dir, { recursive: true, filter: (src) => !/[/\\](node_modules|dist)$/.test(src) && !src.endsWith('package-lock.json') });
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
  t.equal(pkg.dependencies.tickgate, 'file:../..', `${name}: depends on tickgate by path`);
  pkg.dependencies.tickgate = `file:${PACKAGE_ROOT}`;
  writeFileSync(join(dir, 'package.json'), JSON.stringify(pkg, null, 2));
  // --ignore-scripts: npm would run tickgate's own prepare (its build) in this checkout, rewriting dist/ under the
  // test files that run beside this one. The example's own dependencies have no install scripts.
  npm(['install', '--no-audit', '--no-fund', '--prefer-offline', '--ignore-scripts'], dir);
  npm(['run', 'build'], dir);
  return dir;
}
