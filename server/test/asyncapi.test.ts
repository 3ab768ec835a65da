import { Parser } from '@asyncapi/parser';
import { clientEventSchemas, serverEventSchemas } from '@parley/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { client, startTestServer, type Call, type TestServer } from '../src/test-support/server.js';

/*
 * The AsyncAPI document served at /docs/asyncapi.yaml: valid AsyncAPI 3 (by the reference parser), and complete:
 * every client event (with its acknowledgement) and every server event of the protocol package is in it, with
 * the same payload schema the server validates with. /docs/events is its readable page.
 */

let server: TestServer;
let call: Call;
let text: string;
let doc: any;
let parsed: Awaited<ReturnType<Parser['parse']>>;

const CLIENT_EVENTS = Object.keys(clientEventSchemas);
const SERVER_EVENTS = Object.keys(serverEventSchemas);

beforeAll(async () => {
  server = await startTestServer();
  call = client(server.url);
  const res = await call('GET', '/docs/asyncapi.yaml');
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/yaml/);
  text = res.body;
  doc = parseYaml(text);
  parsed = await new Parser().parse(text);
});

afterAll(async () => {
  await server?.close();
});

/** Every message of the document's channels, by its `name` (the Socket.IO event name). */
function messagesByName(): Map<string, any[]> {
  const out = new Map<string, any[]>();
  for (const channel of Object.values<any>(doc.channels ?? {}))
    for (const m of Object.values<any>(channel.messages ?? {}))
      out.set(m.name, [...(out.get(m.name) ?? []), m]);
  return out;
}

/** Follows a local `$ref` (`#/a/b/c`) in the document. */
function deref(node: any): any {
  let n = node;
  for (let i = 0; i < 20 && n && typeof n.$ref === 'string'; i++) {
    n = n.$ref
      .replace(/^#\//, '')
      .split('/')
      .map((p: string) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
      .reduce((o: any, k: string) => o?.[k], doc);
  }
  return n;
}

describe('GET /docs/asyncapi.yaml', () => {
  it('is a valid AsyncAPI 3 document: the parser reports no error', async () => {
    const { document, diagnostics } = parsed;
    const errors = diagnostics.filter((d) => d.severity === 0);
    expect(errors.map((d) => `${d.code}: ${d.message} at ${d.path.join('.')}`)).toEqual([]);
    expect(document).toBeDefined();
    expect(document!.version()).toMatch(/^3\./);
    expect(doc.asyncapi).toMatch(/^3\./);
  });

  it('names every client event as an operation the server receives, with its acknowledgement as the reply', async () => {
    const byName = messagesByName();
    const { document } = parsed;
    const received = new Set<string>();
    for (const op of document!.operations().all())
      if (op.action() === 'receive') for (const m of op.messages().all()) received.add(m.name()!);
    for (const event of CLIENT_EVENTS) {
      expect(byName.has(event), `no message named ${event}`).toBe(true);
      expect(received.has(event), `no receive operation for ${event}`).toBe(true);
    }
    // Each receive operation of a client event has a reply (the ack).
    for (const [id, op] of Object.entries<any>(doc.operations)) {
      if (op.action !== 'receive') continue;
      expect(op.reply, `${id} has no reply`).toBeDefined();
      expect(op.reply.messages.length, id).toBeGreaterThan(0);
    }
  });

  it('names every server event as an operation the server sends', async () => {
    const { document } = parsed;
    const sent = new Set<string>();
    for (const op of document!.operations().all())
      if (op.action() === 'send') for (const m of op.messages().all()) sent.add(m.name()!);
    for (const event of SERVER_EVENTS) expect(sent.has(event), `no send operation for ${event}`).toBe(true);
  });

  it('documents no event the protocol does not have', () => {
    const known = new Set([...CLIENT_EVENTS, ...SERVER_EVENTS]);
    for (const name of messagesByName().keys()) {
      const event = name.replace(/ \(ack\)$/, '');
      expect(known.has(event), `unknown event ${name}`).toBe(true);
    }
  });

  it('each payload is the protocol’s schema: required fields and strictness match', () => {
    const byName = messagesByName();
    // Client payloads: the required fields of the zod schema, and no extra fields allowed.
    for (const [event, schema] of Object.entries(clientEventSchemas)) {
      const payload = deref(byName.get(event)![0].payload);
      const shape = (schema as any).shape as Record<string, any> | undefined;
      expect(payload.type, event).toBe('object');
      expect(shape, event).toBeDefined();
      const required = Object.entries<any>(shape!)
        .filter(([, v]) => !v.safeParse(undefined).success)
        .map(([k]) => k)
        .sort();
      expect([...(payload.required ?? [])].sort(), event).toEqual(required);
      expect(Object.keys(payload.properties ?? {}).sort(), event).toEqual(Object.keys(shape!).sort());
      expect(payload.additionalProperties, event).toBe(false);
    }
    // Server payloads: an object schema with properties.
    for (const event of SERVER_EVENTS) {
      const m = byName.get(event)!.find((x) => x.name === event)!;
      const payload = deref(m.payload);
      expect(payload, event).toBeDefined();
      expect(payload.type, event).toBe('object');
      expect(Object.keys(payload.properties ?? {}).length, event).toBeGreaterThan(0);
    }
  });

  it('describes how to connect and authenticate', () => {
    const description = String(doc.info?.description ?? '');
    expect(description).toMatch(/auth/);
    expect(description).toMatch(/UNAUTHORIZED/);
    expect(description).toMatch(/TOKEN_EXPIRED/);
  });
});

describe('GET /docs/events', () => {
  it('is an HTML page naming every event and linking the AsyncAPI document', async () => {
    const res = await call('GET', '/docs/events');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/html/);
    const html: string = res.body;
    expect(html).toMatch(/^<!doctype html>/i);
    for (const event of [...CLIENT_EVENTS, ...SERVER_EVENTS])
      expect(html, `the page does not name ${event}`).toContain(`<code>${event}</code>`);
    expect(html).toContain('href="/docs/asyncapi.yaml"');
    // No script: it renders anywhere, under the strict CSP.
    expect(html).not.toMatch(/<script/i);
  });
});
