import type { Transaction } from 'sequelize';
import type { AppContext } from '../../context.js';
import type { Message, Room } from '../../db/models.js';
import type { Db } from '../../db/sequelize.js';
import type { UnitOfWork } from '../../db/unit-of-work.js';
import { encodeMentions } from './mentions.js';
import type { RoomTurns } from './turns.js';
import { insertMessages, moveLastMessages } from './repo.js';

export interface NewMessage {
  authorId: number | null;
  kind: Message['kind'];
  text: string;
  event?: Message['event'];
  clientId?: string | null;
  attachmentId?: string | null;
  /** Members it mentions (messages/mentions.ts): resolved by the caller, in the same transaction. */
  mentions?: number[];
  /** The message of the same room it answers: checked by the caller, in the same transaction. */
  replyToId?: number | null;
}

/** What the write path knows of a message it stored: a plain row, presented without a model instance. */
export type StoredMessage = Pick<
  Message,
  | 'id'
  | 'roomId'
  | 'authorId'
  | 'kind'
  | 'text'
  | 'event'
  | 'clientId'
  | 'attachmentId'
  | 'editedAt'
  | 'deletedAt'
  | 'mentions'
  | 'reactions'
  | 'replyToId'
  | 'createdAt'
>;

/** Rooms whose "last message" the caller holds in memory: moved along with the database. */
type RoomState = Pick<Room, 'lastMessageId' | 'lastMessageAt'>;

/**
 * The rooms' history: the one way a message is appended, whether a user sent it (the writer's batches) or the
 * server logged an event (a join, a rename). It takes each room's lock and turn, inserts, moves the rooms' "last
 * message", and tells its listeners (metrics) of every message once the transaction has committed. A change to a
 * message already there (an edit, a delete, a reaction) takes the room's turn here too ({@link MessageLog.changes}):
 * whatever the room hears, it hears in commit order.
 */
export class MessageLog {
  private readonly listeners: ((m: StoredMessage) => void)[] = [];

  constructor(
    private readonly db: Db,
    private readonly uow: UnitOfWork,
    private readonly turns: RoomTurns,
  ) {}

  /** Calls `fn` for each committed message (in commit order): instrumentation, never part of the write. */
  onStored(fn: (m: StoredMessage) => void): void {
    this.listeners.push(fn);
  }

  /**
   * Appends messages to one or more rooms with one multi-row INSERT (group commit): ids ascend in the order given,
   * and each room's "last message" moves once, to its last one. Rooms are locked in id order (no deadlock between
   * two batches).
   */
  async append(
    t: Transaction,
    rooms: Map<number, RoomState>,
    ms: (NewMessage & { roomId: number })[],
  ): Promise<StoredMessage[]> {
    const roomIds = [...new Set(ms.map((m) => m.roomId))].sort((a, b) => a - b);
    await this.uow.lockRooms(t, roomIds);
    for (const id of roomIds) this.turns.take(t, id);
    const now = new Date();
    const rows = ms.map((m) => ({
      roomId: m.roomId,
      authorId: m.authorId,
      kind: m.kind,
      text: m.text,
      event: m.event ?? null,
      clientId: m.clientId ?? null,
      attachmentId: m.attachmentId ?? null,
      mentions: encodeMentions(m.mentions ?? []),
      replyToId: m.replyToId ?? null,
    }));
    const ids = await insertMessages(this.db, t, rows, now);
    const messages: StoredMessage[] = rows.map((r, i) => ({
      ...r,
      id: ids[i]!,
      reactions: '',
      editedAt: null,
      deletedAt: null,
      createdAt: now,
    }));
    const last = new Map<number, number>();
    for (const m of messages) last.set(m.roomId, m.id);
    await moveLastMessages(this.db, t, last, now);
    for (const [roomId, id] of last) {
      const room = rooms.get(roomId);
      if (room) {
        room.lastMessageId = id;
        room.lastMessageAt = now;
      }
    }
    if (this.listeners.length) {
      const tell = () => {
        for (const m of messages) for (const fn of this.listeners) fn(m);
      };
      // A transaction of our own runs its effects after commit; another's gets Sequelize's public hook.
      if (!this.uow.afterCommit(t, tell)) t.afterCommit(tell);
    }
    return messages;
  }

  /**
   * Orders a change to a message already in `roomId`'s history (an edit, a delete, a reaction) with the room's
   * other writes: takes the room's turn for `t`, so its after-commit broadcast waits for every earlier write's. Call
   * it once the message's row is locked, so that turns follow the order in which the changes commit (E1).
   */
  changes(t: Transaction, roomId: number): void {
    this.turns.take(t, roomId);
  }

  /** Appends one message to `room`, moving the instance's "last message" along. */
  async appendOne(t: Transaction, room: Room, m: NewMessage): Promise<StoredMessage> {
    const [message] = await this.append(t, new Map([[room.id, room]]), [{ ...m, roomId: room.id }]);
    return message!;
  }
}

/** Appends a message to a room's history (system messages of the room services): see {@link MessageLog}. */
export function appendMessage(
  ctx: AppContext,
  t: Transaction,
  room: Room,
  m: NewMessage,
): Promise<StoredMessage> {
  return ctx.messages.log.appendOne(t, room, m);
}
