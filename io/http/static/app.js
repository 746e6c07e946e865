// hitl serve: the annotation page. One page, a view per role (annotate, review, decisions,
// project).
// Plain ES2020, no libraries. Every piece of data reaches the page through textContent or
// element attributes, never innerHTML; the page keeps no token (the session is an HttpOnly
// cookie), and every POST carries X-Hitl-Request: 1 (the server's CSRF check).
'use strict';

const API = '/api/v1';
const UNDO_WINDOW = 5;          // how many of the latest decisions offer an undo button
const REVIEW_SHOWN = 50;        // adjudication items drawn at once
const IMAGE_EXT = /\.(png|jpe?g|gif|webp)$/i;
const IMAGE_URL_EXT = /\.(png|jpe?g|gif|webp|svg|bmp|avif)$/i;
const IMAGE_KEY = /(image|img|photo|picture|thumb)/i;
const ROLE_VIEWS = {
  annotator: ['annotate'],
  reviewer: ['annotate', 'review', 'decisions'],
  admin: ['annotate', 'review', 'decisions', 'admin'],
  system: ['annotate'],
};
const ROLE_HOME = { annotator: 'annotate', reviewer: 'review', admin: 'admin', system: 'annotate' };

const state = {
  me: null,            // {name, role, progress}
  view: null,
  item: null,          // the /next answer being shown
  keys: new Map(),     // key letter -> class name
  busy: false,         // an annotate action is in flight
  history: [],
};

const $ = (id) => document.getElementById(id);

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') e.className = v;
      else if (k === 'text') e.textContent = v;
      else e.setAttribute(k, v === true ? '' : String(v));
    }
  }
  for (const c of children) {
    if (c === null || c === undefined) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
}

// ---------------------------------------------------------------- requests

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function api(method, path, body) {
  const opts = { method, credentials: 'same-origin', headers: { Accept: 'application/json' } };
  if (method !== 'GET') {
    opts.headers['X-Hitl-Request'] = '1';
    opts.headers['Content-Type'] = 'application/json';
    opts.body = JSON.stringify(body === undefined ? {} : body);
  }
  let r;
  const sent = Date.now();
  try {
    r = await fetch(API + path, opts);
  } catch (e) {
    throw new ApiError(0, 'The server cannot be reached. Check your connection and try again.');
  }
  noteServerClock(r.headers.get('Date'), sent);
  let data = null;
  try {
    data = await r.json();
  } catch (e) {
    data = null;
  }
  if (r.status === 401 && path !== '/login') {
    sessionEnded();
    throw new ApiError(401, 'Your session has ended: log in again.');
  }
  if (!r.ok) {
    const msg = data && typeof data.error === 'string' ? data.error : `${r.status} ${r.statusText}`;
    throw new ApiError(r.status, msg);
  }
  return data || {};
}

// The server's clock minus ours (ms), from the Date header (whole seconds, so only a difference
// of more than 2 s counts): deadlines are the server's, counted down on this computer's clock.
const clock = { skew: 0 };
function noteServerClock(date, sent) {
  const t = date ? Date.parse(date) : NaN;
  if (Number.isNaN(t)) return;
  const skew = t + 500 - (sent + Date.now()) / 2;
  clock.skew = Math.abs(skew) > 2000 ? skew : 0;
}
const serverNow = () => Date.now() + clock.skew;

const itemPath = (id, action) => `/items/${encodeURIComponent(id)}/${action}`;

// ---------------------------------------------------------------- messages

let toastTimer = null;
function toast(message, kind) {
  const t = $('toast');
  t.textContent = message;
  t.className = 'toast' + (kind ? ' ' + kind : '');
  t.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { t.hidden = true; }, kind === 'error' ? 6000 : 2500);
}

function showError(e) {
  if (e instanceof ApiError && e.status === 401) return; // the login view says it
  toast(e.message || String(e), 'error');
}

// ---------------------------------------------------------------- formatting

function humanize(key) {
  const s = String(key).replace(/[_-]+/g, ' ').trim();
  return s ? s.charAt(0).toUpperCase() + s.slice(1) : String(key);
}

function when(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  const now = new Date();
  const sameDay = d.toDateString() === now.toDateString();
  const time = d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  return sameDay ? time : `${d.toLocaleDateString()} ${time}`;
}

function num(v, digits = 3) {
  if (v === null || v === undefined) return 'n/a';
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : v.toFixed(digits);
  return String(v);
}

function pct(v) {
  return v === null || v === undefined ? 'n/a' : `${(v * 100).toFixed(1)}%`;
}

// Visible characters, as the store counts a justification or a reason: neither white space
// (the Unicode spaces, no-break space, the BOM and the zero-width space) nor a control character.
const INVISIBLE = /[\s\u200b\u0000-\u001f\u007f-\u009f\u2028\u2029]/gu;
function visibleChars(text) {
  return Array.from(text.replace(INVISIBLE, '')).length;
}

// ---------------------------------------------------------------- payloads

// The URL to show a payload string as an image, or null when it is not one.
function imageSource(key, value) {
  const s = value.trim();
  if (/^data:image\/[a-z0-9.+-]+[;,]/i.test(s)) return s;
  if (/^https?:\/\//i.test(s)) {
    let u;
    try {
      u = new URL(s);
    } catch (e) {
      return null;
    }
    return IMAGE_URL_EXT.test(u.pathname) || IMAGE_KEY.test(key) ? u.href : null;
  }
  if (/^[a-z][a-z0-9+.-]*:/i.test(s) || s.length > 1024 || !IMAGE_EXT.test(s)) return null;
  const segs = s.split('/').filter((p) => p !== '' && p !== '.');
  if (!segs.length || segs.includes('..') || segs.some((p) => p.includes('\\'))) return null;
  return '/media/' + segs.map(encodeURIComponent).join('/');
}

function imageNode(key, src, label, itemId) {
  const img = el('img', { src, alt: `${humanize(key)} of item ${itemId}`, class: 'payload-img', decoding: 'async' });
  img.addEventListener('load', () => {
    if (img.naturalWidth && img.naturalWidth < 160) img.classList.add('pixel');
  });
  img.addEventListener('error', () => {
    const shown = label.length > 100 ? `${label.slice(0, 97)}...` : label;
    img.replaceWith(el('span', { class: 'error small', text: `This image could not be loaded: ${shown}` }));
  });
  return el('div', { class: 'img-wrap' }, img);
}

