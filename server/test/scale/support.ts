import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type {
  Ack,
  ClientAckData,
  ClientEventName,
  ClientPayload,
  ClientToServerEvents,
  HandshakeAuth,
  Message,
  ServerEventName,
  ServerPayload,
  ServerToClientEvents,
  Session,
} from '@parley/protocol';
import { io, type Socket } from 'socket.io-client';
import { ChildServers, type ParleyProcess } from '../../src/test-support/process.js';
import {
  freshPostgresDatabase,
  GENEROUS_LIMIT_ENV,
  startTestServer,
  type TestServer,
} from '../../src/test-support/server.js';

/*
 * Several Parley nodes of one deployment for the scale-out suites: one fresh PostgreSQL database and one Redis key
 * prefix per cluster, shared by in-process nodes (startTestServer) and child-process nodes (the real entry point,
 * for SIGKILL). Sockets are plain socket.io-client connections that record every event (`Peer`), so they work the
 * same against either kind of node. Nothing here sleeps to synchronise: every wait is on an event or a bounded poll.
 */

export const PG_URL = process.env.TEST_DATABASE_URL;
export const REDIS_URL = process.env.TEST_REDIS_URL;

if (!PG_URL || !REDIS_URL) {
  throw new Error(
    'the scale-out suites need TEST_DATABASE_URL and TEST_REDIS_URL (run them with npm run test:redis)',
  );
}

/** Polls `condition` every 20 ms until it holds; fails after `timeoutMs` naming `what`. */
export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await condition()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A port nobody listens on right now (the kernel's choice). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

/** PING over a raw connection: true when Redis on `port` answers PONG within a second. */
function redisAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(1_000, () => done(false));
    s.once('error', () => done(false));
    s.once('connect', () => s.write('PING\r\n'));
    s.once('data', (d) => done(d.toString().startsWith('+PONG')));
  });
}

/** A redis-server of the test's own, on a free port, that the test may kill and restart (by its pid). */
export class RedisProcess {
  private proc: ChildProcess | null = null;
  private constructor(readonly port: number) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  static async start(): Promise<RedisProcess> {
    let lastErr: unknown;
    for (let attempt = 0; attempt < 5; attempt++) {
      const r = new RedisProcess(await freePort());
      try {
        await r.start();
        return r;
      } catch (err) {
        lastErr = err;
      }
    }
    throw lastErr;
  }

  /** Starts (again) on the same port; resolves once it answers PING. */
  async start(): Promise<void> {
    const proc = spawn(
      process.env.REDIS_SERVER ?? 'redis-server',
      ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      { stdio: 'ignore' },
    );
    this.proc = proc;
    let exited = false;
    proc.once('exit', () => (exited = true));
    await waitFor(async () => {
      if (exited) throw new Error(`redis-server on port ${this.port} exited at start`);
      return redisAnswers(this.port);
    }, `redis-server on port ${this.port}`);
  }

  /** Ends it by its pid (SIGKILL: no goodbye to its clients) and waits until it is gone. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const proc = this.proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const gone = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill(signal);
    await gone;
    this.proc = null;
  }
}

/** Settings every node of a test cluster shares. */
export interface ClusterSpec {
  databaseUrl: string;
  redisUrl: string;
  jwtSecret: string;
  prefix: string;
  /** PRESENCE_NODE_TTL, e.g. "3s"; unset: the production default. */
  nodeTtl?: string;
}

/**
 * One deployment: a fresh database, a Redis key prefix of its own (so clusters of concurrent test files never see
 * each other), one JWT secret. Nodes are added with `inProcess()` and `child()`; `close()` ends them all.
 */
export class Cluster {
  readonly spec: ClusterSpec;
  private servers: TestServer[] = [];
  private children = new ChildServers();
  private dirs: string[] = [];
  private dropDb: () => Promise<void>;

  private constructor(spec: ClusterSpec, dropDb: () => Promise<void>) {
    this.spec = spec;
    this.dropDb = dropDb;
  }

  /** `pgAdminUrl`: a PostgreSQL server other than the shared one (e.g. a PrivatePostgres the test will stop). */
  static async create(
    opts: { redisUrl?: string; nodeTtl?: string; pgAdminUrl?: string } = {},
  ): Promise<Cluster> {
    const db = await freshPostgresDatabase(opts.pgAdminUrl ?? PG_URL!);
    return new Cluster(
      {
        databaseUrl: db.url,
        redisUrl: opts.redisUrl ?? REDIS_URL!,
        jwtSecret: randomBytes(32).toString('hex'),
        prefix: `t${randomBytes(5).toString('hex')}`,
        nodeTtl: opts.nodeTtl,
      },
      db.drop,
    );
  }

