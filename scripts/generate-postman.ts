/**
 * Generates the Postman v2.1 collection `docs/postman/parley.postman_collection.json` FROM the OpenAPI document
 * (which is itself generated from the protocol package's zod schemas), so the three cannot drift apart.
 *
 *   npm run docs:postman             writes the collection
 *   npm run docs:postman -- --check  exits 1 when the committed collection is stale
 *
 * The collection is one request per operation, one folder per tag, in an order that works against a fresh server
 * (`FLOW` below). Every request checks the documented status code and, where the operation answers JSON, that the
 * body matches the documented response schema. The output is stable: no timestamps or random ids in the file.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { buildOpenApi } from '../server/src/http/docs.js';

export const COLLECTION_PATH = fileURLToPath(
  new URL('../docs/postman/parley.postman_collection.json', import.meta.url),
);

// ------------------------------------------------------------------------------------------ OpenAPI (the subset read)

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type JsonSchema = { [k: string]: Json };

interface OaParameter {
  in: 'path' | 'query' | 'header' | 'cookie';
  name: string;
  required?: boolean;
  description?: string;
  schema?: JsonSchema;
}
interface OaMedia {
  schema?: JsonSchema;
}
interface OaOperation {
  operationId: string;
  tags: string[];
  summary?: string;
  description?: string;
  security?: Record<string, string[]>[];
  parameters?: OaParameter[];
  requestBody?: { required?: boolean; content: Record<string, OaMedia> };
  responses: Record<string, { description: string; content?: Record<string, OaMedia> }>;
}
interface OaDocument {
  info: { title: string; description?: string; version: string };
  tags?: { name: string; description?: string }[];
  paths: Record<string, Record<string, OaOperation>>;
  components: { schemas: Record<string, JsonSchema> };
}

interface Operation extends OaOperation {
  method: string;
  path: string;
}

function operationsOf(doc: OaDocument): Map<string, Operation> {
  const ops = new Map<string, Operation>();
  for (const [p, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      if (ops.has(op.operationId)) throw new Error(`duplicate operationId ${op.operationId}`);
      ops.set(op.operationId, { ...op, method: method.toUpperCase(), path: p });
    }
  }
  return ops;
}

const refName = (ref: string) => ref.replace('#/components/schemas/', '');

/** Inlines every `$ref` and drops documentation-only keywords: what a test script needs to check a body. */
function inline(doc: OaDocument, schema: Json, seen: string[] = []): Json {
  if (Array.isArray(schema)) return schema.map((s) => inline(doc, s, seen));
  if (schema === null || typeof schema !== 'object') return schema;
  const out: { [k: string]: Json } = {};
  let base: Json = null;
  for (const [k, v] of Object.entries(schema)) {
    if (k === 'example' || k === 'examples' || k === 'description') continue;
    if (k === '$ref' && typeof v === 'string') {
      const name = refName(v);
      if (seen.includes(name)) throw new Error(`recursive schema ${name} cannot be inlined`);
      const target = doc.components.schemas[name];
      if (!target) throw new Error(`dangling $ref ${v}`);
      base = inline(doc, target, [...seen, name]);
      continue;
    }
    // `properties` maps field names (which may well be "description") to schemas.
    out[k] =
      k === 'properties' && v && typeof v === 'object' && !Array.isArray(v)
        ? Object.fromEntries(Object.entries(v).map(([name, sub]) => [name, inline(doc, sub, seen)]))
        : inline(doc, v, seen);
  }
  return base && typeof base === 'object' && !Array.isArray(base) ? { ...base, ...out } : out;
}

