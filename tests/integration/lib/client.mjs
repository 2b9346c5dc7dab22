// Helpers around the `ws` library: the well-behaved client side.
import WebSocket from 'ws';
import { within } from './server.mjs';

export const OPEN_TIMEOUT_MS = 5000;
export const MESSAGE_TIMEOUT_MS = 5000;

/** Opens a ws client; rejects on error or unexpected response. Terminated in t.after. */
export async function openWs(t, port, { path = '/echo', protocols, host = '127.0.0.1', ...options } = {}) {
    // ws offers permessage-deflate by default; tests that want it ask for it.
    options = { perMessageDeflate: false, ...options };
    const ws = new WebSocket(`ws://${host.includes(':') ? `[${host}]` : host}:${port}${path}`, protocols, options);
    ws.binaryType = 'nodebuffer';
    if (t) t.after(() => ws.terminate());
    await within(OPEN_TIMEOUT_MS, new Promise((resolve, reject) => {
        ws.once('open', resolve);
        ws.once('error', reject);
        ws.once('unexpected-response', (req, res) => reject(new Error(`unexpected response ${res.statusCode}`)));
    }), `open ${path}`);
    return ws;
}

/** A queue of received messages: await next() for the following one. */
export function messages(ws) {
    const queue = [];
    const waiters = [];
    ws.on('message', (data, isBinary) => {
        const msg = { data, isBinary };
        const w = waiters.shift();
        if (w) w(msg); else queue.push(msg);
    });
    return {
        next(timeoutMs = MESSAGE_TIMEOUT_MS) {
            if (queue.length) return Promise.resolve(queue.shift());
            return within(timeoutMs, new Promise((resolve) => waiters.push(resolve)), 'next message');
        },
        get pending() { return queue.length; },
    };
}

/** Resolves { code, reason } when the client sees the connection close. */
export function closed(ws, timeoutMs = MESSAGE_TIMEOUT_MS) {
    return within(timeoutMs, new Promise((resolve) => {
        if (ws.readyState === WebSocket.CLOSED) { resolve({ code: null, reason: '' }); return; }
        ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() }));
    }), 'close');
}
