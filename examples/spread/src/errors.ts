// The plugin's own error codes: registered in tickgate's error table, usable in both halves.
import { defineErrors } from 'tickgate/plugin';

export const errors = defineErrors('SPREAD_', {
  SPREAD_NO_BOOK: { status: 503, message: 'The order book of this symbol is not in sync yet: retry in a few seconds' },
  SPREAD_BAD_LEVELS: { status: 400, message: 'levels must be an integer from 1 to 100' },
});
