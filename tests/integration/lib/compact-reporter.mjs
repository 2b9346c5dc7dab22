// node:test reporter for humans: one line per test; full details only for real
// failures. A todo test (feature not landed) gets one line with the first line
// of its error, unless RINGPAD_ITEST_VERBOSE=1 asks for everything.
import { inspect } from 'node:util';

const VERBOSE = process.env.RINGPAD_ITEST_VERBOSE === '1';

function errorText(error) {
    const err = error?.cause ?? error;
    if (err instanceof Error) return err.stack ?? String(err);
    return inspect(err, { depth: 4 });
}

function indent(text, pad) {
    return text.split('\n').map((l) => pad + l).join('\n');
}

export default async function* compactReporter(source) {
    let currentFile = null;
    for await (const event of source) {
        const data = event.data ?? {};
        if (event.type === 'test:stderr' || event.type === 'test:stdout') {
            yield data.message;
            continue;
        }
        if (event.type !== 'test:pass' && event.type !== 'test:fail') continue;
        if (data.details?.type === 'suite') continue;
        // Tests declared through lib/ helpers report the helper's file: no header for those.
        const file = data.file && !data.file.includes('/lib/') ? data.file.split('/').pop() : null;
        if (file && file !== currentFile) {
            currentFile = file;
            yield `\n${file}\n`;
        }
        const ms = Math.round(data.details?.duration_ms ?? 0);
        const pad = '  '.repeat(data.nesting + 1);
        const isTodo = data.todo !== undefined && data.todo !== false;
        const isSkip = data.skip !== undefined && data.skip !== false;
        if (isSkip) {
            yield `${pad}- ${data.name} # SKIP ${data.skip === true ? '' : data.skip}\n`;
        } else if (event.type === 'test:pass') {
            yield `${pad}✔ ${data.name} (${ms} ms)${isTodo ? ` # TODO ${data.todo} (passes already)` : ''}\n`;
        } else if (isTodo) {
            const first = errorText(data.details?.error).split('\n')[0];
            yield `${pad}○ ${data.name} # TODO ${data.todo}: ${first}\n`;
            if (VERBOSE) yield indent(errorText(data.details?.error), pad + '    ') + '\n';
        } else {
            yield `${pad}✖ ${data.name} (${ms} ms)\n${indent(errorText(data.details?.error), pad + '    ')}\n`;
        }
    }
}
