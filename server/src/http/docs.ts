import { createRequire } from 'node:module';
import path from 'node:path';
import { ERROR_STATUS, ErrorSchema, routes, type RouteDef } from '@parley/protocol';
import express, { type Router } from 'express';
import { z } from 'zod';
import { createDocument } from 'zod-openapi';

const openApiPath = (p: string) => p.replace(/:([A-Za-z]+)/g, '{$1}');
const describeStatus: Record<number, string> = {
  400: 'Invalid input (VALIDATION_ERROR)',
  401: 'Missing, invalid or expired credentials',
  403: 'Not allowed (FORBIDDEN)',
  404: 'Not found, or not visible to the caller',
  409: 'Conflict',
  413: 'Too large',
  415: 'Unsupported media type',
  429: 'Rate limited; see Retry-After',
  500: 'Internal error (no details are disclosed)',
  503: 'A dependency is down',
};

function operation(id: string, r: RouteDef) {
  const pathParams = [...r.path.matchAll(/:([A-Za-z]+)/g)].map((m) => m[1]!);
  const errorStatuses = new Set<number>([400, 500, ...r.errors.map((c) => ERROR_STATUS[c])]);
  if (r.audience !== 'anyone') errorStatuses.add(401);
  const responses: Record<string, unknown> = {
    [r.status]: r.response
      ? { description: r.summary, content: { 'application/json': { schema: r.response } } }
      : { description: r.summary },
  };
  for (const status of [...errorStatuses].sort()) {
    responses[status] = {
      description: describeStatus[status] ?? 'Error',
      content: { 'application/json': { schema: ErrorSchema } },
    };
  }
  return {
    operationId: id,
    tags: [r.tag],
    summary: r.summary,
    ...(r.audience === 'anyone' ? {} : { security: [{ bearerAuth: [] }] }),
    requestParams: {
      ...(pathParams.length
        ? { path: z.object(Object.fromEntries(pathParams.map((p) => [p, z.string()]))) }
        : {}),
      ...(r.query ? { query: r.query as z.ZodObject } : {}),
    },
    ...(r.body ? { requestBody: { content: { 'application/json': { schema: r.body } } } } : {}),
    responses,
  };
}

/** The OpenAPI 3.1 document, generated from the protocol package's route table and zod schemas. */
export function buildOpenApi(version = '0.1.0'): ReturnType<typeof createDocument> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const [id, r] of Object.entries(routes) as [string, RouteDef][]) {
    (paths[openApiPath(r.path)] ??= {})[r.method] = operation(id, r);
  }
  return createDocument({
    openapi: '3.1.0',
    info: {
      title: 'Parley API',
      version,
      description:
        'REST half of the Parley wire contract. Errors always have the shape `{ error: { code, message, details? } }`. ' +
        'The Socket.IO events are described in the AsyncAPI document at /docs/asyncapi.yaml.',
    },
    servers: [{ url: '/' }],
    components: {
      securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
    },
    paths: paths as never,
  });
}

const SWAGGER_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Parley API</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/docs/assets/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/docs/init.js"></script></body></html>`;
const SWAGGER_INIT = `window.ui = SwaggerUIBundle({ url: '/docs/openapi.json', dom_id: '#swagger-ui', deepLinking: true });`;

/** /docs (Swagger UI, no inline script), /docs/openapi.json. */
export function docsRouter(): Router {
  const router = express.Router();
  const doc = buildOpenApi();
  const require = createRequire(import.meta.url);
  const swaggerDir = path.dirname(require.resolve('swagger-ui-dist/package.json'));
  router.use('/docs', (_req, res, next) => {
    // Swagger UI sets inline styles; scripts stay same-origin only.
    res.setHeader(
      'Content-Security-Policy',
      "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; object-src 'none'",
    );
    next();
  });
  router.get('/docs/openapi.json', (_req, res) => void res.json(doc));
  router.get('/docs/init.js', (_req, res) => void res.type('application/javascript').send(SWAGGER_INIT));
  router.use('/docs/assets', express.static(swaggerDir, { index: false, maxAge: '1d' }));
  router.get(['/docs', '/docs/'], (_req, res) => void res.type('html').send(SWAGGER_PAGE));
  return router;
}
