// A Server-Sent Events reader written from the WHATWG spec's parsing rules
// (fields event/id/data, comments, blank line dispatch), on node:http.
import http from 'node:http';

export class SseStream {
    constructor(req, res) {
        this.req = req;
        this.res = res;
        this.status = res.statusCode;
        this.headers = res.headers;
        this.events = [];      // {event, id, data, json}
        this.comments = [];
        this.raw = '';
        this.ended = false;
        this.waiters = [];
        this.lastEventId = '';
        let buf = '';
        let ev = { event: 'message', data: [], id: null };
        res.setEncoding('utf8');
        res.on('data', (chunk) => {
            this.raw += chunk;
            buf += chunk;
            let nl;
            while ((nl = buf.indexOf('\n')) >= 0) {
                const line = buf.slice(0, nl).replace(/\r$/, '');
                buf = buf.slice(nl + 1);
                if (line === '') {
                    if (ev.data.length) {
                        const data = ev.data.join('\n');
                        let json = null;
                        try { json = JSON.parse(data); } catch { /* not JSON */ }
                        if (ev.id !== null) this.lastEventId = ev.id;
                        this.events.push({ event: ev.event, id: ev.id, data, json });
                    }
                    ev = { event: 'message', data: [], id: null };
                } else if (line.startsWith(':')) {
                    this.comments.push(line.slice(1).trim());
                } else {
                    const i = line.indexOf(':');
                    const field = i < 0 ? line : line.slice(0, i);
                    const value = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '');
                    if (field === 'event') ev.event = value;
                    else if (field === 'data') ev.data.push(value);
                    else if (field === 'id') ev.id = value;
                }
            }
            this.wake();
        });
        res.on('end', () => { this.ended = true; this.wake(); });
        res.on('error', () => { this.ended = true; this.wake(); });
        res.on('close', () => { this.ended = true; this.wake(); });
    }

    wake() {
        for (const w of this.waiters.splice(0)) w();
    }

    /** Waits until pred(this) holds (or throws after ms). */
    async until(pred, ms = 5000, what = 'condition') {
        const end = Date.now() + ms;
        while (!pred(this)) {
            const left = end - Date.now();
            if (left <= 0) throw new Error(`sse: ${what} not reached in ${ms} ms; got ${JSON.stringify(this.events.map((e) => [e.event, e.id]))}${this.ended ? ' (ended)' : ''}`);
            await new Promise((r) => {
                const t = setTimeout(r, Math.min(left, 50));
                this.waiters.push(() => { clearTimeout(t); r(); });
            });
        }
    }

    /** The n-th event named `name` (waits for it). */
    async event(name, n = 0, ms = 5000) {
        await this.until((s) => s.events.filter((e) => e.event === name).length > n, ms, `event ${name} #${n}`);
        return this.events.filter((e) => e.event === name)[n];
    }

    close() {
        this.req.destroy();
    }
}

/** GET path as an event stream. Resolves with an SseStream, or with
 *  {status, headers, json} when the answer is not a stream. */
export function openEvents(port, path, headers = {}) {
    return new Promise((resolve, reject) => {
        const req = http.get({ host: '127.0.0.1', port, path, agent: false, headers: { accept: 'text/event-stream', ...headers } }, (res) => {
            if (!String(res.headers['content-type'] ?? '').startsWith('text/event-stream')) {
                let text = '';
                res.setEncoding('utf8');
                res.on('data', (c) => { text += c; });
                res.on('end', () => {
                    let json = null;
                    try { json = JSON.parse(text); } catch { /* not JSON */ }
                    resolve({ status: res.statusCode, headers: res.headers, json, text });
                });
                return;
            }
            resolve(new SseStream(req, res));
        });
        req.on('error', reject);
    });
}
