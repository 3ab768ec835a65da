import type { Message as MessageDto } from '@parley/protocol';
import { UniqueConstraintError, type Transaction } from 'sequelize';
import type { AppContext } from '../../context.js';
import type { Attachment, Message, User } from '../../db/models.js';
import type { After } from '../../db/unit-of-work.js';
import { AppError, forbidden, invalidField, notFound } from '../../errors.js';
import { canPost, canSee } from '../rooms/policy.js';
import { isAvatar, presentAttachment } from '../uploads/presenter.js';
import { GroupCommit } from './group-commit.js';
import type { StoredMessage } from './log.js';
import { resolveMentions } from './mentions.js';
import { presentMessage, presentMessages } from './presenter.js';
import {
  attachmentsById,
  claimAttachment,
  messagesByClientId,
  moveReadMarkers,
  replyParents,
  sendChecks,
  type MembershipRow,
  type ReplyParent,
  type RoomRow,
} from './repo.js';

export interface SendInput {
  text?: string;
  attachmentId?: string;
  clientId?: string;
  /** The message of the same room this one answers. */
  replyToId?: string;
}

export interface SendResult {
  message: MessageDto;
  replayed: boolean;
}

/** How one send ended in one attempt: stored now, answered from an earlier send, or refused. */
type Outcome =
  | { kind: 'stored'; message: MessageDto }
  | { kind: 'replayed'; message: MessageDto }
  | { kind: 'refused'; error: unknown };

/** One send on its way through the pipeline: its input, and what this attempt has found out about it. */
class Send {
  /** The rate limit is taken once, even when a failed batch retries the send on its own. */
  admitted = false;
  /** Retried once alone after losing a clientId race, so that the retry finds the winner. */
  retried = false;
  outcome: Outcome | undefined;
  /** The upload it attaches, once checked claimable. */
  attachment: Attachment | undefined;
  /** The message stored for it in this attempt. */
  stored: StoredMessage | undefined;
  /** An earlier send of the same batch with the same clientId: this one answers as its replay. */
  copyOf: Send | undefined;
  /** The message an earlier transaction stored under this clientId. */
  earlier: Message | undefined;
  /** The message it answers, when it names one that exists (any room: check() compares). */
  parent: ReplyParent | undefined;

  constructor(
    readonly user: User,
    readonly roomId: number,
    readonly input: SendInput,
    readonly resolve: (r: SendResult) => void,
    readonly reject: (err: unknown) => void,
  ) {}

  /** Forgets what a failed attempt found, before the next. */
  reset(): void {
    this.outcome = this.attachment = this.stored = this.copyOf = this.earlier = this.parent = undefined;
  }

  refuse(error: unknown): void {
    this.outcome = { kind: 'refused', error };
  }

  /** Answers the caller from the attempt's outcome. */
  settle(): void {
    const o = this.outcome;
    if (!o) this.reject(new Error('send left without an outcome'));
    else if (o.kind === 'refused') this.reject(o.error);
    else this.resolve({ message: o.message, replayed: o.kind === 'replayed' });
  }

  /** The (author, clientId) pair idempotency is keyed on, or undefined without a clientId. */
  get key(): string | undefined {
    return this.input.clientId === undefined ? undefined : pairKey(this.user.id, this.input.clientId);
  }
}

/** Sends per transaction: bounded so that one batch's statement and its latency stay small. */
const MAX_BATCH = 512;

/** Parallel group-commit queues on PostgreSQL: a few, as each holds a pooled connection while it commits. */
const PG_QUEUES = 4;

const pairKey = (a: number, b: string | number) => `${a}\u0000${b}`;

/**
 * The message write path, built once by createApp (`ctx.messages.writer`). A send is stored and, after commit,
 * broadcast to its room; it resolves only once durable. Sends that arrive while a transaction is being written
 * share the next one (group commit: one fsync for many). Idempotent by (author, clientId): a resend answers the
 * stored message and broadcasts nothing. Broadcast order per room is the log's (messages/turns.ts).
 */
