export * from './packets.js';
export * from './errors.js';
export * from './decoder.js';
export * from './encoder.js';
export * from './admin.js';
export * from './packet-builder.js';
