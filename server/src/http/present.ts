/** Timestamps leave the server as ISO-8601 UTC whatever the driver handed back (Date, SQLite text, epoch). */
export function iso(value: Date | string | number): string;
export function iso(value: Date | string | number | null | undefined): string | null;
export function iso(value: Date | string | number | null | undefined): string | null {
  if (value === null || value === undefined) return null;
  return (value instanceof Date ? value : new Date(value)).toISOString();
}

/** Integer ids leave the server as strings (the contract keeps ids opaque). */
export const sid = (id: number | string | bigint): string => String(id);
