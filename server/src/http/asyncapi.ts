import {
  clientAckSchemas,
  clientEventSchemas,
  eventDocs,
  serverEventSchemas,
  type ClientEventName,
  type ServerEventName,
} from '@parley/protocol';
import express, { type Router } from 'express';
import { stringify } from 'yaml';
import { z } from 'zod';

type JsonSchema = Record<string, unknown>;

const idOf = (schema: z.ZodType): string => {
  const id = z.globalRegistry.get(schema)?.id;
  if (!id) throw new Error('every event schema needs a meta id');
  return id;
};
/** Component keys may not contain ':'; event names do. */
const key = (event: string) => event.replace(/[^A-Za-z0-9._-]/g, '_');
const ref = (id: string) => ({ $ref: `#/components/schemas/${id}` });

/** Every named zod schema as JSON Schema, refs pointing into `components.schemas`. */
function componentSchemas(): Record<string, JsonSchema> {
  const { schemas } = z.toJSONSchema(z.globalRegistry, {
    target: 'draft-7',
    io: 'input',
    unrepresentable: 'any',
    uri: (id) => `#/components/schemas/${id}`,
  });
  return Object.fromEntries(
    Object.entries(schemas).map(([id, schema]) => {
      const { $schema: _s, $id: _i, ...rest } = schema as JsonSchema;
      return [id, rest];
    }),
  );
}

/**
 * The AsyncAPI 3 document of the Socket.IO half of the contract, generated from the protocol package's zod
 * schemas. It describes the server: it *receives* client events (and replies with the acknowledgement) and
 * *sends* server events.
 */
export function buildAsyncApi(version = '0.1.0'): JsonSchema {
  const messages: Record<string, unknown> = {};
  const operations: Record<string, unknown> = {};
  const channelRef = { $ref: '#/channels/socket' };
  const ackEnvelope = (ackId: string) => ({
    oneOf: [
      { type: 'object', required: ['ok', 'data'], properties: { ok: { const: true }, data: ref(ackId) } },
      { allOf: [{ type: 'object', required: ['ok'], properties: { ok: { const: false } } }, ref('Error')] },
    ],
  });
  for (const event of Object.keys(clientEventSchemas) as ClientEventName[]) {
    const k = key(event);
    messages[k] = {
      name: event,
      title: event,
      summary: eventDocs[event],
      payload: ref(idOf(clientEventSchemas[event])),
    };
    messages[`${k}_ack`] = {
      name: `${event} (ack)`,
      title: `${event} acknowledgement`,
      summary: 'Socket.IO acknowledgement: `{ok: true, data}` or `{ok: false, error}`.',
      payload: ackEnvelope(idOf(clientAckSchemas[event])),
    };
    operations[`receive_${k}`] = {
      action: 'receive',
      channel: channelRef,
      summary: eventDocs[event],
      messages: [{ $ref: `#/channels/socket/messages/${k}` }],
      reply: { channel: channelRef, messages: [{ $ref: `#/channels/socket/messages/${k}_ack` }] },
    };
  }
  for (const event of Object.keys(serverEventSchemas) as ServerEventName[]) {
    const k = key(event);
    messages[`server_${k}`] = {
      name: event,
      title: event,
      summary: eventDocs[event],
      payload: ref(idOf(serverEventSchemas[event])),
    };
    operations[`send_${k}`] = {
      action: 'send',
      channel: channelRef,
      summary: eventDocs[event],
      messages: [{ $ref: `#/channels/socket/messages/server_${k}` }],
    };
  }
  return {
    asyncapi: '3.1.0',
    info: {
      title: 'Parley real-time API',
      version,
      description:
        'Socket.IO events of the Parley wire contract (default namespace). Connect with ' +
        '`io(url, { auth: { token: accessToken } })`; a missing, forged or revoked token fails the handshake with a ' +
        '`connect_error` whose message is `UNAUTHORIZED` (expired: `TOKEN_EXPIRED`). Every client event takes an ' +
        'acknowledgement callback. `auth.messageBatches: true` opts in to `messages:new` (several messages of a ' +
        'room in one frame, in place of their `message:new`). The REST API is described at /docs/openapi.json.',
    },
    defaultContentType: 'application/json',
    servers: {
      parley: {
        host: 'localhost:3000',
        protocol: 'ws',
        pathname: '/socket.io/',
        description: 'Socket.IO 4 (Engine.IO v4)',
      },
    },
    channels: { socket: { address: '/', title: 'Default namespace', messages } },
    operations,
    components: { schemas: componentSchemas() },
  };
}

const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** A readable page of the events: no script, just the document rendered to HTML. */
function renderEventsPage(doc: JsonSchema): string {
  const schemas = (doc.components as { schemas: Record<string, JsonSchema> }).schemas;
  const section = (
    title: string,
    events: string[],
    payloadOf: (e: string) => string,
    ackOf?: (e: string) => string,
  ) =>
    `<h2>${title}</h2>` +
    events
      .map(
        (e) =>
          `<section id="${escapeHtml(key(e))}"><h3><code>${escapeHtml(e)}</code></h3><p>${escapeHtml(eventDocs[e as ClientEventName])}</p>` +
          `<h4>Payload <code>${payloadOf(e)}</code></h4><pre>${escapeHtml(JSON.stringify(schemas[payloadOf(e)], null, 2))}</pre>` +
          (ackOf
            ? `<h4>Ack data <code>${ackOf(e)}</code></h4><pre>${escapeHtml(JSON.stringify(schemas[ackOf(e)], null, 2))}</pre>`
            : '') +
          `</section>`,
      )
      .join('');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Parley events</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><link rel="stylesheet" href="/docs/events.css"></head>
<body><main><h1>Parley real-time events</h1><p>${escapeHtml(String((doc.info as JsonSchema).description))}</p>
<p><a href="/docs/asyncapi.yaml">AsyncAPI 3 document</a> · <a href="/docs">REST API (Swagger UI)</a></p>
${section(
  'Client → server',
  Object.keys(clientEventSchemas),
  (e) => idOf(clientEventSchemas[e as ClientEventName]),
  (e) => idOf(clientAckSchemas[e as ClientEventName]),
)}
${section('Server → client', Object.keys(serverEventSchemas), (e) => idOf(serverEventSchemas[e as ServerEventName]))}
<h2>Shared schemas</h2>${Object.entries(schemas)
    .map(
      ([id, s]) =>
        `<section id="schema-${escapeHtml(id)}"><h3>${escapeHtml(id)}</h3><pre>${escapeHtml(JSON.stringify(s, null, 2))}</pre></section>`,
    )
    .join('')}
</main></body></html>`;
}

const EVENTS_CSS = `body{font-family:system-ui,sans-serif;margin:0;padding:1rem;color:#1d1d1f}main{max-width:60rem;margin:auto}
pre{background:#f5f5f7;padding:.75rem;overflow:auto;font-size:.8rem}section{border-top:1px solid #ddd;padding:.5rem 0}`;

/** /docs/asyncapi.yaml and its readable page /docs/events; mounted at /docs (paths below are relative to it). */
export function asyncApiRouter(): Router {
  const router = express.Router();
  const doc = buildAsyncApi();
  const yaml = stringify(doc, { aliasDuplicateObjects: false });
  const page = renderEventsPage(doc);
  router.get('/asyncapi.yaml', (_req, res) => void res.type('application/yaml').send(yaml));
  router.get('/asyncapi.json', (_req, res) => void res.json(doc));
  router.get('/events.css', (_req, res) => void res.type('text/css').send(EVENTS_CSS));
  router.get('/events', (_req, res) => void res.type('html').send(page));
  return router;
}