function valueNode(key, v, itemId, depth) {
  if (v === null || v === undefined) return el('span', { class: 'muted', text: '(empty)' });
  if (typeof v === 'string') {
    const src = imageSource(key, v);
    if (src) return imageNode(key, src, v, itemId);
    if (/^https?:\/\/\S+$/i.test(v.trim())) {
      return el('a', { href: v.trim(), target: '_blank', rel: 'noopener noreferrer', class: 'text', text: v });
    }
    return el('span', { class: 'text', text: v });
  }
  if (typeof v === 'number' || typeof v === 'boolean') return el('span', { class: 'text', text: String(v) });
  if (depth >= 4) return el('span', { class: 'muted', text: '(nested further)' });
  if (Array.isArray(v)) {
    if (!v.length) return el('span', { class: 'muted', text: '(none)' });
    const ul = el('ul', { class: 'list' });
    for (const x of v) ul.append(el('li', null, valueNode(key, x, itemId, depth + 1)));
    return ul;
  }
  const dl = el('dl', { class: 'fields nested' });
  fillFields(dl, v, itemId, depth + 1);
  return dl;
}

function fillFields(container, payload, itemId, depth = 0) {
  let shown = 0;
  for (const [k, v] of Object.entries(payload)) {
    if (depth === 0 && k === 'id' && String(v) === String(itemId)) continue; // already the title
    container.append(el('div', { class: 'field' },
      el('dt', { text: humanize(k) }),
      el('dd', null, valueNode(k, v, itemId, depth))));
    shown++;
  }
  return shown;
}

function renderPayload(container, payload, itemId, emptyText) {
  clear(container);
  const dl = el('dl', { class: 'fields' });
  const shown = payload && typeof payload === 'object' && !Array.isArray(payload)
    ? fillFields(dl, payload, itemId)
    : 0;
  if (payload !== null && payload !== undefined && (typeof payload !== 'object' || Array.isArray(payload))) {
    dl.append(el('div', { class: 'field' }, el('dd', null, valueNode('value', payload, itemId, 1))));
  } else if (!shown) {
    dl.append(el('p', { class: 'muted', text: emptyText || 'This item has no content attached; decide from its name.' }));
  }
  container.append(dl);
}

// ---------------------------------------------------------------- keys

// A letter per class, in class order: never a digit, never a letter that is itself a
// one-character class name (either case), and never a key kept for skip (Space) or undo
// (Backspace). Classes past the last free letter get no key (their button still works).
function assignKeys(classes) {
  const single = new Set(classes.filter((c) => Array.from(c).length === 1).map((c) => c.toLowerCase()));
  const free = Array.from('abcdefghijklmnopqrstuvwxyz').filter((l) => !single.has(l));
  const keys = new Map();
  classes.forEach((c, i) => { if (i < free.length) keys.set(free[i], c); });
  return keys;
}

// ---------------------------------------------------------------- session and views

function sessionEnded() {
  const was = state.me !== null;
  state.me = null;
  state.item = null;
  showLogin(was ? 'Your session has ended: log in again.' : '');
}

function showLogin(message) {
  resetDecisions();
  for (const v of document.querySelectorAll('.view')) v.hidden = true;
  $('tabs').hidden = true;
  $('whoami').hidden = true;
  $('view-login').hidden = false;
  const err = $('login-error');
  err.textContent = message || '';
  err.hidden = !message;
  $('token').value = '';
  $('token').focus();
}

function allowedViews() {
  return (state.me && ROLE_VIEWS[state.me.role]) || ['annotate'];
}