/** An example value for a schema: its `example`, else one made from its type. */
function exampleOf(doc: OaDocument, schema: JsonSchema | undefined): Json {
  if (!schema) return null;
  if (schema.example !== undefined) return schema.example;
  if (typeof schema.$ref === 'string') return exampleOf(doc, doc.components.schemas[refName(schema.$ref)]);
  if (Array.isArray(schema.anyOf)) {
    const first = (schema.anyOf as JsonSchema[]).find((s) => s.type !== 'null');
    return exampleOf(doc, first);
  }
  if (Array.isArray(schema.enum)) return schema.enum[0] ?? null;
  const type = Array.isArray(schema.type) ? schema.type.find((t) => t !== 'null') : schema.type;
  switch (type) {
    case 'object': {
      const props = (schema.properties ?? {}) as Record<string, JsonSchema>;
      const required = (schema.required ?? []) as string[];
      const keys = required.length ? required : Object.keys(props);
      return Object.fromEntries(keys.map((k) => [k, exampleOf(doc, props[k])]));
    }
    case 'array':
      return [exampleOf(doc, schema.items as JsonSchema)];
    case 'integer':
    case 'number':
      return typeof schema.minimum === 'number' ? schema.minimum : 1;
    case 'boolean':
      return true;
    case 'string':
      return 'string';
    default:
      return null;
  }
}

function bodySchemaOf(doc: OaDocument, op: Operation): JsonSchema | undefined {
  const s = op.requestBody?.content['application/json']?.schema;
  if (!s) return undefined;
  return typeof s.$ref === 'string' ? doc.components.schemas[refName(s.$ref)] : s;
}

// ------------------------------------------------------------------------------------------ the flow

/** Use the schema's example for this field. */
const EXAMPLE = Symbol('example');
type BodyValue = Json | typeof EXAMPLE;

interface Step {
  op: string;
  /** Request name; the operation's summary by default. */
  name?: string;
  /** What this step does in the flow, shown under the operation's own description. */
  note?: string;
  /** The body sent. Keys must be fields of the documented body; default: the documented example. */
  body?: Record<string, BodyValue>;
  /** Query parameters sent; the operation's other query parameters are listed, disabled. */
  query?: Record<string, string>;
  /** Values of path parameters. */
  params?: Record<string, string>;
  /** Files of a multipart body, by field: inline bytes (Newman sends them; in the Postman app, pick a file). */
  files?: Record<string, { base64: string; contentType: string; fileName: string }>;
  /** Send no Authorization header even though the operation accepts one. */
  noAuth?: boolean;
  /** Send this bearer token instead of the collection's `{{accessToken}}`. */
  token?: string;
  prerequest?: string[];
  /** Test script lines run after the status and schema checks; `body` is the parsed JSON answer. */
  tests?: string[];
}

const json = 'const body = pm.response.json();';
/** A 16×16 PNG, small enough to live in the collection. */
const PNG_16X16 =
  'iVBORw0KGgoAAAANSUhEUgAAABAAAAAQCAIAAACQkWg2AAAACXBIWXMAAAPoAAAD6AG1e1JrAAAAFklEQVQoz2PQqDhBEmIY1TCqYfhqAADDSmgQogC6AwAAAABJRU5ErkJggg==';
const save = (variable: string, expr: string) => `pm.collectionVariables.set('${variable}', ${expr});`;

/**
 * The order requests run in, which works against a fresh server. It must be grouped by tag (one folder per tag,
 * run in order); the generator refuses a flow that is not, and an operation of the document that has no step.
 */
