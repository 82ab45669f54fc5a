// Binance Spot's signed order endpoints over the paper accounts: a bot written for Binance trades here by base URL.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import type { AcceptorApi, RouteRequest, RouteResult } from '../../core/plugin-api.js';
import { TickgateError } from '../../core/errors.js';
import type { UsersService } from '../users/service.js';
import { checkShape, CLIENT_ORDER_ID_RE, DECIMAL_RE, type NewOrder } from './order-rules.js';
import type { OrderService, OrderView } from './order-service.js';
import type { TradingStore, OrderRow, FillRow } from './trading-store.js';
import { D, OPEN_STATUSES, type Dec } from './ledger.js';
import type { TradingConfig } from './config.js';

/** Binance's error: `{code, msg}` with its HTTP status. */
class BinanceError extends Error {
  constructor(readonly code: number, readonly msg: string, readonly status = 400) {
    super(msg);
  }
}

const mandatory = (name: string) => new BinanceError(-1102, `Mandatory parameter '${name}' was not sent, was empty/null, or malformed.`);

/** Amounts as Binance writes them: fixed eight decimals. */
const f8 = (d: Dec | null | undefined) => (d ?? new D(0)).toFixed(8);


/** Maps the paper engine's coded errors to Binance's codes and messages, as Binance clients expect them. */
function binanceErrorOf(err: unknown): BinanceError | undefined {
  if (err instanceof BinanceError) return err;
  if (!(err instanceof TickgateError)) return undefined;
  switch (err.code) {
    case 'TG_ERR_ORDER_PRICE_FILTER': return new BinanceError(-1013, 'Filter failure: PRICE_FILTER');
    case 'TG_ERR_ORDER_LOT_SIZE': return new BinanceError(-1013, 'Filter failure: LOT_SIZE');
    case 'TG_ERR_ORDER_MIN_NOTIONAL': return new BinanceError(-1013, 'Filter failure: NOTIONAL');
    case 'TG_ERR_INSUFFICIENT_BALANCE': return new BinanceError(-2010, 'Account has insufficient balance for requested action.');
    case 'TG_ERR_BOOK_STALE': return new BinanceError(-2010, 'Order rejected: the order book is not current; retry in a few seconds.');
    case 'TG_ERR_TOO_MANY_ORDERS': return new BinanceError(-2010, 'Maximum number of open orders reached.');
    case 'TG_ERR_UNKNOWN_SYMBOL':
    case 'TG_ERR_INVALID_SYMBOL': return new BinanceError(-1121, 'Invalid symbol.');
    case 'TG_ERR_ORDER_NOT_FOUND': return new BinanceError(-2013, 'Order does not exist.');
    case 'TG_ERR_ORDER_NOT_OPEN': return new BinanceError(-2011, 'Unknown order sent.');
    case 'TG_ERR_VALIDATION': return new BinanceError(-1100, `Illegal characters found in a parameter: ${err.message}`);
    case 'TG_ERR_REQUEST_LIMIT': return new BinanceError(-1003, 'Too many requests; current limit is exceeded.', 429);
    case 'TG_ERR_TRADING_UNAVAILABLE':
    case 'TG_ERR_DATA_UNAVAILABLE':
    case 'TG_ERR_SYMBOLS_UNAVAILABLE': return new BinanceError(-1001, 'Internal error; unable to process your request. Please try again.', 503);
    default: return new BinanceError(-1000, `An unknown error occurred while processing the request: ${err.code}: ${err.message}`, 400);
  }
}

function answer(status: number, body: unknown): RouteResult {
  return { status, body };
}

/** The signed routes' input as the handlers read it: the raw query and body, whatever the schema documents. */
type SignedInput = Pick<RouteRequest, 'rawQuery' | 'rawBody' | 'headers' | 'remoteAddress'>;

/**
 * A parameter as the OpenAPI document lists it: in the query string, or in the form body. Every one is optional to
 * the schema, which never refuses (a string is a string): the route checks them itself and answers in Binance's
 * shape and codes, as Binance clients expect.
 */
const param = (description: string) => z.string().optional().meta({ description });

/** Binance's error, as these routes answer every failure. */
const binanceError = z.object({ code: z.number().int().meta({ description: 'Binance\'s error code, e.g. -1102' }), msg: z.string() });
const BINANCE_ERRORS = {
  400: binanceError,
  401: { description: 'The API key is malformed, unknown or disabled (-2014, -2015)', schema: binanceError },
  429: { description: 'Too many requests (-1003): wait for the seconds in Retry-After', schema: binanceError },
  503: { description: 'Try again (-1001)', schema: binanceError },
};

