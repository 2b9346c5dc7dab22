// The editor page: CodeMirror 6 wired to the ringpad.v1 protocol.
//
//   CodeMirror change --changesToOp--> DocClient (one op in flight, a buffer) --> Connection
//   Connection --> DocClient (transform vs pending) --opToChanges--> CodeMirror (annotated remote)
//
// The editor keeps "\n" as its only line separator so that its text is the
// server's text character for character ("\r\n" stays two characters; the
// "\r" is hidden), and CpIndex converts UTF-16 positions to code points.
import { EditorState, Compartment, Annotation, Transaction } from '@codemirror/state';
import {
  EditorView, keymap, lineNumbers, highlightActiveLine, highlightActiveLineGutter, drawSelection,
  ViewPlugin, Decoration, MatchDecorator,
} from '@codemirror/view';
import { defaultKeymap } from '@codemirror/commands';
import { search, searchKeymap, highlightSelectionMatches } from '@codemirror/search';

import { CpIndex } from '../../clients/js/src/cpindex.js';
import { changesToOp, opToChanges } from '../../clients/js/src/codemirror.js';
import { DocClient } from '../../clients/js/src/client.js';
import { UndoStack } from '../../clients/js/src/undo.js';
import { Connection } from '../../clients/js/src/connection.js';
import { peersField, setPeer, removePeer, clearPeers } from './editor/peers.js';
import { loadIdentity, saveIdentity, shownName } from './editor/identity.js';
import { describeStatus } from './editor/status.js';
import { PendingStore } from './editor/pending-store.js';
import { copyLink } from './editor/copy-link.js';
import {
  docFromLocation, validDocName, parseFragment, fragmentWithoutToken, jwtClaims, roleFor,
  validColor, helloName,
} from './session.js';

const MAX_SEL_RANGES = 32;
const DEFAULT_PRESENCE_PER_SECOND = 10;
const SAVE_MIN_DELAY_MS = 100; // pending edits reach IndexedDB at most this often...
const SAVE_COST_FACTOR = 10; // ...and a slow save (a large document) waits this many times its own duration

const $ = (id) => document.getElementById(id);

// ---- who, what, with which token -------------------------------------------------

const docName = docFromLocation(location.pathname, location.hash);
const fragment = parseFragment(location.hash);
if (fragment.token) {
  sessionStorage.setItem('ringpad.token', fragment.token);
  history.replaceState(null, '', location.pathname + location.search + fragmentWithoutToken(location.hash));
}
const token = () => sessionStorage.getItem('ringpad.token');

const identity = () => loadIdentity(localStorage);
const me = () => shownName(identity(), jwtClaims(token()));

// Changing one's name or colour, from the header, at any time.
function editIdentity() {
  const dlg = $('identity-dialog');
  const cur = identity();
  const shown = me();
  $('id-name').value = shown.name;
  $('id-name').disabled = shown.fromToken;
  $('id-name-note').hidden = !shown.fromToken;
  $('id-color').value = cur.color.length === 7 ? cur.color : '#888888';
  dlg.onclose = () => {
    if (dlg.returnValue !== 'ok') return;
    const before = identity();
    const after = saveIdentity(localStorage, { name: shown.fromToken ? null : $('id-name').value, color: $('id-color').value });
    renderMe();
    if ((after.name !== before.name || after.color !== before.color) && conn) conn.reconnect(); // others see it after a new hello
  };
  dlg.returnValue = '';
  dlg.showModal();
}

function renderMe() {
  const shown = me();
  const btn = $('me');
  btn.textContent = '';
  const dot = document.createElement('span');
  dot.className = 'dot';
  dot.style.background = identity().color;
  const name = document.createElement('span');
  name.className = 'me-name';
  name.id = 'me-name';
  name.textContent = shown.name;
  const you = document.createElement('span');
  you.className = 'muted';
  you.textContent = '(you)';
  btn.append(dot, name, you);
  btn.title = shown.fromToken ? 'Your name comes from your access token; click to change your colour'
    : 'Change your name and colour';
  btn.setAttribute('aria-label', `You are ${shown.name}. ${btn.title}.`);
}

// ---- notices and status -------------------------------------------------------------