const FLOW: Step[] = [
  {
    op: 'register',
    name: 'Register',
    note: 'Registers a new user with a unique name, and saves its tokens and id.',
    body: {
      username: 'pm{{$timestamp}}{{$randomInt}}',
      email: 'pm{{$timestamp}}{{$randomInt}}@example.com',
      password: '{{password}}',
      // Display names are unique by skeleton (DECISIONS.md D17): a fixed one would conflict on the second run.
      displayName: 'Postman {{$timestamp}}{{$randomInt}}',
    },
    tests: [
      json,
      save('accessToken', 'body.accessToken'),
      save('refreshToken', 'body.refreshToken'),
      save('firstRefreshToken', 'body.refreshToken'),
      save('userId', 'body.user.id'),
      save('username', 'body.user.username'),
      "pm.test('the user is not a guest', () => pm.expect(body.user.isGuest).to.equal(false));",
    ],
  },
  {
    op: 'login',
    name: 'Log in',
    note: 'Signs in again by username: a second session, which the rest of the flow uses.',
    body: { username: '{{username}}', password: '{{password}}' },
    tests: [
      json,
      "pm.test('it is the same user', () => pm.expect(body.user.id).to.equal(pm.collectionVariables.get('userId')));",
      save('accessToken', 'body.accessToken'),
      save('refreshToken', 'body.refreshToken'),
    ],
  },
  {
    op: 'guest',
    name: 'Sign in as a guest',
    note: 'Signs in a guest: a second user for the membership and direct-message requests.',
    body: { username: 'guest{{$timestamp}}{{$randomInt}}' },
    tests: [
      json,
      "pm.test('the user is a guest', () => pm.expect(body.user.isGuest).to.equal(true));",
      save('guestUserId', 'body.user.id'),
      save('guestAccessToken', 'body.accessToken'),
    ],
  },
  {
    op: 'refresh',
    name: 'Refresh the session',
    note: 'Trades the refresh token for a new session; the old refresh token is spent.',
    body: { refreshToken: '{{refreshToken}}' },
    tests: [
      json,
      "pm.test('the refresh token rotated', () => pm.expect(body.refreshToken).to.not.equal(pm.collectionVariables.get('refreshToken')));",
      save('accessToken', 'body.accessToken'),
      save('refreshToken', 'body.refreshToken'),
    ],
  },
  {
    op: 'logout',
    name: 'Log out',
    note: 'Ends the session made by "register" (by its refresh token); the flow goes on with the login session.',
    body: { refreshToken: '{{firstRefreshToken}}' },
    noAuth: true,
  },
  {
    op: 'logoutAll',
    name: 'Sign out everywhere',
    note: 'Ends every session of the guest (made by "Sign in as a guest"), this one included; the guest\'s account stays, for the membership and direct-message requests.',
    body: {},
    token: '{{guestAccessToken}}',
  },
  {
    op: 'upload',
    name: 'Upload an image',
    note: 'Uploads a 16×16 PNG (sent inline by Newman; in the Postman app, choose an image file) and saves its id.',
    files: { file: { base64: PNG_16X16, contentType: 'image/png', fileName: 'parley-16x16.png' } },
    tests: [
      json,
      "pm.test('it is the PNG', () => { pm.expect(body.mime).to.equal('image/png'); pm.expect(body.width).to.equal(16); });",
      save('attachmentId', 'body.id'),
    ],
  },
  {
    op: 'getUpload',
    name: 'Download the image',
    note: "Reads the image back by id with the uploader's bearer token (the Attachment's signed `url` works without one).",
    params: { id: '{{attachmentId}}' },
    tests: [
      "pm.test('it is the PNG', () => pm.expect(pm.response.headers.get('Content-Type')).to.equal('image/png'));",
    ],
  },
  {
    op: 'getUploadThumbnail',
    name: 'Download the thumbnail',
    params: { id: '{{attachmentId}}' },
    tests: [
      "pm.test('it is a WebP thumbnail', () => pm.expect(pm.response.headers.get('Content-Type')).to.equal('image/webp'));",
    ],
  },
  {
    op: 'upload',
    name: 'Upload an avatar',
    note: 'Uploads a second image for the avatar: an upload is either a message image or an avatar, never both.',
    files: { file: { base64: PNG_16X16, contentType: 'image/png', fileName: 'parley-avatar.png' } },
    tests: [json, save('avatarAttachmentId', 'body.id')],
  },
  {
    op: 'getMe',
    name: 'Get me',
    tests: [
      json,
      "pm.test('it is the signed-in user', () => pm.expect(body.id).to.equal(pm.collectionVariables.get('userId')));",
    ],
  },
  {
    op: 'updateMe',
    name: 'Update me',
    note: 'Changes the display name and sets the second uploaded image as the avatar.',
    body: { displayName: 'Tester {{username}}', avatarAttachmentId: '{{avatarAttachmentId}}' },
    tests: [
      json,
      "pm.test('the display name changed', () => pm.expect(body.displayName).to.equal('Tester ' + pm.collectionVariables.get('username')));",
      "pm.test('the avatar is set', () => pm.expect(body.avatarUrl).to.be.a('string'));",
    ],
  },
  {
    op: 'changePassword',
    name: 'Change password',
    note: "Changes the password (every other session of the user ends; this one stays). Saves the new one in 'password'.",
    body: { currentPassword: '{{password}}', newPassword: '{{newPassword}}' },
    tests: [save('password', "pm.collectionVariables.get('newPassword')")],
  },
  {
    op: 'searchUsers',
    name: 'Search users',
    query: { q: '{{username}}' },
    tests: [
      json,
      "pm.test('the user is found', () => pm.expect(body.users.map((u) => u.id)).to.include(pm.collectionVariables.get('userId')));",
    ],
  },
  {
    op: 'getUser',
    name: 'Get a user',
    params: { id: '{{guestUserId}}' },
    tests: [
      json,
      "pm.test('it is the guest', () => pm.expect(body.id).to.equal(pm.collectionVariables.get('guestUserId')));",
    ],
  },
  {
    op: 'listRooms',
    name: 'List rooms',
    note: 'Paged: pass `next` as `after` for the next page (`limit` up to 200).',
    query: { limit: '200' },
    tests: [
      json,
      "pm.test('the general room is listed', () => pm.expect(body.rooms.map((r) => r.name)).to.include('general'));",
      "pm.test('a page says whether more follow', () => { pm.expect(body.hasMore).to.be.a('boolean'); pm.expect(body.next === null || typeof body.next === 'string').to.equal(true); });",
    ],
  },
  {
    op: 'createRoom',
    name: 'Create a room',
    note: 'Creates a private room with a unique name and saves its id.',
    body: { name: 'postman-{{$timestamp}}-{{$randomInt}}', description: EXAMPLE, kind: 'private' },
    tests: [
      json,
      "pm.test('the creator owns it', () => pm.expect(body.ownerId).to.equal(pm.collectionVariables.get('userId')));",
      save('roomId', 'body.id'),
    ],
  },
  {
    op: 'getRoom',
    name: 'Get a room',
    tests: [
      json,
      "pm.test('it is the room', () => pm.expect(body.id).to.equal(pm.collectionVariables.get('roomId')));",
    ],
  },
  {
    op: 'updateRoom',
    name: 'Update a room',
    body: { description: 'Updated from Postman' },
    tests: [
      json,
      "pm.test('the description changed', () => pm.expect(body.description).to.equal('Updated from Postman'));",
    ],
  },
  {
    op: 'setNotifications',
    name: 'Set notification level',
    note: 'The owner asks to be notified only of messages that mention them in this room.',
    body: { level: 'mentions' },
    tests: [
      json,
      "pm.test('the level is stored', () => pm.expect(body.notifications).to.equal('mentions'));",
      "pm.test('nothing mentions the owner yet', () => pm.expect(body.mentionCount).to.equal(0));",
    ],
  },
  {
    op: 'addMember',
    name: 'Add a member',
    note: 'The owner adds the guest to the private room.',
    body: { userId: '{{guestUserId}}' },
    tests: [json, "pm.test('it has two members', () => pm.expect(body.memberCount).to.equal(2));"],
  },
  {
    op: 'listMembers',
    name: 'List members',
    note: 'Online members first, then by username; paged like the room list.',
    tests: [
      json,
      "pm.test('one page holds them all', () => { pm.expect(body.hasMore).to.equal(false); pm.expect(body.next).to.equal(null); });",
      "pm.test('owner and guest are members', () => pm.expect(body.members.map((m) => m.user.id)).to.include.members([pm.collectionVariables.get('userId'), pm.collectionVariables.get('guestUserId')]));",
    ],
  },
  {
    op: 'removeMember',
    name: 'Remove a member',
    note: 'The owner removes (kicks) the guest, which also bans them from the room.',
    params: { userId: '{{guestUserId}}' },
  },
  {
    op: 'listBans',
    name: 'List banned users',
    note: 'The kick banned the guest: the owner sees them here.',
    tests: [
      json,
      "pm.test('the kicked guest is banned', () => pm.expect(body.users.map((u) => u.id)).to.include(pm.collectionVariables.get('guestUserId')));",
    ],
  },
  {
    op: 'unbanUser',
    name: 'Unban a user',
    note: 'The owner lifts the ban: the guest may join the room again (or be added back).',
    params: { userId: '{{guestUserId}}' },
  },
  {
    op: 'deleteRoom',
    name: 'Delete a room',
    note: "Deletes a scratch room that the pre-request script creates, so '{{roomId}}' stays usable.",
    params: { id: '{{scratchRoomId}}' },
    prerequest: [
      'pm.sendRequest({',
      "  url: pm.variables.replaceIn('{{baseUrl}}/api/chatrooms'),",
      "  method: 'POST',",
      "  header: { 'Content-Type': 'application/json', Authorization: 'Bearer ' + pm.collectionVariables.get('accessToken') },",
      "  body: { mode: 'raw', raw: JSON.stringify({ name: 'scratch-' + Date.now() + '-' + Math.floor(Math.random() * 1e6) }) },",
      '}, (err, res) => {',
      '  if (err || res.code !== 201) throw new Error(`could not create the scratch room: ${err || res.code}`);',
      "  pm.collectionVariables.set('scratchRoomId', res.json().id);",
      '});',
    ],
  },
  {
    op: 'sendMessage',
    name: 'Post a message',
    note: 'Posts text with the uploaded image to the room and saves the message id.',
    body: { text: 'Hello from Postman', attachmentId: '{{attachmentId}}', clientId: '{{$guid}}' },
    tests: [
      json,
      "pm.test('the text is stored', () => pm.expect(body.text).to.equal('Hello from Postman'));",
      "pm.test('the image is attached', () => pm.expect(body.attachment.id).to.equal(pm.collectionVariables.get('attachmentId')));",
      "pm.test('it names nobody', () => pm.expect(body.mentions).to.eql([]));",
      save('messageId', 'body.id'),
    ],
  },
  {
    op: 'listMessages',
    name: 'Message history',
    query: { limit: '50' },
    tests: [
      json,
      "pm.test('the message is in the history', () => pm.expect(body.messages.map((m) => m.id)).to.include(pm.collectionVariables.get('messageId')));",
    ],
  },
  {
    op: 'searchMessages',
    name: 'Search messages',
    note: 'Finds the message by its words, the last one a prefix, accents and case aside; hits are marked with U+0002 and U+0003.',
    query: { q: 'HELLO postm', roomId: '{{roomId}}' },
    tests: [
      json,
      "pm.test('the message is found', () => pm.expect(body.results.map((r) => r.message.id)).to.include(pm.collectionVariables.get('messageId')));",
      "pm.test('the hits are marked', () => pm.expect(body.results[0].snippet).to.include('\\u0002Hello\\u0003'));",
    ],
  },
  {
    op: 'editMessage',
    name: 'Edit a message',
    body: { text: 'Hello from Postman (edited)' },
    tests: [
      json,
      "pm.test('the message is edited', () => { pm.expect(body.text).to.equal('Hello from Postman (edited)'); pm.expect(body.editedAt).to.be.a('string'); });",
    ],
  },
  {
    op: 'addReaction',
    name: 'React to a message',
    note: 'Adds a 👍 (idempotent: sending it again changes nothing).',
    body: { emoji: '👍' },
    tests: [
      json,
      "pm.test('the reaction is counted', () => pm.expect(body.reactions).to.eql([{ emoji: '👍', count: 1, userIds: [pm.collectionVariables.get('userId')] }]));",
    ],
  },
  {
    op: 'removeReaction',
    name: 'Take back a reaction',
    note: 'The emoji is URL-encoded in the path (👍 is %F0%9F%91%8D).',
    params: { emoji: '%F0%9F%91%8D' },
    tests: [json, "pm.test('the reaction is gone', () => pm.expect(body.reactions).to.eql([]));"],
  },
  { op: 'deleteMessage', name: 'Delete a message' },
  {
    op: 'openDm',
    name: 'Open a direct room',
    note: 'Opens the direct room with the guest and saves its id.',
    body: { userId: '{{guestUserId}}' },
    tests: [
      json,
      "pm.test('it is a direct room with the guest', () => { pm.expect(body.kind).to.equal('direct'); pm.expect(body.peer.id).to.equal(pm.collectionVariables.get('guestUserId')); });",
      save('dmRoomId', 'body.id'),
    ],
  },
  {
    op: 'listDms',
    name: 'List direct rooms',
    tests: [
      json,
      "pm.test('one page holds them all', () => pm.expect(body.hasMore).to.equal(false));",
      "pm.test('the direct room is listed', () => pm.expect(body.rooms.map((r) => r.id)).to.include(pm.collectionVariables.get('dmRoomId')));",
    ],
  },
  {
    op: 'health',
    name: 'Health',
    tests: [json, "pm.test('the service is healthy', () => pm.expect(body.status).to.equal('ok'));"],
  },
];

