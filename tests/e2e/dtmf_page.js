// Injected after media_page.js into the page: sends DTMF on the current call the two ways JsSIP
// can, and keeps what the browser side saw, as window.dtmfTest:
//   info(tones, { duration, interToneGap })   session.sendDTMF with transportType 'INFO': one SIP
//                                             INFO per digit; sent[] gets { tone, status } as the
//                                             answers come (status 0 until then)
//   rfc4733(tones, { duration, interToneGap }) transportType 'RFC2833': RTCDTMFSender in the audio
//                                             stream; resolves with canInsertDTMF (false when the
//                                             answer rtcgw gave has no telephone-event at the
//                                             audio clock: JsSIP would then send nothing at all)
//   played[]                                  the tones RTCDTMFSender reported as played
'use strict';

(() => {
  const sent = [];
  const played = [];
  const watched = new WeakSet();

  // into the page's log (media_page.js's format) and the console log the test keeps
  function note(text) {
    window.mediaTest.events.push(`${new Date().toISOString().slice(11, 23)} ${text}`);
    console.log(`[dtmf-test] ${text}`);
  }

  function session() {
    const s = window.mediaTest.session();
    if (!s) throw new Error('no call to send DTMF on');
    return s;
  }

  // JsSIP announces each INFO it sends (newDTMF, originator local) before sending it: the
  // listeners on its DTMF object see the answer.
  function watchInfo(s) {
    if (watched.has(s)) return;
    watched.add(s);
    s.on('newDTMF', (e) => {
      if (e.originator !== 'local') return;
      const entry = { tone: e.dtmf.tone, status: 0, reason: '' };
      sent.push(entry);
      e.dtmf.on('succeeded', (r) => {
        entry.status = r.response.status_code;
        note(`INFO ${entry.tone}: ${entry.status}`);
      });
      e.dtmf.on('failed', (r) => {
        entry.status = r.response ? r.response.status_code : -1;
        entry.reason = r.response ? r.response.reason_phrase : String(r.cause || 'failed');
        note(`INFO ${entry.tone}: failed ${entry.status} ${entry.reason}`);
      });
    });
  }

  function info(tones, { duration, interToneGap }) {
    const s = session();
    watchInfo(s);
    s.sendDTMF(tones, { transportType: 'INFO', duration, interToneGap });
    note(`DTMF by INFO: ${tones}`);
  }

  function rfc4733(tones, { duration, interToneGap }) {
    const s = session();
    const sender = s.connection.getSenders().find((x) => x.track && x.track.kind === 'audio');
    if (!sender || !sender.dtmf) return { canInsertDTMF: false, why: 'no audio sender with dtmf' };
    if (!sender.dtmf.canInsertDTMF) return { canInsertDTMF: false, why: 'canInsertDTMF is false' };
    if (!watched.has(sender.dtmf)) {
      watched.add(sender.dtmf);
      sender.dtmf.addEventListener('tonechange', (e) => {
        if (e.tone) played.push(e.tone);
        note(`RTCDTMFSender tonechange '${e.tone}'`);
      });
    }
    s.sendDTMF(tones, { transportType: 'RFC2833', duration, interToneGap });
    note(`DTMF by RFC 4733 (RTCDTMFSender): ${tones}`);
    return { canInsertDTMF: true, toneBuffer: sender.dtmf.toneBuffer };
  }

  window.dtmfTest = { sent, played, info, rfc4733 };
})();
