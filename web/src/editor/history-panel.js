// The history panel: a slider over the document's sessions (GET .../history),
// the text at the chosen version (GET ...?v=N) with what that session
// changed highlighted, authorship colours on demand (GET .../authors?v=N),
// restore (POST .../restore: a new op, the past stays) and download.
// Plain DOM and one text diff per step, so a 100,000-version document costs
// a few requests, never a replay in the browser.

const MAX_HISTORY_PAGES = 50; // 1000 sessions a page

/** The changed middle of `before` -> `after`: [start, endAfter) in `after` (UTF-16). */
export function changedRange(before, after) {
  let start = 0;
  const max = Math.min(before.length, after.length);
  while (start < max && before[start] === after[start]) start++;
  let end = 0;
  while (end < max - start && before[before.length - 1 - end] === after[after.length - 1 - end]) end++;
  return [start, after.length - end];
}

/** A stable colour for an author name. */
export function authorColor(name) {
  let h = 0;
  for (const ch of String(name)) h = (h * 31 + ch.codePointAt(0)) >>> 0;
  return `hsl(${h % 360} 70% 80%)`;
}

/** Splits `text` by code-point spans [{by, from, to}] into [{by, text}]. */
export function spanPieces(text, spans) {
  const cps = Array.from(text);
  return spans.map((s) => ({ by: s.by, text: cps.slice(s.from, s.to).join('') }));
}

export function createHistoryPanel({ docName, token, root, notice }) {
  const $ = (sel) => root.querySelector(sel);
  let stops = []; // [{v, session}] ascending; stops[0] is the oldest retained version
  let shownText = '';
  let shownV = 0;

  const api = (suffix) => `/api/docs/${docName.split('/').map(encodeURIComponent).join('/')}${suffix}`;
  async function call(suffix, init = {}) {
    const headers = { ...(init.headers || {}) };
    const t = token();
    if (t) headers.Authorization = `Bearer ${t}`;
    const r = await fetch(api(suffix), { ...init, headers });
    const body = await r.json().catch(() => ({}));
    if (!r.ok) throw new Error(body.message || `HTTP ${r.status}`);
    return body;
  }

  async function loadSessions() {
    const sessions = [];
    let from = 0, v = 0;
    for (let page = 0; page < MAX_HISTORY_PAGES; page++) {
      const h = await call(`/history?from=${from}`);
      v = h.v;
      if (page === 0) from = h.from;
      sessions.push(...h.sessions);
      if (h.to >= h.v || h.sessions.length === 0) break;
      from = h.to;
    }
    const first = sessions.length ? sessions[0].from : v;
    stops = [{ v: first, session: null }, ...sessions.map((s) => ({ v: s.to, session: s }))];
    const list = $('.hist-sessions');
    list.textContent = '';
    for (const s of sessions.slice(-200).reverse()) {
      const li = document.createElement('li');
      li.className = 'hist-session';
      const dot = document.createElement('span');
      dot.className = 'dot';
      dot.style.background = authorColor(s.by);
      li.append(dot, `${s.by} · v${s.from}–${s.to} · ${new Date(s.end).toLocaleString()} · +${s.added} −${s.removed}`);
      li.dataset.v = String(s.to);
      li.onclick = () => { slider.value = String(stops.findIndex((x) => x.v === s.to)); show(); };
      list.append(li);
    }
    const slider = $('.hist-slider');
    slider.min = '0';
    slider.max = String(stops.length - 1);
    slider.value = String(stops.length - 1);
    await show();
  }

  async function show() {
    const i = Number($('.hist-slider').value);
    const stop = stops[i];
    if (!stop) return;
    const prev = i > 0 ? stops[i - 1].v : stop.v;
    const [now, before] = await Promise.all([call(`?v=${stop.v}`), prev === stop.v ? null : call(`?v=${prev}`)]);
    shownText = now.text;
    shownV = stop.v;
    const s = stop.session;
    $('.hist-label').textContent = s ? `v${stop.v} · ${s.by} · ${new Date(s.end).toLocaleString()}` : `v${stop.v} (oldest)`;
    const out = $('.hist-text');
    out.textContent = '';
    if ($('.hist-authors').checked) {
      const a = await call(`/authors?v=${stop.v}`);
      for (const p of spanPieces(a.text, a.spans)) {
        const span = document.createElement('span');
        span.className = 'hist-by';
        span.title = p.by ?? 'before the retained history';
        if (p.by !== null) span.style.background = authorColor(p.by);
        span.textContent = p.text;
        out.append(span);
      }
      return;
    }
    const [from, to] = changedRange(before ? before.text : now.text, now.text);
    const mark = document.createElement('mark');
    mark.textContent = now.text.slice(from, to);
    out.append(now.text.slice(0, from), mark, now.text.slice(to));
  }

  async function restore() {
    try {
      const ack = await call('/restore', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ v: shownV }) });
      notice(`Restored version ${shownV} as version ${ack.v + 1}.`);
      await loadSessions();
    } catch (e) {
      notice(`Restore failed: ${e.message}`);
    }
  }

  function download() {
    const a = document.createElement('a');
    a.href = URL.createObjectURL(new Blob([shownText], { type: 'text/plain;charset=utf-8' }));
    a.download = `${docName.replaceAll('/', '_')}@v${shownV}.txt`;
    a.click();
    setTimeout(() => URL.revokeObjectURL(a.href), 1000);
  }

  $('.hist-slider').oninput = () => { show().catch((e) => notice(`History: ${e.message}`)); };
  $('.hist-authors').onchange = () => { show().catch((e) => notice(`History: ${e.message}`)); };
  $('.hist-restore').onclick = restore;
  $('.hist-download').onclick = download;
  $('.hist-close').onclick = () => { root.hidden = true; };

  return {
    async toggle() {
      root.hidden = !root.hidden;
      if (!root.hidden) await loadSessions().catch((e) => notice(`History: ${e.message}`));
    },
  };
}
