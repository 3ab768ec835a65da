import { createRequire } from 'node:module';
import path from 'node:path';
import {
  AttachmentIdSchema,
  ERROR_STATUS,
  ErrorSchema,
  fileRoutes,
  IdSchema,
  routes,
  type FileRouteDef,
  type RouteDef,
} from '@parley/protocol';
import express, { type Router } from 'express';
import { z } from 'zod';
import { createDocument, type ZodOpenApiOverrideContext } from 'zod-openapi';

const openApiPath = (p: string) => p.replace(/:([A-Za-z]+)/g, '{$1}');

const describeStatus: Record<number, string> = {
  400: 'Invalid input: a field, the query or the JSON itself (VALIDATION_ERROR)',
  401: 'Missing, invalid, expired or revoked credentials (UNAUTHORIZED, TOKEN_EXPIRED, INVALID_CREDENTIALS)',
  403: 'Not allowed (FORBIDDEN)',
  404: 'Not found, or not visible to the caller (NOT_FOUND)',
  409: 'Conflict with the current state (USERNAME_TAKEN, EMAIL_TAKEN, ROOM_NAME_TAKEN, CONFLICT)',
  413: 'The body is too large (PAYLOAD_TOO_LARGE)',
  415: 'The body is not JSON (UNSUPPORTED_MEDIA_TYPE)',
  429: 'Rate limited (RATE_LIMITED); retry after the number of seconds in Retry-After',
  500: 'Internal error; no details are disclosed (INTERNAL)',
  503: 'A dependency is down (UNAVAILABLE)',
  507: 'No room left to store uploads (STORAGE_FULL)',
};

const tagDescriptions: Record<string, string> = {
  auth: 'Accounts and sessions: access tokens (Bearer) and rotating refresh tokens',
  users: 'The signed-in user and the user directory',
  rooms: 'Public and private chatrooms and their members',
  messages: 'Room history and messages (also broadcast over Socket.IO)',
  dms: 'Direct (one-to-one) rooms',
  uploads: 'Images for messages and avatars',
  meta: 'Service health',
};

const audienceNote: Record<RouteDef['audience'], string> = {
  anyone: 'No sign-in needed.',
  user: 'Any signed-in user, guests included.',
  registered: 'Registered users only: guests get 403 FORBIDDEN.',
};

/** What a path parameter names, by the collection the path is under. */
function describeParam(routePath: string, name: string): string {
  if (name === 'userId' || routePath.startsWith('/api/users/')) return 'User id';
  if (routePath.startsWith('/api/chatrooms/')) return 'Room id';
  if (routePath.startsWith('/api/messages/')) return 'Message id';
  return `${name} (an opaque id)`;
}

/**
 * Error statuses of a route: those of its declared error codes, plus the ones every route of its kind can
 * answer with (the route table leaves VALIDATION_ERROR/UNAUTHORIZED/INTERNAL implicit).
 */
function errorStatuses(r: RouteDef): number[] {
  const statuses = new Set<number>([400, 500, ...r.errors.map((c) => ERROR_STATUS[c])]);
  // Signed-in routes need a token; the auth routes answer 401 for bad credentials or a spent refresh token.
  if (r.audience !== 'anyone' || r.path.startsWith('/api/auth/')) statuses.add(401);
  // Every /api/auth request is rate limited per client address (app.ts).
  if (r.path.startsWith('/api/auth/')) statuses.add(429);
  // A body may be too large or of the wrong type.
  if (r.body || r.multipart) {
    statuses.add(413);
    statuses.add(415);
  }
  return [...statuses].sort((a, b) => a - b);
}

const retryAfter = {
  'Retry-After': { description: 'Seconds to wait before retrying', schema: { type: 'integer' as const } },
};
const wwwAuthenticate = {
  'WWW-Authenticate': {
    description:
      'The Bearer challenge (RFC 6750): `Bearer realm="parley"`, with `error="invalid_token"` when the token sent was refused or has expired',
    schema: { type: 'string' as const },
  },
};
const location = {
  Location: {
    description: 'The URL of the created resource',
    schema: { type: 'string' as const, format: 'uri-reference' },
  },
};