export class MessageWriter {
  private readonly queue: GroupCommit<Send>;

  constructor(private readonly ctx: AppContext) {
    this.queue = new GroupCommit((batch) => this.commit(batch), MAX_BATCH);
  }

  /** Queues a send; `onQueued` runs once it is queued (the socket's next event may then be read). */
  send(user: User, roomId: number, input: SendInput, onQueued?: () => void): Promise<SendResult> {
    // SQLite writes one transaction at a time anyway, so every room shares one queue. PostgreSQL commits several
    // queues in parallel; each holds a fixed share of the rooms, so two batches never wait for each other's locks,
    // and a batch spans many rooms (small rooms still fill big batches).
    const key = this.ctx.db.dialect === 'sqlite' ? 0 : roomId % PG_QUEUES;
    const result = new Promise<SendResult>((resolve, reject) =>
      this.queue.push(key, new Send(user, roomId, input, resolve, reject)),
    );
    onQueued?.();
    return result;
  }

  /**
   * Resolves as soon as the batch's data is committed (or its retries are over), before its broadcasts and
   * answers: the queue's next transaction then runs while this one's sends are delivered.
   */
  private commit(batch: Send[]): Promise<void> {
    return new Promise<void>((free) => void this.settleAll(batch, free).finally(free));
  }

  /**
   * One transaction for the batch; each send's own refusal (not found, forbidden, rate limited, conflict) answers
   * that send only. Should the transaction itself fail (a clientId or upload raced with another node's), each send
   * is retried in a transaction of its own, in order and before the queue moves on, so one bad send never fails
   * the others and a send retried alone still precedes its socket's next one.
   */
  private async settleAll(batch: Send[], committed: () => void): Promise<void> {
    const attempts: Send[][] = [batch];
    let onCommit = committed;
    for (let group = attempts.shift(); group; group = attempts.shift()) {
      for (const s of group) s.reset();
      try {
        await this.ctx.uow.run((t, after) => {
          // The first after-commit effect: the batch's rows are durable and visible to the next transaction.
          after(onCommit);
          return this.write(t, after, group!);
        });
      } catch (err) {
        if (group.length > 1) attempts.unshift(...group.map((s) => [s]));
        else if (err instanceof UniqueConstraintError && !group[0]!.retried) {
          group[0]!.retried = true;
          attempts.unshift(group);
        } else group[0]!.reject(err);
        onCommit = () => undefined;
        continue;
      }
      for (const s of group) s.settle();
      onCommit = () => undefined;
    }
  }

  /** The pipeline of one attempt: check, admit, store, claim uploads, present; broadcasts after commit. */
  private async write(t: Transaction, after: After, sends: Send[]): Promise<void> {
    const { ctx } = this;
    const roomIds = [...new Set(sends.map((s) => s.roomId))].sort((a, b) => a - b);
    // PostgreSQL: the room locks first (in id order), so the memberships read below are the ones this commit sees.
    await ctx.uow.lockRooms(t, roomIds);
    const { rooms, memberships } = await this.load(t, sends, roomIds);
    const candidates = this.check(sends, rooms, memberships);
    await this.admit(candidates);
    await this.findAttachments(t, candidates);
    const accepted = candidates.filter((s) => !s.outcome);
    if (accepted.length) await this.store(t, accepted, rooms);
    for (const s of accepted) {
      // Claimed with a condition, so two sends racing for one upload cannot both attach it. A lost race fails the
      // batch: retried one by one.
      if (s.attachment && !(await claimAttachment(ctx.models, t, s.attachment.id, s.stored!))) {
        throw new AppError('CONFLICT', 'That upload is already attached to a message');
      }
    }
    const created: MessageDto[] = [];
    for (const s of accepted) {
      const message = s.stored!;
      if (s.attachment) Object.assign(s.attachment, { messageId: message.id, roomId: message.roomId });
      const dto = presentMessage(
        message,
        s.user,
        s.attachment ? presentAttachment(s.attachment, ctx.uploads.urls) : null,
        s.parent?.parent ?? null,
      );
      s.outcome = { kind: 'stored', message: dto };
      created.push(dto);
    }
    // The batch's messages at once, in id order: a room's several go out as one frame per socket (realtime/fanout.ts).
    if (created.length) after(() => ctx.rt.messagesNew(created));
    for (const s of sends) {
      const o = s.copyOf?.outcome;
      if (o) s.outcome = o.kind === 'refused' ? o : { kind: 'replayed', message: o.message };
    }
    await this.presentReplays(
      t,
      sends.filter((s) => !s.outcome && s.earlier),
    );
  }

