// Who the page says you are: a name and colour kept per browser (a "Guest
// 1234" made up on the first visit, so nobody is asked before typing), unless
// the access token carries a name: the server then shows the token's name to
// everybody (PROTOCOL.md §11), so the page shows that one too.
import { helloName, randomColor, validColor } from '../session.js';

const NAME_KEY = 'ringpad.name';
const COLOR_KEY = 'ringpad.color';

export function guestName(rnd = Math.random) {
  return `Guest ${1000 + Math.floor(rnd() * 9000)}`;
}

/** The browser's name and colour, made up and kept on first use. */
export function loadIdentity(storage, rnd = Math.random) {
  let name = helloName(storage.getItem(NAME_KEY));
  if (!name) { name = guestName(rnd); storage.setItem(NAME_KEY, name); }
  let color = validColor(storage.getItem(COLOR_KEY));
  if (!color) { color = randomColor(rnd); storage.setItem(COLOR_KEY, color); }
  return { name, color };
}

/** Keeps a new name (an empty one keeps the old) and colour; returns what is kept. */
export function saveIdentity(storage, { name, color }) {
  const n = helloName(name);
  if (n) storage.setItem(NAME_KEY, n);
  const c = validColor(color);
  if (c) storage.setItem(COLOR_KEY, c);
  return loadIdentity(storage);
}

/** The name others see: the token's `name` claim when it has one, else the browser's. */
export function shownName(identity, claims) {
  const fromToken = claims && helloName(claims.name);
  return fromToken ? { name: fromToken, fromToken: true } : { name: identity.name, fromToken: false };
}
