import type { Room } from '@parley/protocol';
import { useState } from 'react';
import { describeError } from '../../api/errors';
import { Dialog } from '../../components/Dialog';
import { RoomForm } from './RoomForm';
import { deleteRoom, updateRoom } from './roomActions';

/** The owner renames, describes, changes the visibility of, or deletes a room. */
export function RoomSettingsDialog({ room, onClose }: { room: Room; onClose(): void }) {
  const [confirming, setConfirming] = useState(false);
  const [error, setError] = useState<string | null>(null);
  return (
    <Dialog title="Room settings" onClose={onClose}>
      <RoomForm
        initial={{
          name: room.name,
          description: room.description,
          kind: room.kind === 'private' ? 'private' : 'public',
        }}
        submitLabel="Save changes"
        busyLabel="Saving…"
        onSubmit={async (v) => {
          const body: { name?: string; description?: string; kind?: 'public' | 'private' } = {};
          if (v.name !== room.name) body.name = v.name;
          if (v.description !== room.description) body.description = v.description;
          if (v.kind !== room.kind) body.kind = v.kind;
          if (Object.keys(body).length) await updateRoom(room.id, body);
          onClose();
        }}
      >
        <button type="button" className="button" onClick={onClose}>
          Cancel
        </button>
      </RoomForm>
      <section className="danger-zone" aria-labelledby="danger-heading">
        <h3 id="danger-heading">Delete this room</h3>
        <p>Its messages and memberships are deleted too. This cannot be undone.</p>
        {error && (
          <p className="field-error" role="alert">
            {error}
          </p>
        )}
        {confirming ? (
          <div className="dialog-actions">
            <button type="button" className="button" onClick={() => setConfirming(false)}>
              Keep it
            </button>
            <button
              type="button"
              className="button danger"
              onClick={() =>
                void deleteRoom(room.id)
                  .then(onClose)
                  .catch((err: unknown) => setError(describeError(err)))
              }
            >
              Yes, delete #{room.name}
            </button>
          </div>
        ) : (
          <button type="button" className="button danger" onClick={() => setConfirming(true)}>
            Delete room
          </button>
        )}
      </section>
    </Dialog>
  );
}
