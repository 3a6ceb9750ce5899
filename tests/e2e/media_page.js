// Injected by media_call.js into a page loaded from rtcgw (the demo page: it brings JsSIP and an
// origin rtcgw allows). Drives one JsSIP UA directly, leaving the demo's own phone idle, and
// exposes what the test reads as window.mediaTest:
//   start({ ws, uri, password })   register (state.registration: registering|registered|failed)
//   call(target, { video })        outgoing call (video: camera too, Chromium's fake device);
//                                  incoming calls are answered automatically, with video when
//                                  answerOptions.video is set
//   hold() / unhold()              re-INVITE (sendonly / sendrecv); resolve on the 200
//   hangup()                       session.terminate()
//   stats()                        a summary of RTCPeerConnection.getStats() (video: the video
//                                  streams' counters, when the call has any)
//   session()                      the call's JsSIP RTCSession (for dtmf_page.js)
//   state.call: idle|calling|incoming|answering|accepted|confirmed|ended|failed
//   calls[]: one entry per session: { direction, state, endedBy, cause, status, sdp... }
//   events[]: the page's log
'use strict';

(() => {
  const state = { registration: 'unregistered', call: 'idle', error: '' };
  const events = [];
  const calls = [];
  let ua = null;
  let session = null;
  let current = null;  // the calls[] entry of `session`

  const audio = document.createElement('audio');
  audio.autoplay = true;
  audio.id = 'media-test-audio';
  document.body.append(audio);

  // Shown once a call brings a video track: a rendered <video> is what a user would see (the
  // screenshots show the echoed test pattern).
  let videoEl = null;
  const answerOptions = { video: false };

  // What the issue asks of the browser: no ICE servers, one transport, RTCP muxed, and a
  // microphone with no processing (a steady test tone is otherwise suppressed); a camera only
  // when the call asks for one.
  const callOptions = ({ video = false } = {}) => ({
    mediaConstraints: {
      audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false },
      video: !!video,
    },
    pcConfig: { iceServers: [], bundlePolicy: 'max-bundle', rtcpMuxPolicy: 'require' },
  });

  function log(text) {
    const line = `${new Date().toISOString().slice(11, 23)} ${text}`;
    events.push(line);
    console.log(`[media-test] ${text}`);
  }

  function start({ ws, uri, password }) {
    // JsSIP's warnings and errors (why a description was refused, ...) into the console log
    JsSIP.debug.enable('JsSIP:WARN:*,JsSIP:ERROR:*');
    ua = new JsSIP.UA({
      sockets: [new JsSIP.WebSocketInterface(ws)],
      uri,
      password,
      register: true,
      session_timers: false,
      user_agent: `rtcgw-e2e-media JsSIP/${JsSIP.version}`,
    });
    state.registration = 'registering';
    ua.on('registered', (e) => {
      log(`registered (${e.response.status_code})`);
      state.registration = 'registered';
    });
    ua.on('registrationFailed', (e) => {
      state.error = e.response ? `${e.response.status_code} ${e.response.reason_phrase}` : e.cause;
      log(`registration failed: ${state.error}`);
      state.registration = 'failed';
    });
    ua.on('unregistered', () => { state.registration = 'unregistered'; });
    ua.on('disconnected', () => log('WebSocket disconnected'));
    ua.on('newRTCSession', (e) => onSession(e.session, e.originator, e.request));
    ua.start();
  }

  function onSession(s, originator, request) {
    const entry = {
      direction: originator === 'local' ? 'out' : 'in', state: 'new', endedBy: '', cause: '',
      status: 0, remoteSdp: '', localSdp: '', peer: s.remote_identity.uri.toString(),
      iceStates: [], trackSeen: false, sdpError: '',
    };
    if (session) {
      log(`busy: rejecting a call from ${entry.peer}`);
      s.terminate({ status_code: 486 });
      return;
    }
    session = s;
    current = entry;
    calls.push(entry);
    const setState = (v) => { entry.state = v; state.call = v; };
    if (s.connection) watchConnection(s.connection, entry);
    s.on('peerconnection', (e) => watchConnection(e.peerconnection, entry));
    s.on('sdp', (e) => {
      if (e.originator === 'remote') entry.remoteSdp = e.sdp; else entry.localSdp = e.sdp;
      log(`${e.originator} SDP (${e.type}):\n${e.sdp}`);
    });
    // why Chrome refused an SDP (e.g. "max-bundle configured but session description has no
    // BUNDLE group")
    s.on('peerconnection:setremotedescriptionfailed', (err) => {
      entry.sdpError = `setRemoteDescription: ${err && err.message ? err.message : err}`;
      log(entry.sdpError);
    });
    s.on('peerconnection:setlocaldescriptionfailed', (err) => {
      entry.sdpError = `setLocalDescription: ${err && err.message ? err.message : err}`;
      log(entry.sdpError);
    });
    s.on('progress', (e) => log(`progress ${e.response ? e.response.status_code : ''}`));
    s.on('accepted', () => { log('accepted'); setState('accepted'); });
    s.on('confirmed', () => { log('confirmed'); setState('confirmed'); });
    s.on('hold', (e) => log(`hold (${e.originator})`));
    s.on('unhold', (e) => log(`unhold (${e.originator})`));
    s.on('reinvite', () => log('re-INVITE from the far end'));
    s.on('update', () => log('UPDATE from the far end'));
    const finish = (kind, e) => {
      entry.endedBy = e.originator;
      entry.cause = e.cause;
      entry.status = e.message && e.message.status_code ? e.message.status_code : 0;
      log(`${kind} (${e.originator}): ${e.cause}${entry.status ? ` ${entry.status}` : ''}`);
      setState(kind);
      if (session === s) {
        session = null;
        audio.srcObject = null;
      }
    };
    s.on('ended', (e) => finish('ended', e));
    s.on('failed', (e) => finish('failed', e));

    if (originator === 'local') {
      setState('calling');
      return;
    }
    log(`incoming call from ${entry.peer}`);
    entry.remoteSdp = request && request.body ? request.body : '';
    setState('incoming');
    setState('answering');
    try {
      s.answer(callOptions(answerOptions));
    } catch (e) {
      log(`answer threw: ${e.message}`);
    }
  }

  function watchConnection(pc, entry) {
    if (entry.watched) return;
    entry.watched = true;
    pc.addEventListener('track', (e) => {
      entry.trackSeen = true;
      audio.srcObject = e.streams[0] || new MediaStream([e.track]);
      audio.play().catch((err) => log(`audio.play: ${err.message}`));
      if (e.track.kind === 'video') {
        if (!videoEl) {
          videoEl = document.createElement('video');
          Object.assign(videoEl, { autoplay: true, muted: true, playsInline: true, width: 320 });
          videoEl.id = 'media-test-video';
          document.body.append(videoEl);
        }
        videoEl.srcObject = new MediaStream([e.track]);
        videoEl.play().catch((err) => log(`video.play: ${err.message}`));
      }
    });
    pc.addEventListener('iceconnectionstatechange', () => {
      entry.iceStates.push(pc.iceConnectionState);
      log(`ICE ${pc.iceConnectionState}`);
    });
    pc.addEventListener('connectionstatechange', () => log(`connection ${pc.connectionState}`));
  }

  function call(target, options = {}) {
    log(`calling ${target}${options.video ? ' with video' : ''}`);
    ua.call(target, callOptions(options));
  }

  // hold/unhold resolve 'ok' once the re-INVITE is answered 2xx, else why not (JsSIP refused to
  // send it, or the call ended: JsSIP hangs up when the re-INVITE fails).
  function reoffer(method) {
    return new Promise((resolve) => {
      const s = session;
      if (!s) { resolve('no call'); return; }
      const ended = () => resolve(`the call ended: ${current ? current.cause : ''}`);
      s.once('ended', ended);
      s.once('failed', ended);
      const sent = s[method]({}, () => resolve('ok'));
      if (!sent) resolve(`JsSIP refused to ${method} (not ready to re-offer)`);
    });
  }

  function hangup() {
    if (session) session.terminate();
  }

  async function stats() {
    const pc = session && session.connection;
    if (!pc) return null;
    const report = await pc.getStats();
    const out = { inbound: null, outbound: null, transport: null, pair: null, codecs: {},
      video: null };
    const byId = new Map();
    report.forEach((r) => byId.set(r.id, r));
    report.forEach((r) => {
      if (r.type === 'inbound-rtp' && r.kind === 'audio') {
        out.inbound = {
          packetsReceived: r.packetsReceived || 0, packetsLost: r.packetsLost || 0,
          bytesReceived: r.bytesReceived || 0, totalAudioEnergy: r.totalAudioEnergy || 0,
          audioLevel: r.audioLevel || 0, concealedSamples: r.concealedSamples || 0,
          totalSamplesReceived: r.totalSamplesReceived || 0, codecId: r.codecId,
        };
      } else if (r.type === 'outbound-rtp' && r.kind === 'audio') {
        out.outbound = { packetsSent: r.packetsSent || 0, bytesSent: r.bytesSent || 0,
          codecId: r.codecId };
      } else if (r.type === 'inbound-rtp' && r.kind === 'video') {
        out.video = out.video || {};
        out.video.inbound = {
          packetsReceived: r.packetsReceived || 0, packetsLost: r.packetsLost || 0,
          bytesReceived: r.bytesReceived || 0, framesReceived: r.framesReceived || 0,
          framesDecoded: r.framesDecoded || 0, keyFramesDecoded: r.keyFramesDecoded || 0,
          framesDropped: r.framesDropped || 0, frameWidth: r.frameWidth || 0,
          frameHeight: r.frameHeight || 0, pliCount: r.pliCount || 0, firCount: r.firCount || 0,
          nackCount: r.nackCount || 0, decoderImplementation: r.decoderImplementation,
          ssrc: r.ssrc, codecId: r.codecId,
        };
      } else if (r.type === 'outbound-rtp' && r.kind === 'video') {
        out.video = out.video || {};
        out.video.outbound = {
          packetsSent: r.packetsSent || 0, bytesSent: r.bytesSent || 0,
          framesEncoded: r.framesEncoded || 0, keyFramesEncoded: r.keyFramesEncoded || 0,
          frameWidth: r.frameWidth || 0, frameHeight: r.frameHeight || 0,
          pliCount: r.pliCount || 0, firCount: r.firCount || 0,
          encoderImplementation: r.encoderImplementation, ssrc: r.ssrc, codecId: r.codecId,
        };
      } else if (r.type === 'transport') {
        out.transport = {
          dtlsState: r.dtlsState, dtlsRole: r.dtlsRole, srtpCipher: r.srtpCipher,
          tlsVersion: r.tlsVersion, dtlsCipher: r.dtlsCipher, iceState: r.iceState,
          selectedCandidatePairId: r.selectedCandidatePairId,
        };
      }
    });
    if (out.transport && out.transport.selectedCandidatePairId) {
      const p = byId.get(out.transport.selectedCandidatePairId);
      if (p) {
        const local = byId.get(p.localCandidateId) || {};
        const remote = byId.get(p.remoteCandidateId) || {};
        out.pair = { state: p.state, local: `${local.address}:${local.port}`,
          remote: `${remote.address}:${remote.port}` };
      }
    }
    for (const side of ['inbound', 'outbound']) {
      const c = out[side] && byId.get(out[side].codecId);
      if (c) out.codecs[side] = `${c.mimeType}/${c.clockRate} pt ${c.payloadType}`;
      const v = out.video && out.video[side] && byId.get(out.video[side].codecId);
      if (v) out.video[side].codec = `${v.mimeType}/${v.clockRate} pt ${v.payloadType}`;
    }
    return out;
  }

  window.mediaTest = {
    state, events, calls, start, call, hangup, stats, answerOptions,
    hold: () => reoffer('hold'),
    unhold: () => reoffer('unhold'),
    current: () => current,
    session: () => session,  // the JsSIP RTCSession of the call (dtmf_page.js sends DTMF on it)
    audioPlaying: () => !!audio.srcObject && !audio.paused,
  };
  log(`media test page ready (JsSIP ${JsSIP.version})`);
})();
