// The pages' small pure helpers: document names and their advice, editor URLs,
// why a connection closed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validDocName, docFromLocation, helloName, editorUrl } from '../src/session.js';
import { nameAdvice } from '../src/index.js';
import { closeReason } from '../../clients/js/src/connection.js';

test('validDocName follows PROTOCOL.md §2 (200 bytes, segments)', () => {
  assert.equal(validDocName('notes/today'), true);
  assert.equal(validDocName('a..b'), true);
  assert.equal(validDocName('.hidden'), true);
  assert.equal(validDocName('x'.repeat(200)), true);
  assert.equal(validDocName('x'.repeat(201)), false);
  for (const bad of ['', '/a', 'a/', 'a//b', 'a/./b', '../a', 'a b', 'é', 'a\\b', null]) assert.equal(validDocName(bad), false, String(bad));
});

test('editorUrl is /d/<name> with each segment escaped, and docFromLocation reads it back', () => {
  assert.equal(editorUrl('team/meeting-notes'), '/d/team/meeting-notes');
  assert.equal(docFromLocation(editorUrl('a/b.c_d-e'), ''), 'a/b.c_d-e');
  assert.equal(docFromLocation('/editor.html', '#doc=x%2Fy'), 'x/y');
  assert.equal(docFromLocation('/d/%E0%A4', ''), null);
});

test('nameAdvice explains the rule and suggests a valid name when it can', () => {
  assert.match(nameAdvice('meeting notes'), /no spaces.*Try "meeting-notes"\./);
  assert.match(nameAdvice('/team//plan: Q3/'), /Try "team\/plan-Q3"\./);
  assert.equal(nameAdvice('!!!').includes('Try'), false);
  assert.equal(validDocName(/Try "(.*)"/.exec(nameAdvice('a/../b c'))[1]), true);
});

test('closeReason words the close codes a stranger may meet', () => {
  assert.equal(closeReason({ code: 1006 }, false), 'the server cannot be reached');
  assert.equal(closeReason({ code: 1006 }, true), 'the connection was lost');
  assert.equal(closeReason({ code: 1001 }, true), 'the server is restarting or going away');
  assert.equal(closeReason({ code: 1008, reason: 'slow consumer' }, true), 'the server closed the connection (policy: slow consumer)');
  assert.equal(closeReason({ code: 4000 }, true), 'the server stopped answering');
  assert.equal(closeReason({ code: 4321, reason: '' }, true), 'the connection closed (code 4321)');
  assert.equal(closeReason(undefined, true), null);
});

test('helloName fits hello.name: no control characters, at most 128 UTF-8 bytes, whole code points', () => {
  assert.equal(helloName('  Alice  '), 'Alice');
  assert.equal(helloName('A\tl\u0007ice\n'), 'Alice');
  assert.equal(helloName('😀'.repeat(64)), '😀'.repeat(32));
  assert.equal(new TextEncoder().encode(helloName('é'.repeat(100))).length, 128);
  assert.equal(helloName('x'.repeat(300)).length, 128);
  assert.equal(helloName('\u0001 '), null);
  assert.equal(helloName(null), null);
});
