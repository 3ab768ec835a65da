import type { Message as MessageDto } from '@parley/protocol';
import { Op, QueryTypes, UniqueConstraintError, type Transaction } from 'sequelize';
import type { AppContext } from '../../context.js';
import type { Attachment, Membership, Message, Room, User } from '../../db/models.js';
import { inTx, lockRooms, type After } from '../../db/unit-of-work.js';
import { AppError, forbidden, notFound } from '../../errors.js';
import { canPost, canSee } from '../rooms/policy.js';
import { isAvatar, NEVER_EXPIRES, presentAttachment } from '../uploads/presenter.js';
import { GroupCommit } from './group-commit.js';
import { resolveMentions } from './mentions.js';
import { presentMessage, presentMessages } from './presenter.js';
import { appendMessages, type StoredMessage } from './store.js';

export interface SendInput {
  text?: string;
  attachmentId?: string;
  clientId?: string;
}

export interface SendResult {
  message: MessageDto;
  replayed: boolean;
}

interface PendingSend {
  user: User;
  roomId: number;
  input: SendInput;
  /** The rate limit is taken once, even when a failed batch retries the send on its own. */
  admitted: boolean;
  /** Retried once alone after losing a clientId race, so that the retry finds the winner. */
  retried: boolean;
  resolve(r: SendResult): void;
  reject(err: unknown): void;
}

type Outcome = { ok: SendResult } | { err: unknown };

/** Sends per transaction: bounded so that one batch's statement and its latency stay small. */
const MAX_BATCH = 512;

/** Parallel group-commit queues on PostgreSQL: a few, as each holds a pooled connection while it commits. */
const PG_QUEUES = 4;

const committers = new WeakMap<AppContext, GroupCommit<PendingSend>>();

/**
 * Stores a message and, after commit, broadcasts it to the room; resolves only once it is durable. Sends that
 * arrive while a transaction is being written share the next one (group commit). Idempotent by (author,
 * clientId): a resend returns the stored message and broadcasts nothing.
 */
export function sendMessage(
  ctx: AppContext,
  user: User,
  roomId: number,
  input: SendInput,
  onQueued?: () => void,
): Promise<SendResult> {
  let committer = committers.get(ctx);
  if (!committer) committers.set(ctx, (committer = new GroupCommit((b) => commitBatch(ctx, b), MAX_BATCH)));
  // SQLite writes one transaction at a time anyway, so every room shares one queue. PostgreSQL commits several
  // queues in parallel; each holds a fixed share of the rooms, so two batches never wait for each other's locks,
  // and a batch spans many rooms (small rooms still fill big batches).
  const key = ctx.db.dialect === 'sqlite' ? 0 : roomId % PG_QUEUES;
  const result = new Promise<SendResult>((resolve, reject) =>
    committer.push(key, { user, roomId, input, admitted: false, retried: false, resolve, reject }),
  );
  onQueued?.();
  return result;
}

/**
 * One transaction for the batch; each send's own refusal (not found, forbidden, rate limited, conflict) answers
 * that send only. Should the transaction itself fail (a clientId or upload raced with another node's), each send
 * is retried in a transaction of its own, so one bad send never fails the others. Resolves as soon as the batch's
 * data is committed (or its retries are over), before its broadcasts and answers: the queue's next transaction
 * then runs while this one's sends are delivered (each room's broadcasts still wait their turn, see store.ts).
 */
function commitBatch(ctx: AppContext, items: PendingSend[]): Promise<void> {
  return new Promise<void>((free) => void runBatch(ctx, items, free).finally(free));
}