  /** Everything the checks read, one query per table, as plain rows. */
  private async load(t: Transaction, sends: Send[], roomIds: number[]) {
    const { ctx } = this;
    const pairs = new Map<string, [number, string]>();
    for (const s of sends) if (s.key) pairs.set(s.key, [s.user.id, s.input.clientId!]);
    const userIds = [...new Set(sends.map((s) => s.user.id))];
    // The whole batch's parents in one query (an id too large for any row is simply not found).
    const parentIds = [
      ...new Set(sends.filter((s) => s.input.replyToId !== undefined).map((s) => Number(s.input.replyToId))),
    ].filter((id) => Number.isSafeInteger(id));
    const [earlier, checks, parents] = await Promise.all([
      messagesByClientId(ctx.db, ctx.models, t, [...pairs.values()]),
      sendChecks(ctx.db, t, roomIds, userIds),
      replyParents(ctx.db, t, parentIds),
    ]);
    const byKey = new Map(earlier.map((m) => [pairKey(Number(m.authorId), m.clientId!), m]));
    for (const s of sends) {
      s.earlier = s.key ? byKey.get(s.key) : undefined;
      if (s.input.replyToId !== undefined) s.parent = parents.get(Number(s.input.replyToId));
    }
    return {
      rooms: new Map<number, RoomRow>(checks.rooms.map((r) => [Number(r.id), r])),
      memberships: new Map<string, MembershipRow>(
        checks.memberships.map((m) => [pairKey(Number(m.userId), Number(m.roomId)), m]),
      ),
    };
  }

  /**
   * Idempotency and policy, per send: a clientId used in another room is a conflict, one stored before or earlier
   * in the batch is a replay; then the room must be visible and open to the author's posts. The sends left are
   * candidates for storing.
   */
  private check(sends: Send[], rooms: Map<number, RoomRow>, memberships: Map<string, MembershipRow>): Send[] {
    const firstByKey = new Map<string, Send>();
    const candidates: Send[] = [];
    for (const s of sends) {
      const key = s.key;
      if (key) {
        const first = firstByKey.get(key);
        const usedIn = s.earlier ? Number(s.earlier.roomId) : (first?.roomId ?? s.roomId);
        if (usedIn !== s.roomId) {
          s.refuse(new AppError('CONFLICT', 'That clientId was already used for a message in another room'));
          continue;
        }
        if (s.earlier) continue; // a replay of an earlier transaction's message: presented at the end
        if (first) {
          s.copyOf = first;
          continue;
        }
        firstByKey.set(key, s);
      }
      const room = rooms.get(s.roomId);
      const membership = memberships.get(pairKey(s.user.id, s.roomId)) ?? null;
      if (!room || !canSee(room, membership)) s.refuse(notFound('Room not found'));
      else if (!canPost(room, membership)) s.refuse(forbidden('Join the room before posting'));
      else if (s.input.replyToId !== undefined && !this.answers(s)) {
        // Another room's message answers exactly as a missing one: nothing about it leaks.
        s.refuse(invalidField('replyToId', 'must be a message of this room (not a system message)'));
      } else candidates.push(s);
    }
    return candidates;
  }