function notice(text, { error = false, yourText = null, action = null } = {}) {
  const el = document.createElement('div');
  el.className = error ? 'notice error' : 'notice';
  el.setAttribute('role', error ? 'alert' : 'status');
  el.append(document.createTextNode(text));
  if (action) {
    const b = document.createElement('button');
    b.textContent = action.label;
    b.onclick = () => { el.remove(); action.run(); };
    el.append(b);
  }
  if (yourText !== null) {
    const dl = document.createElement('button');
    dl.textContent = 'Download my version';
    dl.onclick = () => {
      const a = document.createElement('a');
      a.href = URL.createObjectURL(new Blob([yourText], { type: 'text/plain;charset=utf-8' }));
      a.download = `${docName.replace(/\//g, '_')}.mine.txt`;
      a.click();
      setTimeout(() => URL.revokeObjectURL(a.href), 10000);
    };
    el.append(dl);
  }
  const close = document.createElement('button');
  close.className = 'close';
  close.textContent = '×';
  close.title = 'Dismiss';
  close.setAttribute('aria-label', 'Dismiss this message');
  close.onclick = () => el.remove();
  el.append(close);
  $('notices').append(el);
}

let connStatus = { state: 'connecting' };
let docProblem = null; // 'invalid' | 'forbidden': the document cannot be opened
let countdownTimer = null;

function renderStatus() {
  clearTimeout(countdownTimer);
  const peers = view ? view.state.field(peersField).size : 0;
  const st = describeStatus({ conn: connStatus, doc: client, kept: store !== null && store.stored, peers, problem: docProblem });
  const conn = $('st-conn');
  conn.className = `conn ${st.cls}`;
  conn.textContent = st.conn;
  conn.title = st.title;
  $('st-version').textContent = st.version;
  $('st-version').title = 'Each saved change adds one to the version.';
  $('st-saved').textContent = st.saved;
  $('st-people').textContent = st.people;
  // The live region changes with the state only, not with the countdown.
  if ($('st-live').textContent !== st.live) $('st-live').textContent = st.live;
  if (connStatus.state === 'reconnecting' && !st.cls.includes('deleted')) countdownTimer = setTimeout(renderStatus, 250);
}

function renderPeople() {
  const ul = $('people');
  ul.textContent = '';
  for (const p of view.state.field(peersField).values()) {
    const li = document.createElement('li');
    const dot = document.createElement('span');
    dot.className = 'dot';
    dot.style.background = p.color || '#888';
    li.append(dot, document.createTextNode(p.name || 'anonymous'));
    ul.append(li);
  }
  renderStatus();
}

// ---- the editor -----------------------------------------------------------------------

const remote = Annotation.define(); // a change that came from the server
const undoKind = Annotation.define(); // 'undo' | 'redo'
const editable = new Compartment();

// "\r" before "\n" (or anywhere) is part of the text but not shown; the caret skips it.
const crDecorator = new MatchDecorator({ regexp: /\r/g, decoration: () => Decoration.replace({}) });
const hideCR = ViewPlugin.fromClass(class {
  constructor(v) { this.decorations = crDecorator.createDeco(v); }
  update(u) { this.decorations = crDecorator.updateDeco(u, this.decorations); }
}, {
  decorations: (p) => p.decorations,
  provide: (plugin) => EditorView.atomicRanges.of((v) => v.plugin(plugin)?.decorations ?? Decoration.none),
});

let index = new CpIndex('');
const undo = new UndoStack();
let client = null;
let view = null;
let conn = null;
let readOnly = true; // until the first snapshot
let presenceDirty = false;
let presenceTimer = null;
let presenceIntervalMs = 1000 / DEFAULT_PRESENCE_PER_SECOND;
let mySession = null;
let store = null; // PendingStore: this page's unsent edits in IndexedDB
let saveTimer = null;
let saveDelayMs = SAVE_MIN_DELAY_MS;

function schedulePersist() {
  if (!store || !store.available || saveTimer !== null) return;
  saveTimer = setTimeout(persistNow, saveDelayMs);
}

