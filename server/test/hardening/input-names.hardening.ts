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
 * I3d–I3h (issue 13): names that could pass for one another share a UTS #39 confusable skeleton and only one may
 * exist (usernames, display names and room names; concurrent look-alikes too); display and room names refuse every
 * invisible character; a released guest's messages read "(former guest)". I5a: no control characters in inputs.
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

/** The invisible and format characters of issue 13 (item 4): each one made another public room "general". */
const INVISIBLE_20 = [
  '\u061c', // Arabic letter mark
  '\u00ad', // soft hyphen
  '\u2061', // function application
  '\u2062', // invisible times
  '\u2063', // invisible separator
  '\u2064', // invisible plus
  '\u3164', // Hangul filler
  '\ufe0f', // variation selector 16, after a letter
  '\u{e0001}', // language tag
  '\u{e0020}', // tag space
  '\u{e0041}', // tag A
  '\u{e0067}', // tag g
  '\u{e007a}', // tag z
  '\u{e007f}', // cancel tag
  '\u206a', // inhibit symmetric swapping
  '\u206b', // activate symmetric swapping
  '\u206c', // inhibit Arabic form shaping
  '\u206d', // activate Arabic form shaping
  '\u206e', // national digit shapes
  '\u206f', // nominal digit shapes
];
/** A name with a separator between every character: `v.i.c.t.i.m`. */
const dotted = (s: string) => [...s].join('.');

describe('I3 look-alike names (confusable skeletons, UTS #39)', () => {
  it('I3d room names: 20 invisible characters refused; look-alikes of an existing room are taken', async () => {
    const rooms = () => server.parley.ctx.models.Room.count();
    const before = await rooms();
    for (const c of INVISIBLE_20) {
      const res = await call('POST', '/api/chatrooms', {
        token: ana.accessToken,
        body: { name: `general${c}` },
      });
      expectError(res, 400, 'VALIDATION_ERROR');
    }
    expect(await rooms()).toBe(before);
    // Look-alikes NFKC does not fold: Cyrillic е, Latin script ɡ, capital I for l, a digit 1 for l.
    for (const name of ['g\u0435neral', '\u0261eneral', 'generaI', 'genera1', 'GENERAL'])
      expectError(
        await call('POST', '/api/chatrooms', { token: ana.accessToken, body: { name } }),
        409,
        'ROOM_NAME_TAKEN',
      );
    const own = await createRoom(call, ana);
    const other = await createRoom(call, ana);
    const renamed = await call('PATCH', `/api/chatrooms/${other.id}`, {
      token: ana.accessToken,
      body: { name: own.name.replace(/o/g, '\u043e') }, // Cyrillic о
    });
    expectError(renamed, 409, 'ROOM_NAME_TAKEN');
    const rn = await call('PATCH', `/api/chatrooms/${other.id}`, {
      token: ana.accessToken,
      body: { name: own.name.replace('m', 'rn') }, // room… → roorn…
    });
    expectError(rn, 409, 'ROOM_NAME_TAKEN');
    expect(await rooms()).toBe(before + 2);
  });

  it("I3e display names: a copy or look-alike of another user's username or display name is refused 409", async () => {
    const victim = await register(call, uniqueName('victim'));
    const shown = `Vera ${victim.user.username.slice(-4)}`;
    expectStatus(
      await call('PATCH', '/api/users/me', { token: victim.accessToken, body: { displayName: shown } }),
      200,
    );
    const mallory = await register(call, uniqueName('mal'));
    const copies = [
      victim.user.username, // the victim's username, byte for byte
      victim.user.username.toUpperCase(),
      dotted(victim.user.username),
      victim.user.username.replace('m', 'rn'),
      shown, // the victim's display name, byte for byte
      shown.replace('e', '\u0435'), // with a Cyrillic е
      shown.replace(' ', '  '),
    ];
    for (const displayName of copies) {
      const res = await call('PATCH', '/api/users/me', { token: mallory.accessToken, body: { displayName } });
      expectError(res, 409, 'CONFLICT');
      expect(res.body.error.details).toEqual([{ path: 'displayName', message: expect.any(String) }]);
      expectError(await registerAs(uniqueName('mal'), displayName), 409, 'CONFLICT');
    }
    // What everyone else sees of mallory is unchanged.
    const seen = await call('GET', `/api/users/${mallory.user.id}`, { token: victim.accessToken });
    expect(seen.body.displayName).toBe(mallory.user.displayName);
    // The victim's display name is a name too: no username, guest's included, may take it.
    const asUsername = shown.replace(' ', '.');
    expectError(await registerAs(asUsername), 409, 'USERNAME_TAKEN');
    expectError(
      await call('POST', '/api/auth/guest', { body: { username: asUsername } }),
      409,
      'USERNAME_TAKEN',
    );
  });

  it('I3f usernames: separators, digits for letters, rn for m and d for cl collide with the existing name', async () => {
    const users = () => server.parley.ctx.models.User.count();
    const victim = (await register(call, uniqueName('victim'))).user.username; // e.g. victim1234x7
    const cloud = (await register(call, uniqueName('cloud'))).user.username;
    const before = await users();
    const lookalikes = [
      `${victim}.`,
      `.${victim}`,
      `_${victim}-`,
      dotted(victim),
      victim.replace('m', 'rn'),
      victim.replace('i', 'I').replace('v', 'V'),
      cloud.replace('o', '0'),
      cloud.replace('cl', 'd').replace('o', '0'),
    ];
    for (const username of lookalikes) {
      expectError(await registerAs(username), 409, 'USERNAME_TAKEN');
      expectError(await call('POST', '/api/auth/guest', { body: { username } }), 409, 'USERNAME_TAKEN');
    }
    expect(await users()).toBe(before);
  });

  it("I3g a released guest's messages stay apart from the next holder of its name", async () => {
    const name = uniqueName('gst');
    const first = (await call('POST', '/api/auth/guest', { body: { username: name } })).body as Session;
    const room = await createRoom(call, ana);
    const observer = await connectSocket(server, ana);
    try {
      await call('POST', `/api/chatrooms/${room.id}/members`, { token: first.accessToken, body: {} });
      await call('POST', `/api/chatrooms/${room.id}/messages`, {
        token: first.accessToken,
        body: { text: 'old' },
      });
      // The guest goes quiet beyond the hold period; the next guest of that name takes it.
      await server.parley.ctx.models.User.update(
        { lastSeenAt: new Date(Date.now() - 3_600_000) },
        { where: { id: Number(first.user.id) } },
      );
      const next = (await call('POST', '/api/auth/guest', { body: { username: name } })).body as Session;
      expect(next.user.id).not.toBe(first.user.id);
      await call('POST', `/api/chatrooms/${room.id}/members`, { token: next.accessToken, body: {} });
      const live = nextEvent(observer, 'message:new', (m) => m.text === 'new');
      await call('POST', `/api/chatrooms/${room.id}/messages`, {
        token: next.accessToken,
        body: { text: 'new' },
      });
      expect((await live).author).toMatchObject({ id: next.user.id, displayName: name });

      const history = await call('GET', `/api/chatrooms/${room.id}/messages`, { token: ana.accessToken });
      const byText = new Map(history.body.messages.map((m: any) => [m.text, m.author]));
      expect(byText.get('old')).toMatchObject({ id: first.user.id, displayName: `${name} (former guest)` });
      expect(byText.get('new')).toMatchObject({ id: next.user.id, displayName: name });
      const profile = await call('GET', `/api/users/${first.user.id}`, { token: ana.accessToken });
      expect(profile.body.displayName).toBe(`${name} (former guest)`);
    } finally {
      observer.disconnect();
    }
  });

  it('I3h concurrent look-alikes: of 8 registrations and of 8 room creations, exactly one wins', async () => {
    const base = uniqueName('race');
    const names = [base, `${base}.`, `.${base}`, `${base}_`, `-${base}`, `${base}-`, `_${base}`, `${base}..`];
    const regs = await Promise.all(names.map((n) => registerAs(n)));
    expect(regs.filter((r) => r.status === 201)).toHaveLength(1);
    for (const r of regs) if (r.status !== 201) expectError(r, 409, 'USERNAME_TAKEN');

    const room = uniqueName('hall'); // hall1234x9: an a for a Cyrillic а, an l for I and 1
    const bodies = [
      room,
      room.toUpperCase(),
      room.replace('a', '\u0430'),
      room.replace('l', 'I'),
      room.replace('l', '1'),
      room.replace('ll', 'lI'),
      room.replace('a', '\u0430').toUpperCase(),
      `\u{1d5c1}${room.slice(1)}`, // mathematical sans-serif h (NFKC folds it)
    ];
    const made = await Promise.all(
      bodies.map((name) => call('POST', '/api/chatrooms', { token: ana.accessToken, body: { name } })),
    );
    expect(made.filter((r) => r.status === 201)).toHaveLength(1);
    for (const r of made) if (r.status !== 201) expectError(r, 409, 'ROOM_NAME_TAKEN');
  });
});

