import type { Attachment } from '@parley/protocol';
import { Dialog } from '../../components/Dialog';

/** The full-size image, in a modal; the original can also open in its own tab. */
export function ImageViewer({ attachment, onClose }: { attachment: Attachment; onClose(): void }) {
  return (
    <Dialog title="Image" onClose={onClose} className="image-viewer">
      <div className="image-full">
        <img src={attachment.url} alt="Full-size image" width={attachment.width} height={attachment.height} />
      </div>
      <p className="image-meta">
        {attachment.width} × {attachment.height} · {Math.max(1, Math.round(attachment.size / 1024))} KB ·{' '}
        <a href={attachment.url} target="_blank" rel="noopener noreferrer">
          Open original in a new tab
        </a>
      </p>
    </Dialog>
  );
}
