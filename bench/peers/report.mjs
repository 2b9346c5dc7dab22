// node bench/peers/report.mjs DIR
// Reads DIR/<scenario>-<target>.json (ringpad-bench --json) and
// DIR/<scenario>-<target>.meta.json (written by bench/run.sh) and prints a
// Markdown table per scenario with the ratios ringpad / peer.
//
// The figures are looked up by name in the flattened JSON (first match of
// each list below), so the report follows ringpad-bench's field names without
// hard-coding its layout; a figure it does not report shows as "–".

import fs from 'node:fs';
import path from 'node:path';

const METRICS = [
  // [label, candidate key patterns (regexps on dotted paths), better: 'high'|'low', unit]
  ['ops/s', [/(^|\.)ops_per_s(ec)?$/, /(^|\.)ops_applied_per_s(ec)?$/, /(^|\.)throughput\.ops_per_s(ec)?$/, /ops.*per_s/], 'high', ''],
  ['ack p50', [/ack.*\.p50(_us)?$/, /ack.*p50/], 'low', 'us'],
  ['ack p99', [/ack.*\.p99(_us)?$/, /ack.*p99/], 'low', 'us'],
  ['delivery p99', [/deliver.*\.p99(_us)?$/, /deliver.*p99/], 'low', 'us'],
  ['frames/s out', [/frames.*per_s/, /deliver.*per_s/], 'high', ''],
  ['errors', [/(^|\.)errors(\.total)?$/, /(^|\.)error_count$/], 'low', ''],
  ['diverged', [/diverg/], 'low', ''],
  ['server RSS', [/^meta\.server_rss_kb$/], 'low', 'KiB'],
];

function flatten(obj, prefix, out) {
  if (obj === null || typeof obj !== 'object') {
    out[prefix] = obj;
    return out;
  }
  for (const [k, v] of Object.entries(obj)) flatten(v, prefix ? `${prefix}.${k}` : k, out);
  return out;
}

function pick(flat, patterns) {
  for (const re of patterns) {
    for (const [k, v] of Object.entries(flat)) if (re.test(k) && typeof v === 'number') return v;
  }
  return undefined;
}

function fmt(v, unit) {
  if (v === undefined) return '–';
  if (unit === 'us') return v >= 1000 ? `${(v / 1000).toFixed(2)} ms` : `${Math.round(v)} µs`;
  if (unit === 'KiB') return `${(v / 1024).toFixed(1)} MiB`;
  if (Math.abs(v) >= 100) return Math.round(v).toLocaleString('en-US');
  return String(Math.round(v * 100) / 100);
}

function ratio(a, b) {
  if (a === undefined || b === undefined || b === 0) return '–';
  const r = a / b;
  return r >= 10 ? `${r.toFixed(0)}×` : `${r.toFixed(2)}×`;
}

export function report(dir) {
  const runs = new Map(); // scenario -> Map(target -> flat)
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.meta.json')).sort();
  for (const f of files) {
    const meta = JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8'));
    const jsonPath = path.join(dir, `${meta.scenario}-${meta.target}.json`);
    let flat = {
      'meta.exit': meta.exit, 'meta.server_rss_kb': meta.server_rss_kb * 1, 'meta.loadavg': meta.loadavg_before || '?',
    };
    if (fs.existsSync(jsonPath)) {
      try {
        flat = { ...flatten(JSON.parse(fs.readFileSync(jsonPath, 'utf8')), '', {}), ...flat };
      } catch (e) {
        flat['meta.bad_json'] = String(e.message);
      }
    }
    if (!runs.has(meta.scenario)) runs.set(meta.scenario, new Map());
    runs.get(meta.scenario).set(meta.target, flat);
  }
  const lines = [];
  for (const [scenario, targets] of runs) {
    lines.push(`### ${scenario}`, '');
    const names = [...targets.keys()];
    lines.push(`| metric | ${names.join(' | ')} |`, `|---|${names.map(() => '---:').join('|')}|`);
    for (const [label, pats, , unit] of METRICS) {
      const row = names.map((n) => {
        const flat = targets.get(n);
        if (label === 'server RSS') return fmt(flat['meta.server_rss_kb'], unit);
        return fmt(pick(flat, pats), unit);
      });
      if (row.every((c) => c === '–')) continue;
      lines.push(`| ${label} | ${row.join(' | ')} |`);
    }
    lines.push(`| exit code of ringpad-bench | ${names.map((n) => targets.get(n)['meta.exit']).join(' | ')} |`);
    lines.push(`| load average before the run | ${names.map((n) => targets.get(n)['meta.loadavg']).join(' | ')} |`, '');
    const base = names.find((n) => n === 'ringpad') || names.find((n) => n.startsWith('ringpad'));
    const peers = names.filter((n) => !n.startsWith('ringpad'));
    if (base && peers.length) {
      lines.push(`Ratios ${base} / peer (ops/s: higher is better for ringpad; latency: lower is better for ringpad):`, '');
      lines.push('| peer | ops/s | ack p99 | delivery p99 |', '|---|---:|---:|---:|');
      const b = targets.get(base);
      for (const p of peers) {
        const f = targets.get(p);
        const cells = ['ops/s', 'ack p99', 'delivery p99'].map((label) => {
          const pats = METRICS.find((m) => m[0] === label)[1];
          return ratio(pick(b, pats), pick(f, pats));
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
