/**
 * Gearport's public API: the client, worker and admin library, and the server itself for
 * embedding (start it with `startGearport(config)`; `defaultConfig()` documents every setting).
 */
export * from './client/index.js';
export { startGearport, type Gearport } from './server/server.js';
export { defaultConfig, validateConfig, ConfigError, type GearportConfig } from './server/config.js';
import './server/http-front-registration.js';
