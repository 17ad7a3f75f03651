/**
 * Dependency-free SVG charts for lab reports and `mptcp demo`: line, scatter, step (path usage
 * over time), CDF and grouped bar charts.
 *
 * Contract:
 * - Every function returns a complete, standalone SVG document as a string.
 * - All text (title, labels, series names, categories) is XML-escaped.
 * - Non-finite points are ignored; empty series, a single point or a constant series still
 *   produce a valid chart with finite coordinates (never NaN or Infinity in the output).
 * - One legend entry per series (when there is more than one series, or the series is named).
 * - Axis ticks are "nice" (1, 2, 5 × 10^k) and labels compact (1.5k, 2M).
 * - Colors come from a categorical palette (Tableau 10) unless a series sets its own.
 */

export const PALETTE = [
  '#4e79a7',
  '#f28e2b',
  '#e15759',
  '#76b7b2',
  '#59a14f',
  '#edc948',
  '#b07aa1',
  '#ff9da7',
  '#9c755f',
  '#bab0ac',
] as const;

const DEFAULT_WIDTH_PX = 720;
const DEFAULT_HEIGHT_PX = 420;
const FONT = 'font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif"';
const CHAR_WIDTH_PX = 7; // rough width of one 12 px character, for layout

export interface XYSeries {
  name: string;
  points: ReadonlyArray<readonly [number, number]>;
  color?: string;
}

/** A vertical marker line at x, e.g. "wifi cut". */
export interface Annotation {
  x: number;
  label: string;
}

export interface XYChartOptions {
  title: string;
  xLabel?: string;
  yLabel?: string;
  series: XYSeries[];
  width?: number;
  height?: number;
  /** Force the axis ranges (otherwise taken from the data; y includes 0 when all y ≥ 0). */
  xMin?: number;
  xMax?: number;
  yMin?: number;
  yMax?: number;
  annotations?: Annotation[];
}

export interface CdfChartOptions {
  title: string;
  xLabel?: string;
  yLabel?: string;
  series: Array<{ name: string; values: readonly number[]; color?: string }>;
  width?: number;
  height?: number;
}

export interface BarChartOptions {
  title: string;
  xLabel?: string;
  yLabel?: string;
  categories: string[];
  /** values[i] belongs to categories[i]; missing or non-finite values draw no bar. */
  series: Array<{ name: string; values: readonly number[]; color?: string }>;
  width?: number;
  height?: number;
}

export function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) =>
    c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : c === '"' ? '&quot;' : '&apos;',
  );
}

/** Compact tick label: 1500 → "1.5k", 0.25 → "0.25", 2e6 → "2M". */
export function formatNumber(v: number): string {
  if (!Number.isFinite(v)) return '';
  const a = Math.abs(v);
  const trim = (x: number): string => String(Number(x.toPrecision(3)));
  if (a >= 1e9) return `${trim(v / 1e9)}G`;
  if (a >= 1e6) return `${trim(v / 1e6)}M`;
  if (a >= 1e4) return `${trim(v / 1e3)}k`;
  if (a === 0) return '0';
  return trim(v);
}

/** Nice tick values covering [lo, hi] (about `count` of them). lo < hi and both finite. */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  const span = hi - lo;
  const raw = span / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const norm = raw / mag;
  const step = (norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10) * mag;
  const decimals = Math.max(0, -Math.floor(Math.log10(step)));
  const clean = (v: number): number => Number(decimals <= 15 ? v.toFixed(decimals) : v.toPrecision(12));
  const ticks: number[] = [];
  for (let k = Math.ceil(lo / step - 1e-9); k * step <= hi + step * 1e-9 && ticks.length < 50; k++) {
    ticks.push(k === 0 ? 0 : clean(k * step));
  }
  return ticks;
}

/** Extends [lo, hi] to nice bounds; a degenerate or empty range becomes a sensible one. */
function niceDomain(lo: number, hi: number, count = 5): [number, number] {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return [0, 1];
  const mag = Math.max(Math.abs(lo), Math.abs(hi));
  if (hi - lo <= mag * 1e-9 || hi - lo < 1e-200) {
    // (nearly) constant data: centre it in a range of ±10 %, or [0, 1] around zero
    const mid = (lo + hi) / 2;
    const pad = Math.abs(mid) < 1e-200 ? 1 : Math.abs(mid) * 0.1;
    lo = Math.abs(mid) < 1e-200 ? 0 : mid - pad;
    hi = Math.abs(mid) < 1e-200 ? 1 : mid + pad;
    if (lo < 0 && mid >= 0) lo = 0; // keep a zero baseline for non-negative data
  }
  const ticks = niceTicks(lo, hi, count);
  const step = ticks.length > 1 ? ticks[1]! - ticks[0]! : hi - lo;
  const nlo = Math.floor(lo / step + 1e-9) * step;
  const nhi = Math.ceil(hi / step - 1e-9) * step;
  return [nlo, nhi > nlo ? nhi : nlo + step];
}

