import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  barChart,
  cdfChart,
  escapeXml,
  formatNumber,
  lineChart,
  niceTicks,
  scatterChart,
  stepChart,
} from '../../src/lab/svg.js';

/** Checks tags are balanced and properly nested; returns the element names in document order. */
function checkWellFormed(svg: string): string[] {
  const stack: string[] = [];
  const names: string[] = [];
  const tag = /<(\/?)([a-zA-Z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>/g;
  let last = 0;
  for (let m = tag.exec(svg); m !== null; m = tag.exec(svg)) {
    const between = svg.slice(last, m.index);
    assert.ok(!/[<>]/.test(between), `stray angle bracket in text: ${JSON.stringify(between.slice(0, 80))}`);
    assert.ok(!/&(?!(amp|lt|gt|quot|apos);)/.test(between), `unescaped & in text: ${between.slice(0, 80)}`);
    last = tag.lastIndex;
    const [, close, name, , selfClose] = m;
    if (close) assert.equal(stack.pop(), name, `mismatched </${name}>`);
    else {
      names.push(name!);
      if (!selfClose) stack.push(name!);
    }
  }
  assert.equal(svg.slice(last).trim(), '', 'trailing text after the last tag');
  assert.deepEqual(stack, [], 'unclosed tags');
  assert.equal(names[0], 'svg');
  return names;
}

function legendEntries(svg: string): number {
  const m = /<g class="legend">([\s\S]*?)<\/g>/.exec(svg);
  if (!m) return 0;
  return (m[1]!.match(/<text /g) ?? []).length;
}

const twoSeries = [
  {
    name: 'wifi',
    points: [
      [0, 1],
      [1, 3],
      [2, 2.5],
    ] as Array<[number, number]>,
  },
  {
    name: 'lte',
    points: [
      [0, 0.5],
      [1.5, 4],
      [2, 1],
    ] as Array<[number, number]>,
  },
];

test('escapeXml escapes the five XML specials', () => {
  assert.equal(escapeXml(`<a & "b" 'c'>`), '&lt;a &amp; &quot;b&quot; &apos;c&apos;&gt;');
});

test('niceTicks are 1/2/5 steps covering the range', () => {
  assert.deepEqual(niceTicks(0, 10), [0, 2, 4, 6, 8, 10]);
  assert.deepEqual(niceTicks(0, 1), [0, 0.2, 0.4, 0.6, 0.8, 1]);
  assert.deepEqual(niceTicks(-3, 7, 5), [-2, 0, 2, 4, 6]);
  fc.assert(
    fc.property(
      fc.double({ min: -1e9, max: 1e9, noNaN: true }),
      fc.double({ min: 1e-6, max: 1e9 }),
      (lo, span) => {
        const hi = lo + span;
        fc.pre(span > Math.abs(lo) * 1e-6); // charts never zoom to 1e-6 of their offset
        const t = niceTicks(lo, hi);
        assert.ok(t.length >= 1 && t.length <= 50);
        for (const v of t) assert.ok(Number.isFinite(v) && v >= lo - span * 1e-6 && v <= hi + span * 1e-6);
      },
    ),
  );
});

test('formatNumber is compact', () => {
  assert.equal(formatNumber(0), '0');
  assert.equal(formatNumber(15000), '15k');
  assert.equal(formatNumber(2_500_000), '2.5M');
  assert.equal(formatNumber(0.25), '0.25');
  assert.equal(formatNumber(1 / 3), '0.333');
});

for (const [kind, fn] of [
  ['line', lineChart],
  ['scatter', scatterChart],
  ['step', stepChart],
] as const) {
  test(`${kind} chart: well-formed, one legend entry and one mark group per series`, () => {
    const svg = fn({ title: 'Throughput', xLabel: 'time (s)', yLabel: 'Mbit/s', series: twoSeries });
    checkWellFormed(svg);
    assert.equal(legendEntries(svg), 2);
    assert.equal((svg.match(/data-series="/g) ?? []).length, 2);
    assert.ok(svg.includes('>wifi<') && svg.includes('>lte<'));
    assert.ok(!/NaN|Infinity/.test(svg));
  });
}

test('labels with <&> are escaped everywhere', () => {
  const evil = '<script>&"x"</script>';
  const svg = lineChart({
    title: evil,
    xLabel: evil,
    yLabel: evil,
    series: [{ name: evil, points: [[0, 1]] }],
    annotations: [{ x: 0, label: evil }],
  });
  checkWellFormed(svg);
  assert.ok(!svg.includes('<script>'));
  assert.ok(svg.includes('&lt;script&gt;&amp;&quot;x&quot;&lt;/script&gt;'));
  const bars = barChart({ title: evil, categories: [evil], series: [{ name: evil, values: [1] }] });
  checkWellFormed(bars);
  assert.ok(!bars.includes('<script>'));
});

test('empty series, single points, constant and non-finite data give no NaN', () => {
  const cases = [
    lineChart({ title: 'empty', series: [] }),
    lineChart({ title: 'empty series', series: [{ name: 'a', points: [] }] }),
    lineChart({ title: 'one point', series: [{ name: 'a', points: [[3, 7]] }] }),
    lineChart({ title: 'origin', series: [{ name: 'a', points: [[0, 0]] }] }),
    stepChart({
      title: 'constant',
      series: [
        {
          name: 'a',
          points: [
            [0, 5],
            [1, 5],
            [2, 5],
          ],
        },
      ],
    }),
    scatterChart({
      title: 'junk',
      series: [
        {
          name: 'a',
          points: [
            [Number.NaN, 1],
            [1, Infinity],
            [2, 2],
          ],
        },
      ],
    }),
    cdfChart({ title: 'cdf empty', series: [{ name: 'a', values: [] }] }),
    cdfChart({ title: 'cdf one', series: [{ name: 'a', values: [42] }] }),
    barChart({ title: 'bars empty', categories: [], series: [] }),
    barChart({ title: 'bars zero', categories: ['a'], series: [{ name: 's', values: [0] }] }),
    barChart({ title: 'bars negative', categories: ['a', 'b'], series: [{ name: 's', values: [-3, 4] }] }),
  ];
  for (const svg of cases) {
    checkWellFormed(svg);
    assert.ok(!/NaN|Infinity|undefined/.test(svg), svg);
  }
});

test('any finite data yields a well-formed chart without NaN (property)', () => {
  const pt = fc.tuple(
    fc.double({ min: -1e12, max: 1e12, noNaN: true }),
    fc.double({ min: -1e12, max: 1e12, noNaN: true }),
  );
  fc.assert(
    fc.property(
      fc.array(
        // A name of "NaN" is text the chart must show, not a numeric defect (fast-check once drew it).
        fc.record({
          name: fc.string().filter((n) => !/NaN|Infinity/.test(n)),
          points: fc.array(pt, { maxLength: 20 }),
        }),
        { maxLength: 5 },
      ),
      (series) => {
        const svg = lineChart({ title: 't', series });
        checkWellFormed(svg);
        assert.ok(!/NaN|Infinity/.test(svg), svg);
        assert.equal(legendEntries(svg), series.length);
      },
    ),
    { numRuns: 200 },
  );
});

test('cdf chart: y spans 0..1 and there is one line per series', () => {
  const svg = cdfChart({
    title: 'RTT',
    xLabel: 'ms',
    series: [
      { name: 'a', values: [5, 1, 3, 2, 4] },
      { name: 'b', values: [10, 20] },
    ],
  });
  checkWellFormed(svg);
  assert.equal(legendEntries(svg), 2);
  assert.equal((svg.match(/<path data-series/g) ?? []).length, 2);
  assert.ok(svg.includes('>1<') && svg.includes('>0<'));
});

test('bar chart: one rect per finite value, categories labelled', () => {
  const svg = barChart({
    title: 'Goodput',
    yLabel: 'Mbit/s',
    categories: ['tcp', 'mptcp'],
    series: [
      { name: 'run 1', values: [10, 18] },
      { name: 'run 2', values: [11, Number.NaN] },
    ],
  });
  checkWellFormed(svg);
  assert.equal((svg.match(/<rect x=/g) ?? []).length - 1 /* background */ - 2 /* legend boxes */, 3);
  assert.equal(legendEntries(svg), 2);
  assert.ok(svg.includes('>tcp<') && svg.includes('>mptcp<'));
});
