import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { pathToFileURL } from 'node:url';
import { parseModelConfig } from '../../config/model-config.js';
import type { Signature, StoredArtifact } from '../types.js';
import { LIMITS } from '../validate.js';
import { InvalidOnnxError, readOnnxSignature } from './onnx-signature.js';
import { locateSource } from './source.js';

/** What registering a source gave: stored and servable, recorded but not servable, or failed. */
export type IngestResult =
  | { kind: 'stored'; artifact: StoredArtifact; signature: Signature; card?: string }
  | { kind: 'unservable'; reason: string }
  | { kind: 'failed'; reason: string };

/** Model card file names looked for in a source folder, in this order. */
export const CARD_FILES = ['README.md', 'MODEL_CARD.md', 'model_card.md'];

/** A file copied into the store, with what it hashed to. */
interface CopiedFile {
  name: string;
  sha256: string;
  size: number;
}

async function copyHashing(from: string, to: string): Promise<{ sha256: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      size += chunk.length;
      cb(null, chunk);
    },
  });
  await pipeline(createReadStream(from), tap, createWriteStream(to, { flags: 'wx' }));
  return { sha256: hash.digest('hex'), size };
}

class Failed extends Error {}

/**
 * The content-addressed artifact store: `<root>/sha256/<digest>/` holds model.onnx (and
 * config.yaml when the source had one), where digest is the sha256 of the manifest
 * (each file's name and sha256). The same bytes registered twice are stored once. Files are
 * staged under `<root>/tmp/` and moved into place with one rename, so a half-copied artifact
 * is never visible.
 */
export class ArtifactStore {
  readonly root: string;

  constructor(
    root: string,
    private readonly opts: { maxModelBytes?: number; signatureTimeoutMs?: number } = {},
  ) {
    this.root = resolve(root);
  }

  /** The folder of a stored artifact. */
  dirOf(digest: string): string {
    return join(this.root, 'sha256', digest);
  }

  /** What get-download-uri answers for a stored artifact. */
  uriOf(digest: string): string {
    return pathToFileURL(this.dirOf(digest)).href;
  }

  /** Fetches a version's source into the store, reading its ONNX signature; never throws for a bad source. */
  async ingest(source: string, modelName: string): Promise<IngestResult> {
    const where = locateSource(source);
    if (where.kind === 'remote') return { kind: 'unservable', reason: where.reason };
    let info;
    try {
      info = await stat(where.path);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      return { kind: 'unservable', reason: `source path '${where.path}' cannot be read on the gateway's machine (${code ?? (err as Error).message}); the version is recorded but cannot be served` };
    }
    let modelFile = where.path;
    let configFile: string | undefined;
    let cardFile: string | undefined;
    if (info.isDirectory()) {
      modelFile = join(where.path, 'model.onnx');
      if (!existsSync(modelFile)) {
        return { kind: 'unservable', reason: `source folder '${where.path}' holds no model.onnx (infergate serves ONNX models); the version is recorded but cannot be served` };
      }
      if (existsSync(join(where.path, 'config.yaml'))) configFile = join(where.path, 'config.yaml');
      cardFile = CARD_FILES.map((f) => join(where.path, f)).find((f) => existsSync(f));
    } else if (!info.isFile()) {
      return { kind: 'unservable', reason: `source '${where.path}' is neither a file nor a folder` };
    }
    const staging = join(this.root, 'tmp', `${process.pid}-${randomBytes(6).toString('hex')}`);
    try {
      return await this.stage(staging, modelName, modelFile, configFile, cardFile);
    } catch (err) {
      if (err instanceof Failed || err instanceof InvalidOnnxError) return { kind: 'failed', reason: err.message };
      throw err;
    } finally {
      await rm(staging, { recursive: true, force: true });
    }
  }

  private async stage(staging: string, modelName: string, modelFile: string, configFile?: string, cardFile?: string): Promise<IngestResult> {
    const max = this.opts.maxModelBytes ?? 4 * 1024 ** 3;
    const size = (await stat(modelFile)).size;
    if (size > max) throw new Failed(`${modelFile} is ${size} bytes, over the artifact limit of ${max} bytes`);
    let card: string | undefined;
    if (cardFile) {
      const text = await readFile(cardFile, 'utf8');
      if (Buffer.byteLength(text) > LIMITS.modelCard) throw new Failed(`model card ${cardFile} is ${Buffer.byteLength(text)} bytes, over the limit of ${LIMITS.modelCard}`);
      card = text;
    }
    await mkdir(staging, { recursive: true });
    const files: CopiedFile[] = [{ name: 'model.onnx', ...(await copyHashing(modelFile, join(staging, 'model.onnx'))) }];
    if (configFile) {
      files.push({ name: 'config.yaml', ...(await copyHashing(configFile, join(staging, 'config.yaml'))) });
      try {
        parseModelConfig(await readFile(join(staging, 'config.yaml'), 'utf8'), modelName);
      } catch (err) {
        throw new Failed(`config.yaml is invalid: ${(err as Error).message}`);
      }
    }
    // Read from the staged copy: the signature describes exactly the bytes that are kept.
    const signature = await readOnnxSignature(join(staging, 'model.onnx'), this.opts.signatureTimeoutMs);
    const manifest = files.map((f) => `${f.name} ${f.sha256}\n`).join('');
    const digest = createHash('sha256').update(manifest).digest('hex');
    const final = this.dirOf(digest);
    if (!existsSync(final)) {
      await mkdir(join(this.root, 'sha256'), { recursive: true });
      try {
        await rename(staging, final);
      } catch (err) {
        // Another registration of the same bytes got there first: theirs is identical.
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
      }
    }
    const model = files[0];
    return { kind: 'stored', artifact: { digest, modelSha256: model.sha256, modelSize: model.size, hasConfig: configFile !== undefined }, signature, card };
  }
}