const r2 = (v: number): string => String(Math.round(v * 100) / 100);

interface Frame {
  width: number;
  height: number;
  left: number;
  top: number;
  plotW: number;
  plotH: number;
  x: (v: number) => number;
  y: (v: number) => number;
  xDomain: [number, number];
  yDomain: [number, number];
}

interface LegendItem {
  name: string;
  color: string;
}

function makeFrame(
  width: number,
  height: number,
  xDomain: [number, number],
  yDomain: [number, number],
  legend: LegendItem[],
  hasXLabel: boolean,
): Frame {
  const longest = legend.reduce((n, l) => Math.max(n, l.name.length), 0);
  const legendW = legend.length > 0 ? Math.min(220, 34 + longest * CHAR_WIDTH_PX) : 0;
  const left = 72;
  const top = 48;
  const right = 20 + legendW;
  const bottom = hasXLabel ? 56 : 36;
  const plotW = Math.max(40, width - left - right);
  const plotH = Math.max(40, height - top - bottom);
  const [x0, x1] = xDomain;
  const [y0, y1] = yDomain;
  return {
    width,
    height,
    left,
    top,
    plotW,
    plotH,
    xDomain,
    yDomain,
    x: (v) => left + ((v - x0) / (x1 - x0)) * plotW,
    y: (v) => top + plotH - ((v - y0) / (y1 - y0)) * plotH,
  };
}

function header(f: Frame, title: string): string[] {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${f.width}" height="${f.height}" viewBox="0 0 ${f.width} ${f.height}" ${FONT} font-size="12">`,
    `<rect x="0" y="0" width="${f.width}" height="${f.height}" fill="#ffffff"/>`,
    `<text x="${r2(f.width / 2)}" y="26" text-anchor="middle" font-size="16" font-weight="600" fill="#222222">${escapeXml(title)}</text>`,
  ];
}

function axes(f: Frame, xLabel: string | undefined, yLabel: string | undefined, xTicks: boolean): string[] {
  const out: string[] = ['<g class="axes">'];
  const bottom = f.top + f.plotH;
  for (const t of niceTicks(f.yDomain[0], f.yDomain[1])) {
    const y = r2(f.y(t));
    out.push(
      `<line x1="${f.left}" y1="${y}" x2="${r2(f.left + f.plotW)}" y2="${y}" stroke="#e6e6e6" stroke-width="1"/>`,
    );
    out.push(
      `<text x="${f.left - 8}" y="${y}" text-anchor="end" dominant-baseline="middle" fill="#555555">${escapeXml(formatNumber(t))}</text>`,
    );
  }
  if (xTicks) {
    for (const t of niceTicks(f.xDomain[0], f.xDomain[1], 8)) {
      const x = r2(f.x(t));
      out.push(
        `<line x1="${x}" y1="${f.top}" x2="${x}" y2="${r2(bottom)}" stroke="#f0f0f0" stroke-width="1"/>`,
      );
      out.push(
        `<text x="${x}" y="${r2(bottom + 18)}" text-anchor="middle" fill="#555555">${escapeXml(formatNumber(t))}</text>`,
      );
    }
  }
  out.push(
    `<line x1="${f.left}" y1="${r2(bottom)}" x2="${r2(f.left + f.plotW)}" y2="${r2(bottom)}" stroke="#333333" stroke-width="1"/>`,
    `<line x1="${f.left}" y1="${f.top}" x2="${f.left}" y2="${r2(bottom)}" stroke="#333333" stroke-width="1"/>`,
  );
  if (xLabel) {
    out.push(
      `<text x="${r2(f.left + f.plotW / 2)}" y="${r2(bottom + 42)}" text-anchor="middle" fill="#333333">${escapeXml(xLabel)}</text>`,
    );
  }
  if (yLabel) {
    const cy = r2(f.top + f.plotH / 2);
    out.push(
      `<text x="18" y="${cy}" text-anchor="middle" transform="rotate(-90 18 ${cy})" fill="#333333">${escapeXml(yLabel)}</text>`,
    );
  }
  out.push('</g>');
  return out;
}

/** Legend names longer than this are cut with an ellipsis (the legend column is at most 220 px). */
const LEGEND_NAME_MAX_CHARS = 26;

function truncate(name: string): string {
  return name.length > LEGEND_NAME_MAX_CHARS ? `${name.slice(0, LEGEND_NAME_MAX_CHARS - 1)}…` : name;
}

