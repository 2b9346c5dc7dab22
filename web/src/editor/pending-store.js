// Unsent edits kept in IndexedDB, so a reload or a closed tab loses nothing.
//
// Every page holds one "slot" of its document: a record {doc, slot, v,
// baseText, outstanding {id, op, sent}, buffer} (DocClient.pendingState) and a
// Web Lock named after it for as long as the page lives. A tab remembers its
// slot in sessionStorage, so a reload takes its own record back. A record
// whose lock nobody holds belongs to a closed tab: the next page of that
// document adopts it (taking its lock first, so two pages never adopt the
// same one) and sends it; the outstanding op keeps its id, so if it had in
// fact reached the server it is recognised there and applied once
// (PROTOCOL.md §7, §10). A page never touches a record whose lock is held:
// two tabs of one document never send each other's edits.
//
// Without Web Locks (a page served over plain http from another host is not
// a secure context) a page only takes back its own tab's record.

const DB_NAME = 'ringpad';
const DB_VERSION = 1;
const STORE = 'pending';
const SLOT_KEY_PREFIX = 'ringpad.slot.';
const LOCK_PREFIX = 'ringpad.pending:';
const MAX_ADOPT_TRIES = 64; // records looked at for an orphan

function req(r) {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
}

function openDb(idb) {
  const r = idb.open(DB_NAME, DB_VERSION);
  r.onupgradeneeded = () => { r.result.createObjectStore(STORE, { keyPath: ['doc', 'slot'] }); };
  return req(r);
}

function tx(db, mode, fn) {
  return new Promise((resolve, reject) => {
    const t = db.transaction(STORE, mode);
    const out = fn(t.objectStore(STORE));
    t.oncomplete = () => resolve(out && 'result' in out ? out.result : undefined);
    t.onerror = () => reject(t.error);
    t.onabort = () => reject(t.error || new Error('IndexedDB transaction aborted'));
  });
}

const newSlot = () => Array.from(crypto.getRandomValues(new Uint8Array(8)), (b) => b.toString(16).padStart(2, '0')).join('');

/** Takes the lock `name` for the page's lifetime; false when another page holds it. */
function holdLock(locks, name) {
  return new Promise((resolve) => {
    locks.request(name, { ifAvailable: true }, (lock) => {
      resolve(lock !== null);
      return lock ? new Promise(() => {}) : undefined;
    }).catch(() => resolve(false));
  });
}

export class PendingStore {
  /**
   * Claims this page's slot of `doc` and returns the store with the record to
   * restore (or null). Never throws: without IndexedDB the store keeps nothing.
   */
  static async open(doc, { idb = globalThis.indexedDB, locks = globalThis.navigator?.locks, session = globalThis.sessionStorage } = {}) {
    const store = new PendingStore(doc);
    if (!idb) return { store, restored: null };
    try {
      store.db = await openDb(idb);
      const records = await tx(store.db, 'readonly', (s) => s.getAll(IDBKeyRange.bound([doc, ''], [doc, '\uffff'])));
      const own = session.getItem(SLOT_KEY_PREFIX + doc);
      const ownRecord = records.find((r) => r.slot === own) || null;
      const lock = (slot) => (locks ? holdLock(locks, LOCK_PREFIX + doc + '\n' + slot) : Promise.resolve(true));
      let restored = null;
      // Our own record (a reload), unless another tab with a copy of our
      // sessionStorage (a duplicated tab) has it.
      if (ownRecord && await lock(own)) { store.slot = own; restored = ownRecord; }
      if (!store.slot && locks) {
        const orphans = records.filter((r) => r.slot !== own).sort((x, y) => y.savedAt - x.savedAt);
        for (const r of orphans.slice(0, MAX_ADOPT_TRIES)) {
          if (await lock(r.slot)) { store.slot = r.slot; restored = r; break; }
        }
      }
      if (!store.slot) {
        const slot = own && !ownRecord && await lock(own) ? own : newSlot();
        if (slot !== own) await lock(slot);
        store.slot = slot;
      }
      session.setItem(SLOT_KEY_PREFIX + doc, store.slot);
      store.stored = restored !== null;
      return { store, restored };
    } catch (e) {
      store.db = null;
      store.error = e;
      return { store, restored: null };
    }
  }

  constructor(doc) {
    this.doc = doc;
    this.db = null;
    this.slot = null;
    this.stored = false; // a record of ours is in the database
    this.error = null;
    this.chain = Promise.resolve();
  }

  get available() { return this.db !== null; }

  /** Keeps `state` (DocClient.pendingState()), or forgets the record when null. Writes run in order. */
  save(state) {
    if (!this.db) return this.chain;
    if (!state && !this.stored) return this.chain;
    const rec = state ? { doc: this.doc, slot: this.slot, savedAt: Date.now(), ...state } : null;
    this.stored = rec !== null;
    this.chain = this.chain.then(() => tx(this.db, 'readwrite', (s) => {
      if (rec) s.put(rec); else s.delete([this.doc, this.slot]);
    })).catch((e) => { this.error = e; });
    return this.chain;
  }
}