/** A multipart/form-data body carrying one image file. */
function multipartBody(field: string) {
  return {
    required: true,
    content: {
      'multipart/form-data': {
        schema: {
          type: 'object' as const,
          properties: {
            [field]: {
              type: 'string' as const,
              format: 'binary',
              contentMediaType: 'application/octet-stream',
              description: 'The image: JPEG, PNG, GIF or WebP, decided by its bytes',
            },
          },
          required: [field],
        },
        encoding: { [field]: { contentType: 'image/jpeg, image/png, image/gif, image/webp' } },
      },
    },
  };
}

function operation(id: string, r: RouteDef) {
  const pathParams = [...r.path.matchAll(/:([A-Za-z]+)/g)].map((m) => m[1]!);
  const responses: Record<string, unknown> = {
    [r.status]: {
      ...(r.response
        ? { description: r.summary, content: { 'application/json': { schema: r.response } } }
        : { description: `${r.summary} (no content)` }),
      ...(r.location ? { headers: location } : {}),
    },
  };
  for (const status of errorStatuses(r)) {
    const description =
      r.multipart && status === 415
        ? 'The file is not a JPEG, PNG, GIF or WebP image (UNSUPPORTED_MEDIA_TYPE)'
        : (describeStatus[status] ?? 'Error');
    responses[status] = {
      description,
      ...(status === 429 ? { headers: retryAfter } : {}),
      ...(status === 401 ? { headers: wwwAuthenticate } : {}),
      content: { 'application/json': { schema: ErrorSchema } },
    };
  }
  return {
    operationId: id,
    tags: [r.tag],
    summary: r.summary,
    description: audienceNote[r.audience],
    ...(r.audience === 'anyone' ? {} : { security: [{ bearerAuth: [] }] }),
    requestParams: {
      ...(pathParams.length
        ? {
            path: z.object(
              Object.fromEntries(
                pathParams.map((p) => [p, IdSchema.meta({ description: describeParam(r.path, p) })]),
              ),
            ),
          }
        : {}),
      ...(r.query ? { query: r.query as z.ZodObject } : {}),
    },
    ...(r.multipart ? { requestBody: multipartBody(r.multipart.field) } : {}),
    ...(r.body
      ? {
          requestBody: {
            // A body whose every field is optional (e.g. the refresh token that may come as a cookie) may be left out.
            required: !r.body.safeParse({}).success,
            content: { 'application/json': { schema: r.body } },
          },
        }
      : {}),
    responses,
  };
}

const imageQuery = z.object({
  exp: z
    .string()
    .optional()
    .meta({ description: 'Signature expiry (Unix seconds), from the Attachment URL', example: '1767225600' }),
  sig: z.string().optional().meta({ description: 'Signature, from the Attachment URL' }),
});

/** An image route (fileRoutes): bytes of the stored type, by signed URL or bearer token. */
function fileOperation(id: string, r: FileRouteDef) {
  const binary = { type: 'string' as const, format: 'binary' };
  return {
    operationId: id,
    tags: [r.tag],
    summary: r.summary,
    description:
      'No sign-in needed with a valid signature (the URL of an Attachment); without one, a bearer token of a user ' +
      'who may see the message. Served with `X-Content-Type-Options: nosniff` and a private, immutable cache ' +
      'lifetime bounded by the signature and the image’s expiry.',
    security: [{}, { bearerAuth: [] }],
    requestParams: {
      path: z.object({ id: AttachmentIdSchema.meta({ description: 'Attachment id' }) }),
      query: imageQuery,
    },
    responses: {
      200: {
        description: 'The image',
        headers: {
          'Cache-Control': {
            description: 'private, max-age=…, immutable',
            schema: { type: 'string' as const },
          },
        },
        content: Object.fromEntries(r.mime.map((m) => [m, { schema: binary }])),
      },
      404: {
        description: 'No such image, expired, or not visible to the caller (NOT_FOUND)',
        content: { 'application/json': { schema: ErrorSchema } },
      },
      500: { description: describeStatus[500], content: { 'application/json': { schema: ErrorSchema } } },
    },
  };
}

const SAFE_INT = Number.MAX_SAFE_INTEGER;

