// tidy: the house rules that a compiler does not check, in one fast offline pass.
//
//   node tests/tidy/tidy.mjs [ROOT]        check the tree at ROOT (default: the repository)
//   node tests/tidy/tidy.mjs --fix-braces  attach function-opening braces, then check
//
// Prints one "path:line: rule: what is wrong" per violation and exits 1 if any.
// The rules (each names itself in the output):
//   layer     src/<layer>/ includes only its own layer or one listed before it in LAYERS
//   cycle     no include cycle between modules (x.c, x.h and a private x_internal.h
//             are one module)
//   file      a C source or header is at most MAX_FILE_LINES lines
//   function  a C function body is at most MAX_FUNCTION_LINES lines
//   tab       no tab character in C sources
//   brace     a function's opening brace ends its signature line (the style kept in
//             .clang-format); a lone "{" line opening a function is the other style
//   reference no issue, pull-request or branch reference in docs or C comments: the
//             code says why, the history says when
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/* The layers, lowest first. A file may include headers of its own layer and of
 * layers before it, never after. ot/ (the OT engine, public header
 * include/ringpad/ot.h) is a library below everything. */
export const LAYERS = ['ot', 'base', 'io', 'redis', 'tls', 'http', 'ws', 'proto', 'store', 'cluster', 'collab', 'server', 'cmd'];
export const MAX_FILE_LINES = 800;
export const MAX_FUNCTION_LINES = 100;

/* Where the C rules apply, and where the reference rule reads prose. */
const C_DIRS = ['src', 'ot', 'include', 'tests/unit', 'tests/fuzz', 'bench/loadgen', 'bench'];
const DOC_DIRS = ['docs', 'bench', 'tests', 'src', 'ot'];
const DOC_FILES = ['README.md'];
const SKIP_DIRS = new Set(['node_modules', '.zig-cache', 'zig-out', 'fixtures', 'corpus', 'runs', 'vectors']);

function walk(root, rel, out, exts, deep) {
    let entries;
    try {
        entries = fs.readdirSync(path.join(root, rel), { withFileTypes: true });
    } catch {
        return;
    }
    for (const e of entries) {
        const p = rel === '' ? e.name : `${rel}/${e.name}`;
        if (e.isDirectory()) {
            if (deep && !SKIP_DIRS.has(e.name) && !e.name.startsWith('.')) walk(root, p, out, exts, deep);
        } else if (exts.some((x) => e.name.endsWith(x))) {
            out.add(p);
        }
    }
}

/* The C text with comments and string/char literals blanked (newlines kept, so
 * offsets keep their line numbers), and the comments with their first line. */
export function lexC(text) {
    const code = text.split('');
    const comments = [];
    let line = 1;
    let i = 0;
    const blank = (from, to) => {
        for (let k = from; k < to; k++) if (code[k] !== '\n') code[k] = ' ';
    };
    while (i < text.length) {
        const c = text[i];
        if (c === '\n') {
            line++;
            i++;
        } else if (c === '/' && text[i + 1] === '*') {
            let end = text.indexOf('*/', i + 2);
            end = end < 0 ? text.length : end + 2;
            comments.push({ line, text: text.slice(i, end) });
            blank(i, end);
            for (let k = i; k < end; k++) if (text[k] === '\n') line++;
            i = end;
        } else if (c === '/' && text[i + 1] === '/') {
            let end = text.indexOf('\n', i);
            if (end < 0) end = text.length;
            comments.push({ line, text: text.slice(i, end) });
            blank(i, end);
            i = end;
        } else if (c === '"' || c === "'") {
            let k = i + 1;
            while (k < text.length && text[k] !== c && text[k] !== '\n') k += text[k] === '\\' ? 2 : 1;
            blank(i + 1, Math.min(k, text.length));
            i = k + 1;
        } else {
            i++;
        }
    }
    return { code: code.join(''), comments };
}

/* Top-level function bodies: {name, line (of the opening brace), lines}. */
export function functionsOf(code) {
    const out = [];
    let depth = 0;
    let line = 1;
    let open = null;
    let stmtStart = 0;
    for (let i = 0; i < code.length; i++) {
        const c = code[i];
        if (c === '\n') line++;
        else if (c === '#' && depth === 0 && (i === 0 || code[i - 1] === '\n')) {
            // a preprocessor line (with its continuations) is not part of a statement
            while (i < code.length && !(code[i] === '\n' && code[i - 1] !== '\\')) {
                if (code[i] === '\n') line++;
                i++;
            }
            line++;
            stmtStart = i + 1;
        } else if (c === '{') {
            if (depth === 0) {
                const head = code.slice(stmtStart, i);
                const isFunction = /\)\s*$/.test(head) && !/=\s*$/.test(head);
                const m = head.match(/([A-Za-z_]\w*)\s*\([^()]*(\([^()]*\)[^()]*)*\)\s*$/);
                open = isFunction && m ? { name: m[1], line } : null;
            }
            depth++;
        } else if (c === '}') {
            depth--;
            if (depth === 0) {
                if (open) out.push({ name: open.name, line: open.line, lines: line - open.line + 1 });
                open = null;
                stmtStart = i + 1;
            }
        } else if (c === ';' && depth === 0) {
            stmtStart = i + 1;
        }
    }
    return out;
}