function route() {
  if (!state.me) return;
  const wanted = location.hash.replace(/^#/, '');
  const views = allowedViews();
  const view = views.includes(wanted) ? wanted : ROLE_HOME[state.me.role] || 'annotate';
  if (wanted !== view) history.replaceState(null, '', '#' + view);
  showView(view);
}

function showView(view) {
  state.view = view;
  for (const v of document.querySelectorAll('.view')) v.hidden = v.id !== 'view-' + view;
  for (const a of document.querySelectorAll('#tabs a')) {
    a.classList.toggle('active', a.dataset.view === view);
    if (a.dataset.view === view) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  document.title = `hitl: ${view === 'admin' ? 'project' : view}`;
  if (view !== 'decisions') stopDecisions();
  if (view === 'annotate') enterAnnotate();
  else if (view === 'review') loadReview();
  else if (view === 'decisions') startDecisions();
  else if (view === 'admin') loadAdmin();
}

function signedIn(me) {
  state.me = me;
  $('who-name').textContent = me.name;
  $('who-role').textContent = me.role;
  $('whoami').hidden = false;
  const views = allowedViews();
  $('tabs').hidden = views.length < 2;
  for (const a of document.querySelectorAll('#tabs a')) a.hidden = !views.includes(a.dataset.view);
  $('view-login').hidden = true;
  if (me.progress) renderProgress(me.progress);
  route();
}

async function start() {
  try {
    signedIn(await api('GET', '/me'));
  } catch (e) {
    if (!(e instanceof ApiError && e.status === 401)) showLogin(e.message);
  }
}

async function login(ev) {
  ev.preventDefault();
  const token = $('token').value.trim();
  if (!token) return;
  const button = $('login-submit');
  button.disabled = true;
  $('login-error').hidden = true;
  let accepted = false;
  try {
    await api('POST', '/login', { token });
    accepted = true;
    $('token').value = '';
    signedIn(await api('GET', '/me'));
  } catch (e) {
    const msg = accepted && e.status === 401
      ? 'The token was accepted, but this browser did not keep the session cookie: allow cookies for this site.'
      : e.status === 401 ? 'That token is not valid. Check it and try again.'
      : e.status === 429 ? 'Too many failed attempts from here. Wait a few minutes, then try again.'
        : e.message;
    showLogin(msg);
  } finally {
    button.disabled = false;
  }
}

async function logout() {
  try {
    await api('POST', '/logout');
  } catch (e) {
    // logged out either way
  }
  state.me = null;
  state.item = null;
  history.replaceState(null, '', location.pathname);
  showLogin('');
}

// ---------------------------------------------------------------- annotate

function setBusy(busy) {
  state.busy = busy;
  for (const b of document.querySelectorAll('#actions button, #history button')) b.disabled = busy;
  $('item-card').classList.toggle('busy', busy);
}

function renderProgress(p) {
  $('p-labelled').textContent = num(p.labelled);
  $('p-skipped').textContent = num(p.skipped);
  $('p-left').textContent = num(p.left);
  const total = (p.labelled || 0) + (p.skipped || 0) + (p.left || 0);
  const bar = $('progress-bar');
  bar.max = Math.max(total, 1);
  bar.value = (p.labelled || 0) + (p.skipped || 0);
  bar.textContent = `${bar.value} of ${total}`;
}

function renderHistory(list) {
  state.history = list;
  const ol = $('history');
  clear(ol);
  $('history-empty').hidden = list.length > 0;
  list.forEach((h, i) => {
    const what = h.action === 'label'
      ? el('span', null, 'Labelled ', el('strong', { class: 'h-label', text: h.label }))
      : el('span', { class: 'muted' }, 'Skipped');
    const li = el('li', { class: 'h-entry', 'data-item': h.item, 'data-action': h.action },
      el('span', { class: 'h-item', text: h.item }),
      what,
      el('time', { class: 'muted small', datetime: h.at, text: when(h.at) }));
    if (h.action === 'label' && i < UNDO_WINDOW) {
      const b = el('button', { type: 'button', class: 'linkish h-undo', text: 'Undo' });
      b.setAttribute('aria-label', `Undo the label ${h.label} on item ${h.item}`);
      b.disabled = state.busy;
      b.addEventListener('click', () => undo(h.item));
      li.append(b);
    }
    ol.append(li);
  });
}

async function refreshSide() {
  try {
    const [me, hist] = await Promise.all([api('GET', '/me'), api('GET', '/history')]);
    if (me.progress) renderProgress(me.progress);
    renderHistory(Array.isArray(hist.history) ? hist.history : []);
  } catch (e) {
    showError(e);
  }
}

function renderClassButtons(classes, prediction) {
  const box = $('class-buttons');
  clear(box);
  state.keys = assignKeys(classes);
  const keyOf = new Map([...state.keys].map(([k, c]) => [c, k]));
  for (const c of classes) {
    const key = keyOf.get(c);
    const b = el('button', { type: 'button', class: 'class-btn', 'data-class': c },
      el('span', { class: 'class-name', text: c }),
      key ? el('kbd', { text: key.toUpperCase() }) : null);
    if (c === prediction) b.classList.add('suggested');
    b.title = key ? `Label as ${c} (key ${key.toUpperCase()})` : `Label as ${c}`;
    b.addEventListener('click', () => label(c));
    box.append(b);
  }
}

function renderItem(next) {
  state.item = next && next.item !== null && next.item !== undefined ? next : null;
  $('item-loading').hidden = true;
  if (!state.item) {
    $('item-body').hidden = true;
    $('actions').hidden = true;
    $('item-done').hidden = false;
    $('item-card').dataset.item = '';
    return;
  }
  const it = state.item;
  $('item-done').hidden = true;
  $('item-body').hidden = false;
  $('actions').hidden = false;
  $('item-card').dataset.item = String(it.item);
  $('item-id').textContent = String(it.item);
  $('item-lease').textContent = it.lease_expires ? `Reserved for you until ${when(it.lease_expires)}` : '';
  renderPayload($('item-fields'), it.payload, it.item);
  const hasPrediction = typeof it.prediction === 'string' && it.prediction !== '';
  $('item-prediction').hidden = !hasPrediction;
  $('item-prediction-label').textContent = hasPrediction ? it.prediction : '';
  renderClassButtons(Array.isArray(it.classes) ? it.classes : [], hasPrediction ? it.prediction : null);
  // Keep focus off the buttons: Space and Enter must not press a focused class button.
  const card = $('item-card');
  card.focus({ preventScroll: true });
  if (card.getBoundingClientRect().top < 0) card.scrollIntoView({ block: 'start' });
}

async function loadNext() {
  setBusy(true);
  try {
    const [next] = await Promise.all([api('GET', '/next'), refreshSide()]);
    renderItem(next);
  } catch (e) {
    showError(e);
  } finally {
    setBusy(false);
  }
}

function enterAnnotate() {
  if (state.item) refreshSide();
  else loadNext();
}

async function act(path, body, done) {
  if (state.busy) return;
  setBusy(true);
  let ok = false;
  try {
    await api('POST', path, body);
    ok = true;
    if (done) toast(done);
  } catch (e) {
    showError(e);
  } finally {
    setBusy(false);
  }
  // Show what the server gives now: the next item, or the same one when a refused
  // action left it with us (a 409 after a lost lease moves on).
  if (state.me) await loadNext();
}

function label(cls) {
  if (!state.item || state.busy) return;
  const id = state.item.item;
  return act(itemPath(id, 'label'), { label: cls });
}

function skip() {
  if (!state.item || state.busy) return;
  const id = state.item.item;
  return act(itemPath(id, 'skip'), {});
}

function undo(id) {
  if (state.busy) return;
  return act(itemPath(id, 'undo'), {}, `Label on item ${id} removed: label it again`);
}

function undoLast() {
  const last = state.history.find((h) => h.action === 'label');
  if (!last) {
    toast('Nothing to undo.');
    return;
  }
  undo(last.item);
}

function onKey(ev) {
  if (state.view !== 'annotate' || !state.me || $('view-annotate').hidden) return;
  if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
  const t = ev.target;
  if (t && (t.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(t.tagName))) return;
  if (ev.key === ' ' || ev.key === 'Spacebar') {
    ev.preventDefault();
    if (!ev.repeat) skip();
    return;
  }
  if (ev.key === 'Backspace') {
    ev.preventDefault();
    if (!ev.repeat) undoLast();
    return;
  }
  if (ev.key === 'Enter' && t && t.classList && t.classList.contains('class-btn')) {
    ev.preventDefault(); // a focused class button is not pressed by Enter: keys are letters
    return;
  }
  if (ev.key.length !== 1) return;
  const cls = state.keys.get(ev.key.toLowerCase());
  if (cls === undefined || !state.item) return;
  ev.preventDefault();
  if (ev.repeat) return; // a held key labels one item, not a run of them
  const b = document.querySelector(`#class-buttons [data-class="${CSS.escape(cls)}"]`);
  if (b) {
    b.classList.add('pressed');
    setTimeout(() => b.classList.remove('pressed'), 150);
  }
  label(cls);
}

// ---------------------------------------------------------------- tables

function table(headers, rows, cls) {
  const t = el('table', { class: 'data ' + (cls || '') });
  const tr = el('tr');
  for (const h of headers) tr.append(el('th', { scope: 'col', text: h }));
  t.append(el('thead', null, tr));
  const tb = el('tbody');
  for (const r of rows) {
    const row = el('tr');
    r.forEach((c) => row.append(c instanceof Node ? el('td', null, c) : el('td', { text: c === null || c === undefined ? '' : String(c) })));
    tb.append(row);
  }
  if (!rows.length) {
    tb.append(el('tr', null, el('td', { colspan: headers.length, class: 'muted', text: 'None yet.' })));
  }
  t.append(tb);
  return el('div', { class: 'table-wrap' }, t);
}

function facts(dl, pairs) {
  clear(dl);
  for (const [k, v] of pairs) dl.append(el('div', null, el('dt', { text: k }), el('dd', { text: v })));
}

function annotatorTable(status) {
  const rows = (status.annotators || []).map((a) => [a.name, num(a.labels), num(a.skips)]);
  return table(['Annotator', 'Labels', 'Skips'], rows);
}

// ---------------------------------------------------------------- review

async function loadReview() {
  const list = $('review-list');
  $('review-summary').textContent = 'Loading…';
  try {
    const [adj, status] = await Promise.all([api('GET', '/adjudication'), api('GET', '/status')]);
    renderReview(adj);
    const box = $('review-annotators');
    clear(box);
    box.append(annotatorTable(status));
    box.append(el('p', { class: 'muted small', text: `${num(status.items_complete)} of ${num(status.items_queued)} items have a final label.` }));
  } catch (e) {
    clear(list);
    $('review-summary').textContent = e.status === 403 ? 'Your account cannot review.' : '';
    showError(e);
  }
}

function updateReviewSummary() {
  const n = $('review-list').querySelectorAll('.review-item').length;
  const total = Number($('review-list').dataset.total || n);
  $('review-summary').textContent = total === 0
    ? 'Nothing to decide: no item is waiting.'
    : `${total} item${total === 1 ? '' : 's'} waiting for a decision${total > n ? ` (the first ${n} shown)` : ''}.`;
}

function renderReview(adj) {
  const list = $('review-list');
  clear(list);
  const items = Array.isArray(adj.items) ? adj.items : [];
  const classes = Array.isArray(adj.classes) ? adj.classes : [];
  const min = Number(adj.min_justification) || 0;
  list.dataset.total = String(items.length);
  items.slice(0, REVIEW_SHOWN).forEach((it, idx) => list.append(reviewCard(it, idx, classes, min)));
  updateReviewSummary();
}

function reviewCard(it, idx, classes, min) {
  const node = $('tpl-review-item').content.firstElementChild.cloneNode(true);
  node.dataset.item = String(it.item);
  node.querySelector('.rv-id').textContent = String(it.item);
  node.querySelector('.rv-prediction').textContent = typeof it.prediction === 'string' ? `Model suggests: ${it.prediction}` : '';
  renderPayload(node.querySelector('.rv-fields'), it.payload, it.item);

  const labels = Array.isArray(it.labels) ? it.labels : [];
  const votes = node.querySelector('.rv-votes');
  const voters = new Map();
  for (const l of labels) {
    votes.append(el('tr', null, el('td', { text: l.annotator }), el('td', null, el('strong', { text: l.label })), el('td', { class: 'muted', text: when(l.at) })));
    if (!voters.has(l.label)) voters.set(l.label, []);
    voters.get(l.label).push(l.annotator);
  }

  const choices = node.querySelector('.rv-choices');
  const name = `rv-choice-${idx}`;
  // the labels given first (most votes first), then the other classes
  const order = [...voters.keys()].sort((a, b) => voters.get(b).length - voters.get(a).length)
    .concat(classes.filter((c) => !voters.has(c)));
  order.forEach((c, j) => {
    const id = `${name}-${j}`;
    const input = el('input', { type: 'radio', name, id, value: c });
    const who = voters.get(c);
    const lab = el('label', { for: id, class: 'choice' + (who ? ' voted' : '') },
      input, el('span', { class: 'choice-name', text: c }),
      who ? el('span', { class: 'choice-who muted small', text: who.join(', ') }) : null);
    choices.append(lab);
  });

  const just = node.querySelector('.rv-just');
  const justId = `rv-just-${idx}`;
  just.id = justId;
  node.querySelector('.rv-just-label').setAttribute('for', justId);
  just.placeholder = `Why this label? At least ${min} characters, not counting spaces.`;
  const count = node.querySelector('.rv-count');
  const submit = node.querySelector('.rv-submit');
  const err = node.querySelector('.rv-error');
  const form = node.querySelector('.rv-form');
  const update = () => {
    const n = visibleChars(just.value);
    const chosen = form.querySelector(`input[name="${name}"]:checked`);
    count.textContent = `${n} / ${min} characters (spaces not counted)`;
    count.classList.toggle('ok', n >= min);
    submit.disabled = !(chosen && n >= min);
  };
  just.addEventListener('input', update);
  choices.addEventListener('change', update);
  update();
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const chosen = form.querySelector(`input[name="${name}"]:checked`);
    if (!chosen || visibleChars(just.value) < min) return;
    submit.disabled = true;
    err.hidden = true;
    try {
      const r = await api('POST', itemPath(it.item, 'adjudicate'), { label: chosen.value, justification: just.value });
      toast(`Item ${it.item}: final label ${r.label || chosen.value}${r.overrode ? ' (overrode)' : ''}`);
      node.remove();
      const list = $('review-list');
      list.dataset.total = String(Math.max(0, Number(list.dataset.total || 1) - 1));
      updateReviewSummary();
      if (!list.querySelector('.review-item') && Number(list.dataset.total) > 0) loadReview();
    } catch (e) {
      if (e.status === 401) return;
      err.textContent = e.message;
      err.hidden = false;
      update();
    }
  });
  return node;
}

