// The tidy check against small trees built in a temporary folder: each rule must
// flag its violation at the right file and line, and a clean tree must pass.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { tidy, fixBraces, MAX_FILE_LINES, MAX_FUNCTION_LINES } from './tidy.mjs';

const TIDY = path.join(path.dirname(fileURLToPath(import.meta.url)), 'tidy.mjs');

const roots = [];
after(() => {
    for (const r of roots) fs.rmSync(r, { recursive: true, force: true });
});

function tree(files) {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'tidy-'));
    roots.push(root);
    for (const [p, text] of Object.entries(files)) {
        fs.mkdirSync(path.join(root, path.dirname(p)), { recursive: true });
        fs.writeFileSync(path.join(root, p), text);
    }
    return root;
}

/* A function whose body (opening to closing brace) is `lines` lines long. */
function fn(name, lines) {
    const body = Array.from({ length: lines - 2 }, (_, k) => `    x += ${k};`).join('\n');
    return `int ${name}(int x) {\n${body}\n}\n`;
}

const brief = (found) => found.map((v) => `${v.file}:${v.line}:${v.rule}`);

test('a clean tree passes: downward and same-layer includes, limits met exactly', () => {
    const root = tree({
        'include/ringpad/ot.h': '#define OT 1\n',
        'ot/text.c': '#include "ringpad/ot.h"\n',
        'src/base/log.h': '#define LOG 1\n',
        'src/io/ring.h': '#include "base/log.h"\n',
        'src/io/ring.c': '#include "io/ring.h"\n#include "ringpad/ot.h"\n#include <stdio.h>\n' + fn('fits', MAX_FUNCTION_LINES),
        'src/cmd/main.c': '#include "io/ring.h"\n/* issues one SQE per send; colour "#123456" */\nstatic const char *c = "issue 4";\n',
        'src/store/long.c': '/* x */\n'.repeat(MAX_FILE_LINES),
        'docs/x.md': 'The worker issues SQEs; a branch of the switch; see `#include`.\n',
    });
    assert.deepEqual(brief(tidy(root)), []);
    assert.match(execFileSync('node', [TIDY, root], { encoding: 'utf8' }), /are tidy/);
});

test('an upward include is flagged at its line, naming both layers', () => {
    const root = tree({
        'src/collab/docs.h': '#define D 1\n',
        'src/io/ring.c': '#include <stdio.h>\n#include "collab/docs.h"\n',
        'ot/op.c': '#include "collab/docs.h"\n',
    });
    const found = tidy(root);
    assert.deepEqual(brief(found), ['ot/op.c:1:layer', 'src/io/ring.c:2:layer']);
    assert.match(found[1].message, /io includes "collab\/docs.h" of the higher layer collab/);
});

test('a folder missing from the layer table is flagged', () => {
    const root = tree({ 'src/base/a.h': '', 'src/misc/x.c': '#include "base/a.h"\n' });
    const found = tidy(root);
    assert.deepEqual(brief(found), ['src/misc/x.c:1:layer']);
    assert.match(found[0].message, /not in the layer table/);
});

test('an include cycle between modules is flagged once, with its path', () => {
    const root = tree({
        'src/io/a.h': '#include "io/b.h"\n',
        'src/io/b.h': '\n',
        'src/io/b.c': '#include "io/b.h"\n#include "io/c.h"\n',
        'src/io/c.h': '\n',
        'src/io/c.c': '#include "io/a.h"\n',
    });
    const found = tidy(root);
    assert.deepEqual(brief(found), ['src/io/a.h:1:cycle']);
    assert.match(found[0].message, /io\/a -> io\/b -> io\/c -> io\/a \(via src\/io\/a.h:1, src\/io\/b.c:2, src\/io\/c.c:1\); 3 modules/);
});

test('a private x_internal.h belongs to module x: no cycle with x.c', () => {
    const root = tree({
        'src/io/x.h': '\n',
        'src/io/x_internal.h': '#include "io/x.h"\n',
        'src/io/x.c': '#include "io/x_internal.h"\n',
        'src/io/x_part.c': '#include "io/x_internal.h"\n',
    });
    assert.deepEqual(brief(tidy(root)), []);
});

test('a file over the line limit is flagged at the first line over', () => {
    const root = tree({ 'src/base/big.c': '/* x */\n'.repeat(MAX_FILE_LINES + 1) });
    const found = tidy(root);
    assert.deepEqual(brief(found), [`src/base/big.c:${MAX_FILE_LINES + 1}:file`]);
});

test('a function over the line limit is flagged at its opening brace, with its name', () => {
    const root = tree({ 'src/base/f.c': '#include <stdio.h>\n\n' + fn('too_long', MAX_FUNCTION_LINES + 1) });
    const found = tidy(root);
    assert.deepEqual(brief(found), ['src/base/f.c:3:function']);
    assert.match(found[0].message, /too_long is 101 lines/);
});

test('struct initializers and braces inside strings or comments are not functions', () => {
    const root = tree({
        'src/base/s.c': 'static const int t[] = {\n' + '    1,\n'.repeat(150) + '};\n/* { */\nint f(void) { return "}"[0]; }\n',
    });
    assert.deepEqual(brief(tidy(root)), []);
});

test('a function after a multi-line macro is found at its own line', () => {
    const root = tree({ 'src/base/m.c': '#define M(x) \\\n    do { \\\n    } while (0)\nint f(void)\n{\n    return 0;\n}\n' });
    assert.deepEqual(brief(tidy(root)), ['src/base/m.c:5:brace']);
});

test('tabs and a function brace on its own line are flagged', () => {
    const root = tree({ 'src/base/t.c': 'int f(void)\n{\n\treturn 0;\n}\n' });
    assert.deepEqual(brief(tidy(root)), ['src/base/t.c:2:brace', 'src/base/t.c:3:tab']);
});

test('--fix-braces attaches function braces and leaves other blocks alone', () => {
    const text = 'static int f(int a,\n             int b)\n{\n    if (a) {\n        return b;\n    }\n    return 0;\n}\nstatic const int t[] =\n{ 1 };\n';
    assert.equal(fixBraces(text), 'static int f(int a,\n             int b) {\n    if (a) {\n        return b;\n    }\n    return 0;\n}\nstatic const int t[] =\n{ 1 };\n');
});

test('issue, pull-request and branch references are flagged in comments and docs', () => {
    const root = tree({
        'src/base/r.c': '/* fixed in issue 12 */\nint x; // see #7\n/* as measured on the perf branch */\n/* PR 3 */\n',
        'docs/notes.md': 'ok\nDone for Issue #4.\nMerged from branch `house`.\n',
    });
    assert.deepEqual(brief(tidy(root)), [
        'docs/notes.md:2:reference',
        'docs/notes.md:3:reference',
        'src/base/r.c:1:reference',
        'src/base/r.c:2:reference',
        'src/base/r.c:3:reference',
        'src/base/r.c:4:reference',
    ]);
});

test('the command exits 1 and prints file:line: rule: message', () => {
    const root = tree({ 'src/base/t.c': 'int f(void) {\n\treturn 0;\n}\n' });
    let failed = null;
    try {
        execFileSync('node', [TIDY, root], { encoding: 'utf8', stdio: 'pipe' });
    } catch (e) {
        failed = e;
    }
    assert.notEqual(failed, null);
    assert.equal(failed.status, 1);
    assert.equal(failed.stdout, 'src/base/t.c:2: tab: tab character (indent with spaces)\n');
});
