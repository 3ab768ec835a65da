import type { Config } from './config.js';
import type { Db } from './db/sequelize.js';
import type { Models } from './db/models.js';
import type { UnitOfWork } from './db/unit-of-work.js';
import type { RateLimits } from './limits/rate-limits.js';
import type { Logger } from './logger.js';
import type { PresenceHub } from './modules/presence/hub.js';
import type { PresenceStore } from './modules/presence/store.js';
import type { MessageLog } from './modules/messages/log.js';
import type { MessageWriter } from './modules/messages/writer.js';
import type { PasswordHasher } from './modules/auth/passwords.js';
import type { Uploads } from './modules/uploads/service.js';
import type { SocketBookkeeping } from './realtime/bookkeeping.js';
import type { Broadcaster } from './realtime/channels.js';
import type { Revocations } from './realtime/revocations.js';

/** Everything a service needs, built once by `createApp` and passed down explicitly. */
export interface AppContext {
  config: Config;
  logger: Logger;
  db: Db;
  models: Models;
  /** Transactions with after-commit effects and room locks (db/unit-of-work.ts). */
  uow: UnitOfWork;
  /** The rooms' history (every append and change, in each room's broadcast order) and the send pipeline. */
  messages: { log: MessageLog; writer: MessageWriter };
  presence: PresenceStore;
  /** Who watches whose presence on this node; batches `presence:changed` (contract v2). */
  presenceHub: PresenceHub;
  /** Every rate limit (rate-limiter-flexible; in Redis when REDIS_URL is set): see limits/rate-limits.ts. */
  limits: RateLimits;
  rt: Broadcaster;
  /** Ended sessions, released accounts, removals from rooms: applied to every socket, mid-handshake too. */
  revocations: Revocations;
  /** Each socket's arrival and departure work (rooms subscribed, presence): handlers wait on its arrival. */
  bookkeeping: SocketBookkeeping;
  passwords: PasswordHasher;
  uploads: Uploads;
}
