import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The install-script policy in package.json (allowScripts, read by npm 11.19 and later):
 * onnxruntime-node's script, whose only job is fetching the CUDA provider from NuGet, is
 * denied so installs stay offline; every other dependency script is decided too, so npm
 * prints no "not yet covered by allowScripts" notice, and .npmrc holds no key npm does not
 * know. .ci/run checks the same on a fresh `npm ci` log.
 */

const ROOT = resolve(import.meta.dirname, '../..');
const npmVersion = spawnSync('npm', ['--version'], { encoding: 'utf8' }).stdout.trim();
const [major, minor] = npmVersion.split('.').map(Number);
const hasAllowScripts = major > 11 || (major === 11 && minor >= 19);

describe('install-script policy', () => {
  it('denies onnxruntime-node\'s install script in package.json', () => {
    const pkg = JSON.parse(readFileSync(resolve(ROOT, 'package.json'), 'utf8'));
    expect(pkg.allowScripts['onnxruntime-node']).toBe(false);
    expect(readFileSync(resolve(ROOT, '.npmrc'), 'utf8')).not.toMatch(/onnxruntime-node-install/);
  });

  it.skipIf(!hasAllowScripts)(`covers every installed dependency's install script, with no config warning (skipped when npm is older than 11.19, which has no allowScripts; npm here: ${npmVersion})`, () => {
    const r = spawnSync('npm', ['install-scripts', 'ls'], { cwd: ROOT, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/No packages with unreviewed install scripts/);
    expect(r.stdout + r.stderr).not.toMatch(/Unknown \w+ config|not yet covered by allowScripts/);
  });
});
