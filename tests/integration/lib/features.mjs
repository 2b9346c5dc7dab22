// Which server features have landed on the branch these tests run against.
//
// A test names the features it needs; while one of them is missing from LANDED
// the test is marked `todo`: it still runs and its outcome is printed, but it
// does not fail the suite. When the server lands a feature, add its name to
// LANDED and those tests become binding. RINGPAD_ITEST_STRICT=1 makes every
// test binding (to see what a branch really passes).
const LANDED = new Set([
    'boot',          // server starts, prints its listening line, --help, env vars
    'http',          // /healthz, 404, 405, 431, Connection: close on errors
    'http-strict',   // 400 for HTTP/1.1 without Host, 413 for an oversized body
    'static',        // static files: Content-Type, ETag/304, HEAD, keep-alive
    'static-gzip',   // .gz sibling served when Accept-Encoding allows
    'traversal',     // no escape from the web root
    'metrics',       // /metrics in Prometheus text
    'handshake',     // RFC 6455 upgrade, subprotocol, 426/400
    'origin',        // --allowed-origins -> 403
    'echo',          // /echo with --enable-echo: text, binary, fragments, ping/pong
    'close-rules',   // every protocol-error close (1002) and the close handshake
    'utf8',          // text/close-reason UTF-8 validation (1007)
    'message-limit', // --max-message-bytes (1009)
    'deflate',       // permessage-deflate (RFC 7692), --no-deflate, bomb -> 1009
    'timeouts',      // --idle-timeout-ms, --ping-interval-ms, --handshake-timeout-ms, --close-timeout-ms
    'backpressure',  // --max-send-queue-bytes: slow consumer -> 1008, bounded RSS
    'conn-limits',   // --max-connections, --max-connections-per-ip -> 503
    'rate-limit',    // --max-messages-per-sec -> 1008
    'shutdown',      // SIGTERM: 1001, /healthz 503, exit 0
    'scale',         // 1,000 concurrent connections
    'ipv6',          // --host ::1
    'deflate-params',// a 101 answering every RFC 7692 parameter
]);

export const ALL_FEATURES = [
    'boot', 'http', 'http-strict', 'static', 'static-gzip', 'traversal', 'metrics',
    'handshake', 'origin', 'echo', 'close-rules', 'utf8', 'message-limit', 'deflate', 'deflate-params',
    'timeouts', 'backpressure', 'conn-limits', 'rate-limit', 'shutdown', 'scale', 'ipv6',
];

const STRICT = process.env.RINGPAD_ITEST_STRICT === '1';

/** node:test options for a test needing `features`: {} or { todo: reason }. */
export function needs(...features) {
    for (const f of features) {
        if (!ALL_FEATURES.includes(f)) throw new Error(`unknown feature '${f}' in a test`);
    }
    if (STRICT) return {};
    const missing = features.filter((f) => !LANDED.has(f));
    return missing.length ? { todo: `server has not landed: ${missing.join(', ')}` } : {};
}
