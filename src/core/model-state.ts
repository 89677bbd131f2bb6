/** The load states of a model version, as Triton's repository index names them. */
export const MODEL_STATES = ['LOADING', 'READY', 'UNAVAILABLE', 'UNLOADING'] as const;
export type ModelState = (typeof MODEL_STATES)[number];
