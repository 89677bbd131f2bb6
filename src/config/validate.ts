/** Small helpers for validating config objects with messages that name the key. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export type Obj = Record<string, unknown>;

export function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Fails on the first key that is not allowed, naming it and where it was found. */
export function onlyKeys(o: Obj, allowed: readonly string[], where: string): void {
  for (const k of Object.keys(o)) {
    if (!allowed.includes(k)) {
      throw new ConfigError(`${where}: unknown key '${k}' (allowed: ${allowed.join(', ')})`);
    }
  }
}

export function obj(v: unknown, where: string): Obj {
  if (v === undefined || v === null) return {};
  if (!isObj(v)) throw new ConfigError(`${where}: must be a mapping`);
  return v;
}

export function int(v: unknown, where: string, dflt: number, min = 0): number {
  if (v === undefined) return dflt;
  const n = typeof v === 'string' && /^-?\d+$/.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < min) {
    throw new ConfigError(`${where}: must be an integer >= ${min}, got ${JSON.stringify(v)}`);
  }
  return n;
}

export function bool(v: unknown, where: string, dflt: boolean): boolean {
  if (v === undefined) return dflt;
  if (typeof v !== 'boolean') throw new ConfigError(`${where}: must be true or false, got ${JSON.stringify(v)}`);
  return v;
}

export function str<T extends string>(v: unknown, where: string, allowed: readonly T[], dflt: T): T {
  if (v === undefined) return dflt;
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
    throw new ConfigError(`${where}: must be one of ${allowed.join(', ')}, got ${JSON.stringify(v)}`);
  }
  return v as T;
}

export function intList(v: unknown, where: string, min = 0): number[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) throw new ConfigError(`${where}: must be a list of integers`);
  return v.map((x, i) => int(x, `${where}[${i}]`, 0, min));
}
