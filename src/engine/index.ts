export * from './types.js';
export * from './errors.js';
export { Engine, type EngineOptions, defaultEngineOptions, MAX_UNIQUE_BYTES } from './engine.js';
export { coalesceKeyOf } from './job-keys.js';
export { Peer } from './peer.js';
export { runAdminCommand, type AdminContext } from './admin.js';