// ---------------------------------------------------------------- decisions

// Live decisions: what services asked before acting. Reviewers vote on those awaiting review;
// admins also settle the escalated and expired ones. The lists refresh every few seconds
// without touching what a reviewer is typing: a card is kept per decision and updated in place.
const DEC_REFRESH_MS = 5000;
const DEC_URGENT_MS = 10 * 60 * 1000;   // under ten minutes left: the countdown turns amber
const REVIEW_WORDS = {
  pending: 'Waiting for review',
  approved: 'Approved',
  rejected: 'Rejected',
  escalated: 'Escalated to an admin',
  expired: 'Expired: an admin settles it',
  none: 'Not reviewed',
};

const dec = {
  cards: new Map(),    // decision number -> {node, d, kind: 'review'|'settle', touched, busy}
  min: null,           // the store's min-justification, at least 1 (the store's own floor)
  timer: null,         // the refresh
  tick: null,          // the countdowns
  loading: false,
  again: false,        // a refresh was asked for while one ran
  gen: 0,              // bumped by every vote: a refresh that began before one is stale
  failing: false,
  counts: null,        // {pending, escalated, expired} at the last refresh
};

function routeWords(d) {
  if (d.route === 'approve') return 'waits for approval';
  if (d.route === 'flag') return 'proceeded, review after';
  return d.blind ? 'blind sample' : 'proceeded, not reviewed';
}

