// The audit web view: overview, task list and task page over /audit/api/ (server/PROTOCOL.md).
// Every text from the corpus is model-generated: it reaches the page only as text nodes
// (el() below) or through highlight.js, which escapes what it highlights.

const main = document.getElementById('main');
const charts = [];

// --- small helpers ------------------------------------------------------------------------
function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

function code(text, language) {
  const c = el('code', { class: 'hljs' });
  const s = typeof text === 'string' ? text : JSON.stringify(text, null, 2);
  if (window.hljs && language && s.length < 200000) {
    c.innerHTML = window.hljs.highlight(s, { language, ignoreIllegals: true }).value;  // escaped by hljs
  } else {
    c.textContent = s;
  }
  return el('pre', {}, c);
}

function fmtRate(r) { return r === null || r === undefined ? '–' : r.toFixed(2); }
function fmtTime(ms) { return new Date(ms).toISOString().replace('T', ' ').slice(0, 19); }
function badge(text, cls) { return el('span', { class: `badge ${cls || text}` }, text); }

function token() { return sessionStorage.getItem('envforge-token') || ''; }

async function api(path, options = {}) {
  const headers = Object.assign({}, options.headers || {});
  if (token()) headers.Authorization = `Bearer ${token()}`;
  const res = await fetch(`/audit/api/${path}`, Object.assign({}, options, { headers }));
  if (res.status === 401) {
    askToken();
    throw new Error('this server needs a token');
  }
  const ct = res.headers.get('Content-Type') || '';
  const body = ct.startsWith('application/json') ? await res.json() : await res.blob();
  if (!res.ok) throw new Error(body.detail || `HTTP ${res.status}`);
  return body;
}

function askToken() {
  const d = document.getElementById('token-dialog');
  if (d.open) return;
  d.showModal();
  document.getElementById('token-form').onsubmit = () => {
    sessionStorage.setItem('envforge-token', document.getElementById('token-input').value.trim());
    route();
  };
}

function show(...nodes) {
  while (charts.length) charts.pop().destroy();
  main.replaceChildren(...nodes);
}

function showError(e) { show(el('p', { class: 'error', id: 'error' }, String(e.message || e))); }

function chart(id, title, config) {
  const canvas = el('canvas', { id });
  const box = el('div', { class: 'chart' }, el('h3', {}, title), el('div', { class: 'canvas-box' }, canvas));
  queueMicrotask(() => {
    if (!window.Chart) return;
    config.options = Object.assign({ responsive: true, maintainAspectRatio: false, animation: false }, config.options || {});
    charts.push(new window.Chart(canvas, config));
  });
  return box;
}

function countsTable(title, counts, keyName, link) {
  const rows = Object.entries(counts).sort((a, b) => b[1] - a[1]);
  return el('div', {},
    el('h3', {}, title),
    rows.length === 0 ? el('p', { class: 'muted' }, 'none') :
      el('table', {}, el('tr', {}, el('th', {}, keyName), el('th', { class: 'num' }, 'count')),
        rows.map(([k, v]) => el('tr', {}, el('td', {}, link ? el('a', { href: link(k) }, k || '(none)') : (k || '(none)')),
          el('td', { class: 'num' }, v.toLocaleString())))));
}

// --- overview ---------------------------------------------------------------------------------
let categoriesCache = null;

