import { Dialog } from './Dialog';

interface ConfirmDialogProps {
  title: string;
  /** What will happen, read out with the title. */
  description: string;
  /** The confirming button's name ("Delete", "Leave"). */
  confirmLabel: string;
  onConfirm(): void;
  onCancel(): void;
}

/**
 * The app's own confirmation (instead of `window.confirm`): an `alertdialog` on the modal Dialog, so focus is
 * trapped in it and Escape cancels; focus starts on Cancel, the safe choice, and returns to the opener after.
 */
export function ConfirmDialog({ title, description, confirmLabel, onConfirm, onCancel }: ConfirmDialogProps) {
  return (
    <Dialog
      title={title}
      description={description}
      onClose={onCancel}
      role="alertdialog"
      className="confirm-dialog"
    >
      <div className="dialog-actions">
        <button type="button" className="button" onClick={onCancel} data-autofocus>
          Cancel
        </button>
        <button type="button" className="button danger" onClick={onConfirm}>
          {confirmLabel}
        </button>
      </div>
    </Dialog>
  );
}
