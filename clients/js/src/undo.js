// Undo/redo of this user's own edits only, in a collaborative document.
//
// Each stack entry is an op that undoes one of our edits, valid on the current
// text. A collaborator's op moves every entry through it (the top one first,
// as in ot.js's UndoManager), so undoing never removes someone else's text:
// only what our edit put there, wherever it now is.

import { transform, compose, isNoop } from './op.js';

const MAX_UNDO_ENTRIES = 500;
const GROUP_MS = 700; // keystrokes closer than this undo together

export class UndoStack {
  constructor({ maxEntries = MAX_UNDO_ENTRIES, groupMs = GROUP_MS } = {}) {
    this.undoStack = [];
    this.redoStack = [];
    this.maxEntries = maxEntries;
    this.groupMs = groupMs;
    this.lastAt = -Infinity;
  }

  get canUndo() { return this.undoStack.length > 0; }
  get canRedo() { return this.redoStack.length > 0; }

  /**
   * One of our edits, with the op that undoes it. `kind`: 'edit' (a new edit:
   * clears redo), 'undo' (made by undo(): goes to redo), 'redo'.
   */
  record(inverse, { kind = 'edit', now = Date.now(), group = true } = {}) {
    if (isNoop(inverse)) return;
    if (kind === 'undo') { this.redoStack.push(inverse); return; }
    const stack = this.undoStack;
    if (kind === 'edit') {
      this.redoStack = [];
      if (group && stack.length && now - this.lastAt < this.groupMs) {
        // inverse undoes the newest edit, the top undoes the one before: newest first.
        stack[stack.length - 1] = compose(inverse, stack[stack.length - 1]);
        this.lastAt = now;
        return;
      }
      this.lastAt = now;
    }
    stack.push(inverse);
    if (stack.length > this.maxEntries) stack.shift();
  }

  /** Stops grouping (e.g. the caret moved): the next edit starts a new entry. */
  breakGroup() { this.lastAt = -Infinity; }

  /** A collaborator's op, applied to the text: move every entry through it. */
  transformRemote(op) {
    for (const stack of [this.undoStack, this.redoStack]) {
      let r = op;
      for (let i = stack.length - 1; i >= 0; i--) {
        const [entry, r2] = transform(stack[i], r);
        stack[i] = entry;
        r = r2;
      }
      // An entry whose text was all deleted by others has nothing left to undo.
      for (let i = stack.length - 1; i >= 0; i--) if (isNoop(stack[i])) stack.splice(i, 1);
    }
  }

  /** The op to apply for an undo (record its inverse with kind 'undo'), or null. */
  popUndo() { this.breakGroup(); return this.undoStack.pop() || null; }
  /** The op to apply for a redo (record its inverse with kind 'redo'), or null. */
  popRedo() { this.breakGroup(); return this.redoStack.pop() || null; }
}
