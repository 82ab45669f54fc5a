// GET /docs: a browsable page of GET /openapi.json, Swagger UI's prebuilt bundle served from the gateway (no CDN).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/** A file of the page, as sent. */
export interface DocsFile {
  contentType: string;
  /** Bytes, read once: sent as they are on each request. */
  bytes: Buffer;
}

/**
 * The page's policy instead of the API's `default-src 'none'`: its own scripts and styles (Swagger UI sets inline
 * styles), the document fetched from the same origin, nothing from elsewhere.
 */
export const DOCS_CSP = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

// Relative URLs: behind a proxy that serves the gateway under a prefix, the page still finds its files and the document.
const INDEX = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>tickgate API</title>
<link rel="stylesheet" href="docs/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="docs/swagger-ui-bundle.js"></script>
<script src="docs/init.js"></script>
</body>
</html>
`;

// A file, not an inline script: the page's policy runs no inline script. validatorUrl null: Swagger UI would
// otherwise send the document to an online validator.
const INIT = `window.ui = SwaggerUIBundle({
  url: 'openapi.json',
  dom_id: '#swagger-ui',
  deepLinking: true,
  validatorUrl: null,
  presets: [SwaggerUIBundle.presets.apis],
  layout: 'BaseLayout',
});
`;

const JS = 'text/javascript; charset=utf-8';

/** swagger-ui-dist's folder, or undefined when it is not installed. */
function swaggerUiDir(): string | undefined {
  try {
    return dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));
  } catch {
    return undefined;
  }
}

/** The file's bytes without its source map comment when that ends the file: the maps are not served. */
function withoutSourceMap(bytes: Buffer): Buffer {
  const at = bytes.lastIndexOf('# sourceMappingURL=');
  if (at < 2) return bytes;
  const opener = bytes.subarray(at - 2, at).toString();
  const last = /^# sourceMappingURL=\S+?(\*\/)?\s*$/.test(bytes.subarray(at).toString());
  return last && (opener === '//' || opener === '/*') ? bytes.subarray(0, at - 2) : bytes;
}

/**
 * The page (`index`) and its files by name (served as /docs/<name>), read once, as bytes (no decoding: 1.7 MB of
 * script). Throws when swagger-ui-dist is not installed.
 */
export function loadDocsPage(): { index: DocsFile; files: Map<string, DocsFile> } {
  const dir = swaggerUiDir();
  if (!dir) throw new Error('swagger-ui-dist is not installed');
  const read = (name: string) => withoutSourceMap(readFileSync(join(dir, name)));
  const files = new Map<string, DocsFile>([
    ['swagger-ui-bundle.js', { contentType: JS, bytes: read('swagger-ui-bundle.js') }],
    ['swagger-ui.css', { contentType: 'text/css; charset=utf-8', bytes: read('swagger-ui.css') }],
    ['init.js', { contentType: JS, bytes: Buffer.from(INIT) }],
  ]);
  return { index: { contentType: 'text/html; charset=utf-8', bytes: Buffer.from(INDEX) }, files };
}
