// One WebSocket to the server (subprotocol ringpad.v1) that comes back by
// itself: capped exponential backoff with jitter, an immediate try when the
// browser comes back online, and an application ping to find dead links.

export const SUBPROTOCOL = 'ringpad.v1';
const BACKOFF_BASE_MS = 500;
const BACKOFF_CAP_MS = 30000;
const PING_EVERY_MS = 10000;
const DEAD_AFTER_MS = 25000; // two pings unanswered: the link is dead
// After an op is sent the server answers within milliseconds; silence this
// long gets a ping, and silence after that ping means the link is gone (a
// laptop leaving Wi-Fi keeps its socket "open" for minutes).
const REPLY_EXPECTED_MS = 3000;
const PONG_DEADLINE_MS = 4000;
const CLOSE_UNAUTHORIZED = 4401;

/**
 * Delay before reconnect attempt `attempt` (0-based): "equal jitter" — half of
 * min(cap, base·2^attempt) fixed, half random, so clients spread out after an
 * outage and never wait longer than the cap.
 */
export function backoffDelayMs(attempt, rnd = Math.random, { baseMs = BACKOFF_BASE_MS, capMs = BACKOFF_CAP_MS } = {}) {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling / 2 + rnd() * (ceiling / 2));
}

/** Why a WebSocket closed, in words for the status bar (null when there is nothing to add). */
export function closeReason(ev, wasReady) {
  const code = ev && ev.code;
  const said = ev && typeof ev.reason === 'string' && ev.reason ? `: ${ev.reason}` : '';
  if (!wasReady && (code === 1006 || code === undefined)) return 'the server cannot be reached';
  if (code === 1006) return 'the connection was lost';
  if (code === 1001) return 'the server is restarting or going away';
  if (code === 1008) return `the server closed the connection (policy${said})`;
  if (code === 1009) return 'the server closed the connection: a message was too large';
  if (code === 1011) return `the server had an internal error${said}`;
  if (code === 1013) return `the server is overloaded${said}`;
  if (code === 4000) return 'the server stopped answering';
  return code ? `the connection closed (code ${code}${said})` : null;
}

