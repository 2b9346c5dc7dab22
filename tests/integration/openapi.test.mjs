// docs/openapi.yaml against the real server: every answer below is
// validated with the schema the document gives for its route, method,
// status and content type (ajv, JSON Schema 2020-12 as OpenAPI 3.1 uses),
// every documented operation is exercised, and every query parameter the
// document lists is one the server takes.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import Ajv2020 from 'ajv/dist/2020.js';
import YAML from 'yaml';
import { startServer } from './lib/server.mjs';
import { httpJson, mintToken, nowS, scratchDir } from './lib/rp-util.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const spec = YAML.parse(readFileSync(path.join(here, '../../docs/openapi.yaml'), 'utf8'));
const ajv = new Ajv2020({ strict: false, allErrors: true });
ajv.addSchema(spec, 'openapi');

const SECRET = 'correct-horse-battery-staple';
const METHODS = ['get', 'put', 'post', 'delete'];

function deref(obj) {
    while (obj && obj.$ref) obj = obj.$ref.slice(2).split('/').reduce((o, k) => o[k], spec);
    return obj;
}

/** The OpenAPI path template a concrete /api path is an instance of. */
function templateOf(urlPath) {
    const p = urlPath.split('?')[0];
    if (p === '/api/docs') return '/api/docs';
    for (const suffix of ['ops', 'text', 'append', 'events', 'history', 'authors', 'restore']) {
        if (p.endsWith(`/${suffix}`) && p.length > `/api/docs//${suffix}`.length - 1) return `/api/docs/{name}/${suffix}`;
    }
    return '/api/docs/{name}';
}

const seen = new Set();

/** Validates one real answer against the document; returns it. */
function conforms(method, urlPath, r) {
    const template = templateOf(urlPath);
    const op = spec.paths[template]?.[method.toLowerCase()];
    assert.ok(op, `${method} ${template} is documented`);
    const resp = deref(op.responses[String(r.status)]);
    assert.ok(resp, `${method} ${template} documents status ${r.status} (${r.text.slice(0, 200)})`);
    const type = r.headers.get('content-type').split(';')[0].trim();
    const media = resp.content?.[type];
    assert.ok(media, `${method} ${template} ${r.status} documents ${type}`);
    const ref = media.schema.$ref;
    const validate = ref ? ajv.getSchema(`openapi${ref}`) : ajv.compile(media.schema);
    const value = type === 'application/json' ? JSON.parse(r.text) : r.text;
    assert.ok(validate(value), `${method} ${urlPath} ${r.status}: ${ajv.errorsText(validate.errors)} in ${r.text.slice(0, 300)}`);
    for (const [name, h] of Object.entries(resp.headers ?? {})) {
        assert.ok(r.headers.get(name), `${method} ${urlPath} ${r.status} carries ${name}`);
        void h;
    }
    seen.add(`${method.toLowerCase()} ${template} ${r.status}`);
    return r;
}

async function call(port, method, urlPath, opts) {
    return conforms(method, urlPath, await httpJson(port, method, urlPath, opts));
}

test('every REST answer matches docs/openapi.yaml', async (t) => {
    const srv = await startServer({ dataDir: scratchDir(t), maxMessageBytes: '64k' });
    t.after(() => srv.stop());
    const p = srv.port;
    await call(p, 'GET', '/api/docs');
    await call(p, 'POST', '/api/docs/a/ops', { body: { v: 0, id: 'x1', op: ['hello'] } });
    await call(p, 'PUT', '/api/docs/a/text', { body: { text: 'hello world' } });
    await call(p, 'PUT', '/api/docs/a/text', { raw: 'hello world', headers: { 'content-type': 'text/plain' } });
    await call(p, 'PUT', '/api/docs/b/text', { body: { text: 'b' }, headers: { 'if-none-match': '*' } });
    await call(p, 'PUT', '/api/docs/b/text', { body: { text: 'b' }, headers: { 'if-none-match': '*' } });
    await call(p, 'POST', '/api/docs/b/append', { body: { text: '!' } });
    await call(p, 'GET', '/api/docs?limit=1');
    await call(p, 'GET', '/api/docs?limit=1&after=a');
    await call(p, 'GET', '/api/docs/a');
    await call(p, 'GET', '/api/docs/a?v=1');
    await call(p, 'GET', '/api/docs/a', { headers: { accept: 'text/plain' } });
    await call(p, 'GET', '/api/docs/a/ops?from=0&to=1');
    await call(p, 'GET', '/api/docs/a/history');
    await call(p, 'GET', '/api/docs/a/history?from=1');
    await call(p, 'GET', '/api/docs/a/authors');
    await call(p, 'GET', '/api/docs/a/authors?v=1');
    await call(p, 'POST', '/api/docs/a/restore', { body: { v: 1 } });
    await call(p, 'DELETE', '/api/docs/b');
    await call(p, 'DELETE', '/api/docs/b');
    // errors, each with its documented status
    const errors = [
        ['GET', '/api/docs?limit=0', 400], ['GET', '/api/docs/a?v=99', 409], ['GET', '/api/docs/nope', 404],
        ['GET', '/api/docs/nope/ops', 404], ['GET', '/api/docs/a/ops?from=99', 409],
        ['POST', '/api/docs/a/ops', 400, { body: { v: 0, id: 'x2', op: [99, 'x'] } }],
        ['POST', '/api/docs/a/ops', 413, { raw: 'x'.repeat(70000), headers: { 'content-type': 'application/json' } }],
        ['PUT', '/api/docs/a/text', 400, { body: { nope: 1 } }],
        ['PUT', '/api/docs/a/text', 413, { raw: 'x'.repeat(70000), headers: { 'content-type': 'text/plain' } }],
        ['POST', '/api/docs/a/append', 400, { body: [1] }],
        ['POST', '/api/docs/a/append', 413, { raw: 'x'.repeat(70000), headers: { 'content-type': 'text/plain' } }],
        ['GET', '/api/docs/a/authors?v=99', 409], ['GET', '/api/docs/nope/history', 404],
        ['POST', '/api/docs/a/restore', 400, { body: { v: 'x' } }], ['POST', '/api/docs/a/restore', 409, { body: { v: 99 } }],
        ['PATCH', '/api/docs', 405],
    ];
    for (const [method, url, status, opts] of errors) {
        if (method === 'PATCH') {
            // not an operation of the document: checked against the shared response
            const r = await httpJson(p, method, url);
            assert.equal(r.status, 405);
            assert.ok(ajv.getSchema('openapi#/components/schemas/Error')(r.json));
            assert.equal(r.headers.get('allow'), 'GET');
            continue;
        }
        const r = await call(p, method, url, opts);
        assert.equal(r.status, status, `${method} ${url}`);
    }
});

