import type { Message as MessageDto, ServerToClientEvents } from '@parley/protocol';
import { channel, type DeliveryRecorder, type IoServer } from './channels.js';

/** The part of a Socket.IO namespace {@link deliverSingly} uses (the scale-out adapter hook has only this). */
export interface LocalNamespace {
  adapter: { rooms: Map<string, Set<string>> };
  local: {
    to(rooms: string[]): {
      emit(event: 'message:new', ...args: Parameters<ServerToClientEvents['message:new']>): boolean;
    };
  };
}

/**
 * How `message:new` leaves this node (DECISIONS "One frame per socket per flush"). The messages one commit
 * stored go out at once, per room, in id order. A room's lone message is one `message:new` to the room, as
 * always. Several messages of one room are one `messages:new` frame for every socket that opted in
 * (`auth.messageBatches`), encoded once for all of them by the adapter, and one `message:new` each for the
 * sockets that did not (they are in `channel.singles`). What a room broadcast costs is mostly per socket (one
 * frame, one write each), so a busy room costs a frame per socket per commit instead of one per message.
 *
 * Nothing waits here: the batch is what the group commit already put together (more messages per commit the
 * busier the room), so a message goes out the moment its commit is over, and a quiet room pays no delay.
 * With REDIS_URL the batch is one publish; each node hands its own non-opted-in sockets their single events
 * (`deliverSingly`, from the adapter hook in scale/index.ts), so both kinds of socket follow the one decision
 * the node's delivery log makes about the packet.
 */
export class MessageFanout {
  constructor(
    private io: IoServer,
    private deliveries?: DeliveryRecorder,
  ) {}

  /** Delivers the messages one commit stored (any rooms), given in ascending id. */
  send(messages: readonly MessageDto[]): void {
    if (messages.length === 1) return this.toRoom(messages[0]!.roomId, messages);
    const byRoom = new Map<string, MessageDto[]>();
    for (const m of messages) {
      const list = byRoom.get(m.roomId);
      if (list) list.push(m);
      else byRoom.set(m.roomId, [m]);
    }
    for (const [roomId, list] of byRoom) this.toRoom(roomId, list);
  }

  private toRoom(roomId: string, messages: readonly MessageDto[]): void {
    const ch = channel.room(roomId);
    if (!this.deliveries) return this.emit(ch, roomId, messages);
    // Each message is recorded as delivered to this node's sockets (the gap fill after a Redis outage).
    let run: MessageDto[] = [];
    for (const m of messages) {
      if (this.deliveries.deliver(roomId, m.id)) {
        run.push(m);
        continue;
      }
      // A gap fill read it from the database before this commit's broadcast ran: the other nodes still need it,
      // this node's sockets have it. (Rare: only while a fill runs.) What came before it goes first: order holds.
      if (run.length) this.emit(ch, roomId, run);
      run = [];
      const local = [...(this.io.of('/').adapter.rooms.get(ch) ?? [])];
      this.io.to(ch).except(local).emit('message:new', m);
    }
    if (run.length) this.emit(ch, roomId, run);
  }

  private emit(ch: string, roomId: string, messages: readonly MessageDto[]): void {
    if (messages.length === 1) {
      this.io.to(ch).emit('message:new', messages[0]!);
      return;
    }
    this.io
      .to(ch)
      .except(channel.singles)
      .emit('messages:new', { roomId, messages: [...messages] });
    deliverSingly(this.io.of('/') as unknown as LocalNamespace, ch, messages);
  }
}

/**
 * The single events of a `messages:new` for this node's sockets in the room that did not opt in to batches: one
 * `message:new` per message, each encoded once for all of them. Costs nothing when no such socket is connected
 * here (the usual case: the web client and the benchmark opt in).
 */
export function deliverSingly(
  nsp: LocalNamespace,
  roomChannel: string,
  messages: readonly MessageDto[],
): void {
  const rooms = nsp.adapter.rooms;
  const singles = rooms.get(channel.singles);
  const members = rooms.get(roomChannel);
  if (!singles?.size || !members?.size) return;
  const [few, many] = singles.size <= members.size ? [singles, members] : [members, singles];
  const sids: string[] = [];
  for (const id of few) if (many.has(id)) sids.push(id);
  if (!sids.length) return;
  const to = nsp.local.to(sids);
  for (const m of messages) to.emit('message:new', m);
}