function routeClass(d) {
  return d.route === 'approve' ? 'approve' : d.route === 'flag' ? 'flag' : d.blind ? 'blind' : 'none';
}

// "3 h 05 min 12 s": whole seconds, the largest two or three units.
function span(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  const p2 = (x) => String(x).padStart(2, '0');
  if (d) return `${d} d ${h} h ${p2(m)} min`;
  if (h) return `${h} h ${p2(m)} min ${p2(s % 60)} s`;
  if (m) return `${m} min ${p2(s % 60)} s`;
  return `${s % 60} s`;
}

function decMin() {
  return dec.min === null ? 1 : dec.min;
}

// What became of a decision, in words; `mine` is the vote just cast (true approve, false
// reject) or null when the page learnt it from a refresh.
function outcomeText(d, mine) {
  const waits = d.route === 'approve';
  const a = Number(d.approvals) || 0;
  const r = Number(d.required) || 0;
  switch (d.review) {
    case 'approved':
      return (a >= r ? `Approved: ${a} of ${r} approvals.` : `Approved by ${d.settled_by || 'an admin'}, who settled it.`)
        + (waits ? ' The service may go ahead.' : ' The review is closed.');
    case 'rejected':
      return `Rejected by ${d.settled_by || 'an admin'}, who settled it.`
        + (waits ? ' The service is told not to act.' : ' The action had already gone ahead: it needs following up.');
    case 'escalated':
      return `${mine === false ? 'Your rejection sends it' : 'A rejection sent it'} to an admin, who settles it.`
        + (waits ? ' The service keeps waiting.' : '');
    case 'expired':
      return 'Expired: nobody decided before the deadline. An admin settles it.';
    case 'pending':
      return `${mine === true ? 'Your approval is in' : 'Still waiting'}: ${a} of ${r} approvals. `
        + `It waits for ${r - a} more.`;
    default:
      return REVIEW_WORDS[d.review] || humanize(d.review || 'unknown');
  }
}

function voteList(ul, votes) {
  clear(ul);
  for (const v of votes) {
    const verb = v.vote === 'approve' ? 'approved' : 'rejected';
    ul.append(el('li', { class: `vote ${v.vote}`, 'data-reviewer': v.reviewer, 'data-vote': v.vote },
      el('div', { class: 'vote-head' },
        el('span', null, el('strong', { text: v.reviewer }), ` ${verb}`),
        el('time', { class: 'muted small', datetime: v.at, text: when(v.at) })),
      el('p', { class: 'vote-reason', text: v.reason })));
  }
  if (!votes.length) ul.append(el('li', { class: 'muted small', text: 'None yet.' }));
}

function outcomeNode(d, mine) {
  const node = $('tpl-outcome').content.firstElementChild.cloneNode(true);
  node.dataset.decision = String(d.decision);
  node.dataset.review = String(d.review);
  node.querySelector('.oc-num').textContent = String(d.decision);
  node.querySelector('.oc-caller').textContent = d.id ? `(${d.id})` : '';
  node.querySelector('.oc-action').textContent = d.action;
  const badge = node.querySelector('.oc-badge');
  badge.textContent = REVIEW_WORDS[d.review] || humanize(d.review || '');
  badge.className = `oc-badge badge ${d.review}`;
  node.querySelector('.oc-text').textContent = outcomeText(d, mine);
  voteList(node.querySelector('.oc-votes'), Array.isArray(d.votes) ? d.votes : []);
  node.querySelector('.oc-dismiss').addEventListener('click', () => {
    node.remove();
    updateDecisionCounts();
  });
  return node;
}

// The card of a decision that left the lists shows what became of it.
function closeCard(card, d, mine) {
  dec.cards.delete(card.d.decision);
  const out = outcomeNode(d, mine);
  const hadFocus = card.node.contains(document.activeElement);
  card.node.replaceWith(out);
  if (hadFocus || mine !== null) out.focus({ preventScroll: true });
}

function decisionCard(d) {
  const node = $('tpl-decision').content.firstElementChild.cloneNode(true);
  const card = { node, d, kind: null, touched: false, busy: false, payloadShown: false };
  const n = d.decision;
  node.dataset.decision = String(n);
  node.querySelector('.dc-num').textContent = String(n);
  const reason = node.querySelector('.dc-reason');
  reason.id = `dc-reason-${n}`;
  node.querySelector('.dc-reason-label').setAttribute('for', reason.id);
  reason.addEventListener('input', () => {
    if (reason.value !== '') card.touched = true;
    updateDecisionForm(card);
  });
  node.querySelector('.dc-form').addEventListener('submit', (ev) => ev.preventDefault());
  node.querySelector('.dc-approve').addEventListener('click', () => castVote(card, true));
  node.querySelector('.dc-reject').addEventListener('click', () => castVote(card, false));
  return card;
}

function updateDecisionForm(card) {
  const q = (c) => card.node.querySelector(c);
  const n = visibleChars(q('.dc-reason').value);
  const min = decMin();
  const count = q('.dc-count');
  count.textContent = `${n} / ${min} characters (spaces not counted)`;
  count.classList.toggle('ok', n >= min);
  const off = card.busy || n < min;
  q('.dc-approve').disabled = off;
  q('.dc-reject').disabled = off;
}