/** Collection variables: the ones scripts set start empty. */
const VARIABLES: [string, string, string][] = [
  ['baseUrl', 'http://localhost:3000', 'Where Parley runs'],
  ['accessToken', '', 'Set by register, login and refresh; sent as the Bearer token'],
  ['refreshToken', '', 'Set by register, login and refresh'],
  ['userId', '', 'The registered user (set by register)'],
  ['roomId', '', 'The room made by "Create a room"'],
  ['messageId', '', 'The message made by "Post a message"'],
  ['attachmentId', '', 'The image made by the upload'],
  ['avatarAttachmentId', '', 'The image made by "Upload an avatar"'],
  ['username', '', 'Set by register'],
  [
    'guestAccessToken',
    '',
    'The guest\'s access token (set by "Sign in as a guest"); "Sign out everywhere" ends its sessions',
  ],
  ['password', 'correct-horse-9', 'Password of the registered user'],
  ['newPassword', 'correct-horse-10', 'What "Change password" changes it to'],
  ['firstRefreshToken', '', 'The refresh token of the register session, which logout ends'],
  ['guestUserId', '', 'A second user (set by guest)'],
  ['scratchRoomId', '', 'A room made only to be deleted'],
  ['dmRoomId', '', 'The direct room with the guest'],
];

