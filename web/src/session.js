// Small pure helpers shared by the pages: document names, the URL fragment,
// what a token grants, the user's name and colour.

// Document names (PROTOCOL.md §2): the SDK's check, one implementation.
export { validDocName } from '../../clients/js/src/names.js';

/** The editor of a document: the server serves editor.html for /d/<name>. */
export function editorUrl(name) {
  return `/d/${name.split('/').map(encodeURIComponent).join('/')}`;
}

/** The document a page is for: /d/<name>, or #doc=<name> on editor.html. */
export function docFromLocation(pathname, hash) {
  const m = /^\/d\/(.+)$/.exec(pathname);
  if (m) {
    try { return decodeURIComponent(m[1]); } catch { return null; }
  }
  return parseFragment(hash).doc;
}

/** `#doc=a&token=b` -> {doc, token} (missing ones null). */
export function parseFragment(hash) {
  const params = new URLSearchParams((hash || '').replace(/^#/, ''));
  return { doc: params.get('doc'), token: params.get('token') };
}

/** The fragment without its token (so it does not stay in the address bar or history). */
export function fragmentWithoutToken(hash) {
  const params = new URLSearchParams((hash || '').replace(/^#/, ''));
  params.delete('token');
  const rest = params.toString();
  return rest ? `#${rest}` : '';
}

function base64UrlDecode(s) {
  const b64 = s.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (s.length % 4)) % 4);
  const bin = atob(b64);
  const bytes = Uint8Array.from(bin, (c) => c.charCodeAt(0));
  return new TextDecoder().decode(bytes);
}

/** A JWT's claims, unverified (the server verifies; the page only adapts its UI). */
export function jwtClaims(token) {
  if (typeof token !== 'string') return null;
  const parts = token.split('.');
  if (parts.length !== 3) return null;
  try {
    const claims = JSON.parse(base64UrlDecode(parts[1]));
    return claims && typeof claims === 'object' ? claims : null;
  } catch {
    return null;
  }
}

/** The role a token's grants give on `doc` (§12: highest matching role wins): 'write', 'read' or null. */
export function roleFor(claims, doc) {
  if (!claims || !Array.isArray(claims.docs)) return null;
  let role = null;
  for (const g of claims.docs) {
    if (!g || typeof g.pattern !== 'string') continue;
    const p = g.pattern;
    const match = p.endsWith('*') ? doc.startsWith(p.slice(0, -1)) : doc === p;
    if (!match) continue;
    if (g.role === 'write') return 'write';
    if (g.role === 'read') role = 'read';
  }
  return role;
}

const PALETTE = ['#e91e63', '#9c27b0', '#3f51b5', '#0288d1', '#00897b', '#43a047', '#f57c00', '#6d4c41', '#d81b60', '#5e35b1'];

export function randomColor(rnd = Math.random) {
  return PALETTE[Math.floor(rnd() * PALETTE.length)];
}

/** A colour as hello accepts it (#rgb or #rrggbb), else null. */
export function validColor(c) {
  return typeof c === 'string' && /^#([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$/.test(c) ? c : null;
}

/** Text readable on a colour (for name labels). */
export function labelTextColor(hex) {
  const c = validColor(hex);
  if (!c) return '#fff';
  const full = c.length === 4 ? c.replace(/[0-9a-f]/gi, (x) => x + x) : c;
  const r = parseInt(full.slice(1, 3), 16), g = parseInt(full.slice(3, 5), 16), b = parseInt(full.slice(5, 7), 16);
  return 0.299 * r + 0.587 * g + 0.114 * b > 160 ? '#111' : '#fff';
}

const HELLO_NAME_MAX_BYTES = 128; // PROTOCOL.md §3: hello.name is 1..128 bytes, no control characters

/** A display name as hello accepts it: control characters dropped, cut to 128 UTF-8 bytes on a code point; null if empty. */
export function helloName(name) {
  if (typeof name !== 'string') return null;
  let out = '';
  let bytes = 0;
  for (const ch of name.replace(/[\u0000-\u001f\u007f-\u009f]/g, '').trim()) {
    const n = new TextEncoder().encode(ch).length;
    if (bytes + n > HELLO_NAME_MAX_BYTES) break;
    out += ch;
    bytes += n;
  }
  out = out.trim();
  return out.length > 0 ? out : null;
}
