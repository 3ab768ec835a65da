import type { Db } from './sequelize.js';

/*
 * Typing the rows a raw read gives back (db.read), the way Sequelize types a model's: each repo turns its rows into
 * plain typed objects with these, so services see the same values whichever database they run on.
 */

/**
 * A date column as a model would read it. PostgreSQL's driver already gives a Date; SQLite gives the text Sequelize
 * wrote, and a text without an offset is read in the connection's time zone, as Sequelize's DATE parser does.
 */
export function dbDate(value: Date | string, timezone: string): Date;
export function dbDate(value: Date | string | null, timezone: string): Date | null;
export function dbDate(value: Date | string | null, timezone: string): Date | null {
  if (value === null || value instanceof Date) return value;
  return new Date(value.includes('+') ? value : value + timezone);
}

/** The time zone Sequelize writes SQLite dates in (its `timezone` option). */
export function dbTimezone(db: Pick<Db, 'sequelize'>): string {
  return (db.sequelize as unknown as { options: { timezone?: string } }).options.timezone ?? '+00:00';
}
