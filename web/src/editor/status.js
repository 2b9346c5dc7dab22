// The status bar in words, from the connection's state and the document's:
// pure, so that every combination is tested without a browser.

/**
 * @param {object} s
 * @param {{state: string, retryAt?: number, reason?: string}} s.conn the Connection's status
 * @param {{v: number|null, pending: boolean, deleted: boolean}|null} s.doc the document client
 * @param {boolean} s.kept pending edits are stored in this browser (they survive a reload)
 * @param {number} s.peers collaborators seen
 * @param {number} s.now ms
 * @param {'invalid'|'forbidden'|null} [s.problem] the document cannot be opened: its name, or no grant
 * @returns {{cls: string, conn: string, title: string, saved: string, people: string, version: string, live: string}}
 *   `live` is what a screen reader is told (no countdown, so it changes only with the state)
 */
export function describeStatus({ conn, doc, kept = false, peers = 0, now = Date.now(), problem = null }) {
  const out = { cls: conn.state, conn: '', title: '', saved: '', people: '', version: '', live: '' };
  if (problem) {
    out.cls = 'invalid';
    out.conn = problem === 'forbidden' ? 'no access to this document' : 'not a valid document name';
    out.live = out.conn;
    return out;
  }
  const connected = conn.state === 'connected';
  if (doc && doc.deleted) {
    out.cls = 'deleted';
    out.conn = 'document deleted';
    out.title = 'This document was deleted on the server. The text stays on this page but is not saved.';
    out.saved = 'not saved';
    out.live = 'Document deleted on the server: changes are no longer saved.';
    return out;
  }
  switch (conn.state) {
    case 'connected': out.conn = 'connected'; break;
    case 'connecting': out.conn = 'connecting…'; break;
    case 'offline': out.conn = 'offline: your browser has no network'; break;
    case 'unauthorized': out.conn = 'not authorized: an access token is needed'; break;
    case 'reconnecting': {
      const s = Math.max(0, Math.ceil(((conn.retryAt || 0) - now) / 1000));
      out.conn = s > 0 ? `disconnected, retrying in ${s} s` : 'reconnecting…';
      break;
    }
    default: out.conn = conn.state;
  }
  const where = kept ? 'in this browser' : 'in this page';
  if (!connected && conn.reason) out.title = `Why: ${conn.reason}. Your edits stay ${where} and are sent when the connection is back.`;
  if (doc && doc.v !== null) {
    out.version = `version ${doc.v}`;
    out.saved = !doc.pending ? 'all changes saved' : connected ? 'saving…' : `unsaved changes, kept ${where}`;
  }
  out.people = !connected || !doc || doc.v === null ? 'others: unknown while disconnected'
    : peers === 0 ? 'nobody else here' : `${peers} other${peers === 1 ? ' person' : ' people'} here`;
  const state = conn.state === 'reconnecting' ? 'disconnected, reconnecting' : out.conn;
  out.live = out.saved ? `${state}; ${out.saved}` : state;
  return out;
}