async function overview() {
  const o = await api('overview');
  categoriesCache = Object.keys(o.by_category);
  const card = (label, n, href) => el('a', { class: 'card', href: href || null, style: 'text-decoration:none;color:inherit' },
    el('div', { class: 'muted' }, label), el('div', { class: 'n' }, n === null ? '–' : n.toLocaleString()));
  const levels = Object.keys(o.by_level);
  const hist = o.pass_rates.histograms;
  const binLabels = Array.from({ length: 10 }, (_, i) => `${(i / 10).toFixed(1)}–${((i + 1) / 10).toFixed(1)}`);
  const palette = ['#0969da', '#8250df', '#1a7f37', '#bf8700', '#cf222e', '#6e7781', '#e16f24', '#0550ae', '#953800', '#4d2d00'];
  const failures = o.validation_failures.slice(0, 15);
  show(
    el('section', { id: 'overview' },
      el('div', { class: 'cards' },
        card('tasks', o.tasks, '#/tasks'), card('usable', o.usable, '#/tasks?status=usable'),
        card('rejected', o.rejected, '#/tasks?status=rejected'), card('environments', o.environments),
        card('validations not as expected', o.validations_failed), card('rollouts', o.rollouts),
        card('mean pass rate', o.pass_rates.mean === null ? null : Number(o.pass_rates.mean.toFixed(3))),
        card('audits', o.audits)),
      el('div', { class: 'charts', id: 'overview-charts' },
        chart('chart-category', 'Tasks by category', {
          type: 'bar',
          data: { labels: categoriesCache, datasets: [{ label: 'tasks', data: Object.values(o.by_category), backgroundColor: '#0969da' }] },
          options: { plugins: { legend: { display: false } },
            onClick: (_, items) => { if (items.length) location.hash = `#/tasks?category=${encodeURIComponent(categoriesCache[items[0].index])}`; } },
        }),
        chart('chart-level', 'Tasks by level', {
          type: 'bar',
          data: { labels: levels.map(l => `level ${l}`), datasets: [{ label: 'tasks', data: Object.values(o.by_level), backgroundColor: '#8250df' }] },
          options: { plugins: { legend: { display: false } },
            onClick: (_, items) => { if (items.length) location.hash = `#/tasks?level=${levels[items[0].index]}`; } },
        }),
        chart('chart-status', 'Tasks by status', {
          type: 'doughnut',
          data: { labels: Object.keys(o.by_status), datasets: [{ data: Object.values(o.by_status),
            backgroundColor: Object.keys(o.by_status).map(s => s === 'usable' ? '#1a7f37' : '#cf222e') }] },
        }),
        chart('chart-pass', 'Pass rate of tasks with rollouts, by level', {
          type: 'bar',
          data: { labels: binLabels, datasets: Object.entries(hist).map(([level, bins], i) =>
            ({ label: `level ${level}`, data: bins, backgroundColor: palette[i % palette.length] })) },
          options: { scales: { x: { stacked: true }, y: { stacked: true } },
            onClick: (_, items) => { if (items.length) { const b = items[0].index; location.hash = `#/tasks?pass=${b / 10}-${(b + 1) / 10}`; } } },
        }),
        chart('chart-failures', 'Validation failures (check: reason)', {
          type: 'bar',
          data: { labels: failures.map(f => f.reason.length > 60 ? f.reason.slice(0, 57) + '…' : f.reason),
            datasets: [{ label: 'validations', data: failures.map(f => f.count), backgroundColor: '#cf222e' }] },
          options: { indexAxis: 'y', plugins: { legend: { display: false } } },
        })),
      el('div', { class: 'charts' },
        countsTable('Reject reasons', o.reject_reasons, 'reason'),
        el('div', {}, el('h3', {}, `Duplicate groups (${o.duplicates.groups.toLocaleString()})`),
          o.duplicates.top.length === 0 ? el('p', { class: 'muted' }, 'none') :
            el('table', { id: 'duplicates' }, el('tr', {}, el('th', {}, 'content hash'), el('th', { class: 'num' }, 'tasks')),
              o.duplicates.top.slice(0, 50).map(d => el('tr', {},
                el('td', {}, el('a', { href: `#/tasks?hash=${d.content_hash}` }, d.content_hash.slice(0, 16) + '…')),
                el('td', { class: 'num' }, d.count))))),
        countsTable('Audits by verdict', o.audits_by_verdict, 'verdict'),
        countsTable('Rollouts by model', o.pass_rates.rollouts_by_model, 'model')),
      el('p', { class: 'muted' }, `server time ${o.server_ms.toFixed(1)} ms`)));
}

// --- task list --------------------------------------------------------------------------------
const filterKeys = ['category', 'level', 'status', 'pass', 'audit', 'q', 'hash'];
const pageStack = [];  // `after` cursors of the pages before this one

function currentParams() {
  const q = location.hash.indexOf('?');
  return new URLSearchParams(q < 0 ? '' : location.hash.slice(q + 1));
}

function filterQuery(params) {
  const out = new URLSearchParams();
  for (const k of filterKeys) if (params.get(k)) out.set(k, params.get(k));
  return out;
}

function select(name, label, options, value) {
  return el('label', {}, label, el('select', { name, id: `filter-${name}` },
    options.map(([v, text]) => el('option', { value: v, selected: v === (value || '') }, text))));
}

