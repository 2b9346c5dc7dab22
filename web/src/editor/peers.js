// Collaborators' cursors and selections inside CodeMirror: a state field of
// peers (positions in the editor's UTF-16 units) mapped through every change,
// drawn as a coloured caret with the name above it and a tinted selection.
// The name fades after a moment (style.css) so it does not hide the text
// beside it; it comes back when the collaborator moves (a new `at` makes a new
// widget, which restarts the fade) or when the pointer is over the caret.
import { StateField, StateEffect } from '@codemirror/state';
import { Decoration, EditorView, WidgetType } from '@codemirror/view';
import { labelTextColor } from '../session.js';

/** {session, name, color, ranges: [{anchor, head}], at} (UTF-16 positions of the current doc; `at` when it last moved). */
export const setPeer = StateEffect.define();
/** session id */
export const removePeer = StateEffect.define();
export const clearPeers = StateEffect.define();

class CaretWidget extends WidgetType {
  constructor(name, color, at) { super(); this.name = name; this.color = color; this.at = at; }
  eq(other) { return other.name === this.name && other.color === this.color && other.at === this.at; }
  toDOM() {
    const caret = document.createElement('span');
    caret.className = 'rp-remote-caret';
    caret.style.borderColor = this.color;
    const label = document.createElement('span');
    label.className = 'rp-label';
    label.style.background = this.color;
    label.style.color = labelTextColor(this.color);
    label.textContent = this.name;
    caret.append(label);
    return caret;
  }
  ignoreEvent() { return true; }
}

function clampRange(r, len) {
  return { anchor: Math.min(Math.max(0, r.anchor), len), head: Math.min(Math.max(0, r.head), len) };
}

function decorationsFor(peers, docLength) {
  const out = [];
  for (const p of peers.values()) {
    const color = p.color || '#888';
    for (const raw of p.ranges) {
      const r = clampRange(raw, docLength);
      const from = Math.min(r.anchor, r.head), to = Math.max(r.anchor, r.head);
      if (from < to) out.push(Decoration.mark({ class: 'rp-remote-sel', attributes: { style: `background-color: ${color}33` } }).range(from, to));
      out.push(Decoration.widget({ widget: new CaretWidget(p.name || 'anonymous', color, p.at || 0), side: 1 }).range(r.head));
    }
  }
  return Decoration.set(out, true);
}

export const peersField = StateField.define({
  create: () => new Map(),
  update(peers, tr) {
    let next = peers;
    if (tr.docChanged) {
      next = new Map();
      // assoc -1: an insert exactly at a collaborator's caret goes after it (§8).
      for (const [k, p] of peers) {
        next.set(k, { ...p, ranges: p.ranges.map((r) => ({ anchor: tr.changes.mapPos(r.anchor, -1), head: tr.changes.mapPos(r.head, -1) })) });
      }
    }
    for (const e of tr.effects) {
      if (e.is(setPeer)) { if (next === peers) next = new Map(peers); next.set(e.value.session, e.value); }
      if (e.is(removePeer)) { if (next === peers) next = new Map(peers); next.delete(e.value); }
      if (e.is(clearPeers)) next = new Map();
    }
    return next;
  },
  provide: (f) => EditorView.decorations.compute([f], (state) => decorationsFor(state.field(f), state.doc.length)),
});