// ------------------------------------------------------------------------------------------ Postman v2.1

interface PmScript {
  listen: 'prerequest' | 'test';
  script: { type: 'text/javascript'; exec: string[] };
}
interface PmFormParam {
  key: string;
  type: 'file' | 'text';
  value: string;
  contentType?: string;
  fileName?: string;
  description?: string;
}
interface PmRequestItem {
  name: string;
  event?: PmScript[];
  request: {
    method: string;
    description: string;
    auth?: { type: 'noauth' } | { type: 'bearer'; bearer: { key: string; value: string; type: string }[] };
    header: { key: string; value: string }[];
    body?:
      | { mode: 'raw'; raw: string; options: { raw: { language: 'json' } } }
      | { mode: 'formdata'; formdata: PmFormParam[] };
    url: {
      raw: string;
      host: string[];
      path: string[];
      query?: { key: string; value: string; description?: string; disabled?: boolean }[];
      variable?: { key: string; value: string; description?: string }[];
    };
  };
}

const PATH_DEFAULTS: Record<string, (p: string) => string> = {
  id: (p) =>
    p.startsWith('/api/chatrooms/')
      ? '{{roomId}}'
      : p.startsWith('/api/messages/')
        ? '{{messageId}}'
        : '{{userId}}',
  userId: () => '{{userId}}',
};

