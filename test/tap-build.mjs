// `npm test`'s first step after tsc: tap's test class must be built with the plugins package.json's tap.plugin asks
// for. npm ci installs it built with tap's defaults; tap's runner rebuilds it on a mismatch, but only after it has
// read the loaders it starts every test file with, so the first run after an install would still load each test
// under the plugins left out (about twice the time). This builds it first when the built set is not the asked one.
import { existsSync, readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

const root = new URL('../', import.meta.url);
const asked = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')).tap?.plugin ?? [];
const builtFile = new URL('node_modules/@tapjs/test/test-built/dist/esm/index.js', root);
// A tap whose built class is not where this tap keeps it (another version): build, rather than guess.
const built = existsSync(builtFile) ? /export const signature = `([^`]*)`/.exec(readFileSync(builtFile, 'utf8'))?.[1]?.split('\n').map((s) => s.trim()) : undefined;
const stale = !built || asked.some((p) => (p.startsWith('!') ? built.includes(p.slice(1)) : !built.includes(p)));
if (stale) {
  process.stdout.write('tap-build: building tap with the plugins package.json asks for\n');
  const r = spawnSync('npx', ['--no-install', 'tap', 'build'], { stdio: 'inherit' });
  process.exit(r.status ?? 1);
}
