// Preloaded into every benchmark target (node --expose-gc --import): SIGUSR2 runs a full garbage collection and prints
// the process's memory figures on one line ("gc-on-signal {...}"). The harness sends it before it reads memory, so
// every target is measured as retained memory, not as garbage a burst left for a collection that had not come yet,
// and the V8 heap's empty reserve can be told apart from memory that is in use.
const gc = (globalThis as { gc?: () => void }).gc;
if (gc) {
  process.on('SIGUSR2', () => {
    gc();
    process.stdout.write(`gc-on-signal ${JSON.stringify(process.memoryUsage())}\n`);
  });
}