describe('I5 control characters in string inputs', () => {
  it('I5a a NUL (or another control) in a login name, guest name, search, display name or message is a 400', async () => {
    const room = await createRoom(call, ana);
    const answers = [
      await call('POST', '/api/auth/login', { body: { username: 'ana\u0000', password: 'correct-horse-9' } }),
      await call('POST', '/api/auth/login', { body: { email: 'a\u0000@example.com', password: 'x' } }),
      await call('POST', '/api/auth/login', { body: { username: 'ana', password: 'correct\u0000horse' } }),
      await call('POST', '/api/auth/guest', { body: { username: 'gu\u0000st' } }),
      await call('GET', '/api/users?q=a%00', { token: ana.accessToken }),
      await call('GET', '/api/users?q=a%1b', { token: ana.accessToken }),
      await registerAs(uniqueName('nul'), 'Ana\u0000'),
      await call('POST', `/api/chatrooms/${room.id}/messages`, {
        token: ana.accessToken,
        body: { text: 'hi\u0000there' },
      }),
      await call('PATCH', `/api/chatrooms/${room.id}`, {
        token: ana.accessToken,
        body: { description: 'bell\u0007' },
      }),
    ];
    for (const res of answers) expectError(res, 400, 'VALIDATION_ERROR');
    // Free text keeps its line breaks and tabs.
    const kept = await call('POST', `/api/chatrooms/${room.id}/messages`, {
      token: ana.accessToken,
      body: { text: 'one\r\ntwo\tthree' },
    });
    expectStatus(kept, 201);
    expect(kept.body.text).toBe('one\ntwo\tthree');
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
