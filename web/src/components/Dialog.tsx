import { useEffect, useId, useRef, type ReactNode } from 'react';
import { createPortal } from 'react-dom';

interface DialogProps {
  title: string;
  onClose(): void;
  children: ReactNode;
  className?: string;
  /** Rendered as a description under the title. */
  description?: ReactNode;
  /** `alertdialog` for a confirmation that interrupts (ConfirmDialog); the native `dialog` role otherwise. */
  role?: 'alertdialog';
}

/**
 * A modal on the native <dialog>: the browser traps focus, Escape closes it, the rest of the page is inert, and
 * focus returns to whatever opened it. Rendered into <body>, so that it inherits nothing from where it was opened
 * (the dark sidebar, a drawer).
 */
export function Dialog({ title, onClose, children, className, description, role }: DialogProps) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  const descId = useId();
  const closeRef = useRef(onClose);
  closeRef.current = onClose;

  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    const opener = document.activeElement as HTMLElement | null;
    if (!dialog.open) dialog.showModal();
    // Start in the first field, if there is one (showModal alone would pick the Close button),
    // Or in the element that asks for it (`data-autofocus`: a confirmation's Cancel).
    (
      dialog.querySelector<HTMLElement>('[data-autofocus]') ??
      dialog.querySelector<HTMLElement>('input:not([type="hidden"]):not([type="radio"]), textarea')
    )?.focus();
    const onCancel = (e: Event) => {
      e.preventDefault();
      closeRef.current();
    };
    dialog.addEventListener('cancel', onCancel);
    return () => {
      dialog.removeEventListener('cancel', onCancel);
      if (dialog.open) dialog.close();
      opener?.focus?.();
    };
  }, []);

  return createPortal(
    <dialog
      ref={ref}
      className={`dialog ${className ?? ''}`}
      role={role}
      aria-labelledby={titleId}
      aria-describedby={description ? descId : undefined}
      onClick={(e) => {
        // A click on the backdrop (the dialog element itself, outside its content) closes it.
        if (e.target === ref.current) onClose();
      }}
    >
      <div className="dialog-body">
        <header className="dialog-header">
          <h2 id={titleId}>{title}</h2>
          <button type="button" className="icon-button" aria-label="Close" onClick={onClose}>
            <CloseIcon />
          </button>
        </header>
        {description && (
          <p id={descId} className="dialog-description">
            {description}
          </p>
        )}
        {children}
      </div>
    </dialog>,
    document.body,
  );
}

function CloseIcon() {
  return (
    <svg viewBox="0 0 24 24" width="20" height="20" aria-hidden="true" focusable="false">
      <path
        d="M6 6l12 12M18 6L6 18"
        stroke="currentColor"
        strokeWidth="2"
        strokeLinecap="round"
        fill="none"
      />
    </svg>
  );
}
