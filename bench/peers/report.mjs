// node bench/peers/report.mjs DIR
// Reads DIR/<scenario>-<target>.json (ringpad-bench --json) and
// DIR/<scenario>-<target>.meta.json (written by bench/run.sh) and prints a
// Markdown table per scenario with the ratios ringpad / peer.
//
// Figures are read from ringpad-bench's JSON by their dotted path; a figure a
// run did not produce shows as "–".

import fs from 'node:fs';
import path from 'node:path';

const METRICS = [
  // [label, key in the flattened JSON (or a function of it), unit]
  ['ops acked/s', 'throughput.ops_acked_per_s', ''],
  ['ops delivered/s', 'throughput.ops_delivered_per_s', ''],
  ['echoes/s', 'throughput.echoes_per_s', ''],
  ['connections/s', 'throughput.connections_per_s', ''],
  ['ack p50', 'latency_us.ack.p50', 'us'],
  ['ack p99', 'latency_us.ack.p99', 'us'],
  ['delivery p99', 'latency_us.delivery.p99', 'us'],
  ['echo p99', 'latency_us.echo.p99', 'us'],
  ['connect p99', 'latency_us.connect.p99', 'us'],
  ['ready connections', 'ready_connections', ''],
  ['errors', (f) => sumPrefix(f, 'errors.'), ''],
  ['diverged docs', 'convergence.diverged', ''],
  ['clients not verified (drain timed out)', 'convergence.unverified', ''],
  ['server RSS after', (f) => f['server_rss_kb.after'] || f['meta.server_rss_kb'], 'KiB'],
  ['RSS per idle connection', (f) => (f['server_rss_kb.after'] && f.ready_connections
    ? ((f['server_rss_kb.after'] - f['server_rss_kb.before']) * 1024) / f.ready_connections : undefined), 'B'],
  ['server CPU (% of a core)', 'meta.server_cpu_pct', '%'],
  ['load generator CPU', 'meta.client_cpu_pct', '%'],
];

// The figure the ratio table leads with, per scenario.
const HEADLINE = { echo: 'echoes/s', storm: 'connections/s', idle: 'RSS per idle connection' };

function sumPrefix(flat, prefix) {
  let n;
  for (const [k, v] of Object.entries(flat)) {
    if (k.startsWith(prefix) && typeof v === 'number') n = (n || 0) + v;
  }
  return n;
}

function value1(flat, key) {
  const v = typeof key === 'function' ? key(flat) : flat[key];
  return typeof v === 'number' ? v : undefined;
}

/** The median over the repeats of one scenario and target (runs: array of flats). */
function value(runs, key) {
  const vs = runs.map((f) => value1(f, key)).filter((v) => v !== undefined).sort((a, b) => a - b);
  if (!vs.length) return undefined;
  const m = vs.length >> 1;
  return vs.length % 2 ? vs[m] : (vs[m - 1] + vs[m]) / 2;
}

function spread(runs, key, unit) {
  const vs = runs.map((f) => value1(f, key)).filter((v) => v !== undefined);
  if (vs.length < 2) return '–';
  return `${fmt(Math.min(...vs), unit)} – ${fmt(Math.max(...vs), unit)}`;
}

function flatten(obj, prefix, out) {
  if (obj === null || typeof obj !== 'object') {
    out[prefix] = obj;
    return out;
  }
  for (const [k, v] of Object.entries(obj)) flatten(v, prefix ? `${prefix}.${k}` : k, out);
  return out;
}

function fmt(v, unit) {
  if (v === undefined) return '–';
  if (unit === 'us') return v >= 1000 ? `${(v / 1000).toFixed(2)} ms` : `${Math.round(v)} µs`;
  if (unit === 'KiB') return `${(v / 1024).toFixed(1)} MiB`;
  if (unit === 'B') return `${Math.round(v).toLocaleString('en-US')} B`;
  if (unit === '%') return `${Math.round(v)}%`;
  if (Math.abs(v) >= 100) return Math.round(v).toLocaleString('en-US');
  return String(Math.round(v * 100) / 100);
}

function ratio(a, b) {
  if (a === undefined || b === undefined || b === 0) return '–';
  const r = a / b;
  return r >= 10 ? `${r.toFixed(0)}×` : `${r.toFixed(2)}×`;
}