async function runBatch(ctx: AppContext, items: PendingSend[], committed: () => void): Promise<void> {
  let outcomes: Outcome[];
  try {
    outcomes = await inTx(ctx, (t, after) => {
      // The first after-commit effect: the batch's rows are durable and visible to the next transaction.
      after(committed);
      return writeBatch(ctx, t, after, items);
    });
  } catch (err) {
    // Retries run before the queue moves on, so that a send retried alone still precedes its socket's next one.
    if (items.length > 1) {
      for (const item of items) await runBatch(ctx, [item], () => undefined);
      return;
    }
    const item = items[0]!;
    if (err instanceof UniqueConstraintError && !item.retried) {
      item.retried = true;
      return runBatch(ctx, [item], () => undefined);
    }
    item.reject(err);
    return;
  }
  items.forEach((item, i) => {
    const o = outcomes[i]!;
    if ('ok' in o) item.resolve(o.ok);
    else item.reject(o.err);
  });
}

const pairKey = (authorId: number, clientId: string | number) => `${authorId}\u0000${clientId}`;

async function writeBatch(
  ctx: AppContext,
  t: Transaction,
  after: After,
  items: PendingSend[],
): Promise<Outcome[]> {
  const roomIds = [...new Set(items.map((i) => i.roomId))].sort((a, b) => a - b);
  // PostgreSQL: the room locks first (in id order), so the memberships read below are the ones this commit sees.
  await lockRooms(ctx, t, roomIds);
  const { earlier, rooms, memberships } = await loadBatchState(ctx, t, items, roomIds);
  const outcomes: (Outcome | undefined)[] = new Array(items.length);
  // Sends of a clientId already sent earlier in this batch: index of the first one.
  const copyOf = new Map<number, number>();
  const firstByKey = new Map<string, number>();
  const candidates: number[] = [];
  items.forEach((item, i) => {
    const { user, roomId, input } = item;
    if (input.clientId) {
      const key = pairKey(user.id, input.clientId);
      const stored = earlier.get(key);
      const first = firstByKey.get(key);
      const usedIn = stored ? Number(stored.roomId) : first !== undefined ? items[first]!.roomId : roomId;
      if (usedIn !== roomId) {
        outcomes[i] = {
          err: new AppError('CONFLICT', 'That clientId was already used for a message in another room'),
        };
        return;
      }
      if (stored) return; // a replay: presented below
      if (first !== undefined) {
        copyOf.set(i, first);
        return;
      }
      firstByKey.set(key, i);
    }
    const room = rooms.get(roomId);
    const membership = memberships.get(pairKey(user.id, roomId)) ?? null;
    if (!room || !canSee(room, membership)) outcomes[i] = { err: notFound('Room not found') };
    else if (!canPost(room, membership)) outcomes[i] = { err: forbidden('Join the room before posting') };
    else candidates.push(i);
  });
  await admit(ctx, items, candidates, outcomes);
  const attachments = await claimableAttachments(ctx, t, items, candidates, outcomes);

  const accepted = candidates.filter((i) => !outcomes[i]);
  const stored = new Map<number, StoredMessage>();
  if (accepted.length) {
    // Who each message names, against the memberships this transaction sees (the rooms are locked above).
    const mentions = await resolveMentions(
      ctx,
      t,
      accepted.map((i) => {
        const { user, roomId, input } = items[i]!;
        return { roomId, authorId: user.id, ownerId: rooms.get(roomId)!.ownerId, text: input.text ?? '' };
      }),
    );
    const rows = accepted.map((i, k) => {
      const { user, roomId, input } = items[i]!;
      return {
        mentions: mentions[k]!,
        roomId,
        authorId: user.id,
        kind: input.attachmentId ? ('image' as const) : ('text' as const),
        text: input.text ?? '',
        clientId: input.clientId ?? null,
        attachmentId: input.attachmentId ?? null,
      };
    });
    // The rooms read here are the checks' rows, not instances anyone keeps: nothing to move along.
    const messages = await appendMessages(ctx, t, new Map(), rows);
    accepted.forEach((i, k) => stored.set(i, messages[k]!));
    await markOwnRead(ctx, t, messages);
  }
  for (const [i, message] of stored) {
    const attachment = attachments.get(i);
    if (!attachment) continue;
    // Claimed with a condition, so two sends racing for one upload cannot both attach it (PostgreSQL runs them
    // concurrently; the check before only catches the common case early). A lost race fails the batch: retried.
    const [claimed] = await ctx.models.Attachment.update(
      { messageId: message.id, roomId: message.roomId },
      // Not an avatar (adopted meanwhile): a file both would lose when either goes.
      {
        where: { id: attachment.id, messageId: null, expiresAt: { [Op.lt]: NEVER_EXPIRES } },
        transaction: t,
      },
    );
    if (claimed !== 1) throw new AppError('CONFLICT', 'That upload is already attached to a message');
    attachment.messageId = message.id;
    attachment.roomId = message.roomId;
  }
  const created: MessageDto[] = [];
  for (const [i, message] of stored) {
    const attachment = attachments.get(i);
    const dto = presentMessage(
      message,
      items[i]!.user,
      attachment ? presentAttachment(attachment, ctx.uploads.urls) : null,
    );
    outcomes[i] = { ok: { message: dto, replayed: false } };
    created.push(dto);
  }
  // The batch's messages at once, in id order: a room's several go out as one frame per socket.
  after(() => ctx.rt.messagesNew(created));
  for (const [i, first] of copyOf) {
    const o = outcomes[first]!;
    outcomes[i] = 'ok' in o ? { ok: { message: o.ok.message, replayed: true } } : o;
  }
  await presentReplays(ctx, t, items, earlier, outcomes);
  return outcomes as Outcome[];
}

