import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { Socket } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { fileRoutes, routes, type RouteDef, type Session } from '@parley/protocol';
import { io } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { locationOf } from '../src/http/route.js';
import {
  client,
  register,
  startTestServer,
  uniqueName,
  type Call,
  type Res,
  type TestServer,
} from '../src/test-support/server.js';
import { png, uploadFile } from './helpers/images.js';
import { decodeToken, signLike } from './helpers/tokens.js';

/*
 * The contract's HTTP conventions (v2, "HTTP conventions"), generated from the route tables where they can be, so
 * that a route added later is checked without touching this file: Location on 201, WWW-Authenticate on 401, 405
 * with Allow, no-store on API answers, compression, caching of the web client's files, the SPA fallback.
 */

const repo = path.resolve(import.meta.dirname, '../..');
const ALL_ROUTES = [...Object.values(routes), ...Object.values(fileRoutes)] as Pick<
  RouteDef,
  'method' | 'path'
>[];
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'];
const ATTACHMENT_ID = 'q3Z9k1Xx0aB7cD2eF4gH6i';
/** A concrete path for a route path: every `:param` a plausible id. */
const concrete = (p: string) =>
  (p.startsWith('/api/uploads/') ? p.replace(':id', ATTACHMENT_ID) : p).replace(/:\w+/g, '1');

/** A web/dist stand-in: an index page, one hashed bundle, and the real files of web/public. */
function webFixture(): { dir: string; bundle: string; bundleText: string } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'parley-web-'));
  mkdirSync(path.join(dir, 'assets'));
  const bundle = 'index-Bq3xT9a1.js';
  const bundleText = `/* fixture */\n${'export const greeting = "hello, parley";\n'.repeat(200)}`;
  writeFileSync(path.join(dir, 'assets', bundle), bundleText);
  writeFileSync(
    path.join(dir, 'index.html'),
    `<!doctype html><html><head><title>Parley</title><script type="module" src="/assets/${bundle}"></script></head><body><div id="root"></div></body></html>`,
  );
  for (const f of ['robots.txt', 'favicon.ico'])
    copyFileSync(path.join(repo, 'web/public', f), path.join(dir, f));
  return { dir, bundle, bundleText };
}

