import { routes } from '@parley/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../src/test-support/server.js';
import { expectError } from '../helpers/http.js';
import { fetchBytes } from '../helpers/images.js';
import { restCells, runRestCell } from './matrix/cells.js';
import { restCases } from './matrix/rest-cases.js';
import { ROOM_KINDS, USER_KINDS, viewAttachment } from './matrix/rules.js';
import { makeWorld, type World } from './matrix/world.js';

/*
 * Hardening, authorization matrix over REST (issue 8): every user kind (owner, member, outsider, guest,
 * logged-out) × room kind (public, private, direct) × route of the contract's route table, each cell answering
 * exactly what the contract says (matrix/rules.ts), with the route's response schema on success.
 */

let server: TestServer;
let world: World;

beforeAll(async () => {
  server = await startTestServer();
  world = await makeWorld(server);
});
afterAll(async () => {
  await server?.close();
});

describe('B1 authorization matrix, REST', () => {
  it('B1 has an expectation for every route of the route table, and for nothing else', () => {
    expect(Object.keys(restCases).sort()).toEqual(Object.keys(routes).sort());
  });

  it.each(restCells().map((cell) => [cell.name, cell] as const))('%s', async (_name, cell) => {
    await runRestCell(world, cell);
  });
});

describe('B1 attachment bytes (served outside the route table)', () => {
  const cells = ['', '/thumbnail'].flatMap((suffix) =>
    ROOM_KINDS.flatMap((roomKind) =>
      USER_KINDS.map((user) => {
        const outcome = viewAttachment(user, roomKind);
        const name = `B1 GET /api/uploads/:id${suffix} of an image in a ${roomKind} room as ${user}: ${outcome === 'ok' ? 200 : `404 ${outcome}`}`;
        return [name, { suffix, roomKind, user, outcome }] as const;
      }),
    ),
  );

  it.each(cells)('%s', async (_name, { suffix, roomKind, user, outcome }) => {
    const id = await world.image(await world.room(roomKind, false));
    const token = user === 'loggedOut' ? undefined : world.sessions[user].accessToken;
    const res = await fetchBytes(server.url, `/api/uploads/${id}${suffix}`, token);
    if (outcome === 'ok') {
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^image\//);
    } else {
      expectError({ status: res.status, body: JSON.parse(res.bytes.toString()) }, 404, outcome);
    }
  });
});
