import { compileErrors, validate } from '@readme/openapi-parser';
import { ERROR_STATUS, ErrorSchema, fileRoutes, routes, type RouteDef } from '@parley/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { buildOpenApi } from '../src/http/docs.js';
import { client, startTestServer, type Call, type TestServer } from '../src/test-support/server.js';

/*
 * The OpenAPI 3.1 document at /docs/openapi.json and Swagger UI at /docs: the document is valid, describes every
 * route of the protocol's route table (operation ids, parameters, bodies, responses, security, named components),
 * and the live server answers as it says. Newman runs the flow built from it in newman.test.ts.
 */

type Doc = any;
const ROUTES = Object.entries(routes) as [string, RouteDef][];
/** The image routes, which answer bytes: documented beside the JSON route table. */
const FILE_ROUTES = Object.entries(fileRoutes);
const openApiPath = (p: string) => p.replace(/:([A-Za-z]+)/g, '{$1}');
const ref = (name: string) => `#/components/schemas/${name}`;
const idOf = (schema: z.ZodType) => z.globalRegistry.get(schema)?.id;

let srv: TestServer;
let call: Call;
let doc: Doc;

beforeAll(async () => {
  srv = await startTestServer();
  call = client(srv.url);
  const res = await fetch(`${srv.url}/docs/openapi.json`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  doc = await res.json();
});
afterAll(async () => {
  await srv?.close();
});

describe('the OpenAPI document', () => {
  it('is served as JSON and is the generated document', () => {
    expect(doc).toEqual(JSON.parse(JSON.stringify(buildOpenApi())));
  });

  it('is valid OpenAPI 3.1 (@readme/openapi-parser)', async () => {
    expect(doc.openapi).toBe('3.1.0');
    const result = await validate(structuredClone(doc));
    expect(result.valid, result.valid ? '' : compileErrors(result)).toBe(true);
  });

  it('has exactly the operations of the route tables, by operation id', () => {
    const documented: string[] = [];
    const all: Record<string, Pick<RouteDef, 'method' | 'path' | 'tag' | 'summary'>> = {
      ...routes,
      ...fileRoutes,
    };
    for (const [p, item] of Object.entries<Record<string, any>>(doc.paths)) {
      for (const [method, op] of Object.entries<any>(item)) {
        documented.push(op.operationId);
        const r = all[op.operationId];
        expect(r, `${method} ${p} is not in the route table`).toBeDefined();
        expect([r!.method, openApiPath(r!.path)]).toEqual([method, p]);
        expect(op.tags).toEqual([r!.tag]);
        expect(op.summary).toBe(r!.summary);
      }
    }
    expect(documented.sort()).toEqual([...ROUTES, ...FILE_ROUTES].map(([id]) => id).sort());
  });

  it.each(FILE_ROUTES)(
    'documents the image route %s: bytes of the stored types, signed URL or bearer',
    (_id, r) => {
      const op = doc.paths[openApiPath(r.path)][r.method];
      expect(Object.keys(op.responses['200'].content).sort()).toEqual([...r.mime].sort());
      expect(op.parameters.map((p: any) => `${p.in}:${p.name}`)).toEqual([
        'path:id',
        'query:exp',
        'query:sig',
      ]);
      expect(op.security).toEqual([{}, { bearerAuth: [] }]);
      expect(op.responses['404'].content['application/json'].schema).toEqual({ $ref: ref('Error') });
    },
  );

  it('declares Location on every 201 and WWW-Authenticate on every 401', () => {
    for (const [id, r] of ROUTES) {
      const responses = doc.paths[openApiPath(r.path)][r.method].responses;
      if (r.status === 201) expect(Object.keys(responses['201'].headers ?? {}), id).toEqual(['Location']);
      if (responses['401'])
        expect(Object.keys(responses['401'].headers ?? {}), id).toEqual(['WWW-Authenticate']);
    }
  });

  it('names the shared shapes as components', () => {
    const names = Object.keys(doc.components.schemas);
    for (const name of ['User', 'Me', 'Room', 'Message', 'Session', 'Attachment', 'Member', 'Error']) {
      expect(names).toContain(name);
    }
    expect(doc.components.schemas.Error.required).toEqual(['error']);
    expect(doc.components.schemas.Error.properties.error.properties.code.enum).toEqual(
      Object.keys(ERROR_STATUS),
    );
    expect(doc.components.securitySchemes.bearerAuth).toMatchObject({ type: 'http', scheme: 'bearer' });
  });

  describe.each(ROUTES)('%s', (id, r) => {
    const op = () => doc.paths[openApiPath(r.path)][r.method];

    it('documents its path and query parameters', () => {
      const params: any[] = op().parameters ?? [];
      const pathNames = [...r.path.matchAll(/:([A-Za-z]+)/g)].map((m) => m[1]);
      expect(params.filter((p) => p.in === 'path').map((p) => p.name)).toEqual(pathNames);
      for (const p of params.filter((x) => x.in === 'path')) {
        expect(p.required).toBe(true);
        expect(p.schema.type).toBe('string');
      }
      const queryNames = r.query ? Object.keys((r.query as z.ZodObject).shape) : [];
      expect(params.filter((p) => p.in === 'query').map((p) => p.name)).toEqual(queryNames);
      // Required exactly when the schema requires it (search's `q`; every other query field is optional).
      const shape = r.query ? (r.query as z.ZodObject).shape : {};
      for (const p of params.filter((x) => x.in === 'query'))
        expect(p.required ?? false, p.name).toBe(!(shape[p.name] as z.ZodType).safeParse(undefined).success);
    });

    it('documents its request body', () => {
      const body = op().requestBody;
      if (r.multipart) {
        const schema = body.content['multipart/form-data'].schema;
        expect(body.required).toBe(true);
        expect(schema.required).toEqual([r.multipart.field]);
        expect(schema.properties[r.multipart.field]).toMatchObject({ type: 'string', format: 'binary' });
        return;
      }
      if (!r.body) return void expect(body).toBeUndefined();
      const name = idOf(r.body);
      expect(name, `${id}: the body schema needs a meta id`).toBeTruthy();
      expect(Object.keys(body.content)).toEqual(['application/json']);
      expect(body.content['application/json'].schema).toEqual({ $ref: ref(name!) });
      // The contract: unknown JSON fields are rejected on write endpoints.
      const component = doc.components.schemas[name!];
      expect(component.type).toBe('object');
      expect(component.additionalProperties).toBe(false);
      expect(body.required).toBe(!r.body.safeParse({}).success);
    });

    it('documents its success response', () => {
      const res = op().responses[String(r.status)];
      expect(res, `${id}: no ${r.status} response`).toBeDefined();
      const others = Object.keys(op().responses).filter((s) => /^2/.test(s) && s !== String(r.status));
      expect(others).toEqual([]);
      if (!r.response) return void expect(res.content).toBeUndefined();
      const name = idOf(r.response);
      expect(name, `${id}: the response schema needs a meta id`).toBeTruthy();
      expect(res.content['application/json'].schema).toEqual({ $ref: ref(name!) });
    });

    it('documents its error responses with the Error shape', () => {
      const responses = op().responses;
      const expected = new Set([400, 500, ...r.errors.map((c) => ERROR_STATUS[c])]);
      if (r.audience !== 'anyone') expected.add(401);
      for (const status of expected) expect(Object.keys(responses)).toContain(String(status));
      for (const [status, res] of Object.entries<any>(responses)) {
        if (Number(status) < 400) continue;
        expect(res.description).toBeTruthy();
        expect(res.content['application/json'].schema).toEqual({ $ref: ref('Error') });
      }
      if (responses['429']) expect(Object.keys(responses['429'].headers ?? {})).toContain('Retry-After');
    });

    it('asks for a bearer token exactly when the route needs a signed-in caller', () => {
      if (r.audience === 'anyone') expect(op().security).toBeUndefined();
      else expect(op().security).toEqual([{ bearerAuth: [] }]);
    });
  });
});

describe('the live server answers as documented', () => {
  it.each(ROUTES)('%s, called with no credentials and an empty body', async (id, r) => {
    const path = r.path.replace(/:[A-Za-z]+/g, '1');
    const res = await call(r.method.toUpperCase(), path, r.body ? { body: {} } : {});
    const documented = Object.keys(doc.paths[openApiPath(r.path)][r.method].responses).map(Number);
    expect(documented, `${id} answered ${res.status} ${JSON.stringify(res.body)}`).toContain(res.status);
    if (r.audience !== 'anyone') expect(res.status).toBe(401);
    if (res.status >= 400) {
      expect(ErrorSchema.safeParse(res.body).success, JSON.stringify(res.body)).toBe(true);
      // An unmounted route answers NOT_FOUND "No route for …": every documented operation exists.
      expect(res.body.error.message).not.toMatch(/^No route for/);
    }
  });
});

describe('the live image routes answer as documented', () => {
  it.each(FILE_ROUTES)('%s, for an image that does not exist', async (id, r) => {
    const res = await call('GET', r.path.replace(':id', 'q3Z9k1Xx0aB7cD2eF4gH6i'));
    const documented = Object.keys(doc.paths[openApiPath(r.path)].get.responses).map(Number);
    expect(documented, `${id} answered ${res.status}`).toContain(res.status);
    expect(res.status).toBe(404);
    expect(ErrorSchema.safeParse(res.body).success, JSON.stringify(res.body)).toBe(true);
  });
});

describe('Swagger UI at /docs', () => {
  it('is an HTML page that loads Swagger UI from same-origin assets, with no inline script', async () => {
    for (const page of ['/docs', '/docs/']) {
      const res = await fetch(srv.url + page);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/html/);
      expect(res.headers.get('content-security-policy')).toMatch(/script-src 'self'(;|$)/);
      const html = await res.text();
      expect(html).toContain('<div id="swagger-ui">');

      const scripts = [...html.matchAll(/<script([^>]*)>([\s\S]*?)<\/script>/g)];
      expect(scripts.length).toBeGreaterThan(0);
      for (const [, attrs, content] of scripts) {
        expect(attrs).toMatch(/\ssrc="/);
        expect(content!.trim()).toBe('');
      }
      const scriptUrls = scripts.map(([, attrs]) => /src="([^"]+)"/.exec(attrs!)![1]!);
      const styleUrls = [...html.matchAll(/<link[^>]*rel="stylesheet"[^>]*href="([^"]+)"/g)].map(
        (m) => m[1]!,
      );
      expect(scriptUrls.some((u) => u.endsWith('swagger-ui-bundle.js'))).toBe(true);
      expect(styleUrls.some((u) => u.endsWith('swagger-ui.css'))).toBe(true);

      let initJs = '';
      for (const url of [...scriptUrls, ...styleUrls]) {
        expect(url.startsWith('/'), `${url} must be same-origin`).toBe(true);
        const asset = await fetch(srv.url + url);
        expect(asset.status, url).toBe(200);
        expect(asset.headers.get('content-type'), url).toMatch(
          url.endsWith('.css') ? /^text\/css/ : /^(application|text)\/javascript/,
        );
        const text = await asset.text();
        expect(text.length, url).toBeGreaterThan(0);
        if (url.endsWith('init.js')) initJs = text;
      }
      // The page's own script starts Swagger UI on the document.
      expect(initJs).toContain('SwaggerUIBundle(');
      expect(initJs).toContain("'/docs/openapi.json'");
    }
  });

  it('does not serve files outside the Swagger UI assets', async () => {
    const res = await fetch(`${srv.url}/docs/assets/..%2F..%2Fpackage.json`);
    expect(res.status).not.toBe(200);
  });
});