async function taskList() {
  const params = currentParams();
  if (!categoriesCache) categoriesCache = Object.keys((await api('overview')).by_category);
  const fq = filterQuery(params);
  const query = new URLSearchParams(fq);
  if (params.get('after')) query.set('after', params.get('after'));
  query.set('limit', '50');
  const page = await api(`tasks?${query}`);
  const form = el('form', { class: 'filters', id: 'filters' },
    select('category', 'category', [['', 'any'], ...categoriesCache.map(c => [c, c])], params.get('category')),
    select('level', 'level', [['', 'any'], ...Array.from({ length: 10 }, (_, i) => [String(i + 1), String(i + 1)])], params.get('level')),
    select('status', 'status', [['', 'any'], ['usable', 'usable'], ['rejected', 'rejected']], params.get('status')),
    select('pass', 'pass rate', [['', 'any'], ['none', 'no rollouts'], ['0-0', '0'], ['0-0.5', '0 – 0.5'], ['0.5-1', '0.5 – 1'], ['1-1', '1'], ...(params.get('pass') && !['none', '0-0', '0-0.5', '0.5-1', '1-1'].includes(params.get('pass')) ? [[params.get('pass'), params.get('pass')]] : [])], params.get('pass')),
    select('audit', 'judged', [['', 'any'], ['good', 'good'], ['bad', 'bad'], ['none', 'not yet']], params.get('audit')),
    el('label', {}, 'prompt contains', el('input', { name: 'q', id: 'filter-q', value: params.get('q') || '', size: 28 })),
    params.get('hash') ? el('label', {}, 'content hash', el('input', { name: 'hash', value: params.get('hash'), size: 18 })) : null,
    el('button', { type: 'submit', id: 'apply-filters' }, 'Filter'),
    el('button', { type: 'button', id: 'export-jsonl', onclick: () => exportTasks(fq, 'jsonl') }, 'Export JSONL'),
    el('button', { type: 'button', id: 'export-csv', onclick: () => exportTasks(fq, 'csv') }, 'Export CSV'));
  form.addEventListener('submit', ev => {
    ev.preventDefault();
    const next = new URLSearchParams();
    for (const [k, v] of new FormData(form)) if (v) next.set(k, v);
    pageStack.length = 0;
    location.hash = `#/tasks?${next}`;
  });
  const first = Number(params.get('after') || 0) === 0;
  const nav = el('div', { class: 'pager' },
    el('span', { id: 'total' }, `${page.total.toLocaleString()} task(s)`),
    el('button', { id: 'prev-page', disabled: first, onclick: () => {
      const q = filterQuery(params);
      const prev = pageStack.pop();
      if (prev) q.set('after', prev);
      location.hash = `#/tasks?${q}`;
    } }, '← previous'),
    el('button', { id: 'next-page', disabled: page.next_after === null, onclick: () => {
      pageStack.push(params.get('after') || '');
      const q = filterQuery(params);
      q.set('after', page.next_after);
      location.hash = `#/tasks?${q}`;
    } }, 'next →'),
    el('span', { class: 'muted' }, `server time ${page.server_ms.toFixed(1)} ms`));
  const table = el('table', { id: 'task-table' },
    el('tr', {}, ['task', 'category', 'level', 'status', 'pass rate', 'rollouts', 'judged', 'prompt'].map(h => el('th', {}, h))),
    page.tasks.map(t => el('tr', { 'data-task': t.id },
      el('td', {}, el('a', { href: `#/task/${encodeURIComponent(t.id)}`, class: 'task-link' }, t.id.slice(0, 12))),
      el('td', {}, t.category), el('td', { class: 'num' }, t.level),
      el('td', {}, badge(t.status), t.reject_reason ? el('div', { class: 'muted' }, t.reject_reason.slice(0, 80)) : null),
      el('td', { class: 'num' }, fmtRate(t.pass_rate)), el('td', { class: 'num' }, t.rollouts),
      el('td', {}, t.judgement ? badge(t.judgement) : ''),
      el('td', { class: 'prompt', title: t.prompt }, t.prompt))));
  show(el('section', { id: 'tasks' }, form, nav, table));
}

async function exportTasks(fq, format) {
  const q = new URLSearchParams(fq);
  q.set('format', format);
  const blob = await api(`export?${q}`);
  const a = el('a', { href: URL.createObjectURL(blob), download: `envforge-tasks.${format}` });
  document.body.append(a);
  a.click();
  a.remove();
}