/* Words that tie a text to the tracker or to a branch instead of to the code. */
const REFERENCE_PATTERNS = [
    [/\b(issues?|bugs?|tickets?)\s*#?\d+/i, 'cites an issue number'],
    [/\b(PR|pull request|merge request)\s*#?\d+/i, 'cites a pull request'],
    [/(^|[\s(\[,;])#\d+\b/, 'cites a tracker number (#N)'],
    [/\b(perf|feature|topic|dev|release|main|master)[ -]branch\b/i, 'cites a branch'],
    [/\bbranch\s+[`'"][\w./-]+[`'"]/i, 'cites a branch by name'],
];

function referenceViolations(file, lines, firstLine, out) {
    lines.forEach((text, k) => {
        for (const [re, what] of REFERENCE_PATTERNS) {
            if (re.test(text)) {
                out.push({ file, line: firstLine + k, rule: 'reference', message: `${what}: "${text.trim().slice(0, 80)}"` });
                break;
            }
        }
    });
}

/* "#include "x/y.h"" lines: {target, line}. */
function includesOf(text) {
    const out = [];
    text.split('\n').forEach((l, k) => {
        const m = l.match(/^\s*#\s*include\s+"([^"]+)"/);
        if (m) out.push({ target: m[1], line: k + 1 });
    });
    return out;
}

/* The layer of a file under src/, ot/ or include/, or null (tests, bench). */
export function layerOf(file) {
    if (file.startsWith('ot/') || file.startsWith('include/ringpad/')) return 'ot';
    const m = file.match(/^src\/([^/]+)\//);
    return m ? m[1] : null;
}

/* The repository file an include names, seen from `file`, or null (system, unknown). */
function resolveInclude(root, file, target) {
    const candidates = [path.posix.join(path.posix.dirname(file), target), `src/${target}`, `include/${target}`, `ot/${target}`];
    for (const c of candidates) if (fs.existsSync(path.join(root, c))) return c;
    return null;
}

/* x.c, x.h and the private x_internal.h are one module. */
const moduleOf = (file) => file.replace(/\.[ch]$/, '').replace(/_internal$/, '');

function layerViolations(root, files, out) {
    const graph = new Map(); // module -> Map(target module -> {file, line})
    for (const file of files) {
        const layer = layerOf(file);
        if (layer === null) continue;
        const text = fs.readFileSync(path.join(root, file), 'utf8');
        for (const inc of includesOf(text)) {
            const target = resolveInclude(root, file, inc.target);
            if (target === null) continue;
            const tlayer = layerOf(target);
            if (tlayer === null) continue;
            if (!LAYERS.includes(layer)) {
                out.push({ file, line: inc.line, rule: 'layer', message: `folder "${layer}" is not in the layer table (tests/tidy/tidy.mjs LAYERS)` });
            } else if (LAYERS.indexOf(tlayer) > LAYERS.indexOf(layer)) {
                out.push({ file, line: inc.line, rule: 'layer', message: `${layer} includes "${inc.target}" of the higher layer ${tlayer} (order: ${LAYERS.join(' < ')})` });
            }
            const from = moduleOf(file);
            const to = moduleOf(target);
            if (from === to) continue;
            if (!graph.has(from)) graph.set(from, new Map());
            if (!graph.get(from).has(to)) graph.get(from).set(to, { file, line: inc.line });
        }
    }
    cycleViolations(graph, out);
}

/* Tarjan's strongly connected components; each component of two or more
 * modules is reported once, as one concrete cycle through it. */
function cycleViolations(graph, out) {
    const index = new Map();
    const low = new Map();
    const stack = [];
    const onStack = new Set();
    let next = 0;
    const components = [];
    const visit = (v) => {
        index.set(v, next);
        low.set(v, next);
        next++;
        stack.push(v);
        onStack.add(v);
        for (const w of (graph.get(v) ?? new Map()).keys()) {
            if (!index.has(w)) {
                visit(w);
                low.set(v, Math.min(low.get(v), low.get(w)));
            } else if (onStack.has(w)) {
                low.set(v, Math.min(low.get(v), index.get(w)));
            }
        }
        if (low.get(v) === index.get(v)) {
            const comp = [];
            let w;
            do {
                w = stack.pop();
                onStack.delete(w);
                comp.push(w);
            } while (w !== v);
            if (comp.length > 1) components.push(comp);
        }
    };
    for (const v of [...graph.keys()].sort()) if (!index.has(v)) visit(v);
    for (const comp of components) {
        const members = new Set(comp);
        const start = [...comp].sort()[0];
        // breadth-first from start back to start, inside the component
        const prev = new Map();
        const queue = [start];
        let found = null;
        while (queue.length > 0 && found === null) {
            const v = queue.shift();
            for (const w of [...(graph.get(v) ?? new Map()).keys()].sort()) {
                if (!members.has(w)) continue;
                if (w === start) {
                    found = v;
                    break;
                }
                if (!prev.has(w)) {
                    prev.set(w, v);
                    queue.push(w);
                }
            }
        }
        const cycle = [start];
        for (let v = found; v !== start; v = prev.get(v)) cycle.splice(1, 0, v);
        const first = graph.get(start).get(cycle[1] ?? start);
        const steps = cycle.map((m, k) => {
            const edge = graph.get(m).get(cycle[(k + 1) % cycle.length]);
            return `${edge.file}:${edge.line}`;
        });
        out.push({
            file: first.file,
            line: first.line,
            rule: 'cycle',
            message: `include cycle ${[...cycle, start].map((m) => m.replace(/^src\//, '')).join(' -> ')} (via ${steps.join(', ')}); ${comp.length} modules are in it`,
        });
    }
}

function cViolations(file, text, out) {
    const lines = text.split('\n');
    const count = text.endsWith('\n') ? lines.length - 1 : lines.length;
    if (count > MAX_FILE_LINES) out.push({ file, line: MAX_FILE_LINES + 1, rule: 'file', message: `${count} lines, over the ${MAX_FILE_LINES}-line limit: split it by idea` });
    lines.forEach((l, k) => {
        if (l.includes('\t')) out.push({ file, line: k + 1, rule: 'tab', message: 'tab character (indent with spaces)' });
    });
    const { code, comments } = lexC(text);
    for (const f of functionsOf(code)) {
        if (f.lines > MAX_FUNCTION_LINES) out.push({ file, line: f.line, rule: 'function', message: `${f.name} is ${f.lines} lines, over the ${MAX_FUNCTION_LINES}-line limit: split it into named steps` });
    }
    const codeLines = code.split('\n');
    for (const f of functionsOf(code)) {
        if (/^\s*\{\s*$/.test(codeLines[f.line - 1])) out.push({ file, line: f.line, rule: 'brace', message: `${f.name}: opening brace on its own line; it ends the signature line` });
    }
    for (const c of comments) referenceViolations(file, c.text.split('\n'), c.line, out);
}

/* Joins each lone "{" that opens a function to the line before it. */
export function fixBraces(text) {
    const { code } = lexC(text);
    const lines = text.split('\n');
    const fix = new Set(functionsOf(code).filter((f) => /^\s*\{\s*$/.test(lines[f.line - 1]) && f.line > 1).map((f) => f.line));
    const out = [];
    lines.forEach((l, k) => {
        if (fix.has(k + 1)) out[out.length - 1] = `${out[out.length - 1].replace(/\s+$/, '')} {`;
        else out.push(l);
    });
    return out.join('\n');
}

export function cFiles(root) {
    const files = new Set();
    for (const d of C_DIRS) walk(root, d, files, ['.c', '.h'], d !== 'bench');
    return [...files].sort();
}

export function docFiles(root) {
    const files = new Set();
    for (const d of DOC_DIRS) walk(root, d, files, ['.md'], true);
    for (const f of DOC_FILES) if (fs.existsSync(path.join(root, f))) files.add(f);
    return [...files].sort();
}

export function tidy(root) {
    const out = [];
    const cs = cFiles(root);
    for (const file of cs) cViolations(file, fs.readFileSync(path.join(root, file), 'utf8'), out);
    layerViolations(root, cs, out);
    for (const file of docFiles(root)) referenceViolations(file, fs.readFileSync(path.join(root, file), 'utf8').split('\n'), 1, out);
    return out.sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.rule.localeCompare(b.rule));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
    const args = process.argv.slice(2);
    const fix = args.includes('--fix-braces');
    const root = args.find((a) => !a.startsWith('--')) ?? path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
    if (fix) {
        for (const file of cFiles(root)) {
            const p = path.join(root, file);
            const text = fs.readFileSync(p, 'utf8');
            const fixed = fixBraces(text);
            if (fixed !== text) fs.writeFileSync(p, fixed);
        }
    }
    const found = tidy(root);
    for (const v of found) console.log(`${v.file}:${v.line}: ${v.rule}: ${v.message}`);
    if (found.length > 0) {
        console.error(`tidy: ${found.length} violation(s); the rules are at the top of tests/tidy/tidy.mjs`);
        process.exit(1);
    }
    console.log(`tidy: ${cFiles(root).length} C files and ${docFiles(root).length} docs are tidy`);
}
