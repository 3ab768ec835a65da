import { LIMITS } from '../../lib/limits';
import { useState, type FormEvent, type ReactNode } from 'react';
import { asApiError } from '../../api/errors';
import { Field } from '../../components/Field';

export interface RoomFormValues {
  name: string;
  description: string;
  kind: 'public' | 'private';
}

/** Name, description and visibility: shared by "New room" and the owner's room settings. */
export function RoomForm({
  initial,
  submitLabel,
  busyLabel,
  onSubmit,
  children,
}: {
  initial: RoomFormValues;
  submitLabel: string;
  busyLabel: string;
  onSubmit(values: RoomFormValues): Promise<void>;
  children?: ReactNode;
}) {
  const [values, setValues] = useState(initial);
  const [errors, setErrors] = useState<{ name?: string; description?: string; form?: string }>({});
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const name = values.name.trim();
    if (!name) return setErrors({ name: 'Give the room a name.' });
    if (name.length > LIMITS.roomNameMax)
      return setErrors({ name: `Use at most ${LIMITS.roomNameMax} characters.` });
    if (values.description.length > LIMITS.descriptionMax)
      return setErrors({ description: `Use at most ${LIMITS.descriptionMax} characters.` });
    setErrors({});
    setBusy(true);
    try {
      await onSubmit({ ...values, name, description: values.description.trim() });
    } catch (err) {
      const e = asApiError(err);
      if (e.code === 'ROOM_NAME_TAKEN') setErrors({ name: 'A room with that name already exists.' });
      else if (e.code === 'VALIDATION_ERROR')
        setErrors({
          name: e.detailFor('name'),
          description: e.detailFor('description'),
          form: e.detailFor('name') || e.detailFor('description') ? undefined : e.message,
        });
      else if (e.code === 'FORBIDDEN') setErrors({ form: e.message });
      else setErrors({ form: e.message });
      setBusy(false);
    }
  };

  return (
    <form className="room-form" onSubmit={submit} noValidate>
      <div className="form-error" role="alert">
        {errors.form}
      </div>
      <Field
        label="Room name"
        name="name"
        autoComplete="off"
        maxLength={LIMITS.roomNameMax + 10}
        value={values.name}
        onChange={(e) => setValues((v) => ({ ...v, name: e.target.value }))}
        error={errors.name}
      />
      <div className={`field${errors.description ? ' has-error' : ''}`}>
        <label htmlFor="room-description">Description</label>
        <textarea
          id="room-description"
          rows={3}
          value={values.description}
          aria-invalid={errors.description ? true : undefined}
          aria-describedby={errors.description ? 'room-description-error' : undefined}
          onChange={(e) => setValues((v) => ({ ...v, description: e.target.value }))}
        />
        {errors.description && (
          <p id="room-description-error" className="field-error">
            {errors.description}
          </p>
        )}
      </div>
      <fieldset className="kind-choice">
        <legend>Who can find it</legend>
        <label className="radio">
          <input
            type="radio"
            name="kind"
            value="public"
            checked={values.kind === 'public'}
            onChange={() => setValues((v) => ({ ...v, kind: 'public' }))}
          />
          <span>
            <strong>Public</strong>
            <span className="radio-hint">Anyone can see and join it.</span>
          </span>
        </label>
        <label className="radio">
          <input
            type="radio"
            name="kind"
            value="private"
            checked={values.kind === 'private'}
            onChange={() => setValues((v) => ({ ...v, kind: 'private' }))}
          />
          <span>
            <strong>Private</strong>
            <span className="radio-hint">Only people you add can see it.</span>
          </span>
        </label>
      </fieldset>
      <div className="dialog-actions">
        {children}
        <button type="submit" className="button primary" disabled={busy}>
          {busy ? busyLabel : submitLabel}
        </button>
      </div>
    </form>
  );
}