export function report(dir) {
  const runs = new Map(); // scenario -> Map(target -> [flat per repeat])
  // In the order they ran: bench/run.sh lists each run in order.txt.
  const orderPath = path.join(dir, 'order.txt');
  const files = fs.existsSync(orderPath)
    ? fs.readFileSync(orderPath, 'utf8').split('\n').filter(Boolean).map((r) => `${r}.meta.json`)
      .filter((f) => fs.existsSync(path.join(dir, f)))
    : fs.readdirSync(dir).filter((f) => f.endsWith('.meta.json')).sort();
  for (const f of files) {
    const meta = JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8'));
    const jsonPath = path.join(dir, f.replace(/\.meta\.json$/, '.json'));
    let flat = {
      'meta.exit': meta.exit,
      'meta.server_rss_kb': meta.server_rss_kb * 1,
      'meta.loadavg': meta.loadavg_before || '?',
      'meta.server_cpu_pct': meta.server_cpu_pct,
      'meta.client_cpu_pct': meta.client_cpu_pct,
    };
    if (fs.existsSync(jsonPath)) {
      try {
        flat = { ...flatten(JSON.parse(fs.readFileSync(jsonPath, 'utf8')), '', {}), ...flat };
      } catch (e) {
        flat['meta.bad_json'] = String(e.message);
      }
    }
    if (!runs.has(meta.scenario)) runs.set(meta.scenario, new Map());
    const byTarget = runs.get(meta.scenario);
    if (!byTarget.has(meta.target)) byTarget.set(meta.target, []);
    byTarget.get(meta.target).push(flat);
  }
  const lines = [];
  for (const [scenario, targets] of runs) {
    const names = [...targets.keys()];
    const reps = Math.max(...names.map((n) => targets.get(n).length));
    lines.push(`### ${scenario}`, '');
    if (reps > 1) lines.push(`Medians of ${reps} runs per target.`, '');
    lines.push(`| metric | ${names.join(' | ')} |`, `|---|${names.map(() => '---:').join('|')}|`);
    for (const [label, key, unit] of METRICS) {
      const vals = names.map((n) => value(targets.get(n), key));
      // Rows that are zero or absent everywhere say nothing about this scenario.
      if (vals.every((v) => v === undefined || (v === 0 && label !== 'errors'))) continue;
      if (label === 'connections/s' && !['storm', 'idle'].includes(scenario.split(/[@:]/)[0])) continue;
      lines.push(`| ${label} | ${vals.map((v) => fmt(v, unit)).join(' | ')} |`);
    }
    const head = HEADLINE[scenario.split(/[@:]/)[0]] || 'ops acked/s';
    if (reps > 1) {
      const [, key, unit] = METRICS.find((m) => m[0] === head);
      lines.push(`| ${head}: lowest – highest | ${names.map((n) => spread(targets.get(n), key, unit)).join(' | ')} |`);
    }
    lines.push(`| ringpad-bench result | ${names.map((n) => {
      const fs_ = targets.get(n);
      const failed = fs_.filter((f) => f['meta.exit'] !== 0);
      if (!failed.length) return 'ok';
      const codes = [...new Set(failed.map((f) => f['meta.exit']))].join(',');
      return fs_.length > 1 ? `failed ${failed.length} of ${fs_.length} (exit ${codes})` : `failed (exit ${codes})`;
    }).join(' | ')} |`);
    lines.push(`| load average before the run${reps > 1 ? 's (1 min)' : ''} | ${names.map((n) => {
      const l = targets.get(n).map((f) => f['meta.loadavg']);
      return l.length > 1 ? l.map((x) => String(x).split(' ')[0]).join(', ') : l[0];
    }).join(' | ')} |`, '');
    const base = names.find((n) => n === 'ringpad') || names.find((n) => n.startsWith('ringpad'));
    const peers = names.filter((n) => !n.startsWith('ringpad'));
    if (base && peers.length) {
      const better = head === 'RSS per idle connection' ? 'below 1× ringpad uses less' : 'above 1× ringpad is faster';
      lines.push(`Ratios ${base} / peer (${head}: ${better}; p99: below 1× ringpad is faster):`, '');
      const cols = [head, 'ack p99', 'delivery p99', 'echo p99'].filter((label) => {
        const key = METRICS.find((m) => m[0] === label)[1];
        return names.some((n) => value(targets.get(n), key));
      });
      lines.push(`| peer | ${cols.join(' | ')} |`, `|---|${cols.map(() => '---:').join('|')}|`);
      const b = targets.get(base);
      for (const p of peers) {
        const f = targets.get(p);
        const cells = cols.map((label) => {
          const key = METRICS.find((m) => m[0] === label)[1];
          return ratio(value(b, key), value(f, key));
        });
        lines.push(`| ${p} | ${cells.join(' | ')} |`);
      }
      lines.push('');
    }
  }
  return lines.join('\n');
}

if (process.argv[1] && import.meta.url === `file://${path.resolve(process.argv[1])}`) {
  const dir = process.argv[2];
  if (!dir) {
    process.stderr.write('usage: node bench/peers/report.mjs RESULTS_DIR\n');
    process.exit(2);
  }
  process.stdout.write(`${report(dir)}\n`);
}
