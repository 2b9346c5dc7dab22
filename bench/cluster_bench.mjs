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
//   4. Fan-out measured by ringpad-bench (`--only cfanout`): 1 writer -> N
//      readers at 20 ops/s, on a single node (--fsync interval and always), on
//      one cluster node, on three cluster nodes (`--port a,b,c`: the writer on
//      the first, which owns the document, the readers in turn over all), and
//      on three nodes with one reader each (the cross-node path without the
//      fan-out's CPU). Delivery p50/p99/max, delivered count, ack, the readers
//      of the owner against those of the followers, the owner's Redis round
//      trips (/metrics), and the load average; medians of --repeat runs, the
//      modes interleaved.
//
//   node bench/cluster_bench.mjs <dir with ringpad and ringpad-bench> [--repeat 3] [--duration 4]
//                                [--readers 1500] [--only throughput,fanout,failover,cfanout]
//                                [--out DIR]   (cfanout: every run's ringpad-bench JSON there)
//                                [--modes single-interval,single-always,cluster-1,cluster-3,single-3,cluster-3-3]
//                                [--bench-threads N]   (cfanout: ringpad-bench's --threads, 1)
//                                [--redis-dir-under /dev/shm]   (Redis's AOF on tmpfs: attribution only)
//                                [--throughput-modes 'A;B']   (throughput: those modes only)
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
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
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
    console.error('usage: node bench/cluster_bench.mjs <bin dir> [--repeat N] [--duration S] [--readers N] [--only LIST] [--out DIR]');
    process.exit(2);
}
const REPEAT = Number(opt('repeat', '3'));
const DURATION = Number(opt('duration', '4'));
const READERS = Number(opt('readers', '1500'));
const ONLY = opt('only', 'throughput,fanout,failover,cfanout').split(',');
const OUT = opt('out', '');
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
// --redis-dir-under /dev/shm puts Redis's AOF on tmpfs (its fsync then costs nothing): not
// durable, only to tell the disk's share of the latency from the rest.
const REDIS_UNDER = opt('redis-dir-under', '');
const redisArgs = REDIS_UNDER ? [mkdtempSync(path.join(REDIS_UNDER, 'ringpad-redis-'))] : [];
const redisOut = execFileSync('sh', [path.join(here, '../tests/integration/lib/redis-server.sh'), ...redisArgs], { encoding: 'utf8' }).trim();
const [redisPort, redisPid, redisDir] = redisOut.split(' ');
const redisUrl = `redis://127.0.0.1:${redisPort}`;
const cli = (...a) => execFileSync('redis-cli', ['-p', redisPort, ...a], { encoding: 'utf8' }).trim();
// Redis's own latency monitor times each fsync of the AOF (event aof-fsync-always).
cli('CONFIG', 'SET', 'latency-monitor-threshold', '1');
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
const THROUGHPUT_MODES = opt('throughput-modes', '');
const MODES = Object.fromEntries(Object.entries(ALL_MODES).filter(([m]) => THROUGHPUT_MODES === '' || THROUGHPUT_MODES.split(';').includes(m)));
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

// ---- 4. fan-out with ringpad-bench ----------------------------------------------------------
const CFAN_RATE = 20;
const CFAN = {   // key: [label, node flags, readers (default --readers)]
    'single-interval': ['single, fsync interval', [{ fsync: 'interval' }]],
    'single-always': ['single, fsync always', [{ fsync: 'always' }]],
    'cluster-1': ['cluster, 1 node', [{ redis: redisUrl, nodeId: 'c1' }]],
    'cluster-3': ['cluster, 3 nodes', [1, 2, 3].map((n) => ({ redis: redisUrl, nodeId: `c${n}` }))],
    'single-3': ['single, fsync interval, 3 readers', [{ fsync: 'interval' }], 3],
    'cluster-3-3': ['cluster, 3 nodes, 1 reader each', [1, 2, 3].map((n) => ({ redis: redisUrl, nodeId: `c${n}` })), 3],
};
const CFAN_MODES = opt('modes', Object.keys(CFAN).join(',')).split(',');
const BENCH_THREADS = Number(opt('bench-threads', '1'));

