// The exchange's symbol list as last loaded by shard 0, used to validate channel names before any upstream work.

export class SymbolRegistry {
  private symbols = new Map<string, string>();
  loadedAt = 0;
  lastError: string | undefined;

  replace(list: Array<[string, string]>): void {
    this.symbols = new Map(list);
    this.loadedAt = Date.now();
    this.lastError = undefined;
  }

  get loaded(): boolean {
    return this.loadedAt > 0;
  }

  /** The symbol's trading status ("TRADING", "BREAK", …), or undefined if the exchange does not list it. */
  status(symbol: string): string | undefined {
    return this.symbols.get(symbol);
  }

  get size(): number {
    return this.symbols.size;
  }

  list(): string[] {
    return [...this.symbols.keys()].sort();
  }
}