function persistNow() {
  clearTimeout(saveTimer);
  saveTimer = null;
  if (!store || !client) return;
  const t0 = performance.now();
  store.save(client.pendingState()).then(() => renderStatus());
  saveDelayMs = Math.max(SAVE_MIN_DELAY_MS, SAVE_COST_FACTOR * (performance.now() - t0));
}

function setReadOnly(ro) {
  readOnly = ro;
  view.dispatch({ effects: editable.reconfigure([EditorState.readOnly.of(ro), EditorView.editable.of(!ro)]) });
  $('readonly-badge').hidden = !(ro && client && client.v !== null);
}

function runUndo(kind) {
  if (readOnly) return true;
  const op = kind === 'undo' ? undo.popUndo() : undo.popRedo();
  if (!op) return true;
  const specs = opToChanges(op, index);
  const last = specs[specs.length - 1];
  view.dispatch({
    changes: specs,
    selection: last ? { anchor: last.from + last.insert.length } : undefined,
    annotations: [undoKind.of(kind), Transaction.userEvent.of(kind)],
    scrollIntoView: true,
  });
  return true;
}

function onUpdate(u) {
  for (const tr of u.transactions) {
    if (!tr.docChanged) continue;
    if (tr.annotation(remote)) { index.applyChanges(tr.changes); continue; }
    const { op, inverse } = changesToOp(tr.changes, tr.startState.doc, index);
    index.applyChanges(tr.changes);
    const before = tr.startState.doc;
    client.localOp(op, () => before.toString());
    undo.record(inverse, { kind: tr.annotation(undoKind) || 'edit' });
  }
  if (u.selectionSet && !u.docChanged) undo.breakGroup();
  if (u.selectionSet || u.docChanged) { presenceDirty = true; schedulePresence(); }
}

function applyRemote(op) {
  view.dispatch({
    changes: opToChanges(op, index),
    annotations: [remote.of(true), Transaction.addToHistory.of(false), Transaction.remote.of(true)],
  });
  undo.transformRemote(op);
}

function schedulePresence() {
  if (presenceTimer !== null) return;
  presenceTimer = setTimeout(() => { presenceTimer = null; sendPresence(); }, presenceIntervalMs);
}

function sendPresence() {
  // §11: only while Synchronized; changed() calls again after the ack.
  if (!presenceDirty || !client.canSendPresence()) return;
  const sel = view.state.selection.ranges.slice(0, MAX_SEL_RANGES)
    .map((r) => [index.toCp(r.anchor), index.toCp(r.head)]);
  if (conn.send({ type: 'presence', doc: docName, v: client.v, sel })) presenceDirty = false;
}

function showPeer(p, sel, v) {
  if (p.session === mySession) return;
  const mapped = client.mapRemoteSel(sel || [], v);
  if (!mapped) return;
  const len = index.lengthCp;
  const clamp = (x) => Math.min(Math.max(0, x), len);
  const ranges = mapped.map(([a, h]) => ({ anchor: index.toU16(clamp(a)), head: index.toU16(clamp(h)) }));
  view.dispatch({ effects: setPeer.of({ session: p.session, name: p.name, color: validColor(p.color), ranges, at: Date.now() }) });
  renderPeople();
}

function route(msg) {
  if (msg.type === '_disconnected') {
    client.disconnected();
    view.dispatch({ effects: clearPeers.of(null) });
    renderPeople();
    return;
  }
  if (msg.type === 'error' && msg.ref === undefined) {
    notice(`Server: ${msg.code}: ${msg.message}`, { error: true });
    return;
  }
  if (msg.doc !== undefined && msg.doc !== docName) return;
  switch (msg.type) {
    case 'presence': showPeer(msg, msg.sel, msg.v); return;
    case 'leave': view.dispatch({ effects: removePeer.of(msg.session) }); renderPeople(); return;
    default: client.receive(msg);
  }
}

