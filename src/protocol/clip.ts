/**
 * Bounds on what a client can make the server repeat back. Error messages quote names,
 * datatypes and values the client sent; a 100,000-character datatype echoed into a gRPC
 * status (a response header) breaks the client's channel, and over HTTP it only costs
 * bandwidth and log space. Every client-supplied string goes through clip() before it
 * enters a message, and clipMessage() bounds each whole message where it leaves the
 * server (HTTP error body, gRPC status details, in-stream error_message).
 */

/** Longest client-supplied string quoted in an error message, in characters. */
export const CLIP_CHARS = 200;

/** Longest error message sent to a client, in characters. */
export const MESSAGE_CHARS = 1000;

/** A client-supplied string as an error message may quote it: the first `max` characters and how many were cut. */
export function clip(s: string, max = CLIP_CHARS): string {
  if (s.length <= max) return s;
  return `${s.slice(0, max)}... (${s.length - max} more characters)`;
}

/** Most elements of a client-supplied array quoted in a message. */
const QUOTED_ELEMENTS = 16;

/**
 * A client-supplied value as a message quotes it, bounded without serialising all of it:
 * primitives as JSON (strings clipped), arrays by their first elements, objects by kind.
 */
export function clipJson(v: unknown, max = CLIP_CHARS): string {
  if (typeof v === 'string') return JSON.stringify(clip(v, max));
  if (Array.isArray(v)) {
    const head = v.slice(0, QUOTED_ELEMENTS).map((x) => (Array.isArray(x) ? `[...]` : clipJson(x, 40)));
    const more = v.length > QUOTED_ELEMENTS ? `,... (${v.length} elements)` : '';
    return clip(`[${head.join(',')}${more}]`, max);
  }
  if (v === null || typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (v === undefined) return 'nothing';
  return typeof v === 'object' ? 'an object' : typeof v;
}

/** A whole error message bounded for the wire: head and tail kept, the middle cut. */
export function clipMessage(message: string, max = MESSAGE_CHARS): string {
  if (message.length <= max) return message;
  // Room for the marker, so that the whole stays within max.
  const room = Math.max(0, max - 48);
  const tail = Math.floor(room / 4);
  const head = room - tail;
  return `${message.slice(0, head)} ... (${message.length - head - tail} characters cut) ... ${tail > 0 ? message.slice(-tail) : ''}`;
}

/**
 * A message cut to at most `maxBytes` of UTF-8. gRPC status details travel percent-encoded in
 * a header (each non-ASCII byte becomes three characters) and grpc core clients refuse
 * metadata past 8 KiB, so a message of 1,000 emoji must shrink further than clipMessage does.
 */
export function clipUtf8(message: string, maxBytes: number): string {
  if (Buffer.byteLength(message) <= maxBytes) return message;
  let chars = message.length;
  let cut = message;
  while (chars > 0 && Buffer.byteLength(cut) > maxBytes) {
    chars = Math.floor((chars * maxBytes) / Buffer.byteLength(cut)) - 1;
    cut = clipMessage(message, Math.max(chars, 0));
  }
  return cut;
}
