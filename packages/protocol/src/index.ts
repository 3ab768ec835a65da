export * from './errors.js';
export * from './limits.js';
export * from './emoji.js';
export * from './schemas.js';
export * from './rest.js';
export * from './events.js';