test('with auth on: 401 and 403 answers match the document', async (t) => {
    const srv = await startServer({ dataDir: scratchDir(t), authSecret: SECRET });
    t.after(() => srv.stop());
    const reader = mintToken(SECRET, { sub: 'ro', exp: nowS() + 600, docs: [{ pattern: 'r', role: 'read' }] });
    for (const [method, url, opts] of [
        ['GET', '/api/docs', {}], ['GET', '/api/docs/r', {}], ['DELETE', '/api/docs/r', {}], ['GET', '/api/docs/r/ops', {}],
        ['POST', '/api/docs/r/ops', { body: { v: 0, id: 'a', op: ['x'] } }], ['PUT', '/api/docs/r/text', { body: { text: 'x' } }],
        ['POST', '/api/docs/r/append', { body: { text: 'x' } }],
    ]) {
        assert.equal((await call(srv.port, method, url, opts)).status, 401);
        if (method !== 'GET') assert.equal((await call(srv.port, method, url, { ...opts, token: reader })).status, 403);
    }
    assert.equal((await call(srv.port, 'GET', '/api/docs/x', { token: reader })).status, 403);
    assert.equal((await call(srv.port, 'GET', '/api/docs/x/ops', { token: reader })).status, 403);
});

test('the query parameters the document lists are the ones the server takes', async (t) => {
    const srv = await startServer({ dataDir: scratchDir(t) });
    t.after(() => srv.stop());
    await httpJson(srv.port, 'PUT', '/api/docs/q/text', { body: { text: 'q' } });
    for (const [template, item] of Object.entries(spec.paths)) {
        for (const method of METHODS.filter((m) => item[m])) {
            const params = (item[method].parameters ?? []).map(deref).filter((x) => x.in === 'query');
            const url = template.replace('{name}', 'q');
            const body = method === 'post' && template.endsWith('/ops') ? { body: { v: 1, id: 'pq', op: [1] } }
                : method === 'post' && template.endsWith('/restore') ? { body: { v: 0 } }
                : method === 'put' || method === 'post' ? { body: { text: 'q' } } : {};
            if (template.endsWith('/events')) continue; // a stream: its parameters are checked in events.test.mjs
            for (const prm of params) {
                const r = await httpJson(srv.port, method.toUpperCase(), `${url}?${prm.name}=0`.replace('limit=0', 'limit=1'), body);
                assert.notEqual(r.json?.code, 'unknown_parameter', `${method} ${template} takes ${prm.name}`);
            }
            const r = await httpJson(srv.port, method.toUpperCase(), `${url}?undocumented=1`, body);
            assert.equal(r.status, 400, `${method} ${template} refuses a parameter the document does not list`);
            assert.equal(r.json.code, 'unknown_parameter');
        }
    }
});

test('every documented operation was exercised with its success answer', () => {
    for (const [template, item] of Object.entries(spec.paths)) {
        for (const method of METHODS.filter((m) => item[m])) {
            if (template.endsWith('/events')) continue; // the stream is validated in events.test.mjs
            assert.ok(seen.has(`${method} ${template} 200`), `${method} ${template} 200 was checked`);
        }
    }
});

test('the schemas are strict enough to catch a drifting answer', () => {
    const docText = ajv.getSchema('openapi#/components/schemas/DocText');
    assert.equal(docText({ v: 1, doc: 'a', text: '' }), false, 'codepoints is required');
    assert.equal(docText({ v: 1, codepoints: 0, doc: 'a', text: '', extra: 1 }), false, 'no undocumented field');
    const err = ajv.getSchema('openapi#/components/schemas/Error');
    assert.equal(err({ code: 'no_such_code', message: '' }), false, 'error codes are a closed list');
});
