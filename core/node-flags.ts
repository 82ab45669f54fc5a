// The Node flag tickgate's start script passes, and the start-log hint when it is missing.
//
// The acceptor keeps little per connection, but a burst of connections (a reconnect storm, a benchmark) makes many
// short-lived objects survive a young-generation collection. V8 then doubles the young generation, up to 2 × 16 MB
// on 64-bit with Node 20, and keeps it while the process stays busy. Capping the semi-space at 2 MB keeps that memory
// out of the gateway's RSS. The flag applies to every thread, shards included; measured costs are in BENCHMARKS.md.

/** The flag `npm start` passes to node (package.json), with its value in MB. */
export const SEMI_SPACE_FLAG = '--max-semi-space-size';

/** A line for the start log when node runs without a semi-space cap (not from `npm start`), else undefined. */
export function youngGenerationHint(execArgv: readonly string[], nodeOptions: string | undefined): string | undefined {
  const given = [...execArgv, ...(nodeOptions ?? '').split(/\s+/)]
    .map((a) => a.replaceAll('_', '-'))
    .some((a) => a === SEMI_SPACE_FLAG || a.startsWith(`${SEMI_SPACE_FLAG}=`));
  if (given) return undefined;
  return `node runs without ${SEMI_SPACE_FLAG}: after a burst of connections V8 may keep up to 32 MB of young generation; ` +
    `npm start passes ${SEMI_SPACE_FLAG}=2 (or set NODE_OPTIONS=${SEMI_SPACE_FLAG}=2)`;
}