/** Tidies what zod renders: drops the ±2^53 bounds of `.int()` and keeps `format: email` on piped emails. */
function override(ctx: ZodOpenApiOverrideContext): void {
  const js = ctx.jsonSchema as Record<string, unknown>;
  if (js.minimum === -SAFE_INT) delete js.minimum;
  if (js.maximum === SAFE_INT) delete js.maximum;
  const def = (
    ctx.zodSchema as { _zod: { def: { type: string; out?: { _zod: { def: { format?: unknown } } } } } }
  )._zod.def;
  if (def.type === 'pipe' && def.out?._zod.def.format === 'email' && js.type === 'string' && !js.format) {
    js.format = 'email';
  }
}

/** The OpenAPI 3.1 document, generated from the protocol package's route table and zod schemas. */
export function buildOpenApi(version = '0.1.0'): ReturnType<typeof createDocument> {
  const paths: Record<string, Record<string, unknown>> = {};
  const tags = new Set<string>();
  for (const [id, r] of Object.entries(routes) as [string, RouteDef][]) {
    (paths[openApiPath(r.path)] ??= {})[r.method] = operation(id, r);
    tags.add(r.tag);
  }
  for (const [id, r] of Object.entries(fileRoutes) as [string, FileRouteDef][]) {
    (paths[openApiPath(r.path)] ??= {})[r.method] = fileOperation(id, r);
    tags.add(r.tag);
  }
  return createDocument(
    {
      openapi: '3.1.0',
      info: {
        title: 'Parley API',
        version,
        description:
          'REST half of the Parley wire contract. All ids are opaque strings and all timestamps ISO-8601 UTC. ' +
          'Errors always have the shape `{ error: { code, message, details? } }`; unknown JSON fields are ' +
          'rejected with 400, and a private room, DM or message the caller may not see answers 404. ' +
          'Every 201 carries `Location`, every 401 `WWW-Authenticate: Bearer`; a known path asked with a method it ' +
          'does not have answers 405 `METHOD_NOT_ALLOWED` with `Allow`; API answers are `Cache-Control: no-store` ' +
          'unless they say otherwise (images); answers are gzip- or Brotli-compressed when the client accepts it. ' +
          'The Socket.IO events are described in the AsyncAPI document at /docs/asyncapi.yaml.',
      },
      servers: [{ url: '/' }],
      tags: [...tags].map((name) =>
        tagDescriptions[name] ? { name, description: tagDescriptions[name] } : { name },
      ),
      components: {
        securitySchemes: {
          bearerAuth: {
            type: 'http',
            scheme: 'bearer',
            bearerFormat: 'JWT',
            description: 'The `accessToken` of a Session (register, login, guest or refresh)',
          },
        },
      },
      paths: paths as never,
    },
    { override },
  );
}

const SWAGGER_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Parley API</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/docs/assets/swagger-ui.css"></head>
<body><nav aria-label="Parley documentation" class="parley-docs-nav"><a href="/docs/events">Socket.IO events (readable page)</a> · <a href="/docs/asyncapi.yaml">AsyncAPI 3 document</a> · <a href="/docs/openapi.json">OpenAPI 3.1 document</a></nav>
<div id="swagger-ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/docs/init.js"></script></body></html>`;
const SWAGGER_INIT = `window.ui = SwaggerUIBundle({ url: '/docs/openapi.json', dom_id: '#swagger-ui', deepLinking: true });`;

/** /docs (Swagger UI, no inline script), /docs/openapi.json; mounted at /docs (paths below are relative to it). */
export function docsRouter(): Router {
  const router = express.Router();
  const doc = buildOpenApi();
  const require = createRequire(import.meta.url);
  const swaggerDir = path.dirname(require.resolve('swagger-ui-dist/package.json'));
  router.use((_req, res, next) => {
    // Swagger UI sets inline styles; scripts stay same-origin only.
    res.setHeader(
      'Content-Security-Policy',
      "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; object-src 'none'",
    );
    next();
  });
  router.get('/openapi.json', (_req, res) => void res.json(doc));
  router.get('/init.js', (_req, res) => void res.type('application/javascript').send(SWAGGER_INIT));
  router.use('/assets', express.static(swaggerDir, { index: false, maxAge: '1d' }));
  router.get('/', (_req, res) => void res.type('html').send(SWAGGER_PAGE));
  return router;
}
