import type { Transaction } from 'sequelize';
import type { AppContext } from '../../context.js';
import type { Message, Room } from '../../db/models.js';

export interface NewMessage {
  authorId: number | null;
  kind: Message['kind'];
  text: string;
  event?: Message['event'];
  clientId?: string | null;
  attachmentId?: string | null;
}

/** Appends a message to a room's history and moves the room's "last message" along with it. */
export async function appendMessage(
  ctx: AppContext,
  t: Transaction,
  room: Room,
  m: NewMessage,
): Promise<Message> {
  // PostgreSQL: lock the room first so ids are handed out in commit order within a room, and members receive
  // messages in id order. SQLite needs nothing: its writes are already serialised.
  if (ctx.db.dialect === 'postgres') {
    await ctx.models.Room.findByPk(room.id, { attributes: ['id'], transaction: t, lock: t.LOCK.UPDATE });
  }
  const now = new Date();
  const message = await ctx.models.Message.create(
    {
      roomId: room.id,
      authorId: m.authorId,
      kind: m.kind,
      text: m.text,
      event: m.event ?? null,
      clientId: m.clientId ?? null,
      attachmentId: m.attachmentId ?? null,
      editedAt: null,
      deletedAt: null,
      createdAt: now,
    },
    { transaction: t },
  );
  message.id = Number(message.id);
  await ctx.models.Room.update(
    { lastMessageId: message.id, lastMessageAt: now },
    { where: { id: room.id }, transaction: t, silent: true },
  );
  room.lastMessageId = message.id;
  room.lastMessageAt = now;
  return message;
}