// --- task page --------------------------------------------------------------------------------
function conversation(trajectory) {
  const msgs = Array.isArray(trajectory) ? trajectory : [trajectory];
  return el('div', { class: 'conversation' }, msgs.map(m => {
    if (typeof m !== 'object' || m === null) return el('div', { class: 'msg' }, code(m, 'json'));
    const role = String(m.role || 'message');
    const parts = [el('div', { class: 'role' }, role, m.name ? ` · ${m.name}` : '', m.tool_call_id ? ` · ${m.tool_call_id}` : '')];
    const content = m.content;
    if (typeof content === 'string' && content !== '') {
      let parsed = null;
      if (role === 'tool') { try { parsed = JSON.parse(content); } catch { parsed = null; } }
      parts.push(parsed !== null && typeof parsed === 'object' ? code(parsed, 'json') : el('pre', { class: 'content' }, content));
    } else if (Array.isArray(content)) {
      for (const p of content) parts.push(el('pre', { class: 'content' }, typeof p === 'object' && p.text !== undefined ? p.text : JSON.stringify(p)));
    }
    if (m.reasoning_content) parts.push(el('details', {}, el('summary', {}, 'reasoning'), el('pre', {}, String(m.reasoning_content))));
    for (const c of m.tool_calls || []) {
      const fn = c.function || c;
      let args = fn.arguments;
      if (typeof args === 'string') { try { args = JSON.parse(args); } catch { /* shown as given */ } }
      parts.push(el('div', { class: 'tool-call' }, el('div', {}, '→ call ', el('b', {}, String(fn.name)), c.id ? ` (${c.id})` : ''), code(args, 'json')));
    }
    if (m.error) parts.push(el('div', { class: 'error' }, JSON.stringify(m.error)));
    return el('div', { class: `msg ${role}` }, parts);
  }));
}

async function worldTable(taskId, table, offset, box) {
  const q = new URLSearchParams({ table, offset: String(offset), limit: '50' });
  let page;
  try {
    page = await api(`task/${encodeURIComponent(taskId)}/world?${q}`);
  } catch (e) {
    box.replaceChildren(el('p', { class: 'error' }, e.message));
    return;
  }
  const cell = v => {
    if (v === null) return el('span', { class: 'muted' }, 'NULL');
    if (typeof v === 'object' && v.blob_bytes !== undefined) return el('span', { class: 'cell-cut' }, `<blob ${v.blob_bytes} bytes>`);
    if (typeof v === 'object' && v.truncated_from !== undefined) return [v.text, el('span', { class: 'cell-cut' }, ` … (${v.truncated_from} chars)`)];
    return String(v);
  };
  box.replaceChildren(
    el('div', { class: 'pager' },
      el('span', {}, `${table}: rows ${page.total ? offset + 1 : 0}–${offset + page.rows.length} of ${page.total}`),
      el('button', { disabled: offset === 0, onclick: () => worldTable(taskId, table, Math.max(0, offset - 50), box) }, '← previous'),
      el('button', { disabled: offset + page.rows.length >= page.total, onclick: () => worldTable(taskId, table, offset + 50, box) }, 'next →')),
    el('div', { style: 'overflow:auto' }, el('table', { id: 'world-rows' },
      el('tr', {}, page.columns.map(c => el('th', {}, c))),
      page.rows.map(r => el('tr', {}, r.map(v => el('td', {}, cell(v))))))));
}