function requestItem(doc: OaDocument, op: Operation, step: Step): PmRequestItem {
  const params = op.parameters ?? [];
  const pathParams = params.filter((p) => p.in === 'path');
  const queryParams = params.filter((p) => p.in === 'query');
  for (const k of Object.keys(step.params ?? {}))
    if (!pathParams.some((p) => p.name === k)) throw new Error(`${op.operationId}: no path parameter ${k}`);
  for (const k of Object.keys(step.query ?? {}))
    if (!queryParams.some((p) => p.name === k)) throw new Error(`${op.operationId}: no query parameter ${k}`);

  const segments = op.path
    .split('/')
    .filter(Boolean)
    .map((s) => s.replace(/^\{(.+)\}$/, ':$1'));
  const query = queryParams.map((p) => {
    const value = step.query?.[p.name];
    return {
      key: p.name,
      value: value ?? String(exampleOf(doc, p.schema) ?? ''),
      ...(p.description || p.schema?.description
        ? { description: String(p.description ?? p.schema?.description) }
        : {}),
      ...(value === undefined ? { disabled: true } : {}),
    };
  });
  const enabledQuery = query.filter((q) => !q.disabled).map((q) => `${q.key}=${q.value}`);
  const raw = `{{baseUrl}}/${segments.join('/')}${enabledQuery.length ? `?${enabledQuery.join('&')}` : ''}`;

  let body: PmRequestItem['request']['body'];
  const bodySchema = bodySchemaOf(doc, op);
  if (bodySchema) {
    const props = (bodySchema.properties ?? {}) as Record<string, JsonSchema>;
    let value: Json;
    if (step.body) {
      value = {};
      for (const [k, v] of Object.entries(step.body)) {
        if (!props[k]) throw new Error(`${op.operationId}: the body has no field ${k}`);
        value[k] = v === EXAMPLE ? exampleOf(doc, props[k]) : v;
      }
    } else {
      value = exampleOf(doc, bodySchema);
    }
    body = { mode: 'raw', raw: JSON.stringify(value, null, 2), options: { raw: { language: 'json' } } };
  } else if (step.body) {
    throw new Error(`${op.operationId} takes no JSON body`);
  }
  const multipart = op.requestBody?.content['multipart/form-data']?.schema;
  if (multipart) {
    const props = (multipart.properties ?? {}) as Record<string, JsonSchema>;
    const formdata: PmFormParam[] = Object.entries(props).map(([key, prop]) => {
      const description = typeof prop.description === 'string' ? { description: prop.description } : {};
      if (prop.format !== 'binary')
        return { key, type: 'text', value: String(exampleOf(doc, prop)), ...description };
      const file = step.files?.[key];
      if (!file) throw new Error(`${op.operationId}: give the file for the multipart field ${key}`);
      return {
        key,
        type: 'file',
        value: file.base64,
        contentType: file.contentType,
        fileName: file.fileName,
        ...description,
      };
    });
    body = { mode: 'formdata', formdata };
  }

  const [successStatus, success] = Object.entries(op.responses).find(([s]) => /^2\d\d$/.test(s)) ?? [];
  if (!successStatus || !success) throw new Error(`${op.operationId} documents no success response`);
  const schema = success.content?.['application/json']?.schema;
  const tests = [
    `pm.test('status is ${successStatus}', () => pm.response.to.have.status(${successStatus}));`,
  ];
  if (schema) {
    const name = typeof schema.$ref === 'string' ? refName(schema.$ref) : 'response';
    tests.push(
      `const schema = ${JSON.stringify(inline(doc, schema))};`,
      `pm.test('the body matches the ${name} schema', () => pm.response.to.have.jsonSchema(schema));`,
    );
  }
  tests.push(...(step.tests ?? []));

  const needsAuth = Boolean(op.security?.some((s) => 'bearerAuth' in s));
  const description = [op.summary, op.description, step.note].filter(Boolean).join('\n\n');
  const event: PmScript[] = [];
  if (step.prerequest)
    event.push({ listen: 'prerequest', script: { type: 'text/javascript', exec: step.prerequest } });
  event.push({ listen: 'test', script: { type: 'text/javascript', exec: tests } });

  return {
    name: step.name ?? op.summary ?? op.operationId,
    event,
    request: {
      method: op.method,
      description: `${description}\n\n\`${op.method} ${op.path}\` (operationId \`${op.operationId}\`)`,
      ...(!needsAuth || step.noAuth ? { auth: { type: 'noauth' as const } } : {}),
      ...(needsAuth && step.token
        ? { auth: { type: 'bearer' as const, bearer: [{ key: 'token', value: step.token, type: 'string' }] } }
        : {}),
      header: body?.mode === 'raw' ? [{ key: 'Content-Type', value: 'application/json' }] : [],
      ...(body ? { body } : {}),
      url: {
        raw,
        host: ['{{baseUrl}}'],
        path: segments,
        ...(query.length ? { query } : {}),
        ...(pathParams.length
          ? {
              variable: pathParams.map((p) => ({
                key: p.name,
                value: step.params?.[p.name] ?? PATH_DEFAULTS[p.name]?.(op.path) ?? '',
                ...(p.description ? { description: p.description } : {}),
              })),
            }
          : {}),
      },
    },
  };
}