export class Connection {
  /**
   * @param {object} o
   * @param {string} o.url ws:// or wss:// URL of /ws
   * @param {() => object} o.hello the hello message (read at each connect: the token may change)
   * @param {(welcome: object) => void} o.onReady after welcome: (re)open documents here
   * @param {(msg: object) => void} o.onMessage every other server message
   * @param {(status: {state: string, retryAt?: number, attempt?: number}) => void} o.onStatus
   * @param {(msg: object) => void} o.onUnauthorized the server refused the token (no retry until resume())
   * @param {object} [o.env] {WebSocket, setTimeout, clearTimeout, setInterval, clearInterval, now, random, online, addEventListener}
   */
  constructor({ url, hello, onReady, onMessage, onStatus, onUnauthorized, env }) {
    this.url = url;
    this.hello = hello;
    this.onReady = onReady;
    this.onMessage = onMessage;
    this.onStatus = onStatus;
    this.onUnauthorized = onUnauthorized;
    const g = globalThis;
    this.env = {
      WebSocket: g.WebSocket,
      setTimeout: (f, ms) => g.setTimeout(f, ms),
      clearTimeout: (t) => g.clearTimeout(t),
      setInterval: (f, ms) => g.setInterval(f, ms),
      clearInterval: (t) => g.clearInterval(t),
      now: () => Date.now(),
      random: Math.random,
      online: () => (g.navigator ? g.navigator.onLine !== false : true),
      addEventListener: (name, f) => g.addEventListener && g.addEventListener(name, f),
      ...env,
    };
    this.ws = null;
    this.ready = false;
    this.attempt = 0;
    this.retryTimer = null;
    this.pingTimer = null;
    this.replyTimer = null;
    this.lastHeard = 0;
    this.stopped = true;
    this.unauthorized = false;
    this.env.addEventListener('online', () => { if (!this.stopped && !this.ws) this.#connectNow(); });
    this.env.addEventListener('offline', () => {
      if (this.stopped) return;
      // A socket may look open for a long while after the network went away:
      // drop it now so the page says "offline" and keeps edits to resend.
      if (this.ws) { const ws = this.ws; ws.close(1000); this.#closed(ws, { code: 4000 }); } else this.#status({ state: 'offline' });
    });
  }

  start() { this.stopped = false; this.unauthorized = false; this.#connectNow(); }

  /** After a new token: try again at once. */
  resume() { this.attempt = 0; this.start(); }

  /** A new hello (a new name or colour): drop this socket and connect again at once; pending state is the caller's. */
  reconnect() {
    if (this.stopped) return;
    const ws = this.ws;
    if (ws) {
      this.stopped = true; // #closed must not schedule a retry
      ws.close(1000);
      this.#closed(ws, { code: 1000 });
      this.stopped = false;
    }
    this.attempt = 0;
    this.#connectNow();
  }

  stop() {
    this.stopped = true;
    this.env.clearTimeout(this.retryTimer);
    this.retryTimer = null;
    if (this.ws) this.ws.close(1000);
  }

  /** Sends when connected and welcomed; false otherwise (the caller keeps state to resend). */
  send(msg) {
    if (!this.ready || !this.ws) return false;
    this.ws.send(JSON.stringify(msg));
    if (msg.type === 'op') this.#expectReply();
    return true;
  }

  #status(s) { this.status = s; this.onStatus(s); }

  #connectNow() {
    this.env.clearTimeout(this.retryTimer);
    this.retryTimer = null;
    if (this.ws || this.stopped) return;
    this.#status({ state: 'connecting', attempt: this.attempt });
    let ws;
    try {
      ws = new this.env.WebSocket(this.url, SUBPROTOCOL);
    } catch {
      this.#scheduleRetry();
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      this.lastHeard = this.env.now();
      ws.send(JSON.stringify(this.hello()));
    };
    ws.onmessage = (ev) => {
      this.lastHeard = this.env.now();
      let msg;
      try { msg = JSON.parse(ev.data); } catch { return; }
      if (!msg || typeof msg !== 'object') return;
      if (msg.type === 'welcome') {
        this.ready = true;
        this.attempt = 0;
        this.#startPing();
        this.#status({ state: 'connected', session: msg.session });
        this.onReady(msg);
        return;
      }
      if (msg.type === 'pong') return;
      if (msg.type === 'error' && msg.code === 'unauthorized') {
        this.unauthorized = true;
        this.onUnauthorized(msg);
        return;
      }
      this.onMessage(msg);
    };
    ws.onclose = (ev) => this.#closed(ws, ev);
    ws.onerror = () => {}; // onclose follows
  }

  #closed(ws, ev) {
    if (this.ws !== ws) return;
    this.ws = null;
    const wasReady = this.ready;
    this.ready = false;
    this.env.clearInterval(this.pingTimer);
    this.pingTimer = null;
    this.env.clearTimeout(this.replyTimer);
    this.replyTimer = null;
    if (wasReady) this.onMessage({ type: '_disconnected' });
    if (ev && ev.code === CLOSE_UNAUTHORIZED) this.unauthorized = true;
    if (this.stopped || this.unauthorized) { this.#status({ state: this.unauthorized ? 'unauthorized' : 'stopped' }); return; }
    this.#scheduleRetry(closeReason(ev, wasReady));
  }

  #scheduleRetry(reason = null) {
    if (!this.env.online()) { this.#status({ state: 'offline' }); return; } // 'online' event resumes
    const delay = backoffDelayMs(this.attempt++, this.env.random);
    const retryAt = this.env.now() + delay;
    this.#status({ state: 'reconnecting', retryAt, attempt: this.attempt, reason });
    this.retryTimer = this.env.setTimeout(() => this.#connectNow(), delay);
  }

  #startPing() {
    this.env.clearInterval(this.pingTimer);
    this.pingTimer = this.env.setInterval(() => {
      if (!this.ws) return;
      if (this.env.now() - this.lastHeard > DEAD_AFTER_MS) { this.#dead(); return; }
      this.send({ type: 'ping' });
    }, PING_EVERY_MS);
  }

  // A dead link may take minutes to report its close: give up on it now.
  #dead() {
    const dead = this.ws;
    dead.close(4000);
    this.#closed(dead, { code: 4000 });
  }

  #expectReply() {
    if (this.replyTimer !== null) return;
    const sentAt = this.env.now();
    this.replyTimer = this.env.setTimeout(() => {
      this.replyTimer = null;
      if (!this.ws || this.lastHeard > sentAt) return;
      const pingAt = this.env.now();
      this.send({ type: 'ping' });
      this.replyTimer = this.env.setTimeout(() => {
        this.replyTimer = null;
        if (this.ws && this.lastHeard <= pingAt) this.#dead();
      }, PONG_DEADLINE_MS);
    }, REPLY_EXPECTED_MS);
  }
}