  /** A node in this process. The scale settings are read from the environment when the node starts. */
  async inProcess(overrides: Parameters<typeof startTestServer>[0] = {}): Promise<TestServer> {
    process.env.REDIS_KEY_PREFIX = this.spec.prefix;
    if (this.spec.nodeTtl) process.env.PRESENCE_NODE_TTL = this.spec.nodeTtl;
    else delete process.env.PRESENCE_NODE_TTL;
    const server = await startTestServer({
      databaseUrl: this.spec.databaseUrl,
      redisUrl: this.spec.redisUrl,
      jwtSecret: this.spec.jwtSecret,
      ...overrides,
    });
    this.servers.push(server);
    return server;
  }

  /** A node in a child process (the real entry point), which a test may SIGKILL. */
  async child(env: Record<string, string> = {}): Promise<ParleyProcess> {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'parley-node-'));
    this.dirs.push(dataDir);
    return this.children.start({
      DATA_DIR: dataDir,
      DATABASE_URL: this.spec.databaseUrl,
      REDIS_URL: this.spec.redisUrl,
      JWT_SECRET: this.spec.jwtSecret,
      REDIS_KEY_PREFIX: this.spec.prefix,
      // Empty: the default (and not whatever this process's environment holds from an earlier cluster).
      PRESENCE_NODE_TTL: this.spec.nodeTtl ?? '',
      NODE_ENV: 'test',
      RATE_LIMIT_AUTH_PER_MIN: '100000',
      MESSAGE_RATE_PER_SEC: '10000',
      MESSAGE_BURST: '10000',
      ...GENEROUS_LIMIT_ENV,
      PASSWORD_HASH_MEMORY_KIB: '8192',
      ...env,
    });
  }

  async close(): Promise<void> {
    closePeers();
    for (const s of this.servers.splice(0)) await s.close().catch(() => {});
    await this.children.cleanup();
    await this.dropDb().catch(() => {});
    for (const d of this.dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  }
}

type ClientSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

interface Recorded {
  name: string;
  payload: any;
  taken: boolean;
}

const peers = new Set<Peer>();

/** Disconnects every Peer (call in afterAll / afterEach). */
export function closePeers(): void {
  for (const p of peers) p.close();
  peers.clear();
}

/**
 * One client connection to one node, with a log of everything it received (from creation on), so a test may ask
 * for an event before or after it arrives. Disconnects are logged as `$disconnect` with the reason.
 */
export class Peer {
  readonly socket: ClientSocket;
  private events: Recorded[] = [];
  private listeners = new Set<() => void>();

  private constructor(
    readonly url: string,
    readonly session: Pick<Session, 'accessToken' | 'user'>,
    auth: Omit<HandshakeAuth, 'token'>,
  ) {
    this.socket = io(url, {
      auth: { ...auth, token: session.accessToken } satisfies HandshakeAuth,
      transports: ['websocket'],
      reconnection: false,
      forceNew: true,
      autoConnect: false,
    });
    this.socket.onAny((name: string, payload: unknown) => this.record(name, payload));
    this.socket.on('disconnect', (reason) => this.record('$disconnect', reason));
    peers.add(this);
  }

  private record(name: string, payload: unknown): void {
    this.events.push({ name, payload, taken: false });
    for (const l of [...this.listeners]) l();
  }

  /**
   * Connects and resolves once the server finished setting the socket up (subscribed to its rooms, counted in
   * presence): `presence:list` is answered only after that.
   */
  static async connect(
    url: string,
    session: Pick<Session, 'accessToken' | 'user'>,
    auth: Omit<HandshakeAuth, 'token'> = {},
  ): Promise<Peer> {
    const peer = new Peer(url, session, auth);
    await peer.reconnect();
    return peer;
  }

