#!/usr/bin/env node
// Cluster mode's figures, side by side in one run on this machine:
//   1. `docs@100` and `hot@100` (ringpad-bench, closed loop): a single node
//      (--fsync always and interval), one node in cluster mode, three nodes in
//      cluster mode with the clients spread over them; ops/s, ack p99, and the
//      CPU of the servers and Redis per acked op. Medians of --repeat runs,
//      the modes interleaved.
//   2. Fan-out across nodes: 1 writer -> N readers (a third on each of three
//      nodes; the writer on the first), and the same on a single node:
//      delivery p50/p99 (op sent -> op received by a reader).
//   3. Failover: kill -9 of a document's owner -> first ack on another node,
//      with the default lease (3000 ms) and a 1000 ms one.
//
//   node bench/cluster_bench.mjs <dir with ringpad and ringpad-bench> [--repeat 3] [--duration 4]
//                                [--readers 1500] [--only throughput,fanout,failover] [--modes 'A;B']
//
// The throughput modes include the ShareDB peer (bench/peers/sharedb, `npm ci`
// there first): ShareDB 7 with its in-memory DB in one process, with its
// in-memory pubsub and with sharedb-redis-pubsub on the same Redis. ShareDB
// cannot run as several processes without a shared database, so it has no
// three-node mode.
//
// Build first: ./zigw build tools install -Doptimize=ReleaseFast --prefix /tmp/rf
// Every server and Redis started here is stopped by pid; all traffic is on 127.0.0.1.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const binDir = args.find((a) => !a.startsWith('--'));
const opt = (name, def) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? args[i + 1] : def;
};
if (!binDir) {
    console.error('usage: node bench/cluster_bench.mjs <bin dir> [--repeat N] [--duration S] [--readers N] [--only LIST]');
    process.exit(2);
}
const REPEAT = Number(opt('repeat', '3'));
const DURATION = Number(opt('duration', '4'));
const READERS = Number(opt('readers', '1500'));
const ONLY = opt('only', 'throughput,fanout,failover').split(',');
process.env.RINGPAD_BIN = path.resolve(binDir, 'ringpad');
const BENCH = path.resolve(binDir, 'ringpad-bench');
const { startServer } = await import('../tests/integration/lib/server.mjs');
const { RpConn, cpLen } = await import('../tests/integration/lib/rp-client.mjs');

