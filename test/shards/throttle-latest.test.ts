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

t.test('a burst of 2: two values go at once, the third waits for the interval', async (t) => {
  const sent: number[] = [];
  const th = throttleLatest(100, (v: number) => {
    sent.push(v);
  }, 2);
  th.push(1);
  th.push(2);
  th.push(3);
  t.same(sent, [1, 2], 'two at once');
  await sleep(150);
  t.same(sent, [1, 2, 3], 'the third after one interval');
  th.close();
});

/** Updates every 60 ms into a throttle of 60 ms: the second comes 30 ms late, the third on time (30 ms after it). */
async function feedOneLate(th: { push(v: number): void }): Promise<void> {
  th.push(0);
  await sleep(90);
  th.push(1);
  await sleep(30);
  th.push(2);
}

t.test('fed at its own rate, a burst of 2 sends an update that follows a late one at once', async (t) => {
  let sent = 0;
  const th = throttleLatest(60, () => {
    sent++;
  }, 2);
  await feedOneLate(th);
  t.equal(sent, 3, 'none waited');
  th.close();
});

t.test('a burst of 1 holds an update that follows a late one (the behaviour a burst of 2 avoids)', async (t) => {
  let sent = 0;
  const th = throttleLatest(60, () => {
    sent++;
  });
  await feedOneLate(th);
  t.equal(sent, 2, 'the third waits');
  await sleep(80);
  t.equal(sent, 3);
  th.close();
});