/** The request's parameters: the query string and a form body together, the query's value first (as Binance reads them). */
function paramsOf(req: SignedInput): Map<string, string> {
  const out = new Map<string, string>();
  const seen = new Set<string>();
  for (const [k, v] of new URLSearchParams(req.rawQuery)) {
    if (seen.has(k)) throw new BinanceError(-1101, 'Duplicate values for a parameter detected.');
    seen.add(k);
    out.set(k, v);
  }
  const body = req.rawBody?.toString('utf8') ?? '';
  if (body.trim() !== '') {
    if (body.trimStart().startsWith('{')) throw new BinanceError(-1100, 'Illegal characters found in the body: send parameters as a query string or application/x-www-form-urlencoded.');
    for (const [k, v] of new URLSearchParams(body)) if (!out.has(k)) out.set(k, v);
  }
  return out;
}

/** The bytes Binance signs: the query string then the body, as sent, with the signature parameter taken out. */
function signedPayload(req: SignedInput): string {
  const strip = (text: string) => text.split('&').filter((part) => part !== '' && !part.startsWith('signature=')).join('&');
  return strip(req.rawQuery) + strip(req.rawBody?.toString('utf8') ?? '');
}

export function binanceRoutes(api: AcceptorApi<TradingConfig>, orders: OrderService, store: TradingStore, users: UsersService): void {
  const cfg = api.config;

  /** Checks the API key, the signature and the timestamp; resolves with the signing user and the parameters. */
  const authenticate = async (req: SignedInput): Promise<{ userId: string; params: Map<string, string> }> => {
    const params = paramsOf(req);
    if (!params.get('timestamp')) throw mandatory('timestamp');
    if (!params.get('signature')) throw mandatory('signature');
    const key = req.headers['x-mbx-apikey'];
    if (!key || !/^tg_[A-Za-z0-9_-]{43}$/.test(key)) throw new BinanceError(-2014, 'API-key format invalid.', 401);
    const signing = await users.store.signingKey(key);
    if (!signing) throw new BinanceError(-2015, 'Invalid API-key, IP, or permissions for action.', 401);
    const status = await users.store.status(signing.userId);
    if (!status || status.disabled) throw new BinanceError(-2015, 'Invalid API-key, IP, or permissions for action.', 401);
    const expected = createHmac('sha256', signing.secret).update(signedPayload(req)).digest();
    const given = Buffer.from(params.get('signature')!.toLowerCase(), 'hex');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw new BinanceError(-1022, 'Signature for this request is not valid.');
    // Only an authentic request counts as a use of the key.
    void users.store.verifyApiKey(key).catch(() => undefined);
    const recvWindow = params.has('recvWindow') ? Number(params.get('recvWindow')) : 5000;
    if (!Number.isFinite(recvWindow) || recvWindow <= 0) throw mandatory('recvWindow');
    if (recvWindow > cfg.maxRecvWindowMs) throw new BinanceError(-1131, `recvWindow must be less than ${cfg.maxRecvWindowMs}.`);
    let timestamp = Number(params.get('timestamp'));
    if (!Number.isFinite(timestamp)) throw mandatory('timestamp');
    if (timestamp > 1e14) timestamp = Math.floor(timestamp / 1000); // microseconds
    const now = Date.now();
    if (timestamp >= now + 1000) throw new BinanceError(-1021, 'Timestamp for this request was 1000ms ahead of the server\'s time.');
    if (now - timestamp > recvWindow) throw new BinanceError(-1021, 'Timestamp for this request is outside of the recvWindow.');
    return { userId: signing.userId, params };
  };

  /** Every signed route's parameters besides its own. */
  const signing = {
    timestamp: param('Mandatory: when the request was made, in ms since the epoch (µs taken); refused outside recvWindow'),
    recvWindow: param(`How long the request is valid, in ms: at most ${cfg.maxRecvWindowMs}; default 5000`),
    signature: param('Mandatory: HMAC-SHA256 (hex) of the query string followed by the body, without this parameter, with the API key\'s secret'),
  };

  /** A signed route: every failure answers in Binance's shape. */
  const signed = (method: 'get' | 'post' | 'del', path: string, doc: { summary: string; params: Record<string, ReturnType<typeof param>> }, fn: (userId: string, p: Map<string, string>, req: SignedInput) => Promise<unknown>) => {
    api.route(method, path, async (req) => {
      try {
        const { userId, params } = await authenticate(req);
        return answer(200, await fn(userId, params, req));
      } catch (err) {
        const b = binanceErrorOf(err);
        if (!b) {
          api.log.error({ err, path }, 'Binance-compatible request failed');
          return answer(500, { code: -1000, msg: 'An unknown error occurred while processing the request.' });
        }
        return answer(b.status, { code: b.code, msg: b.msg });
      }
    }, {
      outsideNamespace: true, rawBody: true, maxBodyBytes: 16 * 1024,
      schema: {
        tags: ['binance'],
        summary: doc.summary,
        description: 'Binance Spot\'s signed endpoint over the paper accounts. Parameters go in the query string or in an application/x-www-form-urlencoded body (the query\'s value first); the API key in X-MBX-APIKEY; errors are Binance\'s `{code, msg}`.',
        query: z.object({ ...doc.params, ...signing }),
        response: { 200: { description: 'As Binance answers it', contentType: 'application/json' }, ...BINANCE_ERRORS },
      },
      // The caller's plan limits their requests (not their address's), and a refusal before the handler (a request
      // limit) answers in Binance's shape too.
      apiKeyHeader: 'x-mbx-apikey',
      errorShape: (e) => {
        const b = binanceErrorOf(new TickgateError(e.code, e.message)) ?? new BinanceError(-1000, 'An unknown error occurred while processing the request.', e.status);
        return answer(b.status, { code: b.code, msg: b.msg });
      },
    });
  };

  const symbolOf = (p: Map<string, string>, required: boolean): string | undefined => {
    const s = p.get('symbol');
    if (!s) {
      if (required) throw mandatory('symbol');
      return undefined;
    }
    if (!/^[A-Z0-9]{2,20}$/.test(s) || !api.symbols.serves(s)) throw new BinanceError(-1121, 'Invalid symbol.');
    return s;
  };

  const num = (p: Map<string, string>, name: string): number | undefined => {
    const v = p.get(name);
    if (v === undefined || v === '') return undefined;
    if (!/^\d{1,19}$/.test(v)) throw new BinanceError(-1100, `Illegal characters found in parameter '${name}'; legal range is '^[0-9]{1,19}$'.`);
    return Number(v);
  };

  /** The order a request names by orderId or origClientOrderId, in the user's account and the request's symbol. */
  const findOrder = async (userId: string, p: Map<string, string>, missing: BinanceError): Promise<OrderRow> => {
    const symbol = symbolOf(p, true);
    const id = num(p, 'orderId');
    const cid = p.get('origClientOrderId');
    if (id === undefined && !cid) throw new BinanceError(-1102, 'Param \'origClientOrderId\' or \'orderId\' must be sent, but both were empty/null!');
    const row = id !== undefined ? await store.order(userId, id) : await store.orderByClientId(userId, cid!);
    if (!row || row.symbol !== symbol || (cid && row.clientOrderId !== cid)) throw missing;
    return row;
  };

  const orderOut = (o: OrderRow) => ({
    symbol: o.symbol, orderId: o.id, orderListId: -1, clientOrderId: o.clientOrderId, price: f8(o.price), origQty: f8(o.quantity),
    executedQty: f8(o.filledQuantity), cummulativeQuoteQty: f8(o.quoteQuantity), status: o.status, timeInForce: o.timeInForce ?? 'GTC',
    type: o.type, side: o.side, stopPrice: f8(null), icebergQty: f8(null), time: o.createdAt.getTime(), updateTime: o.updatedAt.getTime(),
    isWorking: OPEN_STATUSES.includes(o.status), workingTime: o.createdAt.getTime(), origQuoteOrderQty: f8(null), selfTradePreventionMode: 'NONE',
  });

  const fillsOf = async (userId: string, orderId: number): Promise<FillRow[]> => (await store.fills(userId, { orderId, fromId: 1, limit: 1000 }));

  signed('post', '/api/v3/order', {
    summary: 'Places a paper order (Binance\'s new order)',
    params: {
      symbol: param('Mandatory'), side: param('Mandatory: BUY or SELL'), type: param('Mandatory: LIMIT or MARKET'), quantity: param('Mandatory'),
      price: param('LIMIT: mandatory'), timeInForce: param('LIMIT: mandatory, GTC or IOC'), newClientOrderId: param('Letters, digits and .:/_- (at most 36)'),
      newOrderRespType: param('ACK, RESULT or FULL (default)'),
    },
  }, async (userId, p) => {
    const symbol = symbolOf(p, true)!;
    const side = p.get('side');
    if (!side) throw mandatory('side');
    if (side !== 'BUY' && side !== 'SELL') throw new BinanceError(-1117, 'Invalid side.');
    const type = p.get('type');
    if (!type) throw mandatory('type');
    if (type !== 'LIMIT' && type !== 'MARKET') throw new BinanceError(-1116, 'Invalid orderType.');
    if (p.has('quoteOrderQty')) throw new BinanceError(-1106, 'Parameter \'quoteOrderQty\' sent when not required.');
    const quantity = p.get('quantity');
    if (!quantity || !DECIMAL_RE.test(quantity) || new D(quantity).lte(0)) throw mandatory('quantity');
    const price = p.get('price');
    const tif = p.get('timeInForce');
    if (type === 'LIMIT') {
      if (!price || !DECIMAL_RE.test(price) || new D(price).lte(0)) throw mandatory('price');
      if (!tif) throw mandatory('timeInForce');
    }
    if (tif && tif !== 'GTC' && tif !== 'IOC') throw new BinanceError(-1115, 'Invalid timeInForce.');
    const cid = p.get('newClientOrderId');
    if (cid !== undefined && !CLIENT_ORDER_ID_RE.test(cid)) throw new BinanceError(-1100, 'Illegal characters found in parameter \'newClientOrderId\'; legal range is \'^[a-zA-Z0-9-_.:/]{1,36}$\'.');
    const respType = p.get('newOrderRespType') ?? 'FULL';
    if (!['ACK', 'RESULT', 'FULL'].includes(respType)) throw new BinanceError(-1100, 'Illegal characters found in parameter \'newOrderRespType\'; legal range is \'ACK, RESULT, FULL\'.');
    const input: NewOrder = checkShape({
      symbol, side, type, quantity: new D(quantity), price: type === 'LIMIT' ? new D(price!) : undefined,
      timeInForce: type === 'LIMIT' ? (tif as 'GTC' | 'IOC') : null, clientOrderId: cid,
    });
    const { order } = await orders.place(userId, input);
    const row = (await store.order(userId, order.id))!;
    const ack = { symbol: row.symbol, orderId: row.id, orderListId: -1, clientOrderId: row.clientOrderId, transactTime: row.createdAt.getTime() };
    if (respType === 'ACK') return ack;
    const result = { ...ack, price: f8(row.price), origQty: f8(row.quantity), executedQty: f8(row.filledQuantity), origQuoteOrderQty: f8(null), cummulativeQuoteQty: f8(row.quoteQuantity), status: row.status, timeInForce: row.timeInForce ?? 'GTC', type: row.type, side: row.side, workingTime: row.createdAt.getTime(), selfTradePreventionMode: 'NONE' };
    if (respType === 'RESULT') return result;
    const fills = await fillsOf(userId, row.id);
    return { ...result, fills: fills.map((f) => ({ price: f8(f.price), qty: f8(f.quantity), commission: f8(f.fee), commissionAsset: f.feeAsset, tradeId: f.id })) };
  });

  const orderParams = { symbol: param('Mandatory'), orderId: param('This or origClientOrderId'), origClientOrderId: param('This or orderId') };
  signed('del', '/api/v3/order', { summary: 'Cancels an open paper order', params: { ...orderParams, newClientOrderId: param('The cancel\'s own client id') } }, async (userId, p) => {
    const row = await findOrder(userId, p, new BinanceError(-2011, 'Unknown order sent.'));
    let view: OrderView;
    try {
      view = await orders.cancel(userId, { id: row.id });
    } catch (err) {
      if (err instanceof TickgateError && (err.code === 'TG_ERR_ORDER_NOT_OPEN' || err.code === 'TG_ERR_ORDER_NOT_FOUND')) throw new BinanceError(-2011, 'Unknown order sent.');
      throw err;
    }
    const after = (await store.order(userId, view.id))!;
    const out = orderOut(after);
    return {
      symbol: out.symbol, origClientOrderId: out.clientOrderId, orderId: out.orderId, orderListId: -1, clientOrderId: p.get('newClientOrderId') ?? out.clientOrderId,
      transactTime: Date.now(), price: out.price, origQty: out.origQty, executedQty: out.executedQty, origQuoteOrderQty: out.origQuoteOrderQty,
      cummulativeQuoteQty: out.cummulativeQuoteQty, status: out.status, timeInForce: out.timeInForce, type: out.type, side: out.side, selfTradePreventionMode: 'NONE',
    };
  });

  signed('get', '/api/v3/order', { summary: 'One paper order', params: orderParams }, async (userId, p) => orderOut(await findOrder(userId, p, new BinanceError(-2013, 'Order does not exist.'))));

  signed('get', '/api/v3/openOrders', { summary: 'The open paper orders, of one symbol or all', params: { symbol: param('One symbol\'s only') } }, async (userId, p) => {
    const symbol = symbolOf(p, false);
    const rows = await store.orders(userId, { statuses: OPEN_STATUSES, ...(symbol ? { symbol } : {}), limit: cfg.maxOpenOrdersPerUser, newestFirst: false });
    return rows.map(orderOut);
  });

  signed('get', '/api/v3/account', { summary: 'The paper account: balances and commission rates', params: { omitZeroBalances: param('true: without empty balances') } }, async (userId, p) => {
    await store.transaction(() => store.ensureAccount(userId));
    const balances = await store.balances(userId);
    const omitZero = p.get('omitZeroBalances') === 'true';
    const bp = (r: number) => Math.round(r * 10_000);
    return {
      makerCommission: bp(cfg.fees.maker), takerCommission: bp(cfg.fees.taker), buyerCommission: 0, sellerCommission: 0,
      commissionRates: { maker: cfg.fees.maker.toFixed(8), taker: cfg.fees.taker.toFixed(8), buyer: '0.00000000', seller: '0.00000000' },
      canTrade: true, canWithdraw: false, canDeposit: false, brokered: false, requireSelfTradePrevention: false, preventSor: false,
      updateTime: Date.now(), accountType: 'SPOT',
      balances: [...balances].filter(([, b]) => !omitZero || !b.free.add(b.locked).isZero()).map(([asset, b]) => ({ asset, free: f8(b.free), locked: f8(b.locked) })),
      permissions: ['SPOT'], uid: 0,
    };
  });

  signed('get', '/api/v3/myTrades', {
    summary: 'The paper fills of one symbol, oldest first',
    params: {
      symbol: param('Mandatory'), orderId: param('One order\'s only'), fromId: param('From this trade id on'), startTime: param('ms since the epoch'),
      endTime: param('ms since the epoch'), limit: param('Default 500, at most 1000'),
    },
  }, async (userId, p) => {
    const symbol = symbolOf(p, true)!;
    const limit = Math.min(num(p, 'limit') ?? 500, 1000);
    const orderId = num(p, 'orderId');
    const fromId = num(p, 'fromId');
    const startTime = num(p, 'startTime');
    const endTime = num(p, 'endTime');
    const rows = await store.fills(userId, {
      symbol, limit, ...(orderId !== undefined ? { orderId } : {}), ...(fromId !== undefined ? { fromId } : {}),
      ...(startTime !== undefined ? { startTime: new Date(startTime) } : {}), ...(endTime !== undefined ? { endTime: new Date(endTime) } : {}),
    });
    // Binance lists trades oldest first.
    const ordered = fromId === undefined && startTime === undefined ? rows.reverse() : rows;
    return ordered.map((f) => ({
      symbol: f.symbol, id: f.id, orderId: f.orderId, orderListId: -1, price: f8(f.price), qty: f8(f.quantity), quoteQty: f8(f.quoteQuantity),
      commission: f8(f.fee), commissionAsset: f.feeAsset, time: f.createdAt.getTime(), isBuyer: f.side === 'BUY', isMaker: f.liquidity === 'maker', isBestMatch: true,
    }));
  });

  // Public: a bot that syncs its clock with the server before signing.
  api.route('get', '/api/v3/time', () => answer(200, { serverTime: Date.now() }), {
    outsideNamespace: true, schema: { tags: ['binance'], summary: 'The server\'s time (Binance\'s), to sign requests with', response: { 200: z.object({ serverTime: z.number().int() }) } },
  });
  api.route('get', '/api/v3/ping', () => answer(200, {}), {
    outsideNamespace: true, schema: { tags: ['binance'], summary: 'Answers {} (Binance\'s connectivity test)', response: { 200: z.object({}) } },
  });
}
