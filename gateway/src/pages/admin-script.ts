/**
 * The admin console's script (served at /_tenancy/admin.js), shared by its pages; `data-page`
 * on <main> says which one. It reads the supervisor's admin API through the gateway
 * (/_tenancy/admin/api/…, authorised by the HttpOnly admin cookie: the script never holds a
 * token) and writes every value with textContent, never as HTML. The tenants table and the
 * tenant page refresh every 5 seconds (polling: one request per open console, cheap for the
 * supervisor, and no stream to hold open through nginx).
 */
export const ADMIN_SCRIPT = `(() => {
  'use strict';
  const main = document.getElementById('main');
  const $ = (id) => document.getElementById(id);
  const API = '/_tenancy/admin/api';
  const status = (text, isError) => {
    $('status').textContent = text;
    $('status').className = isError ? 'error' : '';
  };
  const when = (ms) => (ms === null || ms === undefined ? '—' : new Date(ms).toLocaleString());
  const bytes = (n) => {
    if (n === null || n === undefined) return '—';
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return (i ? n.toFixed(1) : String(n)) + ' ' + units[i];
  };
  const el = (tag, text, className) => {
    const node = document.createElement(tag);
    if (text !== undefined) node.textContent = String(text);
    if (className) node.className = className;
    return node;
  };
  const row = (cells) => {
    const tr = document.createElement('tr');
    for (const cell of cells) {
      const td = document.createElement('td');
      if (cell instanceof Node) td.append(cell); else td.textContent = cell === null || cell === undefined ? '—' : String(cell);
      tr.append(td);
    }
    return tr;
  };
  const stateBadge = (state) => el('span', state, 'state state-' + state);
  // The account's fate, when it has one: a deletion scheduled, or the inactivity policy's warning.
  const accountNote = (tenant) => {
    if (tenant.deletionDueAt !== null && tenant.deletionDueAt !== undefined) return 'Deletion due ' + when(tenant.deletionDueAt);
    if (tenant.inactiveWarning) return 'Inactive: deletion on ' + when(tenant.inactiveWarning.deletionAt) + ' unless they sign in';
    return null;
  };
  const accountMark = (tenant) => {
    const note = accountNote(tenant);
    return note === null ? null : el('span', note, 'mark mark-account');
  };
  const list = (dl, pairs) => {
    dl.replaceChildren();
    for (const [term, value] of pairs) {
      const dd = document.createElement('dd');
      if (value instanceof Node) dd.append(value); else dd.textContent = value === null || value === undefined ? '—' : String(value);
      dl.append(el('dt', term), dd);
    }
  };

  async function api(method, path, expectText) {
    const res = await fetch(API + path, { method, headers: { accept: expectText ? 'text/plain' : 'application/json' } });
    if (res.status === 401) {
      location.assign('/_tenancy/admin/login?next=' + encodeURIComponent(location.pathname));
      throw new Error('signed out');
    }
    if (res.status === 204) return null;
    if (!res.ok) {
      const problem = await res.json().catch(() => ({}));
      throw new Error(problem.message || problem.code || 'the request failed (' + res.status + ')');
    }
    return expectText ? res.text() : res.json();
  }

  function tenantsPage() {
    let cursor = null;
    let next = null;
    const load = async () => {
      const query = new URLSearchParams({ limit: '20' });
      const q = $('q').value.trim();
      if (q) query.set('q', q);
      if ($('state').value) query.set('state', $('state').value);
      if (cursor) query.set('after', cursor);
      const [summary, page] = await Promise.all([api('GET', '/summary'), api('GET', '/tenants?' + query)]);
      const counts = summary.tenants;
      const running = (counts.running || 0) + (counts.waking || 0) + (counts.stopping || 0);
      const tiles = [
        ['Running (of max)', running + ' / ' + summary.capacity.maxRunning],
        ['Waking', counts.waking || 0],
        ['Paused', counts.paused || 0],
        ['Asleep', counts.asleep || 0],
        ['Failed', counts.failed || 0],
        ['Start queue', summary.capacity.startQueue],
        ['Starts at once', summary.capacity.wakeConcurrency],
      ];
      $('capacity').replaceChildren(...tiles.map(([label, value]) => {
        const tile = el('div', undefined, 'tile');
        tile.append(el('b', value), el('span', label, 'muted'));
        return tile;
      }));
      const rows = page.items.map((tenant) => {
        const link = el('a', tenant.userId);
        link.href = '/_tenancy/admin/tenants/' + encodeURIComponent(tenant.userId);
        const user = document.createDocumentFragment();
        user.append(link);
        const mark = accountMark(tenant);
        if (mark) user.append(' ', mark);
        return row([user, stateBadge(tenant.state), tenant.plan, when(tenant.lastActivity), when(tenant.idleDeadline),
          tenant.lastWakeReadyAt ? when(tenant.lastWakeReadyAt) + (tenant.lastWakeMs !== null ? ' (' + tenant.lastWakeMs + ' ms)' : '') : '—',
          tenant.failureCount]);
      });
      $('tenants').replaceChildren(...rows);
      if (rows.length === 0) $('tenants').append(row(['No tenants match.']));
      next = page.next || null;
      $('next').disabled = next === null;
      $('first').disabled = cursor === null;
      $('updated').textContent = page.items.length + ' tenants shown, updated ' + new Date().toLocaleTimeString();
    };
    const reload = () => load().catch((err) => status(err.message, true));
    $('search').addEventListener('submit', (event) => { event.preventDefault(); cursor = null; reload(); });
    $('next').addEventListener('click', () => { if (next) { cursor = next; reload(); } });
    $('first').addEventListener('click', () => { cursor = null; reload(); });
    reload();
    setInterval(reload, 5000);
  }

  function tenantPage() {
    const userId = main.dataset.userId;
    const base = '/tenants/' + encodeURIComponent(userId);
    const loadLogs = () => api('GET', base + '/logs?tail=200', true)
      .then((text) => { $('logs').textContent = text || '(no output)'; })
      .catch((err) => { $('logs').textContent = err.message; });
    const load = async () => {
      const [tenant, audit] = await Promise.all([
        api('GET', base),
        api('GET', '/audit?limit=20&target=' + encodeURIComponent(userId)),
      ]);
      list($('overview'), [
        ['State', stateBadge(tenant.state + (tenant.phase ? ' (' + tenant.phase + ')' : ''))],
        ['Plan', tenant.plan],
        ['Account', accountMark(tenant) || 'active'],
        ['Last seen (sign-in or API key)', when(tenant.lastSeenAt)],
        ['Last activity', when(tenant.lastActivity)],
        ['Idle deadline', when(tenant.idleDeadline)],
        ['Last wake', when(tenant.lastWakeReadyAt) + (tenant.lastWakeMs !== null ? ' (' + tenant.lastWakeMs + ' ms)' : '')],
        ['Wakes / failures', tenant.wakeCount + ' / ' + tenant.failureCount],
        ['Last stop', tenant.stopReason ? tenant.stopReason + (tenant.stopDetail ? ': ' + tenant.stopDetail : '') : '—'],
        ['Limits', bytes(tenant.limits.memoryBytes) + ' memory, ' + tenant.limits.cpus + ' CPUs, ' + tenant.limits.pids + ' PIDs, egress ' + (tenant.limits.egress ? 'on' : 'off')],
      ]);
      const usage = tenant.usage;
      list($('usage'), [
        ['Disk used', tenant.disk ? bytes(tenant.disk.usedBytes) + ' of ' + bytes(tenant.disk.sizeBytes) : 'not measured (' + bytes(tenant.limits.diskBytes) + ' quota)'],
        ['Messages / replies', usage ? usage.messages + ' / ' + usage.replies : '—'],
        ['Tokens used', usage ? usage.tokensUsed : '—'],
        ['Bytes stored', usage ? bytes(usage.bytesStored) : '—'],
        ['Last report', usage ? when(usage.receivedAt) : 'none yet'],
      ]);
      $('audit').replaceChildren(...audit.items.map((entry) => row([when(entry.at), entry.actor, entry.action, entry.result, entry.detail ? JSON.stringify(entry.detail) : ''])));
    };
    const reload = () => load().catch((err) => status(err.message, true));
    for (const button of document.querySelectorAll('button[data-action]')) {
      button.addEventListener('click', async () => {
        const action = button.dataset.action;
        const path = action === 'disable' || action === 'enable'
          ? '/users/' + encodeURIComponent(userId) + '/' + action
          : base + '/' + action;
        for (const other of document.querySelectorAll('button[data-action]')) other.disabled = true;
        status(button.textContent + '…');
        try {
          await api('POST', path);
          status(button.textContent + ': done.');
        } catch (err) { status(button.textContent + ': ' + err.message, true); }
        for (const other of document.querySelectorAll('button[data-action]')) other.disabled = false;
        await reload();
        loadLogs();
      });
    }
    $('confirm').addEventListener('input', () => { $('delete-button').disabled = $('confirm').value !== userId; });
    $('delete').addEventListener('submit', async (event) => {
      event.preventDefault();
      if ($('confirm').value !== userId) return;
      status('Deleting…');
      try {
        await api('DELETE', base + '?confirm=' + encodeURIComponent($('confirm').value));
        location.assign('/_tenancy/admin?deleted=' + encodeURIComponent(userId));
      } catch (err) { status('Delete: ' + err.message, true); }
    });
    $('reload-logs').addEventListener('click', loadLogs);
    reload();
    loadLogs();
    setInterval(reload, 5000);
  }

  function auditPage() {
    let before = null;
    let oldest = null;
    const load = async () => {
      const query = new URLSearchParams({ limit: '50' });
      if ($('target').value.trim()) query.set('target', $('target').value.trim());
      if ($('action').value.trim()) query.set('action', $('action').value.trim());
      if (before) query.set('before', String(before));
      const page = await api('GET', '/audit?' + query);
      $('audit').replaceChildren(...page.items.map((entry) => row([entry.id, when(entry.at), entry.actor, entry.action, entry.target, entry.result, entry.detail ? JSON.stringify(entry.detail) : ''])));
      if (page.items.length === 0) $('audit').append(row(['No entries match.']));
      oldest = page.items.length === 50 ? page.items[page.items.length - 1].id : null;
      $('older').disabled = oldest === null;
      $('newest').disabled = before === null;
      $('updated').textContent = page.items.length + ' entries, newest first';
    };
    const reload = () => load().catch((err) => status(err.message, true));
    $('filters').addEventListener('submit', (event) => { event.preventDefault(); before = null; reload(); });
    $('older').addEventListener('click', () => { if (oldest) { before = oldest; reload(); } });
    $('newest').addEventListener('click', () => { before = null; reload(); });
    reload();
  }

  const deleted = new URLSearchParams(location.search).get('deleted');
  if (deleted && $('status')) $('status').textContent = 'Tenant ' + deleted + ' deleted.';
  ({ tenants: tenantsPage, tenant: tenantPage, audit: auditPage })[main.dataset.page]();
})();
`;
