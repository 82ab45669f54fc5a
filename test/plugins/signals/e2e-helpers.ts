// Helpers of the signals end-to-end tests: model files replaced as a deploy does, JSON requests.
import { renameSync, writeFileSync } from 'node:fs';

/** Replaces the model file the way a deploy does: a new file renamed over the old one. */
export function installModel(path: string, bytes: Uint8Array): void {
  writeFileSync(`${path}.tmp`, bytes);
  renameSync(`${path}.tmp`, path);
}

export async function json(url: string, init?: RequestInit): Promise<{ status: number; body: any }> {
  const res = await fetch(url, init);
  return { status: res.status, body: await res.json() };
}
