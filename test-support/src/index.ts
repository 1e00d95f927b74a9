export * from './docker.js';
export * from './gateway.js';
export * from './nginx.js';
export * from './redis.js';
export * from './run.js';
export * from './service-process.js';
export * from './supervisor.js';
export * from './wrk.js';