const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const pct = (xs, p) => xs[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const scratch = [];
const tmp = (p) => { const d = mkdtempSync(path.join(tmpdir(), p)); scratch.push(d); return d; };

// ---- Redis ---------------------------------------------------------------------------------
const redisOut = execFileSync('sh', [path.join(here, '../tests/integration/lib/redis-server.sh')], { encoding: 'utf8' }).trim();
const [redisPort, redisPid, redisDir] = redisOut.split(' ');
const redisUrl = `redis://127.0.0.1:${redisPort}`;
const cli = (...a) => execFileSync('redis-cli', ['-p', redisPort, ...a], { encoding: 'utf8' }).trim();
const servers = new Set();
function cleanup() {
    for (const s of servers) s.signal('SIGKILL');
    try { process.kill(Number(redisPid), 'SIGKILL'); } catch { /* gone */ }
    rmSync(redisDir, { recursive: true, force: true });
    for (const d of scratch) rmSync(d, { recursive: true, force: true });
}
process.on('exit', cleanup);
process.on('SIGINT', () => process.exit(130));

const cpuTicks = (pid) => {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return Number(f[11]) + Number(f[12]);   // utime + stime
};

async function start(flags) {
    const s = await startServer({ threads: 1, dataDir: tmp('rp-cb-'), ...flags });
    servers.add(s);
    return s;
}
async function stop(s) {
    await s.stop();
    servers.delete(s);
}

// ---- 1. throughput ---------------------------------------------------------------------------
const ALL_MODES = {
    'single, fsync always': [{ fsync: 'always' }],
    'single, fsync interval': [{ fsync: 'interval' }],
    'cluster, 1 node': [{ redis: redisUrl, nodeId: 'n1' }],
    'cluster, 3 nodes': [1, 2, 3].map((n) => ({ redis: redisUrl, nodeId: `n${n}` })),
    // the peer (bench/peers/sharedb: ShareDB 7, its in-memory DB, one process)
    'sharedb, memory pubsub': [{ peer: 'sharedb' }],
    'sharedb, sharedb-redis-pubsub': [{ peer: 'sharedb', redis: redisUrl }],
};
const MODES = Object.fromEntries(Object.entries(ALL_MODES).filter(([m]) => opt('modes', '') === '' || opt('modes', '').split(';').includes(m)));
const usesRedis = (mode) => MODES[mode].some((f) => f.redis);

/** The ShareDB peer (node), ready when it printed its port; stop() ends it by pid. */
async function startPeer(flags) {
    const argv = [path.join(here, 'peers/sharedb/server.mjs'), '--port', '0', ...(flags.redis ? ['--redis', flags.redis] : [])];
    const child = spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    const peer = { pid: child.pid, isPeer: true, signal: (sig) => child.kill(sig) };
    const exited = new Promise((r) => child.on('exit', r));
    peer.stop = async () => {
        child.kill('SIGTERM');
        if ((await Promise.race([exited, sleep(3000).then(() => 'timeout')])) === 'timeout') child.kill('SIGKILL');
        servers.delete(peer);
    };
    servers.add(peer);
    peer.port = await new Promise((resolve, reject) => {
        let out = '';
        const timer = setTimeout(() => reject(new Error(`sharedb peer did not start: ${out}`)), 20000);
        child.stdout.on('data', (c) => {
            out += c;
            const m = out.match(/listening \S+ (\d+)/);
            if (m) { clearTimeout(timer); resolve(Number(m[1])); }
        });
        child.stderr.on('data', (c) => { out += c; });
    });
    return peer;
}
const SCENARIOS = { 'docs@100': ['--scenario', 'docs', '--connections'], 'hot@100': ['--scenario', 'hot', '--connections'] };

function runBench(port, scenario, connections, jsonFile) {
    const argv = [...SCENARIOS[scenario], String(connections), '--port', String(port), '--duration-s', String(DURATION),
        '--warmup-s', '1', '--json', jsonFile, '--quiet'];
    return new Promise((resolve) => {
        const p = spawn('timeout', ['-k', '5', String(DURATION + 60), BENCH, ...argv], { stdio: ['ignore', 'ignore', 'pipe'] });
        let err = '';
        p.stderr.on('data', (c) => { err += c; });
        p.on('exit', (code) => {
            try { resolve({ code, r: JSON.parse(readFileSync(jsonFile, 'utf8')), err }); }
            catch { resolve({ code, r: null, err }); }
        });
    });
}

async function throughputOnce(mode, scenario) {
    if (usesRedis(mode)) cli('FLUSHALL');
    const nodes = [];
    for (const f of MODES[mode]) nodes.push(f.peer ? await startPeer(f) : await start(f));
    const pids = [...nodes.map((s) => s.pid), ...(usesRedis(mode) ? [Number(redisPid)] : [])];
    const before = pids.map(cpuTicks);
    const dir = tmp('rp-cb-json-');
    const per = Math.floor(100 / nodes.length);
    const runs = await Promise.all(nodes.map((s, i) => runBench(s.port, scenario, i === 0 ? 100 - per * (nodes.length - 1) : per, path.join(dir, `${i}.json`))));
    const cpu = pids.map((p, i) => (cpuTicks(p) - before[i]) / CLK_TCK);
    for (const s of nodes) await (s.isPeer ? s.stop() : stop(s));
    const ok = runs.every((x) => x.r && !x.r.failed);
    const acks = runs.reduce((s, x) => s + (x.r?.counts?.acks ?? 0), 0);
    return {
        ok,
        err: ok ? '' : runs.map((x) => x.err.split('\n').filter((l) => /result|diverg|error/i.test(l)).join(' ')).join(' | '),
        opsPerS: runs.reduce((s, x) => s + (x.r?.throughput?.ops_acked_per_s ?? 0), 0),
        ackP99Ms: Math.max(...runs.map((x) => x.r?.latency_us?.ack?.p99 ?? 0)) / 1000,
        cpuUsPerOp: acks ? (cpu.reduce((a, b) => a + b, 0) * 1e6) / acks : 0,
        redisShare: usesRedis(mode) ? cpu[cpu.length - 1] / cpu.reduce((a, b) => a + b, 0) : 0,
    };
}

async function throughput() {
    const rows = [];
    for (const scenario of Object.keys(SCENARIOS)) {
        const got = Object.fromEntries(Object.keys(MODES).map((m) => [m, []]));
        for (let r = 0; r < REPEAT; r++) {
            for (const mode of Object.keys(MODES)) {
                const x = await throughputOnce(mode, scenario);
                got[mode].push(x);
                console.error(`  ${scenario} ${mode} run ${r + 1}: ${x.opsPerS.toFixed(0)} ops/s, ack p99 ${x.ackP99Ms.toFixed(2)} ms${x.ok ? '' : ` FAILED ${x.err}`}`);
            }
        }
        for (const mode of Object.keys(MODES)) {
            const xs = got[mode];
            rows.push(`| ${scenario} | ${mode} | ${median(xs.map((x) => x.opsPerS)).toFixed(0)} | ${median(xs.map((x) => x.ackP99Ms)).toFixed(2)} | ${median(xs.map((x) => x.cpuUsPerOp)).toFixed(1)} | ${usesRedis(mode) ? `${(median(xs.map((x) => x.redisShare)) * 100).toFixed(0)} %` : '-'} | ${xs.every((x) => x.ok) ? 'ok' : 'FAILED'} |`);
        }
    }
    return ['| scenario | mode | ops/s | ack p99 ms | CPU µs per op (servers + Redis) | Redis share | runs |',
        '|---|---|---:|---:|---:|---:|---|', ...rows].join('\n');
}

// ---- 2. fan-out ------------------------------------------------------------------------------
async function fanoutOnce(ports, readers, ops = 100, rate = 20) {
    const doc = `fan-${Date.now()}`;
    const writer = await RpConn.open(ports[0]);
    writer.send({ type: 'open', doc });
    await writer.type('snapshot', 10000);
    writer.send({ type: 'op', doc, v: 0, id: 'w0', op: ['x'] });
    await writer.type('ack', 10000);
    const sent = new Map(), lat = [];
    const conns = [];
    for (let i = 0; i < readers; i += 50) {
        const batch = [];
        for (let k = i; k < Math.min(readers, i + 50); k++) {
            batch.push((async () => {
                const c = await RpConn.open(ports[k % ports.length]);
                c.onmessage = (m) => { if (m.type === 'op' && sent.has(m.id)) lat.push(performance.now() - sent.get(m.id)); };
                c.send({ type: 'open', doc });
                await c.type('snapshot', 20000);
                c.msgs.length = 0;
                conns.push(c);
            })());
        }
        await Promise.all(batch);
    }
    await sleep(500);
    let len = 1;
    for (let i = 1; i <= ops; i++) {
        const id = `w${i}`;
        sent.set(id, performance.now());
        writer.send({ type: 'op', doc, v: i, id, op: [len, 'y'] });
        len++;
        await writer.type('ack', 10000, (m) => m.id === id);
        await sleep(1000 / rate);
    }
    const want = ops * readers;
    for (let i = 0; i < 200 && lat.length < want; i++) await sleep(50);
    for (const c of conns) c.terminate();
    writer.close();
    lat.sort((a, b) => a - b);
    return { delivered: lat.length, want, p50: pct(lat, 50), p99: pct(lat, 99), max: lat[lat.length - 1] };
}

async function fanout() {
    const rows = [];
    cli('FLUSHALL');
    const single = await start({ fsync: 'interval' });
    const s = await fanoutOnce([single.port], READERS);
    await stop(single);
    rows.push(`| single node | ${READERS} | ${s.delivered}/${s.want} | ${s.p50.toFixed(2)} | ${s.p99.toFixed(2)} | ${s.max.toFixed(1)} |`);
    const nodes = [];
    for (const n of [1, 2, 3]) nodes.push(await start({ redis: redisUrl, nodeId: `f${n}` }));
    const c = await fanoutOnce(nodes.map((x) => x.port), READERS);
    for (const x of nodes) await stop(x);
    rows.push(`| 3 nodes, writer on the owner, readers spread | ${READERS} | ${c.delivered}/${c.want} | ${c.p50.toFixed(2)} | ${c.p99.toFixed(2)} | ${c.max.toFixed(1)} |`);
    return ['| fan-out (20 ops/s, 100 ops) | readers | delivered | p50 ms | p99 ms | max ms |', '|---|---:|---:|---:|---:|---:|', ...rows].join('\n');
}

// ---- 3. failover -----------------------------------------------------------------------------
async function failoverOnce(leaseMs) {
    cli('FLUSHALL');
    const a = await start({ redis: redisUrl, nodeId: 'fa', leaseMs });
    const b = await start({ redis: redisUrl, nodeId: 'fb', leaseMs });
    const w = await RpConn.open(a.port);
    w.send({ type: 'open', doc: 'fo' });
    await w.type('snapshot', 10000);
    w.send({ type: 'op', doc: 'fo', v: 0, id: 'a0', op: ['a'] });
    await w.type('ack', 10000);
    const f = await RpConn.open(b.port);
    f.send({ type: 'open', doc: 'fo' });
    const snap = await f.type('snapshot', 10000, (m) => m.v === 1);
    a.signal('SIGKILL');
    const killed = performance.now();
    await a.exited;
    servers.delete(a);
    let acked = null;
    for (let i = 0; acked === null && i < 400; i++) {
        f.send({ type: 'op', doc: 'fo', v: snap.v, id: 'b0', op: [cpLen(snap.text), 'b'] });
        const m = await f.next((x) => (x.type === 'ack' && x.id === 'b0') || (x.type === 'error' && x.ref === 'b0'), 15000);
        if (m.type === 'ack') acked = performance.now() - killed;
        else await sleep(50);
    }
    f.close();
    w.terminate();
    await stop(b);
    return acked;
}

async function failover() {
    const rows = [];
    for (const lease of [3000, 1000]) {
        const xs = [];
        for (let r = 0; r < REPEAT; r++) xs.push(await failoverOnce(lease));
        rows.push(`| ${lease} | ${xs.map((x) => x.toFixed(0)).join(', ')} | ${median(xs).toFixed(0)} |`);
    }
    return ['| lease ms | kill -9 -> first ack on the new owner, ms (each run) | median |', '|---:|---|---:|', ...rows].join('\n');
}

console.log(`cluster_bench: ${new Date().toISOString()}, ${execFileSync('nproc', { encoding: 'utf8' }).trim()} CPUs, redis ${cli('INFO', 'server').match(/redis_version:(\S+)/)[1]} (AOF, appendfsync always), repeat ${REPEAT}, ${DURATION} s windows\n`);
if (ONLY.includes('throughput')) console.log(`${await throughput()}\n`);
if (ONLY.includes('fanout')) console.log(`${await fanout()}\n`);
if (ONLY.includes('failover')) console.log(`${await failover()}\n`);
process.exit(0);
