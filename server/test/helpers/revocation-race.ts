import type { Ack } from '@parley/protocol';
import type { Server } from 'socket.io';
import { io } from 'socket.io-client';
import type { IoSocket } from '../../src/realtime/channels.js';
import type { ClientSocket } from './sockets.js';

/*
 * Racing a revocation against handshakes (issue 12): a gate every handshake of the raced session passes after the
 * server's own session check, and plain clients that record what happens to them. Used by the hardening suite
 * (one node) and the scale-out suite (two nodes).
 */

interface Armed {
  matches: (s: IoSocket) => boolean;
  trigger: number;
  hold: boolean;
  revoke: () => Promise<void>;
  passed: number;
  done: boolean;
  held: (() => void)[];
  finish: (err?: unknown) => void;
}

/**
 * A handshake middleware installed after the servers' own (so after the session check) on every node given. Once
 * armed, the `trigger`-th handshake of the raced session to pass it (counted over all nodes) starts the revocation;
 * with `hold`, that one and every later one are held until the revocation has returned: they passed the check
 * before it and reach `connection` after it, the interleaving that used to leave sockets connected.
 */
export class RaceGate {
  private armed: Armed | null = null;

  constructor(servers: Server<any, any, any, any>[]) {
    for (const ioServer of servers) {
      ioServer.use((socket, next) => {
        const a = this.armed;
        if (!a || !a.matches(socket as IoSocket)) return next();
        if (a.passed++ === a.trigger) {
          a.revoke().then(
            () => {
              a.done = true;
              for (const release of a.held.splice(0)) release();
              a.finish();
            },
            (err: unknown) => a.finish(err),
          );
        }
        if (a.hold && a.passed > a.trigger && !a.done) a.held.push(() => next());
        else next();
      });
    }
  }

  /** Resolves once the revocation has returned (it starts at the `trigger`-th handshake that passes). */
  arm(opts: {
    matches: (s: IoSocket) => boolean;
    trigger: number;
    hold: boolean;
    revoke: () => Promise<void>;
  }): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.armed = {
        ...opts,
        passed: 0,
        done: false,
        held: [],
        finish: (err) => (err ? reject(err) : resolve()),
      };
    });
  }

  disarm(): void {
    this.armed = null;
  }
}

export type RacedState = 'connecting' | 'refused' | 'connected' | 'gone';

/** One raced client: a plain socket.io-client connection that records what happens to it. */
export class Raced {
  readonly socket: ClientSocket;
  state: RacedState = 'connecting';
  /** Ids of the `message:new` it received. */
  readonly got = new Set<string>();
  private waiters = new Set<() => void>();

  constructor(url: string, token: string, onConnect: (c: Raced) => void = () => {}) {
    this.socket = io(url, {
      auth: { token },
      transports: ['websocket'],
      reconnection: false,
      forceNew: true,
    });
    const set = (s: RacedState) => {
      this.state = s;
      for (const w of [...this.waiters]) w();
    };
    this.socket.on('connect', () => {
      set('connected');
      onConnect(this);
    });
    this.socket.on('connect_error', () => set('refused'));
    this.socket.on('disconnect', () => set('gone'));
    this.socket.on('message:new', (m) => this.got.add(m.id));
  }

  /** Resolves true when `pred` holds for the state, or false after `timeoutMs`. */
  until(pred: (s: RacedState) => boolean, timeoutMs = 10_000): Promise<boolean> {
    return new Promise((resolve) => {
      const check = () => {
        if (!pred(this.state)) return;
        this.waiters.delete(check);
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        resolve(false);
      }, timeoutMs);
      this.waiters.add(check);
      check();
    });
  }

  /** Resolves true once the socket was refused or closed, false if it is still open after `timeoutMs`. */
  ended(timeoutMs = 5_000): Promise<boolean> {
    return this.until((s) => s === 'refused' || s === 'gone', timeoutMs);
  }

  /** Emits with an ack: the ack, or null when the socket is not (or no longer) connected. */
  tryAct(event: 'message:send', payload: object): Promise<Ack<unknown> | null> {
    if (this.state !== 'connected') return Promise.resolve(null);
    return new Promise((resolve) => {
      const gone = () => {
        if (this.state === 'connected') return;
        this.waiters.delete(gone);
        resolve(null);
      };
      this.waiters.add(gone);
      (this.socket.emit as (ev: string, p: object, cb: (r: Ack<unknown>) => void) => void)(
        event,
        payload,
        (r) => {
          this.waiters.delete(gone);
          resolve(r);
        },
      );
    });
  }

  close(): void {
    this.socket.disconnect();
  }
}

/** The session an access token belongs to (its `sid` claim). */
export const sessionOf = (token: string) =>
  (JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { sid: string }).sid;