type RoomRow = Pick<Room, 'id' | 'kind' | 'ownerId' | 'name' | 'nameKey'>;
type MembershipRow = Pick<Membership, 'roomId' | 'userId' | 'role'>;

/**
 * Everything the batch's checks read, in one query per table, as plain rows: the checks need a few columns, and
 * building a model instance per row was a good part of the batch's cost.
 */
async function loadBatchState(ctx: AppContext, t: Transaction, items: PendingSend[], roomIds: number[]) {
  const withClientId = items.filter((i) => i.input.clientId);
  const userIds = [...new Set(items.map((i) => i.user.id))];
  const select = <R extends object>(sql: string, replacements: Record<string, unknown>) =>
    ctx.db.sequelize.query<R>(sql, { replacements, transaction: t, type: QueryTypes.SELECT });
  const [earlierRows, roomRows, membershipRows] = await Promise.all([
    withClientId.length ? storedByClientId(ctx, t, withClientId) : ([] as Message[]),
    select<RoomRow>('SELECT id, kind, "ownerId", name, "nameKey" FROM rooms WHERE id IN (:roomIds)', {
      roomIds,
    }),
    select<MembershipRow>(
      'SELECT "roomId", "userId", role FROM memberships WHERE "roomId" IN (:roomIds) AND "userId" IN (:userIds)',
      { roomIds, userIds },
    ),
  ]);
  return {
    earlier: new Map(earlierRows.map((m) => [pairKey(Number(m.authorId), m.clientId!), m])),
    rooms: new Map<number, RoomRow>(roomRows.map((r) => [Number(r.id), r])),
    memberships: new Map<string, MembershipRow>(
      membershipRows.map((m) => [pairKey(Number(m.userId), Number(m.roomId)), m]),
    ),
  };
}

/**
 * Messages already stored under the sends' (authorId, clientId) pairs. A row-value IN makes one index probe per
 * pair on both databases; `authorId IN (…) AND clientId IN (…)` scanned the table on SQLite, and an OR of pairs
 * costs Sequelize more to build than the query costs to run.
 */
function storedByClientId(ctx: AppContext, t: Transaction, items: PendingSend[]): Promise<Message[]> {
  const pairs = new Map(
    items.map((i) => [pairKey(i.user.id, i.input.clientId!), [i.user.id, i.input.clientId!]]),
  );
  return ctx.db.sequelize.query(
    `SELECT * FROM messages WHERE ("authorId", "clientId") IN (VALUES ${[...pairs.values()].map(() => '(?, ?)').join(', ')})`,
    { replacements: [...pairs.values()].flat(), model: ctx.models.Message, mapToModel: true, transaction: t },
  );
}

