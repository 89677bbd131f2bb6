import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where a version's `source` points, as far as infergate can fetch it. */
export type SourceLocation = { kind: 'local'; path: string } | { kind: 'remote'; reason: string };

const SCHEME = /^([A-Za-z][A-Za-z0-9+.-]*):/;

/**
 * A local path or a `file:` URI is read from this machine's disk (a relative path against the
 * gateway's working folder); any other URI (s3://, runs:/, models:/, http://...) is recorded
 * as MLflow would and not fetched.
 */
export function locateSource(source: string): SourceLocation {
  const scheme = SCHEME.exec(source)?.[1];
  if (scheme === undefined || /^[A-Za-z]:[\\/]/.test(source)) {
    return { kind: 'local', path: isAbsolute(source) ? source : resolve(source) };
  }
  if (scheme.toLowerCase() === 'file') {
    try {
      return { kind: 'local', path: fileURLToPath(source) };
    } catch (err) {
      return { kind: 'remote', reason: `source '${source}' is a file URI infergate cannot read (${(err as Error).message}); only file:///absolute/path is read` };
    }
  }
  return {
    kind: 'remote',
    reason: `source scheme '${scheme}:' is not fetched by infergate (it reads local paths and file:// URIs); the version is recorded as MLflow would, but cannot be served`,
  };
}