// An error about the document itself (ref = its name), in words for a stranger.
function documentError(msg) {
  if (msg.code === 'forbidden' || msg.code === 'bad_doc_name') {
    docProblem = msg.code === 'forbidden' ? 'forbidden' : 'invalid';
    renderStatus();
  }
  switch (msg.code) {
    case 'forbidden':
      notice(`You have no access to “${docName}”: your access token does not include this document. Ask for a token that does.`,
        { error: true, action: { label: 'Use another token', run: () => askToken('Paste an access token that includes this document.') } });
      return;
    case 'bad_doc_name':
      notice(`“${docName}” is not a valid document name. Names use letters, digits, "-", "_", "." and "/", up to 200 characters.`, { error: true });
      return;
    case 'too_many_docs':
      notice('This connection has too many documents open. Close some other ringpad tabs and reload.', { error: true });
      return;
    case 'rate_limited':
      return; // a dropped presence update: the next one goes through
    default:
      notice(`The server reported a problem with this document (${msg.code}): ${msg.message}`, { error: true });
  }
}

function askToken(reason) {
  $('token-reason').textContent = reason;
  $('token-input').value = '';
  if (!$('token-dialog').open) $('token-dialog').showModal();
}

/** The token dialog's text after the server refused to let us in (unauthorized). */
function tokenReason(m) {
  if (!token()) return 'This server needs an access token (whoever runs it makes one with `ringpad token`). Paste yours here.';
  const why = String(m.message || '').split(': ').pop();
  return `The server did not accept your access token (${why || 'refused'}). Paste another one.`;
}

