import type { Session } from '@parley/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  client,
  register,
  startTestServer,
  uniqueName,
  type Call,
  type TestServer,
} from '../../src/test-support/server.js';
import { expectError, expectStatus } from '../helpers/http.js';
import { createRoom } from '../helpers/realtime.js';
import { connectSocket, nextEvent } from '../helpers/sockets.js';

/*
 * I3 and I4 (docs/SECURITY.md, Input). I3: look-alike and invisible characters in names. Usernames are NFKC
 * normalised and limited to [A-Za-z0-9_.-] (so full-width letters become ASCII, Cyrillic, zero-width and bidi
 * characters are refused) and compared by a case-folded skeleton; display names and room names are NFKC normalised
 * and refuse control, zero-width-space and bidi-control characters but allow any script and ZWJ (emoji sequences).
 * I4: markup in messages, room names, descriptions and display names is stored and served verbatim as JSON; the
 * browser half (rendered as text, nothing runs) is e2e/xss.spec.ts.
 */

let server: TestServer;
let call: Call;
let ana: Session;

beforeAll(async () => {
  server = await startTestServer();
  call = client(server.url);
  ana = await register(call, uniqueName('ana'));
});

afterAll(() => server?.close());

/** ASCII → full-width forms (ＡＤＭＩＮ). */
const fullWidth = (s: string) => s.replace(/[!-~]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 0xfee0));
const CYRILLIC_A = '\u0430';
const INVISIBLE: Record<string, string> = {
  'zero-width space': '\u200b',
  'zero-width joiner': '\u200d',
  'zero-width non-joiner': '\u200c',
  'RTL override': '\u202e',
  'RTL isolate': '\u2067',
  'byte-order mark': '\ufeff',
  'a control character': '\u0007',
};

/** Needed by emoji sequences and by Persian, Arabic and Indic spelling: allowed in display and room names. */
const JOINERS = new Set(['zero-width joiner', 'zero-width non-joiner']);

const registerAs = (username: string, displayName?: string) =>
  call('POST', '/api/auth/register', {
    body: { username, email: `${uniqueName('e')}@example.com`, password: 'correct-horse-9', displayName },
  });

