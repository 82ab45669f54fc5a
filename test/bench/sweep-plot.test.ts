// The sweep's plot is written: a well-formed SVG document with one polyline per series and every series in the legend.
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chartSvg, niceMax, type Panel } from '../../bench/sweep/plot.js';
import { sweepPanels, type SweepRun } from '../../bench/sweep/panels.js';
import type { FanoutResult } from '../../bench/fanout/fanout.js';

/**
 * A small XML well-formedness check (no XML parser among the dependencies): one root element, every tag closed in
 * order, attributes quoted, no bare `&` or `<` in text. Returns the elements met, by name, with their attributes.
 */
function parseXml(xml: string): Array<{ name: string; attrs: Record<string, string>; text: string }> {
  const elements: Array<{ name: string; attrs: Record<string, string>; text: string }> = [];
  const open: Array<(typeof elements)[number]> = [];
  const token = /<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>|([^<]+)/gy;
  let roots = 0;
  let at = 0;
  for (let m = token.exec(xml); m; m = token.exec(xml)) {
    at = token.lastIndex;
    const [, close, name, attrText, selfClose, text] = m;
    if (text !== undefined) {
      if (/&(?!(amp|lt|gt|quot|apos);)/.test(text)) throw new Error(`bare & in text: ${text.slice(0, 40)}`);
      if (open.length) open.at(-1)!.text += text;
      else if (text.trim()) throw new Error(`text outside the root: ${text.slice(0, 40)}`);
      continue;
    }
    if (close) {
      const top = open.pop();
      if (top?.name !== name) throw new Error(`</${name}> closes <${top?.name}>`);
      continue;
    }
    const attrs = Object.fromEntries([...attrText!.matchAll(/([\w:-]+)="([^"]*)"/g)].map((a) => [a[1]!, a[2]!]));
    const el = { name: name!, attrs, text: '' };
    elements.push(el);
    if (open.length === 0) roots++;
    if (!selfClose) open.push(el);
  }
  if (at !== xml.length) throw new Error(`not markup at offset ${at}: ${xml.slice(at, at + 40)}`);
  if (open.length) throw new Error(`<${open.at(-1)!.name}> never closed`);
  if (roots !== 1) throw new Error(`${roots} root elements`);
  return elements;
}

t.test('the checker refuses what is not well-formed', async (t) => {
  t.throws(() => parseXml('<svg><g></svg>'));
  t.throws(() => parseXml('<svg x=1/>'));
  t.throws(() => parseXml('<svg>a & b</svg>'));
  t.throws(() => parseXml('<svg/><svg/>'));
  t.equal(parseXml('<svg a="1"><g/><text>a &amp; b</text></svg>').length, 3);
});

t.test('the plot is written: well-formed SVG, one polyline per series, a legend entry per series', async (t) => {
  const panels: Panel[] = [
    { title: 'CPU by connections', xLabel: 'connections', yLabel: 'CPU %', series: [
      { name: 'tickgate idle', points: [[1000, 1], [5000, 2], [10000, 3], [19000, 5]] },
      { name: 'tickgate active', points: [[19000, 40], [1000, 4], [5000, 11], [10000, 21]] },
      { name: 'uws-ceiling <&> active', points: [[1000, 3], [19000, 30]] },
    ] },
    { title: 'RSS by channels', xLabel: 'channels per client', yLabel: 'RSS MB', series: [{ name: 'tickgate 1000 clients', points: [[1, 90], [20, 95], [50, 104]] }] },
    { title: 'empty', xLabel: 'x', yLabel: 'y', series: [] },
  ];
  const dir = mkdtempSync(join(tmpdir(), 'sweep-plot-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'sweep.svg');
  writeFileSync(file, chartSvg('cost & growth', panels, 2));
  const svg = readFileSync(file, 'utf8');
  const elements = parseXml(svg.trim());
  t.equal(elements[0]!.name, 'svg');
  t.equal(elements[0]!.attrs.xmlns, 'http://www.w3.org/2000/svg');
  const lines = elements.filter((e) => e.name === 'polyline');
  t.same(lines.map((l) => l.attrs['data-series']), ['tickgate idle', 'tickgate active', 'uws-ceiling &lt;&amp;&gt; active', 'tickgate 1000 clients'], 'one polyline per series, names escaped');
  const points = (l: (typeof lines)[number]) => l.attrs.points!.split(' ').map((p) => p.split(',').map(Number));
  t.same(lines.map((l) => points(l).length), [4, 4, 2, 3], 'every point of every series');
  t.ok(lines.every((l) => points(l).every(([x, y]) => Number.isFinite(x) && Number.isFinite(y))), 'coordinates are numbers');
  const active = points(lines[1]!);
  t.ok(active.every(([x], i) => i === 0 || x! > active[i - 1]![0]!), 'points drawn in x order');
  t.ok(active.every(([, y], i) => i === 0 || y! < active[i - 1]![1]!), 'a growing figure goes up the page');
  const texts = elements.filter((e) => e.name === 'text').map((e) => e.text);
  for (const name of ['tickgate idle', 'tickgate active', 'uws-ceiling &lt;&amp;&gt; active', 'tickgate 1000 clients']) t.ok(texts.includes(name), `legend: ${name}`);
  t.ok(texts.includes('19k') && texts.includes('50'), 'x ticks at the measured points');
  t.ok(texts.includes('no data'), 'an empty panel says so');
  t.equal(elements.filter((e) => e.name === 'g' && e.attrs.class === 'panel').length, 3);
  // Every point inside its panel, a negative one too (memory above idle can be below zero).
  const negative = parseXml(chartSvg('t', [{ title: 'p', xLabel: 'x', yLabel: 'y', series: [{ name: 's', points: [[1, -5], [20, 1], [50, 0]] }] }]).trim());
  const ys = points(negative.find((e) => e.name === 'polyline')!).map(([, y]) => y!);
  const grid = negative.filter((e) => e.name === 'line' && (e.attrs.stroke === '#e5e5e5' || e.attrs.stroke === '#999')).map((e) => Number(e.attrs.y1));
  t.ok(ys.every((y) => y >= Math.min(...grid) && y <= Math.max(...grid)), `points within the grid: ${ys.join(', ')}`);
  t.same(negative.filter((e) => e.name === 'text').map((e) => e.text).filter((s) => /^-?\d+$/.test(s)).slice(0, 5), ['-6', '-4', '-2', '0', '2'], 'y ticks at round steps through zero');
});

t.test('sweep results become panels: a row per metric, a column per sweep, idle lines without latency', async (t) => {
  const result = (cpu: number, rss: number, p99: number) => ({ server: { cpuPercent: cpu, rssMbIdle: 70, rssMbLoaded: rss }, latencyMs: { p99, samples: p99 ? 10 : 0 } }) as unknown as FanoutResult;
  const runs: SweepRun[] = [
    { sweep: 'connections', line: 'idle', x: 1000, target: 'tickgate', result: result(1, 80, 0) },
    { sweep: 'connections', line: 'active', x: 1000, target: 'tickgate', result: result(3, 85, 20) },
    { sweep: 'connections', line: 'idle', x: 5000, target: 'tickgate', result: result(2, 86, 0) },
    { sweep: 'connections', line: 'active', x: 5000, target: 'tickgate', result: result(9, 95, 60) },
    { sweep: 'channels', line: '1000 clients', x: 20, target: 'tickgate', result: result(10, 90, 30) },
    { sweep: 'channels', line: '1000 clients', x: 1, target: 'tickgate', result: result(2, 88, 10) },
  ];
  const { panels, columns } = sweepPanels(runs);
  t.equal(columns, 2);
  t.same(panels.map((p) => p.series.map((s) => s.name)), [
    ['tickgate idle', 'tickgate active'], ['tickgate 1000 clients'],
    ['tickgate idle', 'tickgate active'], ['tickgate 1000 clients'],
    ['tickgate active'], ['tickgate 1000 clients'],
  ]);
  t.same(panels[4]!.series[0]!.points, [[1000, 20], [5000, 60]]);
  t.same(panels[2]!.series[1]!.points, [[1000, 15], [5000, 25]], 'RSS above the idle baseline');
  t.same(panels[1]!.series[0]!.points, [[1, 2], [20, 10]], 'sorted by x');
  t.equal(parseXml(chartSvg('t', panels, columns).trim()).filter((e) => e.name === 'polyline').length, 8, 'one polyline per series of every panel');
});

t.test('axis maxima are round numbers at or above the data', async (t) => {
  t.same([19000, 50, 0.3, 7, 101, 0, NaN].map(niceMax), [20000, 50, 0.5, 10, 200, 1, 1]);
});
