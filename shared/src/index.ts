export * from './cidr.js';
export * from './config.js';
export * from './contract.js';
export * from './duration.js';
export * from './errors.js';
export * from './logger.js';
export * from './sse.js';
