// The live dashboard at /dashboard: its static page, the client SDK and the charting library, served as they are.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { definePlugin, plainText } from '../../core/plugin-api.js';
import { PACKAGE_ROOT } from '../../core/config.js';

const JS = 'text/javascript; charset=utf-8';
/**
 * The page loads only its own files and talks only to this server (its API and /ws): no inline script, no frame.
 * Inline styles are allowed because the charting library sizes its canvases with them.
 */
const PAGE_POLICY = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/**
 * The files, by URL path: the page's own (plain ES modules, no build step), the SDK as the build left it (it has no
 * dependencies) and lightweight-charts' standalone module. A fixed list: no path from a request reaches the disk.
 */
function files(): Array<[string, string, string]> {
  const pub = join(PACKAGE_ROOT, 'plugins', 'dashboard', 'public');
  const sdk = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'client');
  const charts = join(dirname(createRequire(import.meta.url).resolve('lightweight-charts/package.json')), 'dist', 'lightweight-charts.standalone.production.mjs');
  return [
    ['/dashboard', join(pub, 'index.html'), 'text/html; charset=utf-8'],
    ['/dashboard/app.js', join(pub, 'app.js'), JS],
    ['/dashboard/style.css', join(pub, 'style.css'), 'text/css; charset=utf-8'],
    ['/dashboard/vendor/lightweight-charts.mjs', charts, JS],
    ...['index.js', 'tickgate-client.js', 'backoff.js', 'channels.js', 'depth-book.js'].map((f): [string, string, string] => [`/dashboard/sdk/${f}`, join(sdk, f), JS]),
  ];
}

export default definePlugin({
  name: 'dashboard',
  configSchema: z.object({}).strict(),
  acceptor(api) {
    for (const [path, file, contentType] of files()) {
      // Read once: the files belong to this version of tickgate and do not change while it runs.
      const text = readFileSync(file, 'utf8');
      api.route('get', path, () => ({ headers: { 'cache-control': 'no-cache', 'content-security-policy': PAGE_POLICY }, body: plainText(text, contentType) }), { outsideNamespace: true });
    }
    api.log.debug('dashboard at /dashboard');
  },
});
