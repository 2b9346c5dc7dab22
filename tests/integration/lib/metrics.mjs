// Prometheus text exposition: parse and query.
import { get } from './raw.mjs';

const SAMPLE_RE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{([^}]*)\})?\s+(\S+)(?:\s+-?\d+)?$/;

/** Parses the text; throws on a line that is neither a comment nor a sample. */
export function parseMetrics(text) {
    const samples = [];
    const types = new Map();
    for (const line of text.split('\n')) {
        if (line === '') continue;
        if (line.startsWith('#')) {
            const m = line.match(/^# TYPE (\S+) (counter|gauge|histogram|summary|untyped)$/);
            if (m) types.set(m[1], m[2]);
            else if (!/^# (HELP \S+ .*|HELP \S+)$/.test(line) && !line.startsWith('# ')) throw new Error(`bad comment line ${JSON.stringify(line)}`);
            continue;
        }
        const m = line.match(SAMPLE_RE);
        if (!m) throw new Error(`bad sample line ${JSON.stringify(line)}`);
        const value = Number(m[3] === '+Inf' ? Infinity : m[3] === '-Inf' ? -Infinity : m[3]);
        if (Number.isNaN(value) && m[3] !== 'NaN') throw new Error(`bad value in ${JSON.stringify(line)}`);
        const labels = {};
        if (m[2]) {
            for (const part of m[2].match(/[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*"/g) ?? []) {
                const i = part.indexOf('=');
                labels[part.slice(0, i)] = part.slice(i + 2, -1);
            }
        }
        samples.push({ name: m[1], labels, value });
    }
    return { samples, types };
}

export async function scrape(port) {
    const res = await get(port, '/metrics');
    if (res.status !== 200) throw new Error(`/metrics answered ${res.status}`);
    return { res, ...parseMetrics(res.text()) };
}

/** Sum of the samples whose name matches `nameRe` and whose labels satisfy `labelPred`. */
export function sum(metrics, nameRe, labelPred = () => true) {
    let total = 0;
    for (const s of metrics.samples) if (nameRe.test(s.name) && labelPred(s.labels)) total += s.value;
    return total;
}

/** Names of the samples matching `nameRe` (for failure messages). */
export const names = (metrics, nameRe) => [...new Set(metrics.samples.filter((s) => nameRe.test(s.name)).map((s) => s.name))];