async function taskPage(id) {
  const v = await api(`task/${encodeURIComponent(id)}`);
  const t = v.task;
  const note = el('textarea', { id: 'audit-note', placeholder: 'note (a reason is required to reject or restore)' });
  const status = el('p', { id: 'audit-status', class: 'muted' });
  const act = async verdict => {
    try {
      const r = await api(`task/${encodeURIComponent(id)}/verdict`, {
        method: 'POST', headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ verdict, note: note.value }),
      });
      status.textContent = `recorded ${r.audit.verdict} by ${r.audit.who}`;
      await taskPage(id);
    } catch (e) {
      status.textContent = e.message;
      status.className = 'error';
    }
  };
  const worldBox = el('div', { id: 'world-box' });
  const tables = (v.world.tables || []);
  const side = el('aside', { class: 'side', id: 'audit-panel' },
    el('h3', {}, 'Audit'),
    note,
    el('div', { class: 'actions' },
      el('button', { class: 'good', id: 'mark-good', onclick: () => act('good') }, 'Mark good'),
      el('button', { class: 'bad', id: 'mark-bad', onclick: () => act('bad') }, 'Mark bad'),
      t.status === 'usable' ? el('button', { class: 'bad', id: 'reject', onclick: () => act('reject') }, 'Reject')
        : el('button', { class: 'good', id: 'restore', onclick: () => act('restore') }, 'Restore')),
    status,
    el('h3', {}, 'History'),
    v.audits.length === 0 ? el('p', { class: 'muted' }, 'no audits yet') :
      el('table', { id: 'audit-history' },
        el('tr', {}, el('th', {}, 'when'), el('th', {}, 'who'), el('th', {}, 'verdict')),
        v.audits.slice().reverse().map(a => [
          el('tr', { class: 'audit-row' }, el('td', {}, fmtTime(a.created_at_ms)), el('td', {}, a.who), el('td', {}, badge(a.verdict))),
          a.notes ? el('tr', { class: 'audit-note' }, el('td', { colspan: 3 }, el('pre', {}, a.notes))) : null])));
  const content = el('div', {},
    el('div', { class: 'task-head' },
      el('h2', { id: 'task-id' }, t.id), badge(t.status), el('span', {}, t.category), el('span', {}, `level ${t.level}`),
      el('span', {}, `pass rate ${fmtRate(t.pass_rate)}`),
      el('a', { href: `#/tasks?hash=${t.content_hash}` }, 'same content')),
    t.reject_reason ? el('p', { class: 'error' }, `rejected: ${t.reject_reason}`) : null,
    el('h3', {}, 'Prompt'), el('pre', { id: 'task-prompt' }, t.prompt),
    el('details', {}, el('summary', {}, 'System prompt'), el('pre', {}, v.environment.system_prompt)),
    el('h3', {}, `Tools (${v.environment.tools.length})`),
    el('div', { id: 'tools' }, v.environment.tools.map(s => {
      const fn = s.function || s;
      return el('details', {}, el('summary', {}, el('b', {}, String(fn.name)), ' — ', String(fn.description || '')), code(fn.parameters || s, 'json'));
    }), el('details', {}, el('summary', {}, 'tools.py'), code(v.environment.tools_code, 'python'))),
    el('h3', {}, 'Reference solution'), code(t.reference_solution, 'json'),
    el('details', {}, el('summary', {}, 'Answer schema and metadata'), code(t.answer_schema, 'json'), code(t.metadata, 'json')),
    el('h3', {}, 'Verifier (verify.py)'), el('div', { id: 'verifier' }, code(t.verifier_code, 'python')),
    el('h3', {}, `Validations (${v.validations.length})`),
    el('table', { id: 'validations' },
      el('tr', {}, ['check', 'attempt', 'expected', 'got', 'score', 'reason', 'ms'].map(h => el('th', {}, h))),
      v.validations.map(x => el('tr', { class: x.as_expected ? '' : 'unexpected' },
        el('td', {}, x.check), el('td', { class: 'num' }, x.attempt), el('td', {}, badge(x.expected)), el('td', {}, badge(x.got)),
        el('td', { class: 'num' }, x.score.toFixed(2)), el('td', {}, x.reason), el('td', { class: 'num' }, x.wall_ms)))),
    el('h3', {}, `Rollouts (${v.rollouts.length})`),
    el('div', { id: 'rollouts' }, v.rollouts.map(r => el('details', { class: 'rollout', 'data-rollout': r.id },
      el('summary', {}, `${r.model} #${r.attempt} `, badge(r.passed ? 'pass' : 'fail'),
        ` reward ${r.reward} · ${r.prompt_tokens}+${r.completion_tokens} tokens · ${r.wall_ms} ms · ${Array.isArray(r.trajectory) ? r.trajectory.length : 0} messages`),
      conversation(r.trajectory)))),
    el('h3', {}, 'World database'),
    el('div', { class: 'world-tables', id: 'world-tables' }, tables.map(w => w.error ? el('span', { class: 'error' }, w.error) :
      el('button', { 'data-table': w.name, onclick: ev => {
        for (const b of ev.target.parentNode.children) b.classList.remove('active');
        ev.target.classList.add('active');
        worldTable(id, w.name, 0, worldBox);
      } }, `${w.name} (${w.rows})`))),
    tables.length === 0 ? el('p', { class: 'muted' }, 'no world database') : null,
    worldBox);
  show(el('section', { id: 'task-page', class: 'layout' }, content, side));
}

// --- routing ----------------------------------------------------------------------------------
async function route() {
  const h = location.hash || '#/';
  try {
    if (h.startsWith('#/task/')) await taskPage(decodeURIComponent(h.slice(7).split('?')[0]));
    else if (h.startsWith('#/tasks')) await taskList();
    else await overview();
    document.body.dataset.ready = h;
  } catch (e) {
    showError(e);
  }
}

window.addEventListener('hashchange', route);
api('whoami').then(w => { document.getElementById('who').textContent = `auditing as ${w.user}`; }).catch(() => {});
route();
