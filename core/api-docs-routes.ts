// GET /openapi.json and GET /docs: the API's document, built once every route is registered, and its browsable page.
import { z } from 'zod';
import type { HttpRouter } from './http-router.js';
import type { Logger } from './logger.js';
import { jsonText, plainText } from './plugin-api.js';
import { TickgateError } from './errors.js';
import { buildOpenApi } from './openapi.js';
import { DOCS_CSP, loadDocsPage, type DocsFile } from './docs-page.js';

export class ApiDocs {
  private text: string | undefined;
  private readonly page: { index: DocsFile; files: Map<string, DocsFile> } | undefined;

  constructor(private readonly router: HttpRouter, private readonly log: Logger, private readonly version: string) {
    // Read once, at start: a request never touches the disk.
    try {
      this.page = loadDocsPage();
    } catch (err) {
      this.page = undefined;
      log.warn({ err: err instanceof Error ? err.message : String(err) }, 'GET /docs is not served (GET /openapi.json is)');
    }
  }

  /** The routes; the document is built by `build`, once the plugins have registered theirs. */
  register(): void {
    this.router.route('get', '/openapi.json', () => {
      // Built before the gateway listens: never missing while requests are served.
      if (this.text === undefined) throw new Error('the OpenAPI document was not built');
      return { headers: { 'cache-control': 'no-cache' }, body: jsonText(this.text) };
    }, {
      schema: {
        summary: 'This document: the OpenAPI 3.1 description of every route the gateway serves, its plugins\' included',
        response: { 200: { description: 'The OpenAPI 3.1 document', schema: z.object({ openapi: z.string() }).loose() } },
      },
    });
    const send = (file: DocsFile, cache: string) => ({
      headers: { 'cache-control': cache, 'content-security-policy': DOCS_CSP },
      body: plainText(file.bytes, file.contentType),
    });
    const missing = () => new TickgateError('TG_ERR_NOT_FOUND', 'The docs page is not installed on this server (swagger-ui-dist): GET /openapi.json has the document');
    this.router.route('get', '/docs', () => {
      if (!this.page) throw missing();
      return send(this.page.index, 'no-cache');
    }, {
      schema: {
        summary: 'A browsable page of this document (Swagger UI, served by the gateway itself)',
        response: { 200: { description: 'The page', contentType: 'text/html' } },
      },
    });
    this.router.route('get', '/docs/:file', (req) => {
      if (!this.page) throw missing();
      const file = this.page.files.get(req.params.file);
      if (!file) throw new TickgateError('TG_ERR_NOT_FOUND', `No file ${req.params.file.slice(0, 60)} in the docs page: see GET /docs`);
      return send(file, 'public, max-age=3600');
    }, {
      schema: {
        summary: 'The files of the docs page: its script and style sheet',
        params: z.object({ file: z.string().meta({ examples: ['swagger-ui-bundle.js', 'swagger-ui.css', 'init.js'] }) }),
        response: { 200: { description: 'The file (JavaScript or CSS)', contentType: 'text/javascript' } },
      },
    });
  }

  /** Builds the document from the routes as registered now: call once every plugin has registered its routes. */
  build(): void {
    const started = performance.now();
    this.text = JSON.stringify(buildOpenApi(this.router.routes, { version: this.version, log: this.log }));
    this.log.debug({ routes: this.router.routes.length, bytes: this.text.length, ms: Math.round(performance.now() - started) }, 'OpenAPI document built');
  }
}