function legend(f: Frame, items: LegendItem[], kind: 'line' | 'dot' | 'box'): string[] {
  if (items.length === 0) return [];
  const x = f.left + f.plotW + 16;
  const out = ['<g class="legend">'];
  items.forEach((it, i) => {
    const y = f.top + 8 + i * 20;
    const c = escapeXml(it.color);
    if (kind === 'line') {
      out.push(
        `<line x1="${r2(x)}" y1="${y}" x2="${r2(x + 18)}" y2="${y}" stroke="${c}" stroke-width="2.5"/>`,
      );
    } else if (kind === 'dot') {
      out.push(`<circle cx="${r2(x + 9)}" cy="${y}" r="4" fill="${c}"/>`);
    } else {
      out.push(`<rect x="${r2(x + 3)}" y="${y - 6}" width="12" height="12" fill="${c}"/>`);
    }
    out.push(
      `<text x="${r2(x + 24)}" y="${y}" dominant-baseline="middle" fill="#333333">${escapeXml(truncate(it.name))}</text>`,
    );
  });
  out.push('</g>');
  return out;
}

function annotationMarks(f: Frame, anns: Annotation[] | undefined): string[] {
  const out: string[] = [];
  for (const a of anns ?? []) {
    if (!Number.isFinite(a.x) || a.x < f.xDomain[0] || a.x > f.xDomain[1]) continue;
    const x = r2(f.x(a.x));
    out.push(
      `<line x1="${x}" y1="${f.top}" x2="${x}" y2="${r2(f.top + f.plotH)}" stroke="#888888" stroke-width="1" stroke-dasharray="4 3"/>`,
      `<text x="${x}" y="${f.top - 4}" text-anchor="middle" font-size="11" fill="#555555">${escapeXml(a.label)}</text>`,
    );
  }
  return out;
}

const colorOf = (c: string | undefined, i: number): string => c ?? PALETTE[i % PALETTE.length]!;

function finitePoints(s: XYSeries): Array<readonly [number, number]> {
  return s.points.filter((p) => Number.isFinite(p[0]) && Number.isFinite(p[1]));
}

type XYKind = 'line' | 'scatter' | 'step';
/** Makes clip-path ids unique when several charts are inlined in one HTML page. */
let clipCounter = 0;

function xyChart(o: XYChartOptions, kind: XYKind): string {
  const series = o.series.map((s, i) => ({ name: s.name, color: colorOf(s.color, i), pts: finitePoints(s) }));
  let xlo = Infinity;
  let xhi = -Infinity;
  let ylo = Infinity;
  let yhi = -Infinity;
  for (const s of series) {
    for (const [x, y] of s.pts) {
      if (x < xlo) xlo = x;
      if (x > xhi) xhi = x;
      if (y < ylo) ylo = y;
      if (y > yhi) yhi = y;
    }
  }
  if (ylo > 0 && ylo !== Infinity) ylo = 0; // a zero baseline for non-negative data
  xlo = o.xMin ?? xlo;
  xhi = o.xMax ?? xhi;
  ylo = o.yMin ?? ylo;
  yhi = o.yMax ?? yhi;
  let xDomain: [number, number];
  if (o.xMin !== undefined && o.xMax !== undefined && o.xMax > o.xMin) xDomain = [o.xMin, o.xMax];
  else xDomain = niceDomain(xlo, xhi, 8);
  const yDomain =
    o.yMin !== undefined && o.yMax !== undefined && o.yMax > o.yMin ? [o.yMin, o.yMax] : niceDomain(ylo, yhi);
  const items = series.map((s) => ({ name: s.name, color: s.color }));
  const f = makeFrame(
    o.width ?? DEFAULT_WIDTH_PX,
    o.height ?? DEFAULT_HEIGHT_PX,
    xDomain,
    yDomain as [number, number],
    items,
    !!o.xLabel,
  );
  const out = header(f, o.title);
  out.push(...axes(f, o.xLabel, o.yLabel, true));
  const clipId = `plot-area-${++clipCounter}`;
  out.push(
    `<defs><clipPath id="${clipId}"><rect x="${f.left}" y="${f.top}" width="${r2(f.plotW)}" height="${r2(f.plotH)}"/></clipPath></defs>`,
  );
  out.push(`<g class="series" clip-path="url(#${clipId})">`);
  for (const s of series) {
    const c = escapeXml(s.color);
    const name = escapeXml(s.name);
    if (s.pts.length === 0) {
      out.push(`<g data-series="${name}"></g>`);
      continue;
    }
    if (kind === 'scatter' || s.pts.length === 1) {
      out.push(`<g data-series="${name}" fill="${c}" fill-opacity="0.8">`);
      for (const [x, y] of s.pts) out.push(`<circle cx="${r2(f.x(x))}" cy="${r2(f.y(y))}" r="3"/>`);
      out.push('</g>');
      continue;
    }
    let d = `M${r2(f.x(s.pts[0]![0]))} ${r2(f.y(s.pts[0]![1]))}`;
    for (let i = 1; i < s.pts.length; i++) {
      const [x, y] = s.pts[i]!;
      if (kind === 'step') d += `H${r2(f.x(x))}V${r2(f.y(y))}`;
      else d += `L${r2(f.x(x))} ${r2(f.y(y))}`;
    }
    out.push(
      `<path data-series="${name}" d="${d}" fill="none" stroke="${c}" stroke-width="2" stroke-linejoin="round" stroke-linecap="round"/>`,
    );
  }
  out.push('</g>');
  out.push(...annotationMarks(f, o.annotations));
  out.push(...legend(f, items, kind === 'scatter' ? 'dot' : 'line'));
  out.push('</svg>');
  return out.join('\n');
}

