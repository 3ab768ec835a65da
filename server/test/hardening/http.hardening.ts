import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http, { type IncomingMessage } from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { findLinks } from '../../../web/src/lib/links.js';
import { clientAddress, type TrustFn } from '../../src/http/client-address.js';
import { client, startTestServer, type TestServer } from '../../src/test-support/server.js';

/*
 * Issue 13, HTTP (docs/SECURITY.md H1–H4): the metrics path in every spelling, whom X-Forwarded-For is believed
 * from in the shipped deployment, where the web client's page may connect, and message links that cannot stall the
 * page.
 */

const repo = path.resolve(import.meta.dirname, '../../..');

/** A raw request: the path goes out exactly as written (fetch would normalise some of these). */
function get(
  base: string,
  p: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; type: string; body: string }> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: url.hostname, port: url.port, path: p, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () =>
        resolve({ status: res.statusCode!, type: String(res.headers['content-type'] ?? ''), body }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

const NGINX = ['/usr/sbin/nginx', '/usr/bin/nginx'].find((p) => existsSync(p));

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * deploy/nginx.conf for real, in front of one test node: only what cannot work here is changed (the upstream
 * servers, the listening address, the pid and log files). `edit` may change the config further.
 */
async function startNginx(
  upstream: string,
  edit: (conf: string) => string = (c) => c,
): Promise<{ url: string; stop: () => Promise<void> }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'parley-nginx-'));
  const port = await freePort();
  let conf = readFileSync(path.join(repo, 'deploy/nginx.conf'), 'utf8');
  conf = conf
    .replace(/(\s*server parley\d:3000[^;]*;)+/, `\n    server ${new URL(upstream).host};`)
    .replace('listen 80;', `listen 127.0.0.1:${port};`)
    .replace(/^pid .*;$/m, `pid ${dir}/nginx.pid;`)
    .replace(/^worker_processes .*;$/m, 'worker_processes 1;')
    .replace(/^error_log .*;$/m, `error_log ${dir}/error.log warn;`)
    .replace(
      /access_log \S+;/,
      `access_log off;\n  client_body_temp_path ${dir}/body;\n  proxy_temp_path ${dir}/proxy;`,
    );
  expect(conf).toContain(`server ${new URL(upstream).host};`);
  writeFileSync(path.join(dir, 'nginx.conf'), edit(conf));
  const proc = spawn(NGINX!, ['-p', dir, '-c', path.join(dir, 'nginx.conf'), '-g', 'daemon off;'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  proc.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`nginx exited: ${stderr}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => (s.destroy(), resolve(true)));
      s.on('error', () => resolve(false));
    });
    if (ok) break;
    if (Date.now() > deadline) throw new Error(`nginx did not listen: ${stderr}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url,
    stop: async () => {
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGQUIT');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

describe('H1 /metrics in any spelling', () => {
  let srv: TestServer;
  beforeAll(async () => {
    srv = await startTestServer();
  });
  afterAll(() => srv?.close());

  const VARIANTS = [
    '/METRICS',
    '/Metrics',
    '/metrics/',
    '/METRICS/',
    '/metrics//',
    '//metrics',
    '/%6detrics',
    '/%6Detrics',
    '/metric%73',
    '/./metrics',
    '/metrics/.',
    '/metrics/anything',
  ];

  it('H1 only exactly /metrics serves metrics, to a direct scrape; every other spelling, and a proxied request, is a 404', async () => {
    // The control: the exact path, from loopback, directly.
    const exact = await get(srv.url, '/metrics');
    expect(exact.status).toBe(200);
    expect(exact.body).toContain('process_cpu_seconds_total');

    const leaked: string[] = [];
    for (const p of VARIANTS) {
      const res = await get(srv.url, p);
      if (res.body.includes('process_cpu_seconds_total')) leaked.push(p);
      expect(res.status, p).toBe(404);
    }
    // Through a proxy the TCP peer is the proxy (which METRICS_ALLOW may cover): refused whatever the path.
    for (const headers of [
      { 'x-forwarded-for': '203.0.113.7' } as Record<string, string>,
      { forwarded: 'for=203.0.113.7' },
      { 'x-real-ip': '203.0.113.7' },
    ]) {
      const res = await get(srv.url, '/metrics', headers);
      if (res.body.includes('process_cpu_seconds_total')) leaked.push(`/metrics ${JSON.stringify(headers)}`);
      expect(res.status).toBe(404);
    }
    console.warn(
      `H1 figures: ${VARIANTS.length} spellings + 3 proxied requests, ${leaked.length} served metrics`,
    );
    expect(leaked).toEqual([]);
  });

  /** What a scrape through nginx gets for each spelling: [path, status, served metrics?]. */
  const throughNginx = async (edit?: (conf: string) => string) => {
    const proxy = await startNginx(srv.url, edit);
    try {
      // The control: nginx passes the API on.
      expect((await get(proxy.url, '/api/health')).status).toBe(200);
      const out: [string, number, boolean][] = [];
      for (const p of ['/metrics', ...VARIANTS]) {
        const res = await get(proxy.url, p);
        out.push([p, res.status, res.body.includes('process_cpu_seconds_total')]);
      }
      return out;
    } finally {
      await proxy.stop();
    }
  };

  it.skipIf(!NGINX)(
    'H1 through the shipped deploy/nginx.conf: every spelling is a 404 (nginx installed)',
    async () => {
      const out = await throughNginx();
      console.warn(
        `H1 figures (nginx): ${out.filter(([, , m]) => m).length} of ${out.length} spellings served metrics`,
      );
      expect(out.filter(([, status, leaked]) => status !== 404 || leaked)).toEqual([]);
    },
  );

  it.skipIf(!NGINX)(
    "H1 the node refuses what comes through nginx even without nginx's /metrics block",
    async () => {
      // Second wall: the node sees nginx's X-Forwarded-For, whatever nginx's own rules say.
      const out = await throughNginx((c) => c.replace(/location ~\* \^\/metrics \{[^}]*\}/, ''));
      expect(out.filter(([, , leaked]) => leaked)).toEqual([]);
    },
  );
});

describe('H2 X-Forwarded-For is believed from the proxy only', () => {
  /** TRUST_PROXY of the nodes and nginx's fixed address, as docker-compose.yml ships them. */
  const shipped = () => {
    const compose = parse(readFileSync(path.join(repo, 'docker-compose.yml'), 'utf8'));
    return {
      trustProxy: String(compose['x-parley'].environment.TRUST_PROXY),
      nginxAddress: String(compose.services.nginx.networks?.parley?.ipv4_address ?? 'none'),
    };
  };

  /** Express's compiled `trust proxy` for a setting, as createApp makes it. */
  const trustOf = (setting: string): TrustFn => {
    const app = express();
    app.set('trust proxy', setting);
    return app.get('trust proxy fn') as TrustFn;
  };
  /** The address the server would count for a request from `peer` carrying `forwarded`. */
  const seen = (trust: TrustFn, peer: string, forwarded: string) =>
    clientAddress(
      {
        socket: { remoteAddress: peer },
        headers: { 'x-forwarded-for': forwarded },
      } as unknown as IncomingMessage,
      trust,
    );

  it("H2 the compose file trusts only nginx's fixed address; any other container or private client cannot choose its address", () => {
    const { trustProxy, nginxAddress } = shipped();
    const trust = trustOf(trustProxy);
    // Other peers (containers on the compose network, private clients, loopback) are counted as themselves.
    const others = [
      '172.28.1.5',
      '172.28.0.2',
      '10.1.2.3',
      '192.168.1.20',
      '172.17.0.1',
      'fd00::5',
      '127.0.0.1',
    ];
    const believed = others.filter((peer) => seen(trust, peer, '203.0.113.9') !== peer);
    console.warn(
      `H2 figures: TRUST_PROXY=${trustProxy}; ${believed.length} of ${others.length} other peers could forge their address`,
    );
    expect(believed).toEqual([]);
    // nginx itself is the one trusted hop: the real client's address as nginx appends it is believed...
    expect(trustProxy).toBe(nginxAddress);
    expect(seen(trust, nginxAddress, '198.51.100.4')).toBe('198.51.100.4');
    // ...and a value the client forged before it is not.
    expect(seen(trust, nginxAddress, '203.0.113.9, 198.51.100.4')).toBe('198.51.100.4');
  });

  it('H2 a live server with that setting: a request from another address keeps its req.ip whatever X-Forwarded-For says', async () => {
    // req.ip is what the per-address auth limit counts: 2 per minute here, so a third request is refused
    // unless a forged header made each request a new address.
    const burst = async (setting: string) => {
      const srv = await startTestServer({ trustProxy: setting, rateLimitAuthPerMin: 2 });
      try {
        const call = client(srv.url);
        const statuses: number[] = [];
        for (let i = 1; i <= 3; i++) {
          const res = await call('POST', '/api/auth/login', {
            body: { username: 'nobody', password: 'whatever-1' },
            headers: { 'x-forwarded-for': `203.0.113.${i}` },
          });
          statuses.push(res.status);
        }
        return statuses;
      } finally {
        await srv.close();
      }
    };
    expect(await burst(shipped().trustProxy)).toEqual([401, 401, 429]);
    // The control: were the peer (loopback) the trusted proxy, each forwarded address would count on its own.
    expect(await burst('loopback')).toEqual([401, 401, 401]);
  });
});

describe('H3 the web client may connect to its own origin only', () => {
  let srv: TestServer;
  beforeAll(async () => {
    srv = await startTestServer();
  });
  afterAll(() => srv?.close());

  it("H3 connect-src is 'self' alone: no scheme-only source (ws:, wss:, https:) an injected script could send data through", async () => {
    const res = await fetch(`${srv.url}/`);
    const csp = res.headers.get('content-security-policy') ?? '';
    const directive = csp
      .split(';')
      .map((d) => d.trim().split(/\s+/))
      .find(([name]) => name === 'connect-src');
    expect(directive, csp).toBeDefined();
    const sources = directive!.slice(1);
    const open = sources.filter((s) => /^[a-z][a-z0-9+.-]*:$/i.test(s) || s.includes('*'));
    console.warn(
      `H3 figures: connect-src ${sources.join(' ')}; ${open.length} scheme-only or wildcard sources`,
    );
    expect(open).toEqual([]);
    expect(sources).toEqual(["'self'"]);
  });
});

describe('H4 message links in linear time', () => {
  /** The fastest of a few runs (the machine is shared: the minimum is the least disturbed). */
  const fastest = (f: () => unknown, runs = 3) => {
    let best = Infinity;
    for (let i = 0; i < runs; i++) {
      const t = performance.now();
      f();
      best = Math.min(best, performance.now() - t);
    }
    return best;
  };

  it('H4 a 50,000-character run of punctuation after a URL costs what ordinary text of that length costs', () => {
    const run = '.,;:!?)]}'.repeat(5556).slice(0, 50_000);
    const adversarial = `https://example.com/${run}x`;
    const ordinary = `${'see https://example.com/page. '.repeat(1700)}`.slice(0, adversarial.length);
    expect(findLinks(adversarial).map((l) => l.text)).toEqual([adversarial]);
    const bad = fastest(() => findLinks(adversarial));
    const normal = fastest(() => findLinks(ordinary));
    // The structure is what is checked: a quadratic scan is ~1,000× ordinary text here (2 s against 2 ms), a
    // linear one within a small factor. 20× leaves room for a noisy machine without letting a quadratic one by.
    console.warn(`H4 figures: adversarial ${bad.toFixed(1)} ms, ordinary ${normal.toFixed(1)} ms`);
    expect(bad).toBeLessThan(Math.max(normal, 1) * 20);
  });
});
