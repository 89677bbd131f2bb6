/** FNV-1a 32-bit of a string: a stable, fast bucket for sticky routing. */
export function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * A key's bucket in [0, 10000) for one rollout. A key goes to the candidate when its bucket is
 * below weight * 100, so raising the weight only moves keys from baseline to candidate.
 */
export const bucketOf = (rolloutId: string, key: string): number => fnv1a(`${rolloutId}\u0000${key}`) % 10_000;
