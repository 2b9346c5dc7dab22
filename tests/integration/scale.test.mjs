// 1,000 concurrent WebSocket connections, each echoing a message, all open at
// the same time; then all closed cleanly and the server still healthy.
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { serverTest, within } from './lib/server.mjs';
import { get } from './lib/raw.mjs';

const CONNECTIONS = 1000;
const OPEN_BATCH = 100;

function open(port) {
    return new Promise((resolve, reject) => {
        const ws = new WebSocket(`ws://127.0.0.1:${port}/echo`, { perMessageDeflate: false });
        ws.once('open', () => resolve(ws));
        ws.once('error', reject);
        ws.once('unexpected-response', (req, res) => reject(new Error(`status ${res.statusCode}`)));
    });
}

serverTest('1,000 concurrent connections each echo a message', {
    flags: { enableEcho: true, threads: 2, maxConnections: 4000, maxConnectionsPerIp: 4000, maxMessagesPerSec: 1000 },
    timeout: 120000,
}, async (t, srv) => {
    const clients = [];
    t.after(() => clients.forEach((ws) => ws.terminate()));
    await within(60000, (async () => {
        for (let i = 0; i < CONNECTIONS; i += OPEN_BATCH) {
            const batch = await Promise.all(Array.from({ length: Math.min(OPEN_BATCH, CONNECTIONS - i) }, () => open(srv.port)));
            clients.push(...batch);
        }
    })(), 'opening 1,000 connections');
    assert.equal(clients.length, CONNECTIONS);
    assert.ok(clients.every((ws) => ws.readyState === WebSocket.OPEN), 'a connection closed while the others were opening');

    const echoes = clients.map((ws, i) => new Promise((resolve, reject) => {
        ws.once('message', (data) => resolve([i, data.toString()]));
        ws.once('close', (code) => reject(new Error(`connection ${i} closed with ${code} before its echo`)));
    }));
    clients.forEach((ws, i) => ws.send(`connection ${i} says hi`));
    const got = await within(60000, Promise.all(echoes), 'echoes on 1,000 connections');
    for (const [i, text] of got) assert.equal(text, `connection ${i} says hi`);

    const closes = clients.map((ws) => new Promise((resolve) => ws.once('close', (code) => resolve(code))));
    clients.forEach((ws) => ws.close(1000));
    const codes = await within(60000, Promise.all(closes), 'closing 1,000 connections');
    assert.equal(codes.filter((c) => c !== 1000).length, 0, `close codes other than 1000: ${[...new Set(codes)]}`);
    assert.equal((await get(srv.port, '/healthz')).status, 200);
});
