// The flowsec dashboard: plain JavaScript, no framework. Data flow:
//   1. a token, kept in this tab's sessionStorage only, goes with every /api/v1 request (Authorization: Bearer);
//   2. on connecting, the page reads the appliance, mode, steering, policies, SAs and drops once over REST;
//   3. the event stream (WebSocket /api/v1/events?rate=1, the token offered as the subprotocol bearer.TOKEN) brings
//      each lane's load once a second, which moves the bars, the graph and the drops table, and the appliance's
//      events, which go to the event log and refresh what they changed;
//   4. while the stream is down the page polls /api/v1/lanes instead and reconnects with back-off;
//   5. the cluster's tunnels (GET /api/v1/tunnels and each assignment) are read every 2 s: which receiver lane each
//      SA of each direction lands on, its weight, both ends' lane load, and a switch for the balancing policy.
// Whatever the appliance says is inserted as text (textContent), never as markup.
'use strict';

(() => {
  const API = '/api/v1';
  const TOKEN_KEY = 'flowsec.token';
  const SUBPROTOCOL = 'flowsec.events.v1';
  const HISTORY_MS = 60_000;
  const RETRY_MIN_MS = 1_000;
  const RETRY_MAX_MS = 30_000;
  const POLL_MS = 2_000;
  const REFRESH_MS = 10_000;
  const TUNNELS_MS = 2_000;
  const BALANCING = ['static', 'sender', 'receiver'];
  const MAX_EVENTS = 30;
  const SERIES_COLOURS = 8;
  const SVG = 'http://www.w3.org/2000/svg';
  const number = new Intl.NumberFormat('en');

  const $ = (id) => document.getElementById(id);

  const state = {
    token: null,
    socket: null,
    retryMs: RETRY_MIN_MS,
    retryTimer: null,
    pollTimer: null,
    refreshTimer: null,
    tunnelsTimer: null,
    /** [{timeMs, lanes: [packets/s], total}], the last 60 s */
    history: [],
    /** the previous poll's packet counters per lane, for rates while the stream is down */
    lastPoll: null,
    /** every SA (GET /sas) and policy (GET /policies), for the SA groups */
    sas: [],
    policies: [],
  };

  // ---- the API ------------------------------------------------------------------------------------------------------

  class ApiProblem extends Error {
    constructor(status, problem) {
      super(problem && problem.detail ? problem.detail : 'HTTP ' + status);
      this.status = status;
      this.problem = problem;
    }

    describe() {
      const title = this.problem && this.problem.title ? this.problem.title : 'refused';
      return this.status + ' ' + title + ': ' + this.message;
    }
  }

  async function api(method, path, body) {
    const headers = { 'Authorization': 'Bearer ' + state.token, 'Accept': 'application/json' };
    const init = { method, headers, cache: 'no-store', credentials: 'omit' };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    const response = await fetch(API + path, init);
    const text = await response.text();
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch (e) {
      data = null;
    }
    if (!response.ok) {
      throw new ApiProblem(response.status, data);
    }
    return data;
  }

  // ---- DOM helpers: text only ---------------------------------------------------------------------------------------

  function el(tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) {
      node.textContent = String(text);
    }
    if (className) {
      node.className = className;
    }
    return node;
  }

  function svg(tag, attributes) {
    const node = document.createElementNS(SVG, tag);
    for (const [name, value] of Object.entries(attributes)) {
      node.setAttribute(name, String(value));
    }
    return node;
  }

  function setText(id, value) {
    $(id).textContent = value === undefined || value === null ? '–' : String(value);
  }

  function row(cells) {
    const tr = el('tr');
    for (const cell of cells) {
      tr.append(cell instanceof Node ? cell : el('td', cell));
    }
    return tr;
  }

  function setConnection(stateName, text) {
    const status = $('connection');
    status.dataset.state = stateName;
    status.textContent = text;
  }

  function showProblem(text) {
    const problem = $('control-problem');
    problem.textContent = text || '';
    problem.hidden = !text;
  }

  function duration(seconds) {
    const s = Math.floor(seconds);
    if (s < 60) return s + ' s';
    if (s < 3600) return Math.floor(s / 60) + ' min ' + (s % 60) + ' s';
    if (s < 86400) return Math.floor(s / 3600) + ' h ' + Math.floor((s % 3600) / 60) + ' min';
    return Math.floor(s / 86400) + ' d ' + Math.floor((s % 86400) / 3600) + ' h';
  }

  // ---- 1. the token -------------------------------------------------------------------------------------------------

  function connect(token) {
    disconnect();
    state.token = token;
    sessionStorage.setItem(TOKEN_KEY, token);
    setConnection('connecting', 'connecting…');
    refreshAll().then(() => {
      openStream();
      state.refreshTimer = setInterval(refreshSlow, REFRESH_MS);
      state.tunnelsTimer = setInterval(() => refreshTunnels().catch(() => {}), TUNNELS_MS);
    }).catch((e) => {
      if (e instanceof ApiProblem && (e.status === 401 || e.status === 429)) {
        sessionStorage.removeItem(TOKEN_KEY);
        setConnection('refused', 'token refused: ' + e.describe());
      } else {
        setConnection('refused', 'cannot reach the API: ' + (e instanceof ApiProblem ? e.describe() : e.message));
      }
    });
  }

  function disconnect() {
    if (state.socket) {
      const socket = state.socket;
      state.socket = null;
      socket.close(1000, 'bye');
    }
    for (const timer of ['retryTimer', 'pollTimer', 'refreshTimer', 'tunnelsTimer']) {
      clearTimeout(state[timer]);
      clearInterval(state[timer]);
      state[timer] = null;
    }
    state.retryMs = RETRY_MIN_MS;
    state.history = [];
    state.lastPoll = null;
    state.token = null;
  }

  // ---- 2. REST reads ------------------------------------------------------------------------------------------------

  async function refreshAll() {
    await refreshAppliance();   // first and alone: a refused token stops here
    await Promise.all([refreshMode(), refreshSteering(), refreshSas(), refreshDrops(), refreshTunnels()]);
  }

  function refreshSlow() {
    refreshAppliance().catch(() => {});
    refreshSas().catch(() => {});
    if (!state.socket || state.socket.readyState !== WebSocket.OPEN) {
      refreshDrops().catch(() => {});
    }
  }

  async function refreshAppliance() {
    const appliance = await api('GET', '/appliance');
    setText('appliance-name', appliance.name);
    setText('appliance-version', appliance.version);
    setText('appliance-transport', appliance.transport);
    setText('appliance-lanes', appliance.lanes);
    setText('appliance-uptime', duration(appliance.uptimeSeconds));
    setText('appliance-health', appliance.health);
    $('appliance-health').dataset.health = appliance.health;
  }

  async function refreshMode() {
    renderMode((await api('GET', '/mode')).mode);
  }

  async function refreshSteering() {
    const steering = await api('GET', '/steering');
    renderSteering(steering.steering, steering.inEffect);
  }

  async function refreshSas() {
    const [policies, sas] = await Promise.all([api('GET', '/policies'), api('GET', '/sas')]);
    state.policies = policies;
    state.sas = sas;
    renderSas();
  }

  async function refreshDrops() {
    const drops = await api('GET', '/drops');
    renderDrops(drops.totals, drops.lanes.map((lane) => lane.drops));
  }

  // ---- mode and steering --------------------------------------------------------------------------------------------

  function renderMode(mode) {
    setText('mode', mode);
    for (const button of $('mode-buttons').querySelectorAll('button')) {
      button.setAttribute('aria-pressed', String(button.dataset.mode === mode));
    }
  }

  function renderSteering(steering, inEffect) {
    setText('steering', inEffect && inEffect !== steering ? steering + ' (in effect: ' + inEffect + ')' : steering);
    for (const button of $('steering-buttons').querySelectorAll('button')) {
      button.setAttribute('aria-pressed', String(button.dataset.steering === steering));
    }
  }

  async function change(path, body, render) {
    showProblem(null);
    try {
      render(await api('PUT', path, body));
    } catch (e) {
      showProblem(e instanceof ApiProblem ? e.describe() : 'the change failed: ' + e.message);
    }
  }

  // ---- 3. the event stream ------------------------------------------------------------------------------------------

  function openStream() {
    state.retryTimer = null;
    if (!state.token) return;
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    let socket;
    try {
      socket = new WebSocket(scheme + '//' + location.host + API + '/events?rate=1', [SUBPROTOCOL, 'bearer.' + state.token]);
    } catch (e) {
      streamClosed(null, 'cannot open the event stream: ' + e.message);
      return;
    }
    state.socket = socket;
    socket.onopen = () => {
      state.retryMs = RETRY_MIN_MS;
      stopPolling();
      setConnection('live', 'connected: live from the event stream');
    };
    socket.onmessage = (message) => {
      let data;
      try {
        data = JSON.parse(message.data);
      } catch (e) {
        return;
      }
      if (data.type === 'load') {
        onLoad(data);
      } else if (data.type === 'event') {
        onEvent(data);
      }
    };
    socket.onclose = (event) => streamClosed(socket, 'event stream closed (' + event.code
      + (event.reason ? ' ' + event.reason : '') + ')');
  }

  function streamClosed(socket, why) {
    if (socket !== null && state.socket !== socket) {
      return;   // a socket we closed ourselves
    }
    state.socket = null;
    if (!state.token) return;
    const seconds = Math.round(state.retryMs / 1000);
    setConnection('retrying', why + '; polling, reconnecting in ' + seconds + ' s');
    startPolling();
    state.retryTimer = setTimeout(openStream, state.retryMs);
    state.retryMs = Math.min(state.retryMs * 2, RETRY_MAX_MS);
  }

  function onLoad(message) {
    renderLanes(message.lanes.map((lane) => ({
      lane: lane.lane, busyFraction: lane.busyFraction, packetsPerSecond: lane.packetsPerSecond,
      queueDelayMs: lane.queueDelayMs,
    })), 'websocket');
    if (message.mode) renderMode(message.mode);
    const lanes = message.lanes.map((lane) => withoutDelivered(lane.outcomes || {}));
    renderDrops(withoutDelivered(message.totals ? message.totals.outcomes || {} : {}), lanes);
  }

  function withoutDelivered(outcomes) {
    const drops = {};
    for (const [reason, count] of Object.entries(outcomes)) {
      // accepted, bypassed and the data plane's own markers are not drops
      if (reason !== 'accepted' && reason !== 'bypass' && reason !== 'marker') drops[reason] = count;
    }
    return drops;
  }

  function onEvent(message) {
    logEvent(message);
    const name = String(message.event || '');
    if (name === 'mode-changed') {
      renderMode(message.mode);
    } else if (name === 'steering-changed') {
      refreshSteering().catch(() => {});
    } else if (name.startsWith('sa-') || name === 'weights-changed') {
      refreshSas().catch(() => {});
    } else if (name === 'lane-fault') {
      refreshAppliance().catch(() => {});
    } else if (name.startsWith('peer-') || name === 'assignment-changed' || name === 'balancing-changed') {
      refreshTunnels().catch(() => {});
    }
  }

  function logEvent(message) {
    const details = Object.entries(message)
      .filter(([key]) => key !== 'type' && key !== 'time' && key !== 'event')
      .map(([key, value]) => key + '=' + (typeof value === 'object' ? JSON.stringify(value) : value))
      .join(' ');
    const item = el('li');
    const time = new Date(message.time || Date.now());
    item.append(el('time', isNaN(time) ? '' : time.toLocaleTimeString('en-GB')), ' ',
      el('strong', message.event), ' ', el('span', details));
    const list = $('events');
    list.prepend(item);
    while (list.children.length > MAX_EVENTS) list.lastChild.remove();
  }

  // ---- 4. polling while the stream is down --------------------------------------------------------------------------

  function startPolling() {
    if (state.pollTimer) return;
    state.lastPoll = null;
    poll();
    state.pollTimer = setInterval(poll, POLL_MS);
  }

  function stopPolling() {
    clearInterval(state.pollTimer);
    state.pollTimer = null;
  }

  async function poll() {
    let lanes;
    try {
      lanes = await api('GET', '/lanes');
    } catch (e) {
      return;
    }
    const nowMs = Date.now();
    const counters = lanes.map((lane) => (lane.io['site-packets-read'] || 0) + (lane.io['tunnel-datagrams-received'] || 0));
    const last = state.lastPoll;
    state.lastPoll = { timeMs: nowMs, counters };
    if (!last || !state.pollTimer) return;   // the first poll is the baseline
    const seconds = (nowMs - last.timeMs) / 1000;
    renderLanes(lanes.map((lane, i) => ({
      lane: lane.lane,
      busyFraction: lane.busyFraction,
      packetsPerSecond: Math.max(0, Math.round((counters[i] - (last.counters[i] || 0)) / seconds)),
      queueDelayMs: lane.receiveQueue ? lane.receiveQueue.delayMs : 0,
    })), 'polling');
  }

  // ---- lanes: bars and graph ----------------------------------------------------------------------------------------

  function renderLanes(lanes, source) {
    const live = $('live');
    live.dataset.source = source;
    live.textContent = source === 'websocket' ? 'live' : 'polling';

    const container = $('lanes');
    if (container.children.length !== lanes.length) {
      container.replaceChildren(...lanes.map((lane) => {
        const line = el('div', null, 'lane');
        const bar = el('div', null, 'bar');
        bar.append(el('div', null, 'fill series-' + (lane.lane % SERIES_COLOURS)));
        line.append(el('span', 'lane ' + lane.lane, 'lane-name'), bar, el('span', '', 'lane-value'));
        return line;
      }));
    }
    let total = 0;
    lanes.forEach((lane, i) => {
      const line = container.children[i];
      const busy = Math.min(1, Math.max(0, Number(lane.busyFraction) || 0));
      const packets = Math.max(0, Number(lane.packetsPerSecond) || 0);
      total += packets;
      line.dataset.lane = lane.lane;
      line.dataset.packetsPerSecond = packets;
      const delayMs = Math.max(0, Number(lane.queueDelayMs) || 0);
      line.dataset.busyFraction = busy;
      line.dataset.queueDelayMs = delayMs;
      line.querySelector('.fill').style.width = (busy * 100).toFixed(1) + '%';
      // the queue delay shows a lane held back (a capped or shared CPU) before its busy fraction does
      line.querySelector('.lane-value').textContent = (busy * 100).toFixed(1) + ' % busy · '
        + number.format(packets) + ' packets/s · waits ' + delayMs.toFixed(1) + ' ms';
    });

    const nowMs = Date.now();
    state.history.push({ timeMs: nowMs, lanes: lanes.map((lane) => Number(lane.packetsPerSecond) || 0), total });
    while (state.history.length && state.history[0].timeMs < nowMs - HISTORY_MS) state.history.shift();
    drawGraph(nowMs, lanes.length);
  }

  function drawGraph(nowMs, laneCount) {
    const graph = $('graph');
    const width = Math.max(100, Math.round(graph.clientWidth || 600));   // one unit a pixel: text is not stretched
    const height = 200;
    const top = 16;
    graph.setAttribute('viewBox', '0 0 ' + width + ' ' + height);
    const max = Math.max(10, ...state.history.map((point) => point.total));
    const x = (timeMs) => ((timeMs - (nowMs - HISTORY_MS)) / HISTORY_MS * width).toFixed(1);
    const y = (value) => (height - value / max * (height - top)).toFixed(1);
    const line = (pick, className) => svg('polyline', {
      class: className,
      points: state.history.map((point) => x(point.timeMs) + ',' + y(pick(point))).join(' '),
    });

    const children = [
      svg('line', { class: 'grid', x1: 0, x2: width, y1: y(max), y2: y(max) }),
      svg('line', { class: 'grid', x1: 0, x2: width, y1: y(max / 2), y2: y(max / 2) }),
    ];
    for (let lane = 0; lane < laneCount; lane++) {
      children.push(line((point) => point.lanes[lane] || 0, 'series series-' + (lane % SERIES_COLOURS)));
    }
    children.push(line((point) => point.total, 'series series-total'));
    const label = svg('text', { class: 'axis', x: 4, y: 12 });
    label.textContent = number.format(max) + ' packets/s';
    const span = svg('text', { class: 'axis', x: width - 4, y: height - 4, 'text-anchor': 'end' });
    span.textContent = 'last 60 s';
    children.push(label, span);
    graph.replaceChildren(...children);

    const legend = $('legend');
    if (legend.children.length !== laneCount + 1) {
      const entries = [];
      for (let lane = 0; lane < laneCount; lane++) {
        entries.push(legendEntry('lane ' + lane, 'series-' + (lane % SERIES_COLOURS)));
      }
      entries.push(legendEntry('total', 'series-total'));
      legend.replaceChildren(...entries);
    }
  }

  function legendEntry(text, className) {
    const entry = el('span', null, 'legend-entry');
    entry.append(el('span', null, 'swatch ' + className), text);
    return entry;
  }

  // ---- drops and SAs ------------------------------------------------------------------------------------------------

  function renderDrops(totals, lanes) {
    const head = $('drops-head');
    if (head.children.length !== lanes.length + 2) {
      head.replaceChildren(el('th', 'reason'), el('th', 'total'), ...lanes.map((_, i) => el('th', 'lane ' + i)));
    }
    const reasons = Object.keys(totals).filter((reason) => totals[reason] > 0).sort();
    const rows = reasons.map((reason) => row([el('td', reason), el('td', number.format(totals[reason]), 'count'),
      ...lanes.map((drops) => el('td', number.format(drops[reason] || 0), 'count'))]));
    if (!rows.length) {
      const cell = el('td', 'no drops', 'empty');
      cell.colSpan = lanes.length + 2;
      rows.push(row([cell]));
    }
    $('drops').tBodies[0].replaceChildren(...rows);
  }

  function renderSas() {
    const lanesOf = new Map(state.sas.map((sa) => [sa.direction + ' ' + sa.spi, sa]));
    const groups = state.policies.map((policy) => {
      const members = el('td');
      if (policy.outbound) {
        policy.outbound.forEach((spi, i) => {
          const sa = lanesOf.get('outbound ' + spi);
          const weight = policy.weights ? policy.weights[i] : '?';
          members.append(el('span', spi + ' ×' + weight + (sa ? ' → lane ' + sa.lane : ''), 'sa'));
        });
      } else {
        members.textContent = policy.action;
      }
      return row([el('td', policy.name), el('td', policy.selector, 'selector'), members]);
    });
    $('groups').tBodies[0].replaceChildren(...groups);

    const inbound = state.sas.filter((sa) => sa.direction === 'inbound').map((sa) => {
      const line = row([sa.name, sa.spi, sa.suite || '', el('td', sa.lane, 'count'), el('td', number.format(sa.packets), 'count'), sa.state]);
      line.dataset.spi = sa.spi;
      line.dataset.lane = sa.lane;
      return line;
    });
    $('inbound').tBodies[0].replaceChildren(...inbound);
  }

  // ---- 5. cluster tunnels -------------------------------------------------------------------------------------------

  async function refreshTunnels() {
    const tunnels = await api('GET', '/tunnels');
    const assignments = await Promise.all(tunnels.map((t) => api('GET', '/tunnels/' + encodeURIComponent(t.id) + '/assignment')));
    $('tunnels-none').hidden = tunnels.length > 0;
    $('tunnels').replaceChildren(...tunnels.map((tunnel, i) => renderTunnel(tunnel, assignments[i])));
  }

  function renderTunnel(tunnel, assignment) {
    const box = el('div', null, 'tunnel');
    box.dataset.tunnel = tunnel.id;
    const peer = el('span', tunnel.peerState, 'badge');
    peer.dataset.peer = tunnel.peerState === 'up' ? 'up' : 'down';
    box.append(el('h3', tunnel.id + ' (policy ' + tunnel.policy + ', peer ' + tunnel.peer + ') '), peer);
    const buttons = el('div', null, 'buttons');
    for (const policy of BALANCING) {
      const button = el('button', policy);
      button.type = 'button';
      button.dataset.balancing = policy;
      button.setAttribute('aria-pressed', String(policy === tunnel.balancing));
      button.addEventListener('click', () => change('/tunnels/' + encodeURIComponent(tunnel.id) + '/balancing',
        { policy }, () => refreshTunnels().catch(() => {})));
      buttons.append(button);
    }
    box.append(el('p', 'balancing: '), buttons);
    for (const direction of ['sending', 'receiving']) {
      const half = assignment[direction] || { sas: [] };
      const table = el('table');
      table.dataset.direction = direction;
      const head = el('thead');
      head.append(row(['SPI', 'sender lane', 'receiver lane', 'weight']));
      const body = el('tbody');
      for (const sa of half.sas || []) {
        body.append(row([sa.spi, el('td', sa.senderLane, 'count'), el('td', sa.receiverLane, 'count'), el('td', sa.weight, 'count')]));
      }
      table.append(head, body);
      box.append(el('h4', direction + ' (' + half.key + ') v' + half.version + (half.author ? ' by ' + half.author : '')), table);
    }
    const load = assignment.load || {};
    for (const end of ['local', 'peer']) {
      const report = load[end];
      if (!report) continue;
      const bars = el('div', null, 'tunnel-load');
      for (const lane of report.lanes || []) {
        const bar = el('span', 'lane ' + lane.lane + ' ' + Math.round(100 * lane.busy) + '% · '
          + Math.round(Number(lane.queueDelayMs) || 0) + ' ms', 'tunnel-lane');
        bar.style.setProperty('--busy', String(Math.min(1, Math.max(0, lane.busy))));
        bars.append(bar);
      }
      box.append(el('h4', end === 'local' ? 'this end\'s lanes' : 'peer\'s lanes (' + report.member + ')'), bars);
    }
    return box;
  }

  // ---- wiring -------------------------------------------------------------------------------------------------------

  document.addEventListener('DOMContentLoaded', () => {
    $('login').addEventListener('submit', (event) => {
      event.preventDefault();
      const token = $('token').value.trim();
      if (token) connect(token);
    });
    $('forget').addEventListener('click', () => {
      disconnect();
      sessionStorage.removeItem(TOKEN_KEY);
      $('token').value = '';
      setConnection('disconnected', 'not connected');
    });
    for (const button of $('mode-buttons').querySelectorAll('button')) {
      button.addEventListener('click', () => change('/mode', { mode: button.dataset.mode }, (r) => renderMode(r.mode)));
    }
    for (const button of $('steering-buttons').querySelectorAll('button')) {
      button.addEventListener('click', () => change('/steering', { steering: button.dataset.steering },
        (r) => renderSteering(r.steering, r.inEffect)));
    }
    const saved = sessionStorage.getItem(TOKEN_KEY);
    if (saved) connect(saved);
  });
})();