function stateLine(d) {
  const waits = d.route === 'approve';
  if (d.review === 'escalated') {
    return waits ? 'Escalated after a rejection. The service is still waiting: your vote settles it.'
      : 'Escalated after a rejection. The action already went ahead: your vote closes the review.';
  }
  if (d.review === 'expired') {
    return waits ? 'Expired: nobody decided before the deadline. Your vote settles it.'
      : 'Expired: the review missed its deadline. The action already went ahead: your vote closes the review.';
  }
  return '';
}

function updateDecisionCard(card, d, kind) {
  card.d = d;
  card.kind = kind;
  const node = card.node;
  const q = (c) => node.querySelector(c);
  const me = state.me ? state.me.name : '';
  node.dataset.review = String(d.review);
  node.dataset.kind = kind;
  node.classList.toggle('settle', kind === 'settle');
  q('.dc-caller').textContent = d.id ? `(${d.id})` : '';
  const route = q('.dc-route');
  route.textContent = routeWords(d);
  route.className = `dc-route route ${routeClass(d)}`;
  q('.dc-action').textContent = d.action;
  const line = stateLine(d);
  q('.dc-state').textContent = line;
  q('.dc-state').hidden = !line;
  q('.dc-risk').textContent = typeof d.risk === 'number' ? d.risk.toFixed(2) : num(d.risk);
  const a = Number(d.approvals) || 0;
  const r = Math.max(Number(d.required) || 0, 1);
  q('.dc-approvals').textContent = `${a} of ${r}`;
  const bar = q('.dc-approvals-bar');
  bar.max = r;
  bar.value = Math.min(a, r);
  q('.dc-from').textContent = `Asked by ${d.submitter} at ${when(d.created_at)}${d.model ? ` · model ${d.model}` : ''}`;
  // the clock: time left to the deadline while it waits for review; how long it has waited
  // for an admin once escalated (since the rejection) or expired (since the deadline)
  const time = q('.dc-time');
  const deadline = Date.parse(d.deadline);
  let since = deadline;
  if (d.review === 'escalated') {
    const rej = (d.votes || []).filter((v) => v.vote === 'reject').pop();
    if (rej) since = Date.parse(rej.at);
  }
  time.dataset.deadline = String(deadline);
  time.dataset.since = String(since);
  time.setAttribute('datetime', kind === 'review' ? d.deadline : new Date(since).toISOString());
  time.title = `Deadline ${new Date(deadline).toLocaleString()}`;
  q('.dc-time-label').textContent = kind === 'review' ? 'Time left' : 'Waiting for an admin';
  tickCard(card);
  if (!card.payloadShown) {
    renderPayload(q('.dc-payload'), d.payload, d.id, 'No details attached: decide from the action.');
    card.payloadShown = true;
  }
  const votes = Array.isArray(d.votes) ? d.votes : [];
  voteList(q('.dc-votes'), votes);
  // may this account vote now?
  const mine = q('.dc-mine');
  const form = q('.dc-form');
  let blocked = '';
  if (d.submitter === me) {
    blocked = 'You filed this decision: another reviewer decides.';
  } else if (kind === 'review') {
    const own = votes.find((v) => v.reviewer === me);
    if (own) {
      blocked = `You ${own.vote === 'approve' ? 'approved' : 'rejected'} this at ${when(own.at)}. `
        + outcomeText(d, null);
    }
  }
  mine.textContent = blocked;
  mine.hidden = !blocked;
  form.hidden = !!blocked;
  const approve = q('.dc-approve');
  const reject = q('.dc-reject');
  approve.textContent = kind === 'settle' ? 'Approve and settle' : 'Approve';
  reject.textContent = kind === 'settle' ? 'Reject and settle' : 'Reject';
  q('.dc-reason').placeholder = kind === 'settle'
    ? 'Why you settle it this way; the service\'s owner and the audit trail read it.'
    : 'Why approve or reject? The service\'s owner and the audit trail read it.';
  updateDecisionForm(card);
}

function tickCard(card) {
  const time = card.node.querySelector('.dc-time');
  const now = serverNow();
  if (card.kind === 'review') {
    const left = Number(time.dataset.deadline) - now;
    time.textContent = left > 0 ? span(left) : 'Deadline passed: expiring';
    time.classList.toggle('urgent', left > 0 && left < DEC_URGENT_MS);
    time.classList.toggle('overdue', left <= 0);
  } else {
    time.textContent = `for ${span(now - Number(time.dataset.since))}`;
    time.classList.remove('urgent', 'overdue');
  }
}

function tickDecisions() {
  for (const card of dec.cards.values()) tickCard(card);
}

// Puts the live cards in this order; outcome cards stay where they are, and a card already
// in its place is not moved (moving it would take the focus from a reviewer typing in it).
function placeCards(container, nodes) {
  const live = (x) => x.classList.contains('decision');
  let cursor = container.firstElementChild;
  for (const node of nodes) {
    while (cursor && !live(cursor)) cursor = cursor.nextElementSibling;
    if (cursor === node) {
      cursor = cursor.nextElementSibling;
      continue;
    }
    container.insertBefore(node, cursor);
  }
}

function updateDecisionCounts(counts) {
  if (counts) dec.counts = counts;
  const c = dec.counts || { pending: 0, escalated: 0, expired: 0 };
  const admin = state.me && state.me.role === 'admin';
  const open = (list) => [...$(list).querySelectorAll('.decision')]
    .filter((n) => !n.querySelector('.dc-form').hidden).length;
  const toVote = open('dec-pending');
  const toSettle = admin ? c.escalated + c.expired : 0;
  let text;
  if (!c.pending && !toSettle) text = 'Nothing waits for review now. This page checks every few seconds.';
  else {
    const parts = [];
    if (c.pending) parts.push(`${c.pending} decision${c.pending === 1 ? '' : 's'} waiting for review (${toVote} for your vote)`);
    if (toSettle) parts.push(`${toSettle} for you to settle`);
    text = parts.join('; ') + '.';
  }
  $('dec-summary').textContent = text;
  facts($('dec-counts'), [['Waiting', num(c.pending)], ['Escalated', num(c.escalated)], ['Expired', num(c.expired)]]);
  const note = $('dec-admin-note');
  const waiting = c.escalated + c.expired;
  note.hidden = admin || !waiting;
  note.textContent = `${waiting} escalated or expired decision${waiting === 1 ? ' waits' : 's wait'} for an admin to settle.`;
  $('dec-settle-block').hidden = !admin || !$('dec-settle').firstElementChild;
}

