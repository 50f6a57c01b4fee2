import { html } from './html.js';
import { useEffect, useRef, useState } from 'preact/hooks';
import uPlot from 'uplot';

/** Points kept per chart: five minutes at one a second (the server keeps as many). */
const pointsMax = 300;

const charts = [
  { id: 'requests', title: 'Requests/s by method', series: (s) => Object.keys(s.requestsPerSecond), value: (s, name) => s.requestsPerSecond[name] ?? 0 },
  { id: 'latency', title: 'Request latency (ms)', series: () => ['p50', 'p99'], value: (s, name) => (name === 'p50' ? s.latencyP50Ms : s.latencyP99Ms) },
  { id: 'proposals', title: 'Proposals/s', series: () => ['committed', 'applied'], value: (s, name) => (name === 'committed' ? s.committedPerSecond : s.appliedPerSecond) },
  { id: 'fsync', title: 'WAL fsync p99 (ms)', series: () => ['fsync p99'], value: (s) => s.fsyncP99Ms },
  { id: 'rtt', title: 'Peer round trip p50 (ms, leader only)', series: (s) => Object.keys(s.peerRttMs), value: (s, name) => s.peerRttMs[name] ?? null },
];

const colors = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#ea580c', '#0891b2', '#ca8a04', '#db2777'];

/** One uPlot chart; rebuilt when a new series (method, peer) appears. */
function Chart({ spec, samples }) {
  const box = useRef(null);
  const plot = useRef(null);
  const names = [...new Set(samples.flatMap((s) => spec.series(s)))].sort();
  const key = names.join(',');
  useEffect(() => {
    const width = Math.max(260, Math.min(box.current.clientWidth || 480, 640));
    const options = {
      title: spec.title,
      width,
      height: 180,
      series: [{}, ...names.map((name, i) => ({ label: name, stroke: colors[i % colors.length], width: 2, spanGaps: true }))],
      axes: [{}, { size: 50 }],
    };
    plot.current = new uPlot(options, [[]], box.current);
    return () => plot.current.destroy();
  }, [key]);
  useEffect(() => {
    const xs = samples.map((s) => s.t / 1000);
    plot.current?.setData([xs, ...names.map((name) => samples.map((s) => spec.value(s, name)))]);
  }, [samples, key]);
  // data-max: the largest value shown (tests read it; so can a person with the inspector).
  const max = Math.max(0, ...samples.flatMap((s) => names.map((name) => spec.value(s, name) ?? 0)));
  return html`<figure class="chart" data-chart=${spec.id} data-points=${samples.length} data-series=${names.length} data-max=${max}>
    <div ref=${box}></div>
    ${names.length === 0 ? html`<figcaption>No ${spec.title.toLowerCase()} yet.</figcaption>` : null}
  </figure>`;
}

export function LoadView() {
  const [samples, setSamples] = useState([]);
  const [connected, setConnected] = useState(false);
  useEffect(() => {
    const source = new EventSource('/api/load');
    source.addEventListener('open', () => setConnected(true));
    source.addEventListener('error', () => setConnected(false));
    source.addEventListener('history', (e) => setSamples(JSON.parse(e.data).slice(-pointsMax)));
    source.addEventListener('sample', (e) => {
      const sample = JSON.parse(e.data);
      setSamples((old) => [...old.slice(-(pointsMax - 1)), sample]);
    });
    return () => source.close();
  }, []);
  return html`<section aria-labelledby="load-title">
    <h2 id="load-title">Load of this member</h2>
    <p role="status">${connected ? `Live: ${samples.length} seconds shown, one point a second (the numbers of /metrics).` : 'Connecting to the load stream…'}</p>
    <div class="charts">${charts.map((spec) => html`<${Chart} key=${spec.id} spec=${spec} samples=${samples} />`)}</div>
  </section>`;
}
