// Line charts as SVG text: panels of series (one polyline each) on shared colours, with axes, ticks and a legend.
// Written by hand: a few axes, polylines and labels fit in this file, where a charting library that renders SVG
// headless (vega with vega-lite) would add some thirty packages to the devDependencies for the same picture.

export interface Series {
  name: string;
  points: Array<[x: number, y: number]>;
}

export interface Panel {
  title: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
}

const W = 400;
const H = 260;
const M = { left: 58, right: 18, top: 30, bottom: 44 };
const TITLE = 34;
const LEGEND_ROW = 20;
const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#17becf', '#7f7f7f'];

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
/** Coordinates to a tenth of a pixel: shorter text, the same picture. */
const px = (n: number) => String(Math.round(n * 10) / 10);
/** A tick label: 19000 → 19k, 2.5 → 2.5. */
const tick = (n: number) => (Math.abs(n) >= 1000 ? `${Math.round(n / 100) / 10}k` : String(Math.round(n * 100) / 100));

/** The round number at or above `max`: 1, 2, 2.5 or 5 times a power of ten (an axis maximum, or a tick step). */
export function niceMax(max: number): number {
  if (!(max > 0) || !Number.isFinite(max)) return 1;
  const p = 10 ** Math.floor(Math.log10(max));
  for (const m of [1, 2, 2.5, 5]) if (m * p >= max) return m * p;
  return 10 * p;
}

function text(x: number, y: number, s: string, attrs = ''): string {
  return `<text x="${px(x)}" y="${px(y)}"${attrs ? ` ${attrs}` : ''}>${esc(s)}</text>`;
}

/** One panel with its top-left corner at (x0, y0); `color` gives each series name its colour. */
function panel(p: Panel, x0: number, y0: number, color: (name: string) => string): string {
  const points = p.series.flatMap((s) => s.points).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  const xs = [...new Set(points.map(([x]) => x))].sort((a, b) => a - b);
  const xMax = niceMax(Math.max(...xs));
  const ys = points.map(([, y]) => y);
  // Round steps from zero (or below: memory above idle can be negative, by heap noise) to at or above the highest figure.
  const low = Math.min(0, ...ys);
  const high = Math.max(0, ...ys);
  const step = niceMax((high - low) / 5);
  const yMin = Math.floor(low / step) * step;
  const yMax = Math.max(yMin + step, Math.ceil(high / step) * step);
  const iw = W - M.left - M.right;
  const ih = H - M.top - M.bottom;
  const sx = (x: number) => x0 + M.left + (x / xMax) * iw;
  const sy = (y: number) => y0 + M.top + ih - ((y - yMin) / (yMax - yMin)) * ih;
  const out = [`<g class="panel" data-title="${esc(p.title)}">`, text(x0 + W / 2, y0 + 18, p.title, 'text-anchor="middle" font-weight="bold"')];
  for (let i = 0; yMin + i * step <= yMax + step / 1e6; i++) {
    const v = yMin + i * step;
    const zero = Math.abs(v) < step / 1e6;
    out.push(`<line x1="${px(sx(0))}" x2="${px(sx(xMax))}" y1="${px(sy(v))}" y2="${px(sy(v))}" stroke="${zero ? '#999' : '#e5e5e5'}"/>`);
    out.push(text(sx(0) - 6, sy(v) + 4, tick(v), 'text-anchor="end"'));
  }
  for (const x of xs) out.push(text(sx(x), sy(yMin) + 16, tick(x), 'text-anchor="middle"'));
  out.push(`<path d="M${px(sx(0))} ${px(sy(yMax))}V${px(sy(yMin))}H${px(sx(xMax))}" fill="none" stroke="#333"/>`);
  const yMid = sy((yMin + yMax) / 2);
  out.push(text(sx(xMax / 2), y0 + H - 8, p.xLabel, 'text-anchor="middle"'));
  out.push(text(x0 + 14, yMid, p.yLabel, `text-anchor="middle" transform="rotate(-90 ${px(x0 + 14)} ${px(yMid)})"`));
  if (points.length === 0) out.push(text(sx(xMax / 2), yMid, 'no data', 'text-anchor="middle" fill="#999"'));
  for (const s of p.series) {
    const pts = s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y)).sort(([a], [b]) => a - b);
    const c = color(s.name);
    out.push(`<polyline data-series="${esc(s.name)}" fill="none" stroke="${c}" stroke-width="2" points="${pts.map(([x, y]) => `${px(sx(x))},${px(sy(y))}`).join(' ')}"/>`);
    for (const [x, y] of pts) out.push(`<circle cx="${px(sx(x))}" cy="${px(sy(y))}" r="3" fill="${c}"><title>${esc(`${s.name}: ${tick(x)}, ${y}`)}</title></circle>`);
  }
  out.push('</g>');
  return out.join('\n');
}

/** An SVG document: `title`, then the panels in rows of `columns`, then a legend of every series name (one colour each). */
export function chartSvg(title: string, panels: Panel[], columns = 2): string {
  const names = [...new Set(panels.flatMap((p) => p.series.map((s) => s.name)))];
  const color = (name: string) => COLORS[names.indexOf(name) % COLORS.length]!;
  const rows = Math.ceil(panels.length / columns);
  const width = W * Math.min(columns, Math.max(1, panels.length));
  const height = TITLE + rows * H + 12 + names.length * LEGEND_ROW;
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    text(width / 2, 22, title, 'text-anchor="middle" font-size="15" font-weight="bold"'),
    ...panels.map((p, i) => panel(p, (i % columns) * W, TITLE + Math.floor(i / columns) * H, color)),
  ];
  names.forEach((name, i) => {
    const y = TITLE + rows * H + 12 + i * LEGEND_ROW;
    out.push(`<line x1="${M.left}" x2="${M.left + 24}" y1="${y}" y2="${y}" stroke="${color(name)}" stroke-width="3"/>`, text(M.left + 32, y + 4, name));
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
