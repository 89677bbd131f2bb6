// Shared by pool.ts (main thread) and worker.js (plain JavaScript, so no TypeScript import).

/**
 * Tensors at least this large cross between threads by transfer; smaller ones are copied by
 * structured clone, which costs less than detaching and moving a buffer.
 */
export const TRANSFER_MIN_BYTES = 64 * 1024;
