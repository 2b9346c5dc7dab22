// The header's "Copy link" button: the document's address, never the access
// token (a token stays with whoever it was given to).

import { editorUrl } from '../session.js';

const COPIED_SHOWN_MS = 2000;

/** The address to share for `doc` on `origin`. */
export function shareLink(origin, doc) {
  return origin + editorUrl(doc);
}

/** Copies the link and says so on the button; `fallback(text)` shows it when the clipboard is refused. */
export async function copyLink(doc, button, fallback) {
  const link = shareLink(location.origin, doc);
  try {
    await navigator.clipboard.writeText(link);
  } catch {
    fallback(`Your browser did not let the page copy. The link to share: ${link}`);
    return;
  }
  if (!button.label) button.label = [...button.childNodes];
  button.replaceChildren('Link copied');
  clearTimeout(button.copiedTimer);
  button.copiedTimer = setTimeout(() => button.replaceChildren(...button.label), COPIED_SHOWN_MS);
}
