import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { readFile, readdir, realpath, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ConfigError } from '../config/validate.js';
import { unreadableRepository } from './repository-errors.js';

const NAME_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const VERSION_RE = /^[1-9][0-9]{0,17}$/;

/** Whether a name can be a model folder (and cannot leave the repository). */
export function isModelName(name: string): boolean {
  return NAME_RE.test(name) && !name.includes('..');
}

/** Whether a string is a version number (a version folder's name). */
export function isVersionNumber(v: string): boolean {
  return VERSION_RE.test(v);
}

/**
 * What a file is: where it really is after every link on its path (a Kubernetes `..data`
 * swap or a re-pointed link changes that even when the new target is older), its inode, size
 * and mtime; and its content's sha256, computed again only when those changed.
 */
export interface FileIdentity {
  where: string;
  sha256: string;
}

/**
 * What is on disk in a model repository: `<root>/<model>/config.yaml` and
 * `<root>/<model>/<version>/model.onnx`. Links are followed (a model folder, a version folder
 * or a file may be a symlink, as in a Kubernetes volume where every entry links into `..data`);
 * dot-entries (`..data`, `.infergate`) are never models. Knows nothing of loading.
 */
export class RepositoryScanner {
  readonly root: string;

  constructor(root: string) {
    this.root = resolve(root);
  }

  /** Fails with a message that says what to do when the repository cannot be read. */
  async check(): Promise<void> {
    if (!existsSync(this.root)) throw new ConfigError(`model repository '${this.root}' does not exist (--model-repository)`);
    try {
      await readdir(this.root);
    } catch (err) {
      throw new ConfigError(`model repository '${this.root}': ${unreadableRepository(err).message} (--model-repository)`);
    }
  }

  /** Names of the model folders (links to folders count). */
  async modelNames(): Promise<string[]> {
    let names: string[];
    try {
      names = await readdir(this.root);
    } catch (err) {
      throw unreadableRepository(err);
    }
    const found: string[] = [];
    for (const n of names) if (isModelName(n) && (await isDir(join(this.root, n)))) found.push(n);
    return found.sort();
  }

  /** Whether a model folder exists. */
  async hasModel(name: string): Promise<boolean> {
    return isModelName(name) && isDir(join(this.root, name));
  }

  /** The model's folder. */
  modelDir(name: string): string {
    return join(this.root, name);
  }

  /**
   * Version folders of a model that hold a model.onnx, in numeric order. Undefined when the
   * model folder exists but cannot be read (a permissions problem is not a removal).
   */
  async versionNumbers(name: string): Promise<string[] | undefined> {
    const dir = this.modelDir(name);
    let entries: string[];
    try {
      entries = await readdir(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      return undefined;
    }
    const found: string[] = [];
    for (const v of entries) if (isVersionNumber(v) && existsSync(join(dir, v, 'model.onnx'))) found.push(v);
    return found.sort((a, b) => Number(a) - Number(b));
  }

  /** The text of a model's config.yaml, or undefined when it has none. */
  async configText(name: string): Promise<string | undefined> {
    const path = join(this.modelDir(name), 'config.yaml');
    try {
      return await readFile(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new Error(`${name}/config.yaml cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
  }

  /** The path of a version's model file. */
  modelFile(name: string, version: string): string {
    return join(this.modelDir(name), version, 'model.onnx');
  }

  /**
   * The identity of a version's model file, hashing it only when size or mtime moved since
   * `known`; undefined when it cannot be read.
   */
  async modelIdentity(name: string, version: string, known?: FileIdentity): Promise<FileIdentity | undefined> {
    const path = this.modelFile(name, version);
    try {
      const real = await realpath(path);
      const s = await stat(real);
      const where = `${real}|${s.dev}:${s.ino}|${s.size}|${s.mtimeMs}`;
      if (known?.where === where) return known;
      return { where, sha256: await sha256File(real) };
    } catch {
      return undefined;
    }
  }
}

async function isDir(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

function sha256File(path: string): Promise<string> {
  return new Promise((ok, fail) => {
    const h = createHash('sha256');
    createReadStream(path).on('data', (d) => h.update(d)).on('error', fail).on('end', () => ok(h.digest('hex')));
  });
}
