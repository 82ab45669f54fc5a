// throttleLatest: at most one send per interval, the latest value kept, never an older one after a newer one.
import t from 'tap';
import { throttleLatest } from '../../shards/throttle-latest.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

t.test('the first value goes at once; values within the interval wait, the latest wins', async (t) => {
  const sent: number[] = [];
  const th = throttleLatest(100, (v: number) => {
    sent.push(v);
  });
  th.push(1);
  th.push(2);
  th.push(3);
  t.same(sent, [1], 'one at once');
  await sleep(150);
  t.same(sent, [1, 3], 'the latest at the end of the interval, 2 skipped');
  th.close();
});

t.test('a value sent at once drops an older one waiting, and close() drops what waits', async (t) => {
  const sent: number[] = [];
  const th = throttleLatest(60, (v: number) => {
    sent.push(v);
  });
  th.push(1);
  th.push(2);
  await sleep(80);
  t.same(sent, [1, 2]);
  await sleep(80);
  th.push(3);
  th.push(4);
  th.close();
  await sleep(100);
  t.same(sent, [1, 2, 3], '4 waited and was dropped by close');
});

t.test('send returning false (nothing changed) does not start the interval', async (t) => {
  const sent: number[] = [];
  const th = throttleLatest(1000, (v: number) => {
    if (v === 0) return false;
    sent.push(v);
  });
  th.push(0);
  th.push(5);
  t.same(sent, [5], 'sent at once: the unchanged value did not count');
  th.close();
});
