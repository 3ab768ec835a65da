// `node bench/tools/sticky-check.mjs [sticky|round-robin] [connects=2000]`: can @socket.io/sticky's setupMaster
// carry Parley's cluster traffic? A bare Socket.IO server in 2 workers behind
//   sticky:      the primary's http server with setupMaster(httpServer, { loadBalancingMethod: 'least-connection' }),
//                workers with setupWorker (all transports);
//   round-robin: Node's cluster round-robin (workers listen on the shared port), WebSocket transport only.
// Each arrival is broadcast to every socket through @socket.io/cluster-adapter (as Parley's presence:online without
// Redis). Measured (127.0.0.1, bounded): `connects` WebSocket clients (50 handshakes in flight) each emitting one event the
// moment they connect (and 300 more, each right after a request with a body, as Parley's client signs in first): a
// connect that never completes is a lost first frame (the CONNECT packet a client sends right
// after the 101); an event with no ack is a lost later frame. Then (sticky) 100 long-polling clients exchanging 5
// acked events each (their requests must all reach the worker holding their session), the request objects the
// workers keep afterwards, and 30 clients that hang up halfway through a request (the primary must survive).
import cluster from 'node:cluster';
import http from 'node:http';
import net from 'node:net';
import { Server } from 'socket.io';
import { setupMaster, setupWorker } from '@socket.io/sticky';
import { createAdapter, setupPrimary as setupAdapterPrimary } from '@socket.io/cluster-adapter';
import { io as ioClient } from 'socket.io-client';

const MODE = process.argv[2] ?? 'sticky';
const CONNECTS = Number(process.argv[3] ?? 2000);
const WORKERS = 2;