async function start() {
  const claims = jwtClaims(token());
  const role = token() ? roleFor(claims, docName) : 'write';
  view = new EditorView({
    parent: $('editor'),
    state: EditorState.create({
      doc: '',
      extensions: [
        EditorState.lineSeparator.of('\n'),
        lineNumbers(),
        highlightActiveLineGutter(),
        highlightActiveLine(),
        drawSelection(),
        EditorView.lineWrapping,
        search({ top: true }),
        highlightSelectionMatches(),
        hideCR,
        peersField,
        editable.of([EditorState.readOnly.of(true), EditorView.editable.of(false)]),
        keymap.of([
          { key: 'Mod-z', run: () => runUndo('undo'), preventDefault: true },
          { key: 'Mod-y', run: () => runUndo('redo'), preventDefault: true },
          { key: 'Mod-Shift-z', run: () => runUndo('redo'), preventDefault: true },
          ...searchKeymap,
          ...defaultKeymap,
        ]),
        EditorView.updateListener.of(onUpdate),
        EditorView.contentAttributes.of({ 'aria-label': `Document ${docName}` }),
      ],
    }),
  });
  // Undo from the browser's menu or a touch keyboard arrives as beforeinput.
  view.contentDOM.addEventListener('beforeinput', (e) => {
    if (e.inputType === 'historyUndo' || e.inputType === 'historyRedo') {
      e.preventDefault();
      runUndo(e.inputType === 'historyUndo' ? 'undo' : 'redo');
    }
  });

  const clientId = Array.from(crypto.getRandomValues(new Uint8Array(6)), (b) => b.toString(36).padStart(2, '0')).join('');
  client = new DocClient({
    doc: docName,
    clientId,
    send: (m) => conn.send(m),
    host: {
      snapshot(text, v, peers) {
        docProblem = null;
        view.dispatch({
          changes: { from: 0, to: view.state.doc.length, insert: text },
          annotations: [remote.of(true), Transaction.addToHistory.of(false)],
          effects: clearPeers.of(null),
        });
        setReadOnly(client.readOnly || role === 'read');
        for (const p of peers) showPeer(p, p.sel, v);
        view.focus();
      },
      remoteOp: (op) => applyRemote(op),
      localText: () => view.state.doc.toString(),
      changed() {
        // Nothing left to send: forget the kept copy at once (a reload must not resend it).
        if (!client.pending && store && store.stored) persistNow(); else schedulePersist();
        renderStatus();
        if (presenceDirty) schedulePresence();
      },
      notice(kind, message, extra) {
        if (kind === 'readonly') setReadOnly(true);
        if (kind === 'deleted') {
          setReadOnly(true);
          notice(`${message} The text below is no longer saved: download it if you need it, or reload the page to start a new, empty document named “${docName}”.`,
            { error: true, yourText: extra.yourText });
          return;
        }
        if (kind === 'fatal') { documentError(extra); return; }
        notice(message, { error: kind === 'lost', yourText: kind === 'retry' ? null : extra && extra.yourText !== undefined ? extra.yourText : null });
      },
    },
  });
  if (role === 'read') client.readOnly = true;

  // Edits a reload or a closed tab left unsent: shown at once, sent once connected.
  const opened = await PendingStore.open(docName);
  store = opened.store;
  if (store.orphansLeft > 0) {
    notice(`${store.orphansLeft === 1 ? 'Another closed tab' : `${store.orphansLeft} other closed tabs`} left unsent edits to this document. Reload the page, once this one says "all changes saved", to send them.`,
      { action: { label: 'Reload', run: () => location.reload() } });
  }
  if (opened.restored && role !== 'read') {
    const text = client.restore(opened.restored);
    view.dispatch({
      changes: { from: 0, to: view.state.doc.length, insert: text },
      annotations: [remote.of(true), Transaction.addToHistory.of(false)],
    });
    setReadOnly(false);
    view.focus();
    notice('Edits you made here before were not sent yet: they are back, and are sent when the page is connected.');
  } else if (opened.restored) {
    store.stored = true;
    store.save(null); // a read-only page cannot send them
  }

  const wsUrl = `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}/ws`;
  conn = new Connection({
    url: wsUrl,
    hello: () => {
      const id = identity();
      const m = { type: 'hello' };
      if (token()) m.token = token();
      const name = helloName(id.name);
      if (name) m.name = name;
      if (id.color) m.color = id.color;
      return m;
    },
    onReady(welcome) {
      mySession = welcome.session;
      const pps = welcome.limits && welcome.limits.presence_per_second;
      if (pps > 0) presenceIntervalMs = Math.max(1000 / pps, 50);
      client.setLimits(welcome.limits);
      const open = client.connected();
      if (open) conn.send(open);
      presenceDirty = true;
    },
    onMessage: route,
    onStatus(s) { connStatus = s; renderStatus(); },
    onUnauthorized(m) { askToken(tokenReason(m)); },
  });
  $('token-dialog').onclose = () => {
    const t = $('token-input').value.trim();
    if (!t) { if (conn.unauthorized) conn.resume(); return; }
    sessionStorage.setItem('ringpad.token', t);
    // Before the first snapshot the page's role (read-only or not) is still to be
    // read from the token: start afresh. Later (an expired token) keep the page,
    // and its unsaved edits, and just connect again.
    if (client.v === null) location.reload();
    else conn.resume();
  };
  // Edits kept in IndexedDB survive the page; otherwise the browser asks first.
  addEventListener('pagehide', () => {
    persistNow();
    if (store) store.journal(client.pendingState());
  });
  document.addEventListener('visibilitychange', () => { if (document.visibilityState === 'hidden') persistNow(); });
  addEventListener('beforeunload', (e) => {
    if (client.pending && !store.available) { e.preventDefault(); e.returnValue = ''; }
  });
  conn.start();
  renderStatus();
}

function main() {
  $('me').onclick = editIdentity;
  $('id-cancel').onclick = () => $('identity-dialog').close();
  $('copy-link').onclick = () => copyLink(docName, $('copy-link'), (m) => notice(m));
  renderMe();
  if (!docName || !validDocName(docName)) {
    document.title = 'ringpad: no document';
    $('doc-title').textContent = '';
    $('copy-link').hidden = true;
    docProblem = 'invalid';
    renderStatus();
    notice(docName
      ? `“${docName}” is not a valid document name. Names are 1 to 200 bytes of letters, digits, "-", "_", "." and "/" (no "/" at the start or end, no "//", no "." or ".." between slashes). Open a document from the home page.`
      : 'This address names no document. Open one from the home page.', { error: true, action: { label: 'Home page', run: () => { location.href = '/'; } } });
    return;
  }
  document.title = `${docName} — ringpad`;
  $('doc-title').textContent = docName;
  $('doc-title').title = docName;
  start();
}

main();

// For tests and debugging in the browser console.
globalThis.ringpad = {
  get view() { return view; },
  get client() { return client; },
  get index() { return index; },
  get status() { return connStatus; },
  get peers() { return view ? [...view.state.field(peersField).values()] : []; },
};
