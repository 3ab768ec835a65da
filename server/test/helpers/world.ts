import type { HandshakeAuth, Room, Session } from '@parley/protocol';
import type { Config } from '../../src/config.js';
import {
  client,
  register,
  startTestServer,
  uniqueName,
  type Call,
  type TestServer,
} from '../../src/test-support/server.js';
import { connectReady, roomWith } from './realtime.js';
import type { ClientSocket } from './sockets.js';

/*
 * The preamble most integration suites share: a real server, its HTTP client, registered users with ready
 * sockets, and rooms with members in them. A world owns what it opened, so that `close()` ends exactly its own
 * sockets and server: a suite may start a second world (other limits) and close it mid-file without touching the
 * first one's sockets.
 */

/** One test server and everything a suite opened on it. */
export interface World {
  server: TestServer;
  /** The JSON client of `server`. */
  call: Call;
  /** Registers a new user, named `uniqueName(prefix)`, and answers its session. */
  user(prefix?: string): Promise<Session>;
  /**
   * Connects a socket for `session` and resolves once the server has set it up (subscribed to its rooms, counted
   * in presence; see `connectReady`). `auth` adds handshake fields (e.g. `messageBatches`). `close()` ends it.
   */
  connect(session: Session, auth?: Omit<HandshakeAuth, 'token'>): Promise<ClientSocket>;
  /** A new room of `owner`'s with `members` in it: joined when public, added by the owner when private. */
  room(owner: Session, members?: Session[], kind?: 'public' | 'private'): Promise<Room>;
  /** Disconnects every socket `connect` opened, then closes the server (call in afterAll). */
  close(): Promise<void>;
}

/** Starts a test server (`overrides` as in `startTestServer`) and answers a world on it. */
export async function startWorld(overrides: Partial<Config> = {}): Promise<World> {
  const server = await startTestServer(overrides);
  const call = client(server.url);
  const sockets = new Set<ClientSocket>();
  return {
    server,
    call,
    user: (prefix = 'u') => register(call, uniqueName(prefix)),
    async connect(session, auth = {}) {
      const socket = await connectReady(server, session, auth);
      sockets.add(socket);
      return socket;
    },
    room: (owner, members = [], kind = 'public') => roomWith(call, owner, kind, ...members),
    async close() {
      for (const socket of sockets) socket.disconnect();
      sockets.clear();
      await server.close();
    },
  };
}
