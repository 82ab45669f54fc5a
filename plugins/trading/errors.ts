// The trading plugin's error codes (a built-in plugin: TG_ERR_ codes, in the README's one error table).
import { defineErrors } from '../../core/errors.js';

export const TRADING_ERRORS = defineErrors('TG_ERR_', {
  TG_ERR_ORDER_PRICE_FILTER: { status: 400, message: 'The price breaks the symbol\'s price filter: use a multiple of its tick size within its price range (GET /api/v1/orders/rules/:symbol)' },
  TG_ERR_ORDER_LOT_SIZE: { status: 400, message: 'The quantity breaks the symbol\'s lot size: use a multiple of its step size within its quantity range (GET /api/v1/orders/rules/:symbol)' },
  TG_ERR_ORDER_MIN_NOTIONAL: { status: 400, message: 'The order\'s value is outside the symbol\'s notional range: price × quantity must reach its minimum (and stay under its maximum) (GET /api/v1/orders/rules/:symbol)' },
  TG_ERR_INSUFFICIENT_BALANCE: { status: 400, message: 'Your paper account has too little free balance for this order: GET /api/v1/portfolio shows it; cancel open orders or reset the account (POST /api/v1/portfolio/reset)' },
  TG_ERR_BOOK_STALE: { status: 503, message: 'The order book of this symbol is not current (the exchange connection is down or the book is being rebuilt): nothing was filled; retry in a few seconds' },
  TG_ERR_ORDER_NOT_FOUND: { status: 404, message: 'No such order in your paper account: GET /api/v1/orders lists yours' },
  TG_ERR_ORDER_NOT_OPEN: { status: 409, message: 'The order is no longer open (filled, canceled, rejected or expired): there is nothing to cancel' },
  TG_ERR_TOO_MANY_ORDERS: { status: 409, message: 'Your paper account has as many open orders as it may: cancel some before placing more' },
  TG_ERR_TRADING_UNAVAILABLE: { status: 503, message: 'Paper trading is not available right now (the database did not answer): retry in a few seconds' },
});
