// rtcgw's demo web phone: JsSIP (global JsSIP, from jssip.min.js) over SIP-over-WebSocket to rtcgw.
//
// Fields can be preset from the query string: ?uri=&password=&ws=&target=&autoanswer=1&register=1
// (register=1 registers at once). ?processing=off turns off echo cancellation, noise suppression
// and gain control on the microphone (for test tones).
//
// What the page does is also readable from window.phone (used by the browser test):
//   phone.state    { registration, connection, call, error }
//   phone.events   every log line, oldest first
//   phone.messages every MESSAGE sent or received: { direction, peer, body, status }
'use strict';

(() => {
  const $ = (id) => document.getElementById(id);
  const el = {
    status: $('status'), accountForm: $('account-form'), uri: $('uri'), password: $('password'),
    wsUrl: $('ws-url'), register: $('register'), unregister: $('unregister'), target: $('target'),
    call: $('call'), answer: $('answer'), hangup: $('hangup'), autoAnswer: $('auto-answer'),
    callState: $('call-state'), remoteAudio: $('remote-audio'), messageForm: $('message-form'),
    messageText: $('message-text'), send: $('send'), messages: $('messages'), log: $('log'),
    clearLog: $('clear-log'),
  };

  const state = { registration: 'unregistered', connection: 'disconnected', call: 'idle', error: '' };
  const events = [];
  const messages = [];
  const messageStatus = new WeakMap();  // message -> its status element
  let ua = null;
  let session = null;

  // --- log and state -------------------------------------------------------------------------

  function log(text, kind = 'info') {
    const time = new Date().toISOString().slice(11, 23);
    events.push({ time, kind, text });
    const li = document.createElement('li');
    li.className = kind;
    const t = document.createElement('time');
    t.textContent = time;
    li.append(t, ' ', text);
    el.log.append(li);
    el.log.scrollTop = el.log.scrollHeight;
  }

  const REGISTRATION_TEXT = {
    unregistered: 'Not registered', connecting: 'Connecting…', registering: 'Registering…',
    registered: 'Registered', unregistering: 'Unregistering…', failed: 'Registration failed',
  };

  function setRegistration(value, error = '') {
    state.registration = value;
    if (error) state.error = error;
    el.status.dataset.state = value;
    el.status.textContent = REGISTRATION_TEXT[value] + (error ? `: ${error}` : '');
    document.body.dataset.registration = value;
    updateButtons();
  }

  function setCall(value, text = value) {
    state.call = value;
    el.callState.dataset.state = value;
    el.callState.textContent = text;
    updateButtons();
  }

  function updateButtons() {
    const active = ua !== null;
    const registered = state.registration === 'registered';
    const inCall = session !== null;
    for (const input of [el.uri, el.password, el.wsUrl]) input.disabled = active;
    el.register.disabled = active;
    el.unregister.disabled = !active;
    el.call.disabled = !registered || inCall;
    el.answer.disabled = !(inCall && state.call === 'incoming');
    el.hangup.disabled = !inCall;
    el.send.disabled = !registered;
  }

  // --- settings --------------------------------------------------------------------------------

  const query = new URLSearchParams(location.search);
  const defaultWsUrl = location.host
    ? `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/`
    : 'ws://127.0.0.1:8080/';
  el.wsUrl.value = defaultWsUrl;
  for (const [key, input] of [['uri', el.uri], ['password', el.password], ['ws', el.wsUrl],
    ['target', el.target]]) {
    if (query.has(key)) input.value = query.get(key);
  }
  el.autoAnswer.checked = query.get('autoanswer') === '1';

  const audioConstraints = query.get('processing') === 'off'
    ? { echoCancellation: false, noiseSuppression: false, autoGainControl: false }
    : true;
  const callOptions = () => ({
    mediaConstraints: { audio: audioConstraints, video: false },
    pcConfig: { iceServers: [] },
  });

  // --- registration ----------------------------------------------------------------------------

  function register() {
    if (typeof JsSIP === 'undefined') {
      log('jssip.min.js did not load: run scripts/setup.sh to bundle it', 'error');
      return;
    }
    let socket;
    try {
      socket = new JsSIP.WebSocketInterface(el.wsUrl.value.trim());
    } catch (e) {
      log(`bad WebSocket URL: ${e.message}`, 'error');
      return;
    }
    try {
      ua = new JsSIP.UA({
        sockets: [socket],
        uri: el.uri.value.trim(),
        password: el.password.value,
        register: true,
        session_timers: false,
        user_agent: `rtcgw-demo JsSIP/${JsSIP.version}`,
      });
    } catch (e) {
      ua = null;
      log(`cannot start: ${e.message}`, 'error');
      return;
    }
    state.error = '';
    attachUa(ua);
    setRegistration('connecting');
    log(`connecting to ${el.wsUrl.value.trim()} as ${el.uri.value.trim()}`);
    ua.start();
  }

  function attachUa(agent) {
    agent.on('connecting', () => { state.connection = 'connecting'; });
    agent.on('connected', () => {
      state.connection = 'connected';
      log('WebSocket connected');
      if (state.registration === 'connecting') setRegistration('registering');
    });
    agent.on('disconnected', (e) => {
      if (agent !== ua) return;  // a stopped agent closing its socket
      state.connection = 'disconnected';
      log(`WebSocket disconnected${e && e.error ? ' (error)' : ''}`, e && e.error ? 'error' : 'info');
    });
    agent.on('registered', (e) => {
      log(`registered (${e.response.status_code} ${e.response.reason_phrase})`, 'ok');
      setRegistration('registered');
    });
    // Also when the WebSocket closes: rtcgw ends a registration with its connection.
    agent.on('unregistered', (e) => {
      log(e.response ? `unregistered (${e.response.status_code} ${e.response.reason_phrase})`
        : 'unregistered (WebSocket closed)', e.response ? 'ok' : 'error');
      stopUa(agent, 'unregistered');
    });
    agent.on('registrationFailed', (e) => {
      const why = e.response ? `${e.response.status_code} ${e.response.reason_phrase}` : e.cause;
      log(`registration failed: ${why}`, 'error');
      stopUa(agent, 'failed', why);
    });
    agent.on('newRTCSession', (e) => onNewSession(e.session, e.originator));
    agent.on('newMessage', (e) => onMessage(e));
  }

  function unregister() {
    if (!ua) return;
    if (state.registration === 'registered') {
      setRegistration('unregistering');
      log('unregistering');
      ua.unregister();
    } else {
      stopUa(ua, 'unregistered');
    }
  }

  function stopUa(agent, registration, error = '') {
    if (agent !== ua) return;
    if (session) session.terminate();
    ua = null;
    agent.stop();
    state.connection = 'disconnected';
    setRegistration(registration, error);
  }

  // --- calls -----------------------------------------------------------------------------------

  function call() {
    const target = el.target.value.trim();
    log(`calling ${target}`);
    try {
      ua.call(target, callOptions());
    } catch (e) {
      log(`cannot call: ${e.message}`, 'error');
    }
  }

  function onNewSession(s, originator) {
    if (session) {
      log(`busy: rejecting a call from ${s.remote_identity.uri}`);
      s.terminate({ status_code: 486 });
      return;
    }
    session = s;
    if (s.connection) attachPeerConnection(s.connection);
    s.on('peerconnection', (e) => attachPeerConnection(e.peerconnection));
    s.on('progress', (e) => {
      if (originator === 'local') {
        setCall('ringing', `ringing (${e.response ? e.response.status_code : ''})`);
        log(`call progress${e.response ? `: ${e.response.status_code} ${e.response.reason_phrase}` : ''}`);
      }
    });
    s.on('accepted', () => { log('call accepted', 'ok'); setCall('accepted', 'answered'); });
    s.on('confirmed', () => { log('call confirmed (ACK)', 'ok'); setCall('confirmed', 'in call'); });
    s.on('ended', (e) => endSession(s, `call ended by ${e.originator}: ${e.cause}`, 'info'));
    s.on('failed', (e) => endSession(s, `call failed (${e.originator}): ${e.cause}` +
      (e.message && e.message.status_code ? ` ${e.message.status_code}` : ''), 'error'));

    if (originator === 'local') {
      setCall('calling', `calling ${s.remote_identity.uri}`);
      return;
    }
    log(`incoming call from ${s.remote_identity.uri}`);
    setCall('incoming', `incoming call from ${s.remote_identity.uri}`);
    if (el.autoAnswer.checked) answer();
  }

  function answer() {
    if (!session || state.call !== 'incoming') return;
    log('answering');
    setCall('answering', 'answering');
    session.answer(callOptions());
  }

  function hangup() {
    if (session) session.terminate();
  }

  function endSession(s, text, kind) {
    if (s !== session) return;
    log(text, kind);
    session = null;
    el.remoteAudio.srcObject = null;
    setCall('idle', 'no call');
  }

  function attachPeerConnection(pc) {
    pc.addEventListener('track', (e) => {
      el.remoteAudio.srcObject = e.streams[0] || new MediaStream([e.track]);
    });
    pc.addEventListener('iceconnectionstatechange', () => log(`ICE ${pc.iceConnectionState}`));
  }

  // --- MESSAGE ---------------------------------------------------------------------------------

  function sendMessage() {
    const target = el.target.value.trim();
    const body = el.messageText.value;
    const entry = addMessage('out', target, body, 'sending');
    try {
      ua.sendMessage(target, body, {
        eventHandlers: {
          succeeded: (e) => {
            updateMessage(entry, `delivered (${e.response.status_code})`);
            log(`MESSAGE to ${target}: ${e.response.status_code} ${e.response.reason_phrase}`, 'ok');
          },
          failed: (e) => {
            const why = e.response ? `${e.response.status_code} ${e.response.reason_phrase}` : e.cause;
            updateMessage(entry, `failed (${why})`);
            log(`MESSAGE to ${target} failed: ${why}`, 'error');
          },
        },
      });
    } catch (e) {
      updateMessage(entry, `failed (${e.message})`);
      log(`cannot send MESSAGE: ${e.message}`, 'error');
    }
  }

  function onMessage(e) {
    if (e.originator !== 'remote') return;
    const from = e.request.from.uri.toString();
    addMessage('in', from, e.request.body || '', 'received');
    log(`MESSAGE from ${from}`, 'ok');
  }

  function addMessage(direction, peer, body, status) {
    const entry = { direction, peer, body, status };
    messages.push(entry);
    const li = document.createElement('li');
    li.className = direction;
    const head = document.createElement('span');
    head.className = 'peer';
    head.textContent = `${direction === 'in' ? 'from' : 'to'} ${peer}`;
    const text = document.createElement('span');
    text.className = 'body';
    text.textContent = body;
    const st = document.createElement('span');
    st.className = 'status';
    st.textContent = status;
    li.append(head, text, st);
    el.messages.prepend(li);
    messageStatus.set(entry, st);
    return entry;
  }

  function updateMessage(entry, status) {
    entry.status = status;
    messageStatus.get(entry).textContent = status;
  }

  // --- wiring ----------------------------------------------------------------------------------

  el.accountForm.addEventListener('submit', (e) => { e.preventDefault(); register(); });
  el.unregister.addEventListener('click', unregister);
  el.call.addEventListener('click', call);
  el.answer.addEventListener('click', answer);
  el.hangup.addEventListener('click', hangup);
  el.messageForm.addEventListener('submit', (e) => { e.preventDefault(); sendMessage(); });
  el.clearLog.addEventListener('click', () => { el.log.replaceChildren(); });
  window.addEventListener('beforeunload', () => { if (ua) ua.stop(); });

  window.phone = { state, events, messages };

  setRegistration('unregistered');
  setCall('idle', 'no call');
  log(typeof JsSIP === 'undefined'
    ? 'jssip.min.js did not load: run scripts/setup.sh to bundle it'
    : `JsSIP ${JsSIP.version} ready`, typeof JsSIP === 'undefined' ? 'error' : 'info');
  if (query.get('register') === '1') register();
})();