/** The Postman v2.1 collection for an OpenAPI document. */
export function buildPostmanCollection(doc: OaDocument = buildOpenApi() as unknown as OaDocument) {
  const ops = operationsOf(doc);
  const missing = [...ops.keys()].filter((id) => !FLOW.some((s) => s.op === id));
  if (missing.length)
    throw new Error(
      `operations with no step in the Postman flow (add them to FLOW in scripts/generate-postman.ts): ${missing.join(', ')}`,
    );

  const folders: { name: string; description?: string; item: PmRequestItem[] }[] = [];
  for (const step of FLOW) {
    const op = ops.get(step.op);
    if (!op) throw new Error(`the Postman flow names ${step.op}, which the OpenAPI document does not have`);
    const tag = op.tags[0] ?? 'default';
    let folder = folders.at(-1);
    if (folder?.name !== tag) {
      if (folders.some((f) => f.name === tag))
        throw new Error(`the Postman flow must keep the "${tag}" operations together (${step.op})`);
      const description = doc.tags?.find((t) => t.name === tag)?.description;
      folder = { name: tag, ...(description ? { description } : {}), item: [] };
      folders.push(folder);
    }
    folder.item.push(requestItem(doc, op, step));
  }

  return {
    info: {
      name: doc.info.title,
      description:
        `${doc.info.description ?? ''}\n\nGenerated from the OpenAPI document (version ${doc.info.version}) by ` +
        '`npm run docs:postman`; do not edit by hand. Set `baseUrl` and run the collection in order: it registers ' +
        'a fresh user and walks through every operation.',
      schema: 'https://schema.getpostman.com/json/collection/v2.1.0/collection.json',
    },
    auth: { type: 'bearer', bearer: [{ key: 'token', value: '{{accessToken}}', type: 'string' }] },
    variable: VARIABLES.map(([key, value, description]) => ({ key, value, type: 'string', description })),
    item: folders,
  };
}

/** The file's exact text. */
export function renderPostmanCollection(): string {
  return `${JSON.stringify(buildPostmanCollection(), null, 2)}\n`;
}

function main(): void {
  const text = renderPostmanCollection();
  const rel = path.relative(process.cwd(), COLLECTION_PATH);
  if (process.argv.includes('--check')) {
    let current = '';
    try {
      current = readFileSync(COLLECTION_PATH, 'utf8');
    } catch {
      // missing counts as stale
    }
    if (current !== text) {
      console.error(`${rel} is stale: run npm run docs:postman`);
      process.exit(1);
    }
    console.log(`${rel} is up to date`);
    return;
  }
  writeFileSync(COLLECTION_PATH, text);
  console.log(`wrote ${rel}`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main();