/** A raw request: no automatic decompression, the path sent exactly as given. */
function raw(
  base: string,
  method: string,
  p: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: url.hostname, port: url.port, method, path: p, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

let srv: TestServer;
let call: Call;
let web: ReturnType<typeof webFixture>;
let alice: Session;

beforeAll(async () => {
  web = webFixture();
  srv = await startTestServer({}, { webDist: web.dir });
  call = client(srv.url);
  alice = await register(call, uniqueName('conv'));
});
afterAll(async () => {
  await srv?.close();
  rmSync(web.dir, { recursive: true, force: true });
});

describe('201 answers carry Location', () => {
  type Created = (typeof routes)[keyof typeof routes] & { status: 201 };
  const created = Object.entries(routes).filter(([, r]) => r.status === 201) as [string, Created][];

  /** How to create one of each: a 201 route without an entry here fails the first test. */
  const make: Record<string, () => Promise<Res>> = {
    register: () =>
      call('POST', routes.register.path, {
        body: {
          username: uniqueName('loc'),
          email: `${uniqueName('loc')}@example.com`,
          password: 'correct-horse-9',
        },
      }),
    guest: () => call('POST', routes.guest.path, { body: { username: uniqueName('gst') } }),
    createRoom: () =>
      call('POST', routes.createRoom.path, { token: alice.accessToken, body: { name: uniqueName('room') } }),
    sendMessage: async () => {
      const room = await call('POST', routes.createRoom.path, {
        token: alice.accessToken,
        body: { name: uniqueName('room') },
      });
      return call('POST', routes.sendMessage.path.replace(':id', room.body.id), {
        token: alice.accessToken,
        body: { text: 'hello' },
      });
    },
    upload: async () => uploadFile(srv.url, alice.accessToken, await png()) as Promise<Res>,
  };

  it('every 201 route of the table has a way to be called here', () => {
    expect(Object.keys(make).sort()).toEqual(created.map(([id]) => id).sort());
  });

  it.each(created)('%s: Location is the created resource, and it answers there', async (id, r) => {
    const res = await make[id]!();
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const location = res.headers.get('location');
    expect(location).toBe(locationOf(r.location, res.body));
    expect(location!.startsWith('/api/')).toBe(true);
    const token = (res.body as Partial<Session>).accessToken ?? alice.accessToken;
    // The resource is there: read it back where the route table has a GET for that path, else edit it.
    const target = new URL(location!, srv.url);
    const readable = ALL_ROUTES.some(
      (x) => x.method === 'get' && new RegExp(`^${x.path.replace(/:\w+/g, '[^/]+')}$`).test(target.pathname),
    );
    if (readable) {
      const back = await fetch(target, { headers: { authorization: `Bearer ${token}` } });
      expect(back.status, `GET ${location}`).toBe(200);
    } else {
      const edit = await call('PATCH', target.pathname, { token, body: { text: 'edited' } });
      expect(edit.status, `PATCH ${location}`).toBe(200);
    }
  });
});

describe('401 answers carry WWW-Authenticate: Bearer', () => {
  const signedIn = Object.entries(routes).filter(([, r]) => r.audience !== 'anyone');

  it.each(signedIn)('%s without credentials: a bare Bearer challenge', async (_id, r) => {
    const res = await call(r.method.toUpperCase(), concrete(r.path));
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Bearer realm="parley"');
  });

  it('a refused or expired token: error="invalid_token" (RFC 6750)', async () => {
    const forged = await call('GET', routes.getMe.path, { token: 'not-a-token' });
    expect(forged.status).toBe(401);
    expect(forged.headers.get('www-authenticate')).toMatch(/^Bearer realm="parley", error="invalid_token"/);
    const now = Math.floor(Date.now() / 1000);
    const expired = signLike(
      srv,
      { sid: decodeToken(alice.accessToken).sid, iat: now - 3600, exp: now - 60 },
      { subject: alice.user.id },
    );
    const late = await call('GET', routes.getMe.path, { token: expired });
    expect(late.body.error.code).toBe('TOKEN_EXPIRED');
    expect(late.headers.get('www-authenticate')).toMatch(/^Bearer realm="parley", error="invalid_token"/);
  });

  it('wrong credentials at login and a spent refresh token: a challenge too', async () => {
    const login = await call('POST', routes.login.path, {
      body: { username: alice.user.username, password: 'wrong-password-1' },
    });
    expect(login.status).toBe(401);
    expect(login.headers.get('www-authenticate')).toBe('Bearer realm="parley"');
    const refresh = await call('POST', routes.refresh.path, { body: { refreshToken: 'x'.repeat(40) } });
    expect(refresh.status).toBe(401);
    expect(refresh.headers.get('www-authenticate')).toMatch(/^Bearer realm="parley"/);
  });
});

describe('a known path with a wrong method answers 405 with Allow', () => {
  const paths = [...new Set(ALL_ROUTES.map((r) => r.path))];

  it.each(paths)('%s', async (p) => {
    const url = concrete(p);
    const declared = ALL_ROUTES.filter((r) => r.path === p).map((r) => r.method.toUpperCase());
    const answers = await Promise.all(METHODS.map(async (m) => [m, await raw(srv.url, m, url)] as const));
    const refused = answers.filter(([, a]) => a.status === 405);
    const allow = new Set(refused[0]?.[1].headers.allow?.split(', '));
    for (const [m, a] of answers) {
      if (declared.includes(m) || (m === 'HEAD' && declared.includes('GET'))) {
        // A method of the route table is routed (whatever it answers without credentials): never 405, and never
        // the 404 of an unknown route.
        expect(a.status, `${m} ${url}`).not.toBe(405);
        if (m !== 'HEAD') expect(a.body.toString(), `${m} ${url}`).not.toMatch(/No route for/);
        expect(allow.has(m), `Allow lists ${m}`).toBe(true);
      } else if (!allow.has(m)) {
        expect(a.status, `${m} ${url}`).toBe(405);
        if (m !== 'HEAD') expect(JSON.parse(a.body.toString()).error.code).toBe('METHOD_NOT_ALLOWED');
        expect(a.headers['cache-control']).toBe('no-store');
      }
    }
    // Every refusal lists the same methods; PUT only where the route table declares it.
    expect(refused.length).toBeGreaterThan(0);
    for (const [, a] of refused) expect(a.headers.allow).toBe(refused[0]![1].headers.allow);
    expect(allow.has('PUT')).toBe(declared.includes('PUT'));
  });

  it('an unknown API path is still a 404 whatever the method', async () => {
    for (const m of ['GET', 'POST', 'DELETE']) {
      const res = await raw(srv.url, m, '/api/no-such-thing');
      expect(res.status).toBe(404);
      expect(res.headers.allow).toBeUndefined();
    }
  });

  it('/api/users/me lists its own methods and those of /api/users/:id', async () => {
    const res = await raw(srv.url, 'DELETE', '/api/users/me');
    expect(res.status).toBe(405);
    expect(res.headers.allow).toBe('GET, HEAD, PATCH');
  });
});

describe('caching', () => {
  it('API answers are no-store: success, errors, 404s', async () => {
    const answers = [
      await call('GET', routes.getMe.path, { token: alice.accessToken }),
      await call('GET', routes.health.path),
      await call('GET', routes.getMe.path),
      await call('GET', '/api/no-such-thing'),
      await call('POST', routes.login.path, { raw: '{' }),
    ];
    for (const a of answers) expect(a.headers.get('cache-control'), String(a.status)).toBe('no-store');
  });

  it('an image keeps its own caching', async () => {
    const up = await uploadFile(srv.url, alice.accessToken, await png());
    const img = await fetch(srv.url + up.body.url);
    expect(img.status).toBe(200);
    expect(img.headers.get('cache-control')).toMatch(/^private, max-age=\d+, immutable$/);
  });

  it('hashed assets are cached for a year as immutable; index.html is no-cache', async () => {
    const asset = await raw(srv.url, 'GET', `/assets/${web.bundle}`);
    expect(asset.status).toBe(200);
    expect(asset.headers['content-type']).toMatch(/javascript/);
    expect(asset.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    for (const page of ['/', '/index.html', '/rooms/42']) {
      const res = await raw(srv.url, 'GET', page);
      expect(res.status, page).toBe(200);
      expect(res.headers['content-type'], page).toMatch(/^text\/html/);
      expect(res.headers['cache-control'], page).toBe('no-cache');
    }
  });
});

describe('compression', () => {
  const documents = ['/docs/openapi.json', `/assets/index-Bq3xT9a1.js`];

  it.each(documents)('%s: gzip, br, or none, as the client accepts', async (p) => {
    const plain = await raw(srv.url, 'GET', p);
    expect(plain.status).toBe(200);
    expect(plain.headers['content-encoding']).toBeUndefined();

    const gz = await raw(srv.url, 'GET', p, { 'accept-encoding': 'gzip' });
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(gz.headers.vary).toMatch(/accept-encoding/i);
    expect(gunzipSync(gz.body).equals(plain.body)).toBe(true);
    expect(gz.body.length).toBeLessThan(plain.body.length / 2);

    const br = await raw(srv.url, 'GET', p, { 'accept-encoding': 'gzip, deflate, br' });
    expect(br.headers['content-encoding']).toBe('br');
    expect(brotliDecompressSync(br.body).equals(plain.body)).toBe(true);
  });

  it('API answers are compressed too; images are not', async () => {
    for (let i = 0; i < 2; i++)
      await call('POST', routes.createRoom.path, {
        token: alice.accessToken,
        body: { name: uniqueName('big'), description: 'a long description. '.repeat(20) },
      });
    const list = await raw(srv.url, 'GET', routes.listRooms.path, {
      authorization: `Bearer ${alice.accessToken}`,
      'accept-encoding': 'gzip',
    });
    expect(list.status).toBe(200);
    expect(list.headers['content-encoding']).toBe('gzip');
    expect(JSON.parse(gunzipSync(list.body).toString()).rooms.length).toBeGreaterThanOrEqual(2);
    const up = await uploadFile(srv.url, alice.accessToken, await png(400, 300));
    const img = await raw(srv.url, 'GET', up.body.url, { 'accept-encoding': 'gzip, br' });
    expect(img.status).toBe(200);
    expect(img.headers['content-encoding']).toBeUndefined();
  });

  it('Socket.IO long-polling still works for a client that accepts compression', async () => {
    const socket = io(srv.url, {
      auth: { token: alice.accessToken },
      transports: ['polling'],
      reconnection: false,
      forceNew: true,
      extraHeaders: { 'accept-encoding': 'gzip, deflate, br' },
    });
    try {
      const ack = await new Promise<any>((resolve, reject) => {
        socket.once('connect_error', reject);
        socket.once('connect', () => socket.emit('presence:list', {}, resolve));
      });
      expect(ack.ok).toBe(true);
      expect(socket.io.engine.transport.name).toBe('polling');
    } finally {
      socket.disconnect();
    }
  });
});

describe('keep-alive', () => {
  it('an idle connection is kept for 65 s (longer than clients keep theirs), and close() still ends it', async () => {
    const own = await startTestServer();
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    let open = true;
    try {
      const url = new URL(own.url);
      const get = () =>
        new Promise<{ headers: http.IncomingHttpHeaders; socket: Socket }>((resolve, reject) => {
          const req = http.get(
            { host: url.hostname, port: url.port, path: routes.health.path, agent },
            (res) => {
              res.resume();
              res.on('end', () => resolve({ headers: res.headers, socket: req.socket! }));
            },
          );
          req.on('error', reject);
        });
      const first = await get();
      // What the server announces is what it does: Node derives the header from server.keepAliveTimeout.
      expect(first.headers.connection).toBe('keep-alive');
      expect(first.headers['keep-alive']).toBe('timeout=65');
      const second = await get();
      expect(second.socket).toBe(first.socket); // the idle connection was reused
      const closed = new Promise<void>((resolve) => first.socket.once('close', () => resolve()));
      // An idle kept connection does not hold the server open for 65 s.
      open = false;
      await own.close();
      await closed;
    } finally {
      agent.destroy();
      if (open) await own.close();
    }
  });
});

describe('files the web client ships', () => {
  it('robots.txt is text, from web/public', async () => {
    const res = await raw(srv.url, 'GET', '/robots.txt');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    expect(res.body.toString()).toBe(readFileSync(path.join(repo, 'web/public/robots.txt'), 'utf8'));
    expect(res.body.toString()).toMatch(/^User-agent: \*$/m);
  });

  it('favicon.ico is an icon, from web/public', async () => {
    const res = await raw(srv.url, 'GET', '/favicon.ico');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^image\/(x-icon|vnd\.microsoft\.icon)$/);
    expect(res.body.equals(readFileSync(path.join(repo, 'web/public/favicon.ico')))).toBe(true);
    // An ICO header: reserved 0, type 1, at least one image.
    expect([res.body.readUInt16LE(0), res.body.readUInt16LE(2)]).toEqual([0, 1]);
    expect(res.body.readUInt16LE(4)).toBeGreaterThan(0);
  });

  it('a missing file is a 404, not the web client', async () => {
    for (const p of [
      '/missing.js',
      '/assets/index-Zz9.js',
      '/favicon.png',
      '/sitemap.xml',
      '/rooms/1/x.css',
    ]) {
      const res = await raw(srv.url, 'GET', p);
      expect(res.status, p).toBe(404);
      expect(res.body.toString(), p).not.toMatch(/<!doctype html>/i);
    }
    // Client-side routes (no extension) still get the page.
    expect((await raw(srv.url, 'GET', '/rooms/7')).status).toBe(200);
  });

  it('index.html has a meta description', () => {
    const html = readFileSync(path.join(repo, 'web/index.html'), 'utf8');
    expect(html).toMatch(/<meta\s+name="description"\s+content="[^"]{30,}"/);
  });
});
