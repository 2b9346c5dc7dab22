// The home page: the document list from GET /api/docs, and a form to open a document.
import { validDocName, parseFragment, fragmentWithoutToken, editorUrl } from './session.js';

const $ = (id) => document.getElementById(id);

/** What is wrong with a refused document name, and a name that would do. */
export function nameAdvice(name) {
  const rule = 'Names use letters, digits, "-", "_", "." and "/" for folders (no spaces), up to 200 characters.';
  const fixed = name.trim().replace(/\s+/g, '-').replace(/[^A-Za-z0-9._/-]/g, '').replace(/\/{2,}/g, '/')
    .replace(/^\/+|\/+$/g, '').split('/').filter((seg) => seg !== '.' && seg !== '..').join('/').slice(0, 200);
  return fixed && validDocName(fixed) ? `${rule} Try "${fixed}".` : rule;
}

function authHeaders() {
  const token = sessionStorage.getItem('ringpad.token');
  return token ? { Authorization: `Bearer ${token}` } : {};
}

async function loadDocs(next) {
  const status = $('docs-status');
  const url = next ? `/api/docs?after=${encodeURIComponent(next)}` : '/api/docs';
  let body;
  try {
    const res = await fetch(url, { headers: { Accept: 'application/json', ...authHeaders() } });
    if (res.status === 401 || res.status === 403) {
      const had = sessionStorage.getItem('ringpad.token') !== null;
      status.textContent = had
        ? 'The server did not accept your access token for the document list. Paste another one, or open a document by name above.'
        : 'This server needs an access token to list documents. Paste yours below, or open a document by name above (the editor asks for a token).';
      $('token-form').hidden = false;
      return;
    }
    $('token-form').hidden = true;
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    body = await res.json();
    if (!body || !Array.isArray(body.docs)) throw new Error('unexpected reply');
  } catch (e) {
    status.textContent = `The document list is not available from this server (${e.message}). You can still open a document by name.`;
    return;
  }
  const tbody = $('docs').querySelector('tbody');
  if (!next) tbody.textContent = '';
  for (const d of body.docs) {
    const tr = document.createElement('tr');
    const name = document.createElement('td');
    const a = document.createElement('a');
    a.href = editorUrl(d.name);
    a.textContent = d.name;
    name.append(a);
    const v = document.createElement('td');
    v.className = 'num';
    v.textContent = String(d.v);
    const size = document.createElement('td');
    size.className = 'num';
    size.textContent = Number(d.codepoints).toLocaleString();
    size.title = `${Number(d.bytes).toLocaleString()} bytes`;
    tr.append(name, v, size);
    tbody.append(tr);
  }
  $('docs').hidden = tbody.children.length === 0;
  status.textContent = tbody.children.length === 0 ? 'No documents yet: create one above.' : '';
  const more = $('more');
  more.hidden = !body.next;
  more.onclick = () => loadDocs(body.next);
}

if (typeof document !== 'undefined') {
  const fromUrl = parseFragment(location.hash).token;
  if (fromUrl) {
    sessionStorage.setItem('ringpad.token', fromUrl);
    history.replaceState(null, '', location.pathname + location.search + fragmentWithoutToken(location.hash));
  }
  $('token-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const t = $('list-token').value.trim();
    if (!t) return;
    sessionStorage.setItem('ringpad.token', t);
    $('list-token').value = '';
    loadDocs(null);
  });
  $('open-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const name = $('doc-name').value.trim();
    const err = $('name-error');
    if (!validDocName(name)) {
      err.textContent = nameAdvice(name);
      err.hidden = false;
      return;
    }
    location.href = editorUrl(name);
  });
  loadDocs(null);
}
