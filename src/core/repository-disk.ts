import { readdir, realpath, stat } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * How the model repository reads the disk. Links are followed as Triton follows them (its
 * local file system stats through them): a model or version folder may be a symbolic link
 * (`ln -s /data/models/tabular_mlp models/tabular_mlp`), and so may model.onnx and
 * config.yaml. A Kubernetes ConfigMap or Secret volume is made of such links: every entry
 * points into `..data`, itself a link to a timestamped folder that an update swaps
 * atomically. Names starting with '.' (`..data`, `..2026_12_01_...`, `.infergate`) are never
 * models or versions, as Triton skips hidden entries.
 */

/** Names of the folders in `dir`, following links; dangling links and dot-entries are left out. Throws when `dir` cannot be read. */
export async function subfolders(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const out: string[] = [];
  for (const e of entries) {
    if (e.name.startsWith('.')) continue;
    if (e.isDirectory() || (e.isSymbolicLink() && (await isFolder(join(dir, e.name))))) out.push(e.name);
  }
  return out;
}

async function isFolder(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

/**
 * What a file is right now, after following every link on its path: real path, inode, size
 * and modification time ('' when absent). It changes when the file is rewritten or replaced,
 * and when a link on the way is pointed elsewhere, even if the new target is older.
 */
export async function fileIdentity(path: string): Promise<string> {
  try {
    const real = await realpath(path);
    const s = await stat(real);
    return `${real}|${s.dev}:${s.ino}|${s.size}|${s.mtimeMs}`;
  } catch {
    return '';
  }
}

/** The identity of the file each model version was loaded from, so polling can tell when it changed. */
export class LoadedFiles {
  private readonly ids = new Map<string, string>();

  /** Notes the file a version is about to be loaded from. */
  async remember(key: string, path: string): Promise<void> {
    this.ids.set(key, await fileIdentity(path));
  }

  /** Whether the file at `path` is no longer the one the version was loaded from. */
  async changed(key: string, path: string): Promise<boolean> {
    return (await fileIdentity(path)) !== this.ids.get(key);
  }
}