  /** (Re)opens the connection, as the web client does after `io server disconnect`, and waits for set-up. */
  async reconnect(timeoutMs = 10_000): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`connect to ${this.url} timed out`)), timeoutMs);
      this.socket.once('connect', () => {
        clearTimeout(timer);
        resolve();
      });
      this.socket.once('connect_error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      this.socket.connect();
    });
    const res = await this.ack('presence:list', {}, timeoutMs);
    if (!res.ok) throw new Error(`presence:list failed: ${JSON.stringify(res)}`);
  }

  get connected(): boolean {
    return this.socket.connected;
  }

  /** The first event `name` matching `pred` that no earlier `next` took, already received or within `timeoutMs`. */
  next<E extends ServerEventName | '$disconnect'>(
    name: E,
    pred: (p: E extends ServerEventName ? ServerPayload<E> : string) => boolean = () => true,
    timeoutMs = 10_000,
  ): Promise<E extends ServerEventName ? ServerPayload<E> : string> {
    const find = () => this.events.find((e) => !e.taken && e.name === name && pred(e.payload));
    return new Promise((resolve, reject) => {
      const check = () => {
        const e = find();
        if (!e) return;
        e.taken = true;
        this.listeners.delete(check);
        clearTimeout(timer);
        resolve(e.payload);
      };
      const timer = setTimeout(() => {
        this.listeners.delete(check);
        const seen = this.events.map((e) => e.name).join(', ') || 'nothing';
        reject(
          new Error(`timed out after ${timeoutMs} ms waiting for "${name}" on ${this.url}; got: ${seen}`),
        );
      }, timeoutMs);
      this.listeners.add(check);
      check();
    });
  }

  /** Every `name` event (matching `pred`) received so far. */
  received<E extends ServerEventName>(
    name: E,
    pred: (p: ServerPayload<E>) => boolean = () => true,
  ): ServerPayload<E>[] {
    return this.events.filter((e) => e.name === name && pred(e.payload)).map((e) => e.payload);
  }

  /** The `name` events (matching `pred`) that arrived before the marker event (which it waits for). */
  async receivedBefore<E extends ServerEventName, M extends ServerEventName>(
    name: E,
    pred: (p: ServerPayload<E>) => boolean,
    marker: M,
    markerPred: (p: ServerPayload<M>) => boolean,
    timeoutMs = 10_000,
  ): Promise<ServerPayload<E>[]> {
    const m = await this.next(marker, markerPred as any, timeoutMs);
    const at = this.events.findIndex((e) => e.payload === m);
    return this.events
      .slice(0, at)
      .filter((e) => e.name === name && pred(e.payload))
      .map((e) => e.payload);
  }

  /** The messages received so far (matching `pred`), in arrival order, single or inside a `messages:new`. */
  messages(pred: (m: Message) => boolean = () => true): Message[] {
    return this.events
      .flatMap((e): Message[] =>
        e.name === 'message:new' ? [e.payload] : e.name === 'messages:new' ? e.payload.messages : [],
      )
      .filter(pred);
  }

  /** Emits a client event and resolves with its acknowledgement. */
  ack<E extends ClientEventName>(
    name: E,
    payload: ClientPayload<E>,
    timeoutMs = 10_000,
  ): Promise<Ack<ClientAckData[E]>> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ack for "${name}" in ${timeoutMs} ms`)), timeoutMs);
      const emit = this.socket.emit.bind(this.socket) as (
        ev: string,
        p: unknown,
        cb: (r: any) => void,
      ) => void;
      emit(name, payload, (res) => {
        clearTimeout(timer);
        resolve(res);
      });
    });
  }

  /** `ack`, failing unless it answered ok; returns its data. */
  async ok<E extends ClientEventName>(
    name: E,
    payload: ClientPayload<E>,
    timeoutMs = 10_000,
  ): Promise<ClientAckData[E]> {
    const res = await this.ack(name, payload, timeoutMs);
    if (!res.ok) throw new Error(`${name} failed: ${JSON.stringify(res)}`);
    return res.data;
  }

  /**
   * Waits until some `name` event received so far matches `pred` (without taking it, unlike `next`): for batched
   * events such as `presence:changed`, where one event may answer several waits.
   */
  async seen<E extends ServerEventName>(
    name: E,
    pred: (p: ServerPayload<E>) => boolean,
    timeoutMs = 10_000,
  ): Promise<void> {
    await waitFor(() => this.received(name, pred).length > 0, `"${name}" on ${this.url}`, timeoutMs);
  }

  /** presence:subscribe: from now on this socket hears `presence:changed` for these users (only); acks who is online. */
  async watch(userIds: string[]): Promise<string[]> {
    return (await this.ok('presence:subscribe', { userIds })).online;
  }

  close(): void {
    this.socket.disconnect();
    peers.delete(this);
  }
}

type Changed = ServerPayload<'presence:changed'>;
/** `presence:changed` naming the user as come online. */
export const cameOnline = (userId: string) => (p: Changed) => p.online.some((u) => u.id === userId);
/** `presence:changed` naming the user as gone offline. */
export const wentOffline = (userId: string) => (p: Changed) => p.offline.some((o) => o.userId === userId);