  /**
   * Whether the send answers a message it may: one of its own room, and not a system message (a join is no one's
   * to answer). A deleted one may be answered: its quote says so.
   */
  private answers(s: Send): boolean {
    return s.parent !== undefined && s.parent.roomId === s.roomId && s.parent.kind !== 'system';
  }

  /** The per-user message rate, taken once per send that would be stored. */
  private async admit(candidates: Send[]): Promise<void> {
    const { limits } = this.ctx;
    await Promise.all(
      candidates.map(async (s) => {
        if (s.admitted) return;
        const limited = await limits.consume('message', s.user.id);
        if (!limited.ok) s.refuse(limits.refusal('message', limited.retryAfterSec));
        else s.admitted = true;
      }),
    );
  }

  /** The uploads the candidates attach: theirs, unexpired, not attached yet, and not twice in this batch. */
  private async findAttachments(t: Transaction, candidates: Send[]): Promise<void> {
    const wanting = candidates.filter((s) => !s.outcome && s.input.attachmentId);
    if (!wanting.length) return;
    const rows = await attachmentsById(this.ctx.models, t, [
      ...new Set(wanting.map((s) => s.input.attachmentId!)),
    ]);
    const byId = new Map(rows.map((a) => [a.id, a]));
    const taken = new Set<string>();
    for (const s of wanting) {
      const a = byId.get(s.input.attachmentId!);
      const expired = a && (a.expiredAt || a.expiresAt.getTime() <= Date.now());
      if (!a || a.ownerId !== s.user.id || expired) s.refuse(notFound('Upload not found'));
      else if (a.messageId !== null || taken.has(a.id))
        s.refuse(new AppError('CONFLICT', 'That upload is already attached to a message'));
      else if (isAvatar(a)) s.refuse(new AppError('CONFLICT', 'That upload is your avatar'));
      else {
        taken.add(a.id);
        s.attachment = a;
      }
    }
  }

  /**
   * Resolves who each message names (against the memberships this transaction sees: the rooms are locked), appends
   * the messages to the log, and moves each author's read marker to their last message of the batch in that room:
   * what you write yourself is read.
   */
  private async store(t: Transaction, accepted: Send[], rooms: Map<number, RoomRow>): Promise<void> {
    const { ctx } = this;
    const mentions = await resolveMentions(
      ctx,
      t,
      accepted.map((s) => ({
        roomId: s.roomId,
        authorId: s.user.id,
        ownerId: rooms.get(s.roomId)!.ownerId,
        text: s.input.text ?? '',
      })),
    );
    // The rooms read here are the checks' rows, not instances anyone keeps: nothing to move along.
    const stored = await ctx.messages.log.append(
      t,
      new Map(),
      accepted.map((s, k) => ({
        mentions: mentions[k]!,
        roomId: s.roomId,
        authorId: s.user.id,
        kind: s.input.attachmentId ? ('image' as const) : ('text' as const),
        text: s.input.text ?? '',
        clientId: s.input.clientId ?? null,
        attachmentId: s.input.attachmentId ?? null,
        replyToId: s.parent ? Number(s.input.replyToId) : null,
      })),
    );
    accepted.forEach((s, k) => (s.stored = stored[k]));
    const last = new Map<string, { roomId: number; userId: number; id: number }>();
    for (const m of stored) {
      last.set(pairKey(m.authorId!, m.roomId), { roomId: m.roomId, userId: m.authorId!, id: m.id });
    }
    await moveReadMarkers(ctx.db, t, [...last.values()]);
  }

  /** Sends whose clientId was stored before answer that message, as the first send did. */
  private async presentReplays(t: Transaction, replays: Send[]): Promise<void> {
    if (!replays.length) return;
    const dtos = await presentMessages(
      this.ctx,
      replays.map((s) => s.earlier!),
      t,
    );
    replays.forEach((s, k) => (s.outcome = { kind: 'replayed', message: dtos[k]! }));
  }
}
