/**
 * The demo's figures: path usage over time (the seed's Fig. 1: each message by the path that carried
 * it) and data sequence number over time coloured by subflow, with the cut marked.
 */
import { scatterChart, type XYSeries } from '../lab/svg.js';
import type { DemoResult } from './run-demo.js';

export function pathUsageChart(r: DemoResult): string {
  const byPath = new Map<string, Array<[number, number]>>();
  for (const m of r.messages) {
    const points = byPath.get(m.path) ?? [];
    points.push([m.deliveredAtMs / 1000, m.index]);
    byPath.set(m.path, points);
  }
  const series: XYSeries[] = [...byPath].map(([name, points]) => ({ name, points }));
  return scatterChart({
    title: 'Path usage over time: each message by the path that delivered it',
    xLabel: 'time (s)',
    yLabel: 'message',
    series,
    yMin: 0,
    annotations: r.cutAtMs === undefined ? [] : [{ x: r.cutAtMs / 1000, label: 'primary cut' }],
  });
}

export function dsnChart(r: DemoResult): string {
  const bySeries = new Map<string, Array<[number, number]>>();
  for (const e of r.sendTrace) {
    const name = e.reinjection ? `${e.path} (reinjected)` : e.path;
    const points = bySeries.get(name) ?? [];
    points.push([e.tMs / 1000, e.offset + e.length]);
    bySeries.set(name, points);
  }
  return scatterChart({
    title: 'Data sequence number over time, by subflow (sender side)',
    xLabel: 'time (s)',
    yLabel: 'data sequence (bytes from IDSN+1)',
    series: [...bySeries].map(([name, points]) => ({ name, points })),
    annotations: r.cutAtMs === undefined ? [] : [{ x: r.cutAtMs / 1000, label: 'primary cut' }],
  });
}
