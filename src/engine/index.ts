export * from './types.js';
export * from './errors.js';
export { Engine, type EngineOptions, defaultEngineOptions, coalesceKeyOf, MAX_UNIQUE_BYTES } from './engine.js';
export { Peer } from './peer.js';
export { runAdminCommand, type AdminContext } from './admin.js';
