// Memory stays bounded under maximal ops: a document keeps history_depth ops
// (each with its inverse) in memory, not every op it ever took. Several
// documents each take a run of ~1 MiB replace ops ([text, -len], the largest
// --max-op-bytes allows), one after the other's ack; the server's resident
// memory must stay under a bound computed from --history-depth, whereas an
// unbounded history would grow by ~2 MiB per op (op + inverse).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { serverTest } from './lib/server.mjs';
import { replaceDocs, rssPeak } from './lib/max-ops.mjs';

const MIB = 1024 * 1024;
const HISTORY_DEPTH = 4;
const DOCS = 3;
const OPS_PER_DOC = 40;              // 10x the depth: unbounded growth would be ~240 MiB
const OP_TEXT_BYTES = MIB - 256;     // fits --max-op-bytes 1m and a 1 MiB message with its JSON
// The bound: per document, history_depth + 1 ops and their inverses, the text,
// the received message and its parse, the encoded op, the log's write
// buffers and a compaction's snapshot image (~1 MiB each, measured ~27 MiB a
// document in all): 2 MiB per retained op, 16 MiB of buffers per document.
const RSS_GROWTH_MAX_KB = DOCS * ((HISTORY_DEPTH + 1) * 2 + 16) * 1024 + 16 * 1024;

// ASan keeps freed blocks in its quarantine (256 MiB by default) and adds shadow
// memory: RSS then says nothing about what the server retains, so the bound is
// checked in the plain builds only.
const ASAN = /-Dsanitize=address/.test(process.env.RINGPAD_BUILD_OPTIONS ?? '');

const dataDir = mkdtempSync(path.join(tmpdir(), 'ringpad-membound-'));
process.on('exit', () => rmSync(dataDir, { recursive: true, force: true }));

serverTest('maximal ops on several documents: RSS stays under a bound set by --history-depth', {
    flags: { dataDir, historyDepth: HISTORY_DEPTH, threads: 2, fsync: 'interval', docIdleMs: 600000 },
    timeout: 60000,
}, async (t, srv) => {
    if (ASAN) {
        t.skip('RSS is not meaningful under AddressSanitizer (quarantine, shadow memory)');
        return;
    }
    const rssBeforeKb = srv.rssKb();
    const rss = rssPeak(srv);
    // The documents are still loaded (doc-idle is long): what they hold counts.
    await replaceDocs(srv.port, DOCS, { ops: OPS_PER_DOC, textBytes: OP_TEXT_BYTES }, rss.sample);
    rss.sample();
    const growthKb = rss.peakKb() - rssBeforeKb;
    assert.ok(growthKb < RSS_GROWTH_MAX_KB,
        `server RSS grew by ${growthKb} kB (bound ${RSS_GROWTH_MAX_KB} kB) after ${DOCS} x ${OPS_PER_DOC} ops of ${OP_TEXT_BYTES} bytes with --history-depth ${HISTORY_DEPTH}`);
});