// The owner's Redis round trips (every command: appends, renewals, the registry) from /metrics.
// The histogram's buckets are coarse (1, 2.5, 5, 10, 25 ms): the mean is the figure to read.
async function redisRtt(port) {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const buckets = [...text.matchAll(/^ringpad_redis_rtt_seconds_bucket\{le="([^"]+)"\} (\d+)$/gm)]
        .map((m) => [m[1] === '+Inf' ? Infinity : Number(m[1]) * 1000, Number(m[2])]);
    const sum = Number(text.match(/^ringpad_redis_rtt_seconds_sum (\S+)$/m)?.[1] ?? 0) * 1000;
    return { buckets, sum, count: buckets.length ? buckets[buckets.length - 1][1] : 0 };
}
function rttBetween(a, b) {
    const count = b.count - a.count;
    if (count <= 0) return { count: 0, meanMs: 0, p99LeMs: 0 };
    const want = Math.ceil(0.99 * count);
    // a node that has not reached Redis yet lists no buckets: count from zero
    const at = b.buckets.find(([, c], i) => c - (a.buckets[i]?.[1] ?? 0) >= want);
    return { count, meanMs: (b.sum - a.sum) / count, p99LeMs: at ? at[0] : Infinity };
}

async function cfanoutOnce(mode, run) {
    const [, flags, readers = READERS] = CFAN[mode];
    const cluster = 'redis' in flags[0];
    if (cluster) cli('FLUSHALL');
    const nodes = [];
    for (const f of flags) nodes.push(await start(f));
    if (cluster) cli('LATENCY', 'RESET');
    const pids = [...nodes.map((n) => n.pid), ...(cluster ? [Number(redisPid)] : [])];
    const load = loadavg()[0];
    const jsonFile = path.join(tmp('rp-cf-json-'), 'r.json');
    const argv = ['--scenario', 'fanout', '--connections', String(readers + 1), '--rate', String(CFAN_RATE),
        '--port', nodes.map((n) => n.port).join(','), '--duration-s', String(DURATION), '--warmup-s', '1',
        '--threads', String(BENCH_THREADS), '--json', jsonFile, '--quiet'];
    const p = spawn('timeout', ['-k', '5', String(DURATION + 90), BENCH, ...argv], { stdio: ['ignore', 'ignore', 'pipe'] });
    // Every 250 ms: the owner's round trips, the CPU of the servers (and Redis) and of
    // ringpad-bench (the child of `timeout`). The window is taken as the DURATION seconds
    // that end half a second (the drain and the check) before ringpad-bench exits.
    const ticks = (pid) => { try { return cpuTicks(pid); } catch { return NaN; } };
    const genPid = () => {
        try { return Number(readFileSync(`/proc/${p.pid}/task/${p.pid}/children`, 'utf8').trim().split(' ')[0]); }
        catch { return 0; }
    };
    const samples = [];
    let running = true;
    const poll = (async () => {
        while (running) {
            const g = genPid();
            samples.push({ t: performance.now(), m: cluster ? await redisRtt(nodes[0].port) : null,
                srv: pids.reduce((acc, x) => acc + ticks(x), 0), gen: g ? ticks(g) : NaN });
            await sleep(250);
        }
    })();
    const res = await new Promise((resolve) => {
        let err = '';
        p.stderr.on('data', (c) => { err += c; });
        p.on('exit', (code) => {
            try { resolve({ code, r: JSON.parse(readFileSync(jsonFile, 'utf8')), err }); }
            catch { resolve({ code, r: null, err }); }
        });
    });
    const exitAt = performance.now();
    running = false;
    await poll;
    const win = samples.filter((x) => x.t >= exitAt - 500 - DURATION * 1000 && x.t <= exitAt - 500 && !Number.isNaN(x.gen));
    const first = win[0], last = win[win.length - 1];
    const span = win.length > 1 ? (last.t - first.t) / 1000 : 0;
    const perOp = (f) => (span > 0 ? ((f(last) - f(first)) / CLK_TCK) * 1000 / (CFAN_RATE * span) : NaN);
    const rtt = cluster && win.length > 1 ? rttBetween(first.m, last.m) : null;
    // seconds of the run in which an AOF fsync took >= 1 ms, and the slowest (ms)
    const fsyncs = cluster ? cli('LATENCY', 'HISTORY', 'aof-fsync-always').split('\n').filter(Boolean).map(Number)
        .filter((_, i) => i % 2 === 1) : [];
    if (OUT && res.r) copyFileSync(jsonFile, path.join(OUT, `${mode}-t${BENCH_THREADS}-run${run}.json`));
    for (const n of nodes) await stop(n);
    const r = res.r;
    const d = r?.latency_us?.delivery ?? {};
    const byServer = Object.values(r?.delivery_by_server_us ?? {});
    const ms = (us) => (us ?? 0) / 1000;
    return {
        ok: res.code === 0 && r && !r.failed,
        err: res.err.split('\n').filter((l) => /result|diverg|error|FAIL/i.test(l)).join(' '),
        delivered: r?.counts?.remote_ops ?? 0,
        want: (r?.counts?.acks ?? 0) * readers,
        p50: ms(d.p50), p99: ms(d.p99), max: ms(d.max),
        ackP50: ms(r?.latency_us?.ack?.p50), ackP99: ms(r?.latency_us?.ack?.p99),
        ownerP50: byServer.length ? ms(byServer[0].p50) : NaN,
        followerP50: byServer.length > 1 ? Math.max(...byServer.slice(1).map((x) => ms(x.p50))) : NaN,
        ownerP99: byServer.length ? ms(byServer[0].p99) : NaN,
        followerP99: byServer.length > 1 ? Math.max(...byServer.slice(1).map((x) => ms(x.p99))) : NaN,
        rttMeanMs: rtt?.meanMs ?? NaN, rttP99LeMs: rtt?.p99LeMs ?? NaN,
        srvMsPerOp: perOp((x) => x.srv), genMsPerOp: perOp((x) => x.gen),
        slowFsyncS: cluster ? fsyncs.length : NaN, fsyncMaxMs: cluster ? Math.max(0, ...fsyncs) : NaN,
        load,
    };
}

async function cfanout() {
    if (OUT) mkdirSync(OUT, { recursive: true });
    const modes = CFAN_MODES.filter((m) => CFAN[m]);
    const got = Object.fromEntries(modes.map((m) => [m, []]));
    for (let r = 1; r <= REPEAT; r++) {
        for (const mode of modes) {
            const x = await cfanoutOnce(mode, r);
            got[mode].push(x);
            console.error(`  cfanout ${mode} run ${r}: load ${x.load.toFixed(2)}, ${x.delivered}/${x.want} delivered, `
                + `p50 ${x.p50.toFixed(2)} p99 ${x.p99.toFixed(2)} max ${x.max.toFixed(1)} ms, ack p50 ${x.ackP50.toFixed(2)} `
                + `p99 ${x.ackP99.toFixed(2)} ms, owner's readers p50/p99 ${x.ownerP50.toFixed(2)}/${x.ownerP99.toFixed(2)}, `
                + `followers' ${x.followerP50.toFixed(2)}/${x.followerP99.toFixed(2)} ms, `
                + `Redis RTT mean ${x.rttMeanMs.toFixed(2)} ms (p99 <= ${x.rttP99LeMs}), CPU per op: servers `
                + `${x.srvMsPerOp.toFixed(1)} ms, ringpad-bench ${x.genMsPerOp.toFixed(1)} ms, `
                + `Redis fsync >= 1 ms in ${x.slowFsyncS} s (slowest ${x.fsyncMaxMs} ms)`
                + `${x.ok ? '' : ` FAILED ${x.err}`}`);
        }
    }
    const med = (xs, f, digits = 2) => {
        const v = xs.map(f).filter((y) => !Number.isNaN(y));
        return v.length ? median(v).toFixed(digits) : '-';
    };
    const rows = modes.map((mode) => {
        const xs = got[mode];
        return `| ${CFAN[mode][0]} | ${CFAN[mode][2] ?? READERS} | ${med(xs, (x) => x.delivered, 0)}/${med(xs, (x) => x.want, 0)} | `
            + `${med(xs, (x) => x.p50)} | ${med(xs, (x) => x.p99)} | ${med(xs, (x) => x.max, 1)} | ${med(xs, (x) => x.ackP50)} / ${med(xs, (x) => x.ackP99)} | `
            + `${med(xs, (x) => x.ownerP50)} / ${med(xs, (x) => x.followerP50)} | ${med(xs, (x) => x.ownerP99)} / ${med(xs, (x) => x.followerP99)} | `
            + `${med(xs, (x) => x.rttMeanMs)} | ${xs.map((x) => (Number.isNaN(x.fsyncMaxMs) ? '-' : x.fsyncMaxMs)).join(', ')} | `
            + `${med(xs, (x) => x.srvMsPerOp, 1)} / ${med(xs, (x) => x.genMsPerOp, 1)} | ${xs.map((x) => x.load.toFixed(1)).join(', ')} | ${xs.every((x) => x.ok) ? 'ok' : 'FAILED'} |`;
    });
    return [`| fan-out, ringpad-bench (${BENCH_THREADS} thread${BENCH_THREADS > 1 ? 's' : ''}), ${CFAN_RATE} ops/s, ${DURATION} s | readers | delivered | p50 ms | p99 ms | max ms | ack p50 / p99 ms `
        + '| p50 ms: owner\'s readers / followers\' (worst) | p99 ms: owner\'s / followers\' | owner\'s Redis round trip, mean ms '
        + '| slowest Redis AOF fsync, ms (each run) | CPU ms per op: servers (+ Redis) / ringpad-bench | load avg (each run) | runs |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|', ...rows].join('\n');
}

console.log(`cluster_bench: ${new Date().toISOString()}, ${execFileSync('nproc', { encoding: 'utf8' }).trim()} CPUs, redis ${cli('INFO', 'server').match(/redis_version:(\S+)/)[1]} (AOF, appendfsync always${REDIS_UNDER ? `, its dir under ${REDIS_UNDER}` : ''}), repeat ${REPEAT}, ${DURATION} s windows\n`);
if (ONLY.includes('throughput')) console.log(`${await throughput()}\n`);
if (ONLY.includes('fanout')) console.log(`${await fanout()}\n`);
if (ONLY.includes('failover')) console.log(`${await failover()}\n`);
if (ONLY.includes('cfanout')) console.log(`${await cfanout()}\n`);
process.exit(0);