describe('I3 confusable and invisible characters in names', () => {
  it('I3a usernames: full-width is normalised (and collides), Cyrillic, zero-width and bidi are refused', async () => {
    const users = () => server.parley.ctx.models.User.count();
    const base = uniqueName('adm');
    await register(call, base);
    // ＡＤＭ... is ADM..., the same account name as adm...: taken (on register and for a guest).
    expectError(await registerAs(fullWidth(base.toUpperCase())), 409, 'USERNAME_TAKEN');
    expectError(
      await call('POST', '/api/auth/guest', { body: { username: fullWidth(base) } }),
      409,
      'USERNAME_TAKEN',
    );
    // A new full-width name is stored as its ASCII form.
    const fresh = uniqueName('fw');
    const res = await registerAs(fullWidth(fresh));
    expectStatus(res, 201);
    expect(res.body.user.username).toBe(fresh);

    const before = await users();
    const refused = [
      `${CYRILLIC_A}${base}`,
      `${base.slice(0, 2)}${CYRILLIC_A}${base.slice(2)}`,
      ...Object.values(INVISIBLE).map((c) => `${base.slice(0, 3)}${c}${base.slice(3)}x`),
    ];
    for (const username of refused) {
      for (const res of [
        await registerAs(username),
        await call('POST', '/api/auth/guest', { body: { username } }),
      ]) {
        expectError(res, 400, 'VALIDATION_ERROR');
        expect(res.body.error.details.map((d: { path: string }) => d.path)).toContain('username');
      }
    }
    expect(await users()).toBe(before);
  });

  it('I3b display names: bidi, zero-width-space and control characters refused; any script and emoji allowed', async () => {
    for (const [what, c] of Object.entries(INVISIBLE)) {
      if (JOINERS.has(what)) continue;
      const res = await call('PATCH', '/api/users/me', {
        token: ana.accessToken,
        body: { displayName: `Ana${c}Lima` },
      });
      expectError(res, 400, 'VALIDATION_ERROR');
      expectError(await registerAs(uniqueName('dn'), `ev${c}il`), 400, 'VALIDATION_ERROR');
    }
    const allowed: [string, string][] = [
      [fullWidth('Ana'), 'Ana'],
      ['Анна Ли', 'Анна Ли'],
      ['👩‍👩‍👧 family', '👩‍👩‍👧 family'],
      // Persian spells with the zero-width non-joiner ("mi-khaham").
      [
        '\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645',
        '\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645',
      ],
    ];
    for (const [given, stored] of allowed) {
      const res = await call('PATCH', '/api/users/me', {
        token: ana.accessToken,
        body: { displayName: given },
      });
      expectStatus(res, 200);
      expect(res.body.displayName).toBe(stored);
    }
  });

  it('I3c room names: bidi, zero-width-space and control characters refused; full-width normalised', async () => {
    const rooms = () => server.parley.ctx.models.Room.count();
    const before = await rooms();
    for (const [what, c] of Object.entries(INVISIBLE)) {
      if (JOINERS.has(what)) continue;
      const res = await call('POST', '/api/chatrooms', {
        token: ana.accessToken,
        body: { name: `room${c}${uniqueName('r')}` },
      });
      expectError(res, 400, 'VALIDATION_ERROR');
    }
    expect(await rooms()).toBe(before);
    const name = uniqueName('wide');
    const res = await call('POST', '/api/chatrooms', {
      token: ana.accessToken,
      body: { name: fullWidth(name) },
    });
    expectStatus(res, 201);
    expect(res.body.name).toBe(name);
  });
});

const XSS = [
  '<script>alert(1)</script>',
  '<img src=x onerror=alert(1)>',
  '"><svg onload=alert(1)>',
  "javascript:alert('x')",
  '{{constructor.constructor("alert(1)")()}}',
];

describe('I4 markup is stored and served verbatim', () => {
  it('I4 messages, room names, descriptions and display names come back exactly as sent, as JSON', async () => {
    const socket = await connectSocket(server, ana);
    const room = await createRoom(call, ana);
    for (const [i, payload] of XSS.entries()) {
      const displayName = `${payload}`.slice(0, 64);
      const me = await call('PATCH', '/api/users/me', { token: ana.accessToken, body: { displayName } });
      expectStatus(me, 200);
      expect(me.body.displayName).toBe(displayName);

      const updated = await call('PATCH', `/api/chatrooms/${room.id}`, {
        token: ana.accessToken,
        body: { name: `${payload} ${i}`.slice(0, 64), description: payload },
      });
      expectStatus(updated, 200);
      const got = await call('GET', `/api/chatrooms/${room.id}`, { token: ana.accessToken });
      expect(got.body.name).toBe(`${payload} ${i}`.slice(0, 64));
      expect(got.body.description).toBe(payload);
      // JSON, never sniffed as HTML.
      expect(got.headers.get('content-type')).toMatch(/^application\/json/);
      expect(got.headers.get('x-content-type-options')).toBe('nosniff');

      const sent = await call('POST', `/api/chatrooms/${room.id}/messages`, {
        token: ana.accessToken,
        body: { text: payload },
      });
      expectStatus(sent, 201);
      expect(sent.body.text).toBe(payload);
      const live = await nextEvent(socket, 'message:new', (m) => m.id === sent.body.id);
      expect(live.text).toBe(payload);
      expect(live.author?.displayName).toBe(displayName);
      const history = await call(
        'GET',
        `/api/chatrooms/${room.id}/messages?after=${Number(sent.body.id) - 1}`,
        {
          token: ana.accessToken,
        },
      );
      expect(history.body.messages[0].text).toBe(payload);
    }
    socket.disconnect();
  });
});
