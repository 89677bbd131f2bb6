import { sep } from 'node:path';
import { InferError } from '../protocol/errors.js';

/**
 * What the repository may say about the disk: paths relative to the repository folder (a
 * client has no business knowing where it lives) and system errors by their code.
 */

/** A message with every mention of the repository folder made relative to it. */
export function relativeToRepository(message: string, root: string): string {
  if (!message.includes(root)) return message;
  const withSep = root.endsWith(sep) ? root : root + sep;
  return message.split(withSep).join('').split(root).join('.');
}

/** The repository folder cannot be listed: said without its path or a stack (code and syscall only). */
export function unreadableRepository(err: unknown): InferError {
  const e = err as NodeJS.ErrnoException;
  const why = e.code ? `${e.code}${e.syscall ? ` on ${e.syscall}` : ''}` : String(e.message ?? err);
  return new InferError('unavailable', `cannot read the model repository folder (${why}); check that it is a folder the server's user may list`);
}