/** The per-user message rate, taken once per send that would be stored. */
async function admit(
  ctx: AppContext,
  items: PendingSend[],
  candidates: number[],
  outcomes: (Outcome | undefined)[],
) {
  await Promise.all(
    candidates.map(async (i) => {
      const item = items[i]!;
      if (item.admitted) return;
      const limited = await ctx.limits.consume('message', item.user.id);
      if (!limited.ok) {
        outcomes[i] = { err: ctx.limits.refusal('message', limited.retryAfterSec) };
      } else item.admitted = true;
    }),
  );
}

/** The uploads the candidates attach: theirs, unexpired, not attached yet, and not twice in this batch. */
async function claimableAttachments(
  ctx: AppContext,
  t: Transaction,
  items: PendingSend[],
  candidates: number[],
  outcomes: (Outcome | undefined)[],
): Promise<Map<number, Attachment>> {
  const wanting = candidates.filter((i) => !outcomes[i] && items[i]!.input.attachmentId);
  const out = new Map<number, Attachment>();
  if (!wanting.length) return out;
  const rows = await ctx.models.Attachment.findAll({
    where: { id: [...new Set(wanting.map((i) => items[i]!.input.attachmentId!))] },
    transaction: t,
  });
  const byId = new Map(rows.map((a) => [a.id, a]));
  const taken = new Set<string>();
  for (const i of wanting) {
    const { user, input } = items[i]!;
    const a = byId.get(input.attachmentId!);
    const expired = a && (a.expiredAt || a.expiresAt.getTime() <= Date.now());
    if (!a || a.ownerId !== user.id || expired) outcomes[i] = { err: notFound('Upload not found') };
    else if (a.messageId !== null || taken.has(a.id))
      outcomes[i] = { err: new AppError('CONFLICT', 'That upload is already attached to a message') };
    else if (isAvatar(a)) outcomes[i] = { err: new AppError('CONFLICT', 'That upload is your avatar') };
    else {
      taken.add(a.id);
      out.set(i, a);
    }
  }
  return out;
}

/**
 * What you write yourself is read: each author's read marker moves to their last message of the batch in that
 * room, in one statement for the whole batch.
 */
async function markOwnRead(ctx: AppContext, t: Transaction, messages: StoredMessage[]) {
  const last = new Map<string, { roomId: number; userId: number; id: number }>();
  for (const m of messages) {
    last.set(pairKey(m.authorId!, m.roomId), { roomId: m.roomId, userId: m.authorId!, id: m.id });
  }
  // All integers we produced (user, room and inserted ids), so inlining them is safe. A join on the pairs, not a
  // CASE over them: that was evaluated per row, quadratic in the batch.
  const pairs = [...last.values()].map((k) => `(${Number(k.roomId)}, ${Number(k.userId)}, ${Number(k.id)})`);
  await ctx.db.sequelize.query(
    `UPDATE memberships SET "lastReadMessageId" = v.column3 FROM (VALUES ${pairs.join(', ')}) AS v
      WHERE memberships."roomId" = v.column1 AND memberships."userId" = v.column2`,
    { transaction: t, type: QueryTypes.UPDATE },
  );
}

/** Sends whose clientId was stored before answer that message, as the first send did. */
async function presentReplays(
  ctx: AppContext,
  t: Transaction,
  items: PendingSend[],
  earlier: Map<string, Message>,
  outcomes: (Outcome | undefined)[],
) {
  const replays = items
    .map((item, i) => ({
      i,
      m: item.input.clientId && earlier.get(pairKey(item.user.id, item.input.clientId)),
    }))
    .filter((r): r is { i: number; m: Message } => !outcomes[r.i] && !!r.m);
  if (!replays.length) return;
  const dtos = await presentMessages(
    ctx,
    replays.map((r) => r.m),
    t,
  );
  replays.forEach((r, k) => (outcomes[r.i] = { ok: { message: dtos[k]!, replayed: true } }));
}
