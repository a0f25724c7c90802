import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import express, { Router } from 'express';
import type { OpenApiDocument } from './openapi-document.js';

// Swagger UI from the swagger-ui-dist package, served by this app: no CDN (the page must work offline and under
// the app's CSP, which allows scripts from its own origin only).
const swaggerDir = dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));

const page = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>txkit cinema demo API</title>
<link rel="stylesheet" href="/api/docs/assets/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/api/docs/assets/swagger-ui-bundle.js"></script>
<script src="/api/docs/init.js"></script>
</body>
</html>
`;
// In a file of its own (not inline): the CSP forbids inline scripts.
const init = `window.ui = SwaggerUIBundle({ url: '/api/openapi.json', dom_id: '#swagger-ui', deepLinking: true });\n`;

/**
 * `GET /api/openapi.json` (the document) and `GET /api/docs` (a readable page: Swagger UI over that document).
 *
 * @example
 * app.use(docsRoutes(openApiDocument(apiRoutes(limits))));
 */
export function docsRoutes(document: OpenApiDocument): Router {
  const router = Router();
  router.get('/api/openapi.json', (_req, res) => {
    res.json(document);
  });
  router.get('/api/docs', (_req, res) => {
    res.type('html').send(page);
  });
  router.get('/api/docs/init.js', (_req, res) => {
    res.type('application/javascript').send(init);
  });
  router.use('/api/docs/assets', express.static(swaggerDir, { index: false }));
  return router;
}
