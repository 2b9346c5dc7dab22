#!/usr/bin/env node
// Runs the integration suite against a built ringpad:
//   node run.mjs <path-to-ringpad-binary> <path-to-installed-web-root>
// Exports RINGPAD_BIN / RINGPAD_WEB_ROOT, runs `node --test --test-concurrency=1`
// over ./*.test.mjs (files matching an optional third argument only), prints
// a closing `integration: N passed, N failed, N skipped` line and exits with
// node --test's exit code.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const RUN_TIMEOUT_MS = 9 * 60 * 1000; // the whole `zig build test` has ~10 minutes
const here = path.dirname(fileURLToPath(import.meta.url));

// --faultalloc=<path>: the allocation-failure build of the server (fault-alloc.test.mjs)
const faultallocArg = process.argv.slice(2).find((a) => a.startsWith('--faultalloc='));
const [binArg, webArg, filter] = process.argv.slice(2).filter((a) => !a.startsWith('--faultalloc='));
if (!binArg || !webArg) {
    console.error('usage: node run.mjs <path-to-ringpad-binary> <path-to-web-root> [file-filter]');
    process.exit(2);
}
const bin = path.resolve(binArg);
const webRoot = path.resolve(webArg);
if (!existsSync(bin)) { console.error(`run.mjs: no binary at ${bin}`); process.exit(2); }
if (!existsSync(webRoot) || !statSync(webRoot).isDirectory()) {
    console.error(`run.mjs: no web root directory at ${webRoot}`);
    process.exit(2);
}

const files = readdirSync(here)
    .filter((f) => f.endsWith('.test.mjs') && (!filter || f.includes(filter)))
    .sort()
    .map((f) => path.join(here, f));
if (files.length === 0) { console.error('run.mjs: no test files matched'); process.exit(2); }

const scratch = mkdtempSync(path.join(tmpdir(), 'ringpad-itest-'));
const summaryFile = path.join(scratch, 'summary.json');
const child = spawn(process.execPath, [
    '--test', '--test-concurrency=1',
    `--test-reporter=${path.join(here, 'lib', 'compact-reporter.mjs')}`, '--test-reporter-destination=stdout',
    `--test-reporter=${path.join(here, 'lib', 'count-reporter.mjs')}`, `--test-reporter-destination=${summaryFile}`,
    ...files,
], {
    cwd: here,
    stdio: 'inherit',
    // Its own process group: a suite killed for running too long takes the
    // servers, redis-servers and clients its tests started with it.
    detached: true,
    env: { ...process.env, RINGPAD_BIN: bin, RINGPAD_WEB_ROOT: webRoot, ...(faultallocArg ? { RINGPAD_FAULTALLOC_BIN: path.resolve(faultallocArg.slice('--faultalloc='.length)) } : {}) },
});
const killer = setTimeout(() => {
    console.error(`run.mjs: the suite ran past ${RUN_TIMEOUT_MS} ms, killing it`);
    try { process.kill(-child.pid, 'SIGKILL'); } catch { child.kill('SIGKILL'); }
}, RUN_TIMEOUT_MS);

// Outside the terminal's process group now: pass an interrupt on to the suite.
for (const sig of ['SIGINT', 'SIGTERM']) {
    process.on(sig, () => { try { process.kill(-child.pid, sig); } catch { /* already gone */ } });
}

child.on('exit', (code, signal) => {
    clearTimeout(killer);
    let summary = null;
    try { summary = JSON.parse(readFileSync(summaryFile, 'utf8')); } catch { /* reporter never finished */ }
    rmSync(scratch, { recursive: true, force: true });
    let exitCode = code ?? 1;
    if (!summary) {
        console.log(`run.mjs: node --test ended (code ${code}, signal ${signal}) without a summary`);
        console.log('integration: 0 passed, 1 failed');
        process.exit(exitCode || 1);
    }
    const { counts, todo, failures } = summary;
    if (todo.length) {
        const passing = todo.filter((t) => t.passed);
        console.log(`\ntodo: ${todo.length} tests, ${passing.length} of them already pass`);
        for (const t of passing) console.log(`  passing todo: ${t.file ? `${t.file} > ` : ''}${t.name}`);
    }
    if (failures.length) console.log('');
    for (const f of failures) console.log(`FAILED: ${f.file ? `${f.file} > ` : ''}${f.name}`);
    // A crash outside any test makes node --test fail without a failing leaf test.
    const failed = counts.failed || (exitCode !== 0 ? 1 : 0);
    if (failed && exitCode === 0) exitCode = 1;
    console.log(`integration: ${counts.passed} passed, ${failed} failed, ${counts.skipped + todo.length} skipped`);
    process.exit(exitCode);
});