async function loadDecisions() {
  if (dec.loading) {
    dec.again = true;
    return;
  }
  dec.loading = true;
  const gen = dec.gen;
  const admin = state.me && state.me.role === 'admin';
  try {
    const [pending, escalated, expired] = await Promise.all(['pending', 'escalated', 'expired']
      .map((s) => api('GET', `/decisions?status=${s}`).then((r) => (Array.isArray(r.decisions) ? r.decisions : []))));
    if (dec.min === null) {
      try {
        const adj = await api('GET', '/adjudication');
        dec.min = Math.max(Number(adj.min_justification) || 0, 1);
      } catch (e) {
        if (e.status === 401) throw e;
        dec.min = 1; // a refused vote says the minimum
      }
    }
    if (gen !== dec.gen || state.view !== 'decisions' || !state.me) {
      dec.again = dec.again || (state.view === 'decisions' && !!state.me);
      return;
    }
    // waiting for review: the nearest deadline first; to settle: the oldest first
    const reviewing = pending.filter((d) => d.review === 'pending')
      .sort((x, y) => Date.parse(x.deadline) - Date.parse(y.deadline) || x.decision - y.decision);
    const settling = admin ? escalated.concat(expired).sort((x, y) => x.decision - y.decision) : [];
    const seen = new Set();
    for (const [list, kind, box] of [[reviewing, 'review', 'dec-pending'], [settling, 'settle', 'dec-settle']]) {
      const nodes = [];
      for (const d of list) {
        if (seen.has(d.decision)) continue;
        seen.add(d.decision);
        let card = dec.cards.get(d.decision);
        if (!card) {
          card = decisionCard(d);
          dec.cards.set(d.decision, card);
        }
        updateDecisionCard(card, d, kind);
        nodes.push(card.node);
      }
      placeCards($(box), nodes);
    }
    for (const [n, card] of [...dec.cards]) {
      if (seen.has(n)) continue;
      if (!card.touched) {
        dec.cards.delete(n);
        card.node.remove();
        continue;
      }
      // someone else decided the one this reviewer was writing about: say what became of it
      card.busy = true;
      updateDecisionForm(card);
      api('GET', `/decisions/${n}`).then((d) => closeCard(card, d, null)).catch(() => {
        dec.cards.delete(n);
        card.node.remove();
      });
    }
    updateDecisionCounts({ pending: reviewing.length, escalated: escalated.length, expired: expired.length });
    const u = $('dec-updated');
    u.textContent = `Updated ${new Date().toLocaleTimeString()}; refreshes every ${DEC_REFRESH_MS / 1000} s.`;
    u.classList.remove('error');
    dec.failing = false;
  } catch (e) {
    if (e.status === 401) return;
    const u = $('dec-updated');
    u.textContent = `Could not refresh at ${new Date().toLocaleTimeString()}: ${e.message}`;
    u.classList.add('error');
    if (!dec.failing) showError(e); // once, not every few seconds
    dec.failing = true;
  } finally {
    dec.loading = false;
    if (dec.again && dec.timer) {
      dec.again = false;
      loadDecisions();
    }
  }
}

async function castVote(card, approve) {
  const q = (c) => card.node.querySelector(c);
  const reason = q('.dc-reason');
  const err = q('.dc-error');
  const n = card.d.decision;
  if (card.busy || visibleChars(reason.value) < decMin()) return;
  card.busy = true;
  card.touched = true;
  dec.gen++;
  err.hidden = true;
  updateDecisionForm(card);
  try {
    const d = await api('POST', `/decisions/${n}/${approve ? 'approve' : 'reject'}`, { reason: reason.value });
    reason.value = '';
    if (card.kind === 'review' && d.review === 'pending') {
      updateDecisionCard(card, d, 'review'); // still waiting for others: the card says so
      toast(`Decision ${n}: ${outcomeText(d, approve)}`);
      q('.dc-mine').focus({ preventScroll: true });
    } else {
      closeCard(card, d, approve);
      toast(`Decision ${n}: ${REVIEW_WORDS[d.review] || d.review}`);
    }
    loadDecisions(); // the counts, and whatever else changed meanwhile
  } catch (e) {
    if (e.status === 401) return;
    const m = /at least (\d+) visible/.exec(e.message);
    if (e.status === 400 && m) dec.min = Math.max(Number(m[1]), 1);
    err.textContent = e.message;
    err.hidden = false;
    if (e.status === 403 || e.status === 404 || e.status === 409) loadDecisions();
  } finally {
    card.busy = false;
    if (dec.cards.get(n) === card) updateDecisionForm(card);
  }
}

function startDecisions() {
  stopDecisions();
  dec.timer = setInterval(() => {
    if (!document.hidden) loadDecisions();
  }, DEC_REFRESH_MS);
  dec.tick = setInterval(tickDecisions, 1000);
  loadDecisions();
}

function stopDecisions() {
  clearInterval(dec.timer);
  clearInterval(dec.tick);
  dec.timer = dec.tick = null;
}

// Logging out forgets the lists (the next account sees its own) and the reasons typed.
function resetDecisions() {
  stopDecisions();
  dec.cards.clear();
  dec.min = null;
  dec.counts = null;
  dec.gen++;
  for (const id of ['dec-pending', 'dec-settle']) clear($(id));
  $('dec-summary').textContent = '';
  $('dec-updated').textContent = '';
}

// ---------------------------------------------------------------- admin

const HEALTH_WORDS = { healthy: 'Healthy', at_risk: 'At risk', degraded: 'Degraded' };
const RULE_WORDS = {
  rubber_stamping: 'approves nearly every wrong model suggestion',
  inefficient: 'rejects most right model suggestions',
  audit_chain_broken: 'the audit chain does not verify',
  audit_incomplete: 'labels missing from the audit trail',
  override_rate: 'overrides many final labels',
  low_agreement: 'annotators agree too little (Krippendorff\'s alpha)',
  decision_rubber_stamping: 'approves nearly every live decision',
  decision_inefficient: 'rejects most live decisions',
  decision_override_rate: 'overturns many settled decisions',
};

function reasonText(r) {
  const what = RULE_WORDS[r.rule] || humanize(r.rule || 'rule');
  const who = r.subject ? `${r.subject}: ` : '';
  const measured = r.value !== undefined && r.value !== null
    ? ` (${num(r.value)}; limit ${num(r.threshold)})` : '';
  return `${who}${what}${measured}`;
}

