import type { SearchResults, Session } from '@parley/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  client,
  register,
  startTestServer,
  uniqueName,
  type Call,
  type TestServer,
} from '../../src/test-support/server.js';
import { createRoom, postMessage } from '../helpers/realtime.js';

/*
 * Issue 14, search (docs/SECURITY.md Q1–Q2): what a user types into the search box is words, never the syntax of
 * FTS5's MATCH or of PostgreSQL's to_tsquery, and a search never reaches beyond the caller's rooms.
 */

let server: TestServer;
let call: Call;
let ana: Session, eve: Session;
let word: string;
let mine: string;

beforeAll(async () => {
  server = await startTestServer();
  call = client(server.url);
  [ana, eve] = [await register(call, uniqueName('ana')), await register(call, uniqueName('eve'))];
  word = uniqueName('q');
  const room = await createRoom(call, ana, 'private');
  await postMessage(call, ana, room.id, `private ${word} plans`);
  const eveRoom = await createRoom(call, eve, 'private');
  mine = (await postMessage(call, eve, eveRoom.id, `eve ${word} notes`)).id;
});
afterAll(() => server?.close());

const search = (s: Session, q: string) =>
  call('GET', `/api/search?${new URLSearchParams({ q })}`, { token: s.accessToken });

describe('Q search input', () => {
  it('Q1 query-language syntax in q (quotes, stars, NEAR, column filters, ^, :*, &|!, <->, backslashes) is never a 5xx and matches only words', async () => {
    const hostile = [
      '"',
      '"""',
      '*',
      `${word}"`,
      `"${word}`,
      `${word} OR private`,
      `text:${word}`,
      `{text}:${word}`,
      `NEAR(${word} private, 2)`,
      `^${word}`,
      `${word}:*`,
      `${word} | private`,
      `!${word}`,
      `${word} <-> private`,
      `${word} & (private`,
      `'${word}'`,
      `${word}\\`,
      '\\',
      ')(',
      '-',
      '+',
      'AND',
      'NOT',
      `${word} NOT eve`,
      '"'.repeat(200),
      `${word} `.repeat(40).slice(0, 200),
    ];
    const failures: string[] = [];
    for (const q of hostile) {
      const res = await search(eve, q);
      if (res.status !== 200) {
        failures.push(`${JSON.stringify(q)}: ${res.status}`);
        continue;
      }
      // Eve sees at most her own message: never ana's, whatever operator the text spells.
      const ids = (res.body as SearchResults).results.map((r) => r.message.id);
      if (ids.some((id) => id !== mine)) failures.push(`${JSON.stringify(q)}: found ${ids.join(',')}`);
    }
    expect(failures).toEqual([]);
    // `OR` is a word like any other: eve's message does not contain it.
    expect((await search(eve, `${word} OR private`)).body.results).toEqual([]);
    console.warn(
      `Q1 figures: ${hostile.length} hostile queries, 0 errors, 0 results outside the caller's rooms`,
    );
  });

  it("Q2 another user's private messages are found by neither their words nor roomId", async () => {
    const res = await search(eve, `private ${word} plans`);
    expect((res.body as SearchResults).results).toEqual([]);
    const rooms = await call('GET', '/api/chatrooms', { token: ana.accessToken });
    const priv = (rooms.body.rooms as { id: string; kind: string }[]).filter((r) => r.kind === 'private');
    for (const r of priv) {
      const scoped = await call('GET', `/api/search?q=${word}&roomId=${r.id}`, { token: eve.accessToken });
      expect(scoped.status).toBe(404);
    }
  });
});
