// Loads uWebSockets.js and refuses to run on its silent pure-JS fallback.
import { createRequire } from 'node:module';
import type * as UWS from 'uWebSockets.js';

export type { UWS };

export class NativeBindingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NativeBindingError';
  }
}

let cached: typeof UWS | undefined;

/**
 * The uWebSockets.js package falls back to a slow JavaScript server when its native binary does not load
 * (wrong Node ABI, platform or libc), printing only a warning. tickgate's performance rests on the native
 * binding, so it checks that the binary itself was loaded and stops with a clear message otherwise.
 */
export function loadNativeUws(): typeof UWS {
  if (cached) return cached;
  const require = createRequire(import.meta.url);
  const entry = require.resolve('uWebSockets.js');
  const uws = require('uWebSockets.js') as typeof UWS;
  const packageDir = entry.slice(0, entry.lastIndexOf('/src/'));
  const nativeLoaded = Object.keys(require.cache).some((k) => k.startsWith(packageDir) && k.endsWith('.node'));
  if (!nativeLoaded) {
    throw new NativeBindingError(
      `uWebSockets.js native binding did not load for Node ${process.version} ` +
        `(${process.platform}-${process.arch}, ABI ${process.versions.modules}); the package fell back to its slow ` +
        'JavaScript server, which tickgate does not run on. Use Node 20 on x64/arm64 Linux or macOS with glibc ≥ 2.31, ' +
        'reinstall with `npm ci`, and make sure no environment variable forces the fallback.',
    );
  }
  cached = uws;
  return uws;
}