export function lineChart(o: XYChartOptions): string {
  return xyChart(o, 'line');
}

export function scatterChart(o: XYChartOptions): string {
  return xyChart(o, 'scatter');
}

/** Step-after lines (the value holds until the next point): path usage, cwnd, state over time. */
export function stepChart(o: XYChartOptions): string {
  return xyChart(o, 'step');
}

/** Empirical CDF of each series' values; y runs from 0 to 1. */
export function cdfChart(o: CdfChartOptions): string {
  const series: XYSeries[] = o.series.map((s) => {
    const v = s.values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
    const pts: Array<[number, number]> = [];
    if (v.length > 0) pts.push([v[0]!, 0]);
    v.forEach((x, i) => {
      pts.push([x, (i + 1) / v.length]);
    });
    return { name: s.name, points: pts, ...(s.color ? { color: s.color } : {}) };
  });
  return xyChart(
    {
      title: o.title,
      ...(o.xLabel ? { xLabel: o.xLabel } : {}),
      yLabel: o.yLabel ?? 'fraction ≤ x',
      series,
      ...(o.width ? { width: o.width } : {}),
      ...(o.height ? { height: o.height } : {}),
      yMin: 0,
      yMax: 1,
    },
    'step',
  );
}

/** Grouped vertical bars: one group per category, one bar per series. */
export function barChart(o: BarChartOptions): string {
  const items = o.series.map((s, i) => ({ name: s.name, color: colorOf(s.color, i) }));
  let lo = 0;
  let hi = -Infinity;
  for (const s of o.series) {
    for (const v of s.values) {
      if (!Number.isFinite(v)) continue;
      if (v > hi) hi = v;
      if (v < lo) lo = v;
    }
  }
  if (hi === -Infinity) hi = 1;
  const yDomain = niceDomain(lo, Math.max(hi, lo));
  const nCat = Math.max(1, o.categories.length);
  const f = makeFrame(
    o.width ?? DEFAULT_WIDTH_PX,
    o.height ?? DEFAULT_HEIGHT_PX,
    [0, nCat],
    yDomain,
    items,
    !!o.xLabel,
  );
  const out = header(f, o.title);
  out.push(...axes(f, o.xLabel, o.yLabel, false));
  const groupW = f.plotW / nCat;
  const nSer = Math.max(1, o.series.length);
  const barW = (groupW * 0.8) / nSer;
  const base = f.y(Math.max(yDomain[0], Math.min(0, yDomain[1])));
  o.categories.forEach((cat, ci) => {
    out.push(
      `<text x="${r2(f.left + groupW * (ci + 0.5))}" y="${r2(f.top + f.plotH + 18)}" text-anchor="middle" fill="#555555">${escapeXml(cat)}</text>`,
    );
  });
  out.push('<g class="series">');
  o.series.forEach((s, si) => {
    out.push(`<g data-series="${escapeXml(s.name)}" fill="${escapeXml(items[si]!.color)}">`);
    for (let ci = 0; ci < o.categories.length; ci++) {
      const v = s.values[ci];
      if (v === undefined || !Number.isFinite(v)) continue;
      const x = f.left + groupW * ci + groupW * 0.1 + barW * si;
      const y = f.y(v);
      out.push(
        `<rect x="${r2(x)}" y="${r2(Math.min(y, base))}" width="${r2(Math.max(1, barW - 2))}" height="${r2(Math.abs(base - y))}"><title>${escapeXml(`${s.name} / ${o.categories[ci]}: ${formatNumber(v)}`)}</title></rect>`,
      );
    }
    out.push('</g>');
  });
  out.push('</g>');
  out.push(...legend(f, items, 'box'));
  out.push('</svg>');
  return out.join('\n');
}
