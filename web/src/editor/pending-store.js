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
// A page going away cannot count on an IndexedDB write finishing, so on
// pagehide the state is also written synchronously to localStorage (the
// "journal", when small enough); the next page takes whichever is newer and
// moves a journal into IndexedDB. A page that ends with nothing unsent
// journals that too (a tombstone): its IndexedDB record may be older than
// the acks it got, and must not be sent again.
//
// Without Web Locks (a page served over plain http from another host is not
// a secure context) a page only takes back its own tab's record.

const DB_NAME = 'ringpad';
const DB_VERSION = 1;
const STORE = 'pending';
const SLOT_KEY_PREFIX = 'ringpad.slot.';
const LOCK_PREFIX = 'ringpad.pending:';
const MAX_ADOPT_TRIES = 64; // records looked at for an orphan
const JOURNAL_PREFIX = 'ringpad.unsent:';
const JOURNAL_MAX_CHARS = 1 << 20; // localStorage holds a few MB per origin: larger states rely on IndexedDB
const MAX_JOURNAL_KEYS = 4096; // localStorage keys looked at

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

const journalKey = (doc, slot) => `${JOURNAL_PREFIX}${doc}\n${slot}`;

/** The journals of `doc` in localStorage, newest state per slot merged into `records`. */
function withJournals(records, doc, local) {
  if (!local) return records;
  const bySlot = new Map(records.map((r) => [r.slot, { ...r, journaled: false }]));
  const prefix = journalKey(doc, '');
  for (let i = 0; i < Math.min(local.length, MAX_JOURNAL_KEYS); i++) {
    const k = local.key(i);
    if (!k || !k.startsWith(prefix)) continue;
    let j;
    try { j = JSON.parse(local.getItem(k)); } catch { continue; }
    if (!j || j.doc !== doc || typeof j.slot !== 'string') continue;
    const r = bySlot.get(j.slot);
    if (!r || j.savedAt >= r.savedAt) bySlot.set(j.slot, { ...j, journaled: true });
  }
  return [...bySlot.values()];
}

export class PendingStore {
  /**
   * Claims this page's slot of `doc` and returns the store with the record to
   * restore (or null). Never throws: without IndexedDB the store keeps nothing.
   */
  static async open(doc, { idb = globalThis.indexedDB, locks = globalThis.navigator?.locks, session = globalThis.sessionStorage, local = globalThis.localStorage } = {}) {
    const store = new PendingStore(doc, local);
    if (!idb) return { store, restored: null };
    try {
      store.db = await openDb(idb);
      const all = withJournals(await tx(store.db, 'readonly', (s) => s.getAll(IDBKeyRange.bound([doc, ''], [doc, '\uffff']))), doc, local);
      const records = all.filter((r) => !r.empty);
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
      for (const t of all.filter((r) => r.empty)) {
        if (t.slot === store.slot || (locks && await lock(t.slot))) await store.#forget(t.slot);
      }
      // Other closed tabs' edits wait for the next page (one is adopted per page).
      if (locks && locks.query) {
        const held = new Set(((await locks.query()).held || []).map((l) => l.name));
        store.orphansLeft = records.filter((r) => r.slot !== store.slot && !held.has(LOCK_PREFIX + doc + '\n' + r.slot)).length;
      }
      store.stored = restored !== null;
      store.wrote = restored !== null;
      if (restored) {
        const { journaled, doc: _d, slot: _s, savedAt: _t, ...state } = restored;
        if (journaled) store.save(state); // into IndexedDB; the journal goes once it is there
        return { store, restored: state };
      }
      return { store, restored: null };
    } catch (e) {
      store.db = null;
      store.error = e;
      return { store, restored: null };
    }
  }

  constructor(doc, local = null) {
    this.doc = doc;
    this.local = local;
    this.db = null;
    this.slot = null;
    this.stored = false; // a record of ours is in the database
    this.wrote = false; // this page stored something (so a record may outlive a late delete)
    this.orphansLeft = 0; // records of other closed tabs still waiting
    this.error = null;
    this.chain = Promise.resolve();
  }

  // A page that ended with nothing unsent: its record and journal go.
  async #forget(slot) {
    await tx(this.db, 'readwrite', (s) => { s.delete([this.doc, slot]); });
    if (this.local) this.local.removeItem(journalKey(this.doc, slot));
  }

  get available() { return this.db !== null; }

  /** Keeps `state` (DocClient.pendingState()), or forgets the record when null. Writes run in order. */
  save(state) {
    if (!this.db) return this.chain;
    if (!state && !this.stored) return this.chain;
    const rec = state ? { doc: this.doc, slot: this.slot, savedAt: Date.now(), ...state } : null;
    this.stored = rec !== null;
    if (rec) this.wrote = true;
    this.chain = this.chain.then(() => tx(this.db, 'readwrite', (s) => {
      if (rec) s.put(rec); else s.delete([this.doc, this.slot]);
    })).then(() => {
      // IndexedDB now has this state (or none): a journal written earlier is older.
      const k = journalKey(this.doc, this.slot);
      const j = this.local && this.local.getItem(k);
      if (j && (!rec || JSON.parse(j).savedAt <= rec.savedAt)) this.local.removeItem(k);
    }).catch((e) => { this.error = e; });
    return this.chain;
  }

  /** The page is going away: keeps `state` synchronously (localStorage), as IndexedDB may not finish. */
  journal(state) {
    if (!this.local || !this.slot) return;
    const k = journalKey(this.doc, this.slot);
    try {
      if (!state && !this.wrote) { this.local.removeItem(k); return; }
      const text = JSON.stringify(state ? { doc: this.doc, slot: this.slot, savedAt: Date.now(), ...state }
        : { doc: this.doc, slot: this.slot, savedAt: Date.now(), empty: true });
      if (text.length <= JOURNAL_MAX_CHARS) this.local.setItem(k, text);
      else this.local.removeItem(k); // too large: IndexedDB's copy is the newest there is
    } catch { /* quota: IndexedDB's copy stands */ }
  }
}
