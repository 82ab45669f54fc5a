// permessage-deflate (server.compression): offered to clients that ask, frames arrive intact and smaller on the wire.
import t from 'tap';
import WebSocket from 'ws';
import type { Socket } from 'node:net';
import { startStack } from '../helpers/stack.js';

/** Connects (offering deflate or not), takes `n` price frames, and says what was negotiated and read off the socket. */
async function take(url: string, deflate: boolean, n: number): Promise<{ extensions: string; bytesRead: number; frames: any[] }> {
  const ws = new WebSocket(url, { perMessageDeflate: deflate ? { serverNoContextTakeover: true, clientNoContextTakeover: true } : false });
  const frames: any[] = [];
  await new Promise<void>((resolve, reject) => {
    ws.on('error', reject);
    ws.on('open', () => ws.send(JSON.stringify({ type: 'subscribe', channels: ['depth:BTCUSDT:20'] })));
    ws.on('message', (data: Buffer) => {
      const f = JSON.parse(data.toString());
      if (f.type === 'depth') frames.push(f);
      if (frames.length === n) resolve();
    });
  });
  const socket = (ws as unknown as { _socket: Socket })._socket;
  const out = { extensions: ws.extensions, bytesRead: socket.bytesRead, frames };
  ws.close();
  return out;
}

t.test('with compression shared, a client that offers deflate gets compressed frames; one that does not, plain ones', async (t) => {
  const { wsUrl } = await startStack(t, { config: { server: { compression: 'shared' } } });
  const packed = await take(wsUrl, true, 20);
  t.match(packed.extensions, /permessage-deflate/, 'negotiated');
  t.equal(packed.frames[5].channel, 'depth:BTCUSDT:20', 'frames arrive whole');
  t.ok(packed.frames.every((f, i) => i === 0 || f.seq === packed.frames[i - 1].seq + 1), 'in order');
  const plain = await take(wsUrl, false, 20);
  t.equal(plain.extensions, '', 'a client that does not ask gets no compression');
  t.ok(packed.bytesRead < plain.bytesRead * 0.8, `compressed on the wire: ${packed.bytesRead} bytes against ${plain.bytesRead}`);
});

t.test('with compression off (the default), deflate is not negotiated', async (t) => {
  const { wsUrl } = await startStack(t);
  const r = await take(wsUrl, true, 3);
  t.equal(r.extensions, '');
  t.equal(r.frames.length, 3);
});
