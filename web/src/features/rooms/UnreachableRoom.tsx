import { navigate, roomPath } from '../../app/router';
import { defaultRoomId } from './roomActions';

/**
 * The address names a room we cannot open (it does not exist, or it is private and we are not a member: the
 * server answers the same 404 for both, so we cannot tell which). Said plainly, with a way on, instead of
 * showing another room as if the link had worked.
 */
export function UnreachableRoom() {
  const fallback = defaultRoomId();
  return (
    <section className="unreachable-room" aria-labelledby="unreachable-heading">
      <h1 id="unreachable-heading">This room can’t be opened</h1>
      <p>It does not exist, or it is private and you are not a member. Ask its owner to add you.</p>
      {fallback && (
        <button type="button" className="button primary" onClick={() => navigate(roomPath(fallback))}>
          Go to your rooms
        </button>
      )}
    </section>
  );
}
