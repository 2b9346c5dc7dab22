// `zig build install --prefix P` installs the server, its web root and its man
// page, and nothing else (no test or benchmark binaries, no libraries).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { scratchDir } from './lib/rp-util.mjs';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

function filesUnder(dir, base = dir) {
    return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
        const p = path.join(dir, e.name);
        return e.isDirectory() ? filesUnder(p, base) : [path.relative(base, p)];
    });
}

test('zig build install --prefix installs bin/ringpad, the web root and the man page only', { timeout: 240000 }, (t) => {
    const prefix = scratchDir(t, 'ringpad-prefix-');
    // the same options as the build running this suite, so every artifact comes from the cache
    const options = (process.env.RINGPAD_BUILD_OPTIONS ?? '-Doptimize=Debug').split(' ').filter(Boolean);
    const r = spawnSync(path.join(repo, 'zigw'), ['build', 'install', '--prefix', prefix, ...options], {
        cwd: repo, encoding: 'utf8', timeout: 230000, env: { ...process.env, ZIGW_QUIET: '1' },
    });
    assert.equal(r.status, 0, `zig build install failed:\n${r.stderr}`);
    const files = filesUnder(prefix).sort();
    const outside = files.filter((f) => f !== 'bin/ringpad' && f !== 'share/man/man1/ringpad.1' && !f.startsWith('share/ringpad/web/'));
    assert.deepEqual(outside, [], 'installed besides the server, its web root and man page');
    assert.ok(files.includes('bin/ringpad'));
    assert.ok(files.includes('share/ringpad/web/index.html'), `web root: ${files.filter((f) => f.startsWith('share/ringpad/web/')).join(' ')}`);
    const man = readFileSync(path.join(prefix, 'share/man/man1/ringpad.1'), 'utf8');
    assert.match(man, /^\.TH RINGPAD 1 "" "ringpad 0\.1\.0" "User Commands"\n/);
    // generated from the flag table: every flag of --help is in it
    const help = spawnSync(path.join(prefix, 'bin/ringpad'), ['--help'], { encoding: 'utf8' }).stdout;
    const flags = [...help.matchAll(/^ {2}--([a-z0-9-]+)/gm)].map((m) => m[1]).filter((f) => f !== 'help' && f !== 'version');
    assert.ok(flags.length >= 35, `${flags.length} flags in --help`);
    for (const f of flags) assert.ok(man.includes(`.BR \\-\\-${f.replace(/-/g, '\\-')}`), `the man page lacks --${f}`);
});