if (cluster.isPrimary) {
  const port = await new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => resolve(p));
    });
  });
  let primaryServer;
  if (MODE.startsWith('sticky')) {
    primaryServer = http.createServer();
    setupMaster(primaryServer, { loadBalancingMethod: 'least-connection' });
  }
  // As Parley without Redis: the workers' broadcasts travel through the primary.
  setupAdapterPrimary();
  cluster.setupPrimary({ serialization: 'advanced' });
  const workers = [];
  for (let i = 0; i < WORKERS; i++) {
    const w = cluster.fork({ MODE, PORT: String(port) });
    workers.push(w);
    await new Promise((resolve) => w.on('message', (m) => m?.type === 'ready' && resolve()));
  }
  if (primaryServer) await new Promise((resolve) => primaryServer.listen(port, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${port}`;
  let primaryCrashed = null;
  process.on('uncaughtException', (err) => {
    primaryCrashed = err.stack;
    console.error('PRIMARY uncaughtException', err);
  });

  const connectOnce = (transports) =>
    new Promise((resolve) => {
      const s = ioClient(url, {
        transports,
        upgrade: false,
        forceNew: true,
        reconnection: false,
        timeout: 10_000,
      });
      const timer = setTimeout(() => done('no-connect'), 10_000);
      const done = (outcome) => {
        clearTimeout(timer);
        s.disconnect();
        resolve(outcome);
      };
      s.once('connect', () => {
        s.timeout(5_000).emit('hello', 1, (err) => done(err ? 'no-ack' : 'ok'));
      });
      s.once('connect_error', () => done('connect-error'));
    });

  const tally = {};
  const t0 = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: 50 }, async () => {
      while (next < CONNECTS) {
        next++;
        const o = await connectOnce(['websocket']);
        tally[o] = (tally[o] ?? 0) + 1;
      }
    }),
  );
  const result = {
    mode: MODE,
    websocket: { connects: CONNECTS, ...tally, seconds: +((performance.now() - t0) / 1000).toFixed(1) },
  };
  // Parley's pattern: a request with a body (sign-in), then the socket. One at a time, 300 rounds.
  const afterBody = {};
  for (let i = 0; i < 300; i++) {
    await fetch(`${url}/socket.io/?EIO=4&transport=polling&sid=none${i}`, {
      method: 'POST',
      body: 'x'.repeat(64),
    })
      .then((r) => r.arrayBuffer())
      .catch(() => null);
    const o = await connectOnce(['websocket']);
    afterBody[o] = (afterBody[o] ?? 0) + 1;
  }
  result.websocketAfterBody = afterBody;

  if (MODE.startsWith('sticky')) {
    // Long polling: each client's requests must reach the worker that holds its session.
    const polled = {};
    await Promise.all(
      Array.from(
        { length: 100 },
        () =>
          new Promise((resolve) => {
            const s = ioClient(url, { transports: ['polling'], forceNew: true, reconnection: false });
            const pids = new Set();
            let left = 5;
            const end = (o) => {
              polled[o] = (polled[o] ?? 0) + 1;
              s.disconnect();
              resolve();
            };
            const timer = setTimeout(() => end('timeout'), 20_000);
            s.once('connect', async () => {
              try {
                while (left--) pids.add(await s.timeout(5_000).emitWithAck('hello', 1));
                clearTimeout(timer);
                end(pids.size === 1 ? 'ok' : 'split');
              } catch {
                clearTimeout(timer);
                end('no-ack');
              }
            });
            s.once('connect_error', () => end('connect-error'));
          }),
      ),
    );
    result.polling = polled;
    // Early hang-ups: part of a request line, part of a body, a whole request then gone.
    for (let i = 0; i < 30; i++) {
      await new Promise((resolve) => {
        const c = net.connect(port, '127.0.0.1', () => {
          c.write(
            [
              'GET /socket.io/?EIO=4&transport=pol',
              'POST /socket.io/?EIO=4&transport=polling&sid=AAAAAAAAAAAAAAAAAAAA HTTP/1.1\r\nHost: x\r\nContent-Length: 40\r\n\r\n4',
              'GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n\r\n',
            ][i % 3],
          );
          c.destroy();
          resolve();
        });
        c.on('error', resolve);
      });
    }
    // Let the hang-ups and closes settle, then ask the workers what they still hold.
    await new Promise((r) => setTimeout(r, 2000));
    const held = await Promise.all(
      workers.map(
        (w) =>
          new Promise((resolve) => {
            w.once('message', (m) => resolve(m));
            w.send({ type: 'stats' });
          }),
      ),
    );
    result.workers = held.map((m) => m.stats);
    result.afterHangUps = await connectOnce(['websocket']);
  }
  result.primaryCrashed = primaryCrashed;
  console.log(JSON.stringify(result));
  for (const w of workers) w.kill();
  process.exit(0);
} else {
  const server = http.createServer();
  const io = new Server(server, MODE.startsWith('sticky') ? {} : { transports: ['websocket'] });
  io.adapter(createAdapter());
  // As Parley: each arrival is announced to everyone (presence), through the adapter.
  io.on('connection', (socket) => {
    io.emit('arrived', socket.id);
    socket.on('hello', (_x, ack) => ack?.(process.pid));
  });
  // Request-carrying connections the worker was given, and how many of them it closed again.
  const stats = { injected: 0, injectedOpen: 0, engineClients: 0 };
  server.on('connection', (conn) => {
    stats.injected++;
    stats.injectedOpen++;
    conn.once('close', () => stats.injectedOpen--);
  });
  process.on('message', (m) => {
    if (m?.type !== 'stats') return;
    stats.engineClients = io.engine.clientsCount;
    process.send({ type: 'stats', stats });
  });
  if (MODE.startsWith('sticky')) {
    setupWorker(io);
    // sticky-fixed: what server/src/cluster.ts adds, ending each relayed request's stand-in socket once answered.
    if (MODE === 'sticky-fixed')
      server.on('connection', (conn) => {
        if (!(conn instanceof net.Socket)) conn.once('finish', () => conn.destroy());
      });
    process.send({ type: 'ready' });
  } else {
    server.listen(Number(process.env.PORT), '127.0.0.1', () => process.send({ type: 'ready' }));
  }
}
