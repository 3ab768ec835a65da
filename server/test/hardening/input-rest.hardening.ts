import { routes, type RouteDef, type Session } from '@parley/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  client,
  register,
  startTestServer,
  uniqueName,
  type Call,
  type Res,
  type TestServer,
} from '../../src/test-support/server.js';
import { createRoom, postMessage } from '../helpers/realtime.js';
import { badPayloads, expectNoPollution, fieldsOf, JSON_MAX, rowCounts } from './input.payloads.js';

/*
 * I1 (docs/SECURITY.md, Input): every REST route of the contract (packages/protocol/src/rest.ts `routes`), fed
 * hostile bodies, queries and path ids generated from its schemas. Each answer must be a 4xx in the contract's
 * error shape (never a 5xx), nothing may be stored, Object.prototype must stay clean, and the server must still
 * answer afterwards. The caller is a registered user who owns a room, so authorization never hides a bad input.
 */

let server: TestServer;
let call: Call;
let owner: Session, other: Session;
/** A value for each path parameter that names something real. */
let realParams: Record<string, Record<string, string>>;

beforeAll(async () => {
  server = await startTestServer();
  call = client(server.url);
  owner = await register(call, uniqueName('own'));
  other = await register(call, uniqueName('oth'));
  const room = await createRoom(call, owner);
  const message = await postMessage(call, owner, room.id, 'hello');
  realParams = {
    '/api/chatrooms/': { id: room.id, userId: other.user.id },
    '/api/messages/': { id: message.id },
    '/api/users/': { id: other.user.id },
  };
});

afterAll(() => server?.close());

const ALL = Object.entries(routes) as [string, RouteDef][];
const paramsOf = (path: string) => [...path.matchAll(/:(\w+)/g)].map((m) => m[1]!);

function fill(path: string, values: Record<string, string>): string {
  const real = Object.entries(realParams).find(([prefix]) => path.startsWith(prefix))?.[1] ?? {};
  return path.replace(/:(\w+)/g, (_, p: string) => encodeURIComponent(values[p] ?? real[p] ?? '1'));
}

/** What went wrong with one answer, or null: a 4xx in the contract's shape (`status` if given). */
function problem(res: Res, status?: number): string | null {
  if (res.status >= 500) return `${res.status} (server error)`;
  if (res.status < 400) return `${res.status} (accepted)`;
  if (status !== undefined && res.status !== status) return `${res.status}, expected ${status}`;
  const e = (res.body as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
  if (typeof e?.code !== 'string' || typeof e.message !== 'string')
    return `${res.status} not in the error shape`;
  return null;
}

const send = (def: RouteDef, path: string, raw?: string) =>
  call(def.method.toUpperCase(), path, { token: owner.accessToken, ...(raw !== undefined ? { raw } : {}) });

describe('I1 hostile input on every REST route', () => {
  it('I1 every route that takes input is exercised; the others are reads without any', () => {
    const withoutInput = ALL.filter(
      ([, d]) => !d.body && !d.multipart && !d.query && !paramsOf(d.path).length,
    );
    for (const [id, d] of withoutInput) expect(d.method, `${id} takes no input`).toBe('get');
    expect(ALL.length - withoutInput.length).toBeGreaterThanOrEqual(20);
  });

  it('I1a bodies: oversize, empty, wrong types, 10,000 levels deep, __proto__/constructor: 4xx, nothing stored', async () => {
    const before = await rowCounts(server);
    const failures: string[] = [];
    let cases = 0;
    for (const [id, def] of ALL.filter(([, d]) => d.body || d.multipart)) {
      const path = fill(def.path, {});
      for (const bad of badPayloads(def.body, JSON_MAX)) {
        cases++;
        // A multipart route sent JSON: refused, whatever the JSON (415 or 400).
        const p = problem(await send(def, path, bad.raw), def.multipart ? undefined : bad.status);
        if (p) failures.push(`${id} ${def.method.toUpperCase()} ${path} [${bad.name}]: ${p}`);
      }
    }
    expect(failures).toEqual([]);
    expect(cases).toBeGreaterThan(200);
    expect(await rowCounts(server)).toEqual(before);
    expect(expectNoPollution()).toEqual([]);
    console.warn(`I1a figures: ${cases} hostile bodies, 0 answered 5xx or 2xx, 0 rows stored`);
  });

  it('I1b queries: wrong types, oversize, repeated and prototype keys: never a 5xx', async () => {
    const failures: string[] = [];
    let cases = 0;
    for (const [id, def] of ALL.filter(([, d]) => d.query)) {
      const path = fill(def.path, {});
      const queries = [
        '__proto__[polluted]=yes&constructor[prototype][polluted]=yes',
        ...fieldsOf(def.query).flatMap((f) => [
          `${f}=-1`,
          `${f}=abc`,
          `${f}=1e400`,
          `${f}=${'9'.repeat(4000)}`,
          `${f}=1&${f}=2`,
          `${f}[a]=1`,
        ]),
      ];
      for (const q of queries) {
        cases++;
        const res = await send(def, `${path}?${q}`);
        // Unknown keys are ignored (200); anything else must be refused in the error shape.
        if (res.status >= 500 || (res.status >= 300 && problem(res)))
          failures.push(`${id} ?${q.slice(0, 40)}: ${problem(res) ?? res.status}`);
      }
    }
    expect(failures).toEqual([]);
    expect(cases).toBeGreaterThan(20);
    expect(expectNoPollution()).toEqual([]);
    console.warn(`I1b figures: ${cases} hostile queries, 0 answered 5xx`);
  });

  it('I1c path ids that are not ids: 404 or 400 in the error shape, nothing changed', async () => {
    const before = await rowCounts(server);
    const failures: string[] = [];
    const badIds = [
      'abc',
      '-1',
      '0',
      '1e3',
      '1.5',
      ' 1',
      '9'.repeat(30),
      '../../etc/passwd',
      '%00',
      '\u202e1',
      '0x10',
    ];
    let cases = 0;
    for (const [id, def] of ALL) {
      for (const param of paramsOf(def.path)) {
        for (const bad of badIds) {
          cases++;
          const res = await send(def, fill(def.path, { [param]: bad }), def.body ? '{}' : undefined);
          const p = problem(res);
          if (p) failures.push(`${id} :${param}=${JSON.stringify(bad)}: ${p}`);
        }
      }
    }
    expect(failures).toEqual([]);
    expect(cases).toBeGreaterThan(100);
    expect(await rowCounts(server)).toEqual(before);
    console.warn(`I1c figures: ${cases} requests with bad path ids, 0 answered 5xx or 2xx, 0 rows changed`);
  });

  it('I1d the server still answers, and Object.prototype is clean', async () => {
    expect((await call('GET', '/api/health')).status).toBe(200);
    expect((await call('GET', '/api/users/me', { token: owner.accessToken })).status).toBe(200);
    expect(expectNoPollution()).toEqual([]);
  });
});