// A chart: fetched first so that a refusal shows the server's reason, then shown from the
// fetched text as a data: URI (an SVG in an <img> runs no script).
async function loadChart(img, name) {
  const wrap = img.parentElement;
  const old = wrap.querySelector('.chart-missing');
  if (old) old.remove();
  const missing = (why) => {
    img.hidden = true;
    img.removeAttribute('src');
    wrap.append(el('p', { class: 'muted chart-missing', text: `No chart: ${why}` }));
  };
  let r;
  try {
    r = await fetch(`${API}/charts/${name}.svg`, { credentials: 'same-origin', cache: 'no-store' });
  } catch (e) {
    missing('the server cannot be reached.');
    return;
  }
  if (r.status === 401) {
    sessionEnded();
    return;
  }
  if (!r.ok) {
    let why = `${r.status} ${r.statusText}`;
    try {
      const j = await r.json();
      if (j && typeof j.error === 'string') why = j.error;
    } catch (e) {
      // not JSON: keep the status line
    }
    missing(why);
    return;
  }
  img.src = 'data:image/svg+xml;charset=utf-8,' + encodeURIComponent(await r.text());
  img.hidden = false;
}

async function loadAdmin() {
  try {
    const [status, health] = await Promise.all([api('GET', '/status'), api('GET', '/health')]);
    renderHealth(health);
    renderStatus(status, health);
  } catch (e) {
    showError(e);
  }
  loadChart($('chart-calibration'), 'calibration');
  loadChart($('chart-agreement'), 'agreement');
}

function renderHealth(h) {
  const badge = $('health-status');
  badge.textContent = HEALTH_WORDS[h.status] || humanize(h.status || 'unknown');
  badge.className = 'health-badge ' + String(h.status || '');
  const ul = $('health-reasons');
  clear(ul);
  for (const r of h.reasons || []) {
    ul.append(el('li', { class: r.severity === 'degraded' ? 'bad' : 'warn', text: reasonText(r) }));
  }
  if (!(h.reasons || []).length) ul.append(el('li', { class: 'muted', text: 'No rule is broken.' }));
  const audit = h.audit || {};
  const lat = h.latency || {};
  facts($('health-facts'), [
    ['Agreement (Krippendorff\'s alpha)', h.krippendorff_alpha === null || h.krippendorff_alpha === undefined
      ? `n/a${h.krippendorff_alpha_reason ? ': ' + h.krippendorff_alpha_reason : ''}` : Number(h.krippendorff_alpha).toFixed(3)],
    ['Seconds per label (median)', lat.p50 === null || lat.p50 === undefined ? 'n/a' : num(lat.p50, 1)],
    ['Audit chain', audit.chain_ok ? 'verifies' : `broken${audit.bad_seq ? ' at event ' + audit.bad_seq : ''}`],
    ['Labels in the audit trail', pct(audit.completeness)],
    ['Model suggestions shown', h.show_prediction || 'n/a'],
  ]);
}

function renderStatus(s, h) {
  facts($('admin-totals'), [
    ['Items queued', num(s.items_queued)],
    ['With a final label', num(s.items_complete)],
    ['Waiting for a decision', num(s.awaiting_adjudication)],
    ['Still to label', num(s.queue_depth)],
    ['Labels', num(s.labels)],
    ['Skips', num(s.skips)],
    ['Reserved now', num(s.leases)],
  ]);
  // per annotator: labels and skips (status) beside the approval rates (health)
  const rates = new Map(((h && h.annotators) || []).map((a) => [a.name, a]));
  const box = $('admin-annotators');
  clear(box);
  box.append(table(['Annotator', 'Labels', 'Skips', 'Agrees with the model', 'Approves right suggestions', 'Approves wrong suggestions'],
    (s.annotators || []).map((a) => {
      const r = rates.get(a.name) || {};
      return [a.name, num(a.labels), num(a.skips), pct(r.model_agreement), pct(r.right_approval), pct(r.wrong_approval)];
    })));
  const b = $('admin-batches');
  clear(b);
  b.append(table(['Batch', 'Queued', 'Final', 'Blind', 'Waiting for a decision', 'Still to label'],
    (s.batches || []).map((x) => [x.batch, num(x.queued), num(x.complete), num(x.blind), num(x.awaiting_adjudication), num(x.queue_depth)])));
  const a = $('admin-actors');
  clear(a);
  a.append(table(['Reviewer', 'Decisions', 'Overrides', 'Override rate', ''],
    (s.actors || []).map((x) => [x.name, num(x.decisions), num(x.overrides), pct(x.override_rate), x.alert ? 'at risk' : ''])));
  // live decisions: each reviewer's approval rate and overrides in the store's window, with
  // the rule each one breaks (the health verdict's reasons name them)
  const live = (h && h.decisions) || {};
  const flagged = new Map();
  for (const r of (h && h.reasons) || []) {
    if (String(r.rule).startsWith('decision_') && r.subject) flagged.set(r.subject, RULE_WORDS[r.rule] || r.rule);
  }
  const d = $('admin-decision-reviewers');
  clear(d);
  const days = live.override_window_days;
  d.append(table(['Reviewer', 'Votes', 'Approval rate', `Overrides (last ${num(days)} days)`, 'Override rate', ''],
    (live.reviewers || []).map((x) => [x.name, num(x.votes), pct(x.approval_rate),
      `${num(x.recent_overrides)} of ${num(x.recent_reviews)}`, pct(x.override_rate), flagged.get(x.name) || ''])));
}

// ---------------------------------------------------------------- wiring

function init() {
  $('login-form').addEventListener('submit', login);
  $('logout').addEventListener('click', logout);
  $('skip').addEventListener('click', () => skip());
  $('undo-last').addEventListener('click', () => undoLast());
  $('check-again').addEventListener('click', () => loadNext());
  $('review-refresh').addEventListener('click', () => loadReview());
  $('admin-refresh').addEventListener('click', () => loadAdmin());
  $('dec-refresh').addEventListener('click', () => loadDecisions());
  document.addEventListener('visibilitychange', () => {
    if (!document.hidden && state.view === 'decisions' && dec.timer) loadDecisions();
  });
  document.addEventListener('keydown', onKey);
  window.addEventListener('hashchange', route);
  start();
}

init();
