import { routes } from '@parley/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../src/test-support/server.js';
import { restCells, runRestCell } from './matrix/cells.js';
import { restCases } from './matrix/rest-cases.js';
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
