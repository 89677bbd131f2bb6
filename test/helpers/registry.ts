import { cpSync, existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

/**
 * Where tabular_mlp's versions come from: the shared model zoo (../shared/models from the
 * repository) when this checkout has it, else the repository's own models/ (same files).
 */
export const ZOO = (() => {
  const shared = process.env.INFERGATE_SHARED_MODELS ?? resolve(import.meta.dirname, '../../../shared/models');
  return existsSync(join(shared, 'tabular_mlp', '1', 'model.onnx')) ? shared : resolve(import.meta.dirname, '../../models');
})();

/** A version folder of tabular_mlp (holds model.onnx and golden.json). */
export const mlpVersion = (v: 1 | 2 | 3): string => join(ZOO, 'tabular_mlp', String(v));

/** A scratch folder for one test's registry files. */
export function scratchDir(prefix = 'infergate-reg-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** A folder holding model.onnx (copied from tabular_mlp v1), a config.yaml and a model card. */
export function versionFolderWithConfig(config = 'max_batch_size: 8\n', card = '# tabular_mlp\n\nA small MLP.\n'): string {
  const dir = scratchDir('infergate-src-');
  cpSync(join(mlpVersion(1), 'model.onnx'), join(dir, 'model.onnx'));
  writeFileSync(join(dir, 'config.yaml'), config);
  writeFileSync(join(dir, 'README.md'), card);
  return dir;
}

/** A file that is not ONNX. */
export function notOnnxFile(): string {
  const dir = scratchDir('infergate-bad-');
  mkdirSync(dir, { recursive: true });
  const f = join(dir, 'model.onnx');
  writeFileSync(f, 'this is not a protobuf');
  return f;
}
