/*
 * The contract's limits, straight from the protocol package's source file. Importing `LIMITS` from
 * '@parley/protocol' would also pull in every zod schema (~100 KB gzipped) that the client never runs; the
 * protocol is only types everywhere else in the web client.
 */
export { LIMITS } from '../../../packages/protocol/src/limits';
