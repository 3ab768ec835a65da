import { Dialog } from '../../components/Dialog';
import { RoomForm } from './RoomForm';
import { createRoom } from './roomActions';

export function NewRoomDialog({ onClose }: { onClose(): void }) {
  return (
    <Dialog title="New room" onClose={onClose}>
      <RoomForm
        initial={{ name: '', description: '', kind: 'public' }}
        submitLabel="Create"
        busyLabel="Creating…"
        onSubmit={async (values) => {
          await createRoom(values);
          onClose();
        }}
      >
        <button type="button" className="button" onClick={onClose}>
          Cancel
        </button>
      </RoomForm>
    </Dialog>
  );
}
