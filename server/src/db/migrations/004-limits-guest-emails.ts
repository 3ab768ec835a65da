import type { QueryInterface } from 'sequelize';

/*
 * Issue 13: guests have no email. Until now a guest could set one (PATCH /api/users/me) and so keep its owner from
 * ever registering with it; that is refused now, and the emails guests already hold are let go here. Nothing to
 * restore on the way down: the addresses were never verified, and a guest cannot have one any more.
 */

export async function up({ context: qi }: { context: QueryInterface }): Promise<void> {
  await qi.bulkUpdate('users', { email: null }, { isGuest: true });
}

export async function down(): Promise<void> {}
