// A writer sending maximal ops cannot push the server past --memory-budget.
// Several documents each take a run of ~1 MiB replace ops ([text, -len], the
// largest --max-op-bytes allows), one after the other's ack, with a history
// depth and a --history-memory-bytes that would keep all of them (~2 MiB
// each: the text inserted and the text deleted): only the budget bounds what
// stays (documents keep to 64 MiB; measured peak ~100-110 MiB: three ops of
// 1 MiB in flight cost ~13 MiB each in buffers). The server's resident memory, sampled after every ack, must
// stay under the budget; and the ops that left memory are still served,
// from the log.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { serverTest } from './lib/server.mjs';
import { replaceDocs, rssPeak } from './lib/max-ops.mjs';

const MIB = 1024 * 1024;
const BUDGET_MIB = 128;
const DOCS = 3;
const OPS_PER_DOC = 40;              // 3 x 40 x 2 MiB: ~240 MiB kept without a bound
const OP_TEXT_BYTES = MIB - 256;     // fits --max-op-bytes 1m and a 1 MiB message with its JSON

// ASan keeps freed blocks in its quarantine (256 MiB by default) and adds shadow
// memory: RSS then says nothing about what the server retains, so the bound is
// checked in the plain builds only.
const ASAN = /-Dsanitize=address/.test(process.env.RINGPAD_BUILD_OPTIONS ?? '');

const dataDir = mkdtempSync(path.join(tmpdir(), 'ringpad-membudget-'));
process.on('exit', () => rmSync(dataDir, { recursive: true, force: true }));

serverTest('maximal ops on several documents: RSS stays under --memory-budget', {
    flags: { dataDir, historyDepth: 1000, historyMemoryBytes: '64m', memoryBudget: `${BUDGET_MIB}m`, threads: 2, fsync: 'interval', docIdleMs: 600000 },
    timeout: 90000,
}, async (t, srv) => {
    if (ASAN) {
        t.skip('RSS is not meaningful under AddressSanitizer (quarantine, shadow memory)');
        return;
    }
    assert.match(srv.stderr(), new RegExp(`memory budget ${BUDGET_MIB} MiB \\(documents keep to ${BUDGET_MIB / 2} MiB`));
    const rss = rssPeak(srv);
    // Still loaded (doc-idle is long): the text is whole and current.
    await replaceDocs(srv.port, DOCS, { ops: OPS_PER_DOC, textBytes: OP_TEXT_BYTES }, rss.sample);
    // The first ops left memory long ago; /ops still has them (from the log).
    const ops = await fetch(`http://127.0.0.1:${srv.port}/api/docs/mem-0/ops?from=0&to=2`);
    assert.equal(ops.status, 200);
    const page = await ops.json();
    assert.deepEqual(page.ops.map((o) => o.id), ['mem-0:0', 'mem-0:1']);
    assert.equal(page.ops[1].op[0].length, OP_TEXT_BYTES);
    rss.sample();
    const peakKb = rss.peakKb();
    const budgetKb = BUDGET_MIB * 1024;
    t.diagnostic(`peak RSS ${peakKb} kB with --memory-budget ${BUDGET_MIB}m after ${DOCS} x ${OPS_PER_DOC} ops of ${OP_TEXT_BYTES} bytes`);
    assert.ok(peakKb < budgetKb,
        `server RSS peaked at ${peakKb} kB, over --memory-budget ${budgetKb} kB, after ${DOCS} x ${OPS_PER_DOC} ops of ${OP_TEXT_BYTES} bytes`);
});
