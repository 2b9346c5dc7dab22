// Document names as docs/PROTOCOL.md §2 allows them: 1..200 bytes of
// A-Z a-z 0-9 . _ - /, no leading or trailing /, no //, no . or .. segment.

export const DOC_NAME_MAX_BYTES = 200; // --max-doc-name-bytes is at most 200

/** True when the server accepts `name` as a document name (a server may set a lower byte limit). */
export function validDocName(name) {
  if (typeof name !== 'string' || name.length === 0 || new TextEncoder().encode(name).length > DOC_NAME_MAX_BYTES) return false;
  if (!/^[A-Za-z0-9._/-]+$/.test(name)) return false;
  if (name.startsWith('/') || name.endsWith('/')) return false;
  return name.split('/').every((seg) => seg !== '' && seg !== '.' && seg !== '..');
}
