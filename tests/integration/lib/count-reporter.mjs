// node:test reporter that writes one JSON summary at the end: counts of leaf
// tests by outcome, plus the names of todo tests (and whether they passed), so
// run.mjs can print the closing `N passed, N failed` line.
export default async function* countReporter(source) {
    const counts = { passed: 0, failed: 0, skipped: 0, todoPassed: 0, todoFailed: 0 };
    const todo = [];
    const failures = [];
    for await (const event of source) {
        if (event.type !== 'test:pass' && event.type !== 'test:fail') continue;
        const data = event.data;
        if (data.details?.type === 'suite') continue;
        const passed = event.type === 'test:pass';
        const where = data.file && !data.file.includes('/lib/') ? data.file.split('/').pop() : '';
        if (data.skip !== undefined && data.skip !== false) counts.skipped++;
        else if (data.todo !== undefined && data.todo !== false) {
            if (passed) counts.todoPassed++; else counts.todoFailed++;
            todo.push({ file: where, name: data.name, passed, reason: String(data.todo) });
        } else if (passed) counts.passed++;
        else {
            counts.failed++;
            failures.push({ file: where, name: data.name });
        }
    }
    yield JSON.stringify({ counts, todo, failures }) + '\n';
}
