// A far end for the browser tests that, unlike sipp's -rtp_echo, reports what it received: a UAS
// on UDP behind Kamailio that answers every INVITE with plain RTP/AVP PCMU + telephone-event/8000
// (the offer's event payload type, RFC 4733 section 2.3), echoes the caller's audio back to where
// it came from (so the browser hears its own tone) and keeps every telephone-event packet and every
// SIP request it got for the test to check. In the dialog it answers INFO, OPTIONS, UPDATE,
// re-INVITE and BYE with 200, like demo/echo_uas.xml. It runs inside the test's own node process:
// nothing to start or stop by PID, only sockets to close.
'use strict';

const dgram = require('node:dgram');
const sip = require('../integration/lib/sip');
const { responseTo } = require('../integration/lib/harness');

const T1_MS = 500;        // RFC 3261 timer T1: the 200 to an INVITE is resent until its ACK
const MAX_RESENDS = 6;

// The fixed RTP header (RFC 3550 5.1) and an RFC 4733 payload, or null when `b` is not RTP.
function parseRtp(b) {
  if (b.length < 12 || (b[0] >> 6) !== 2) return null;
  const cc = b[0] & 0x0f;
  let off = 12 + 4 * cc;
  if (b[0] & 0x10) {  // header extension
    if (b.length < off + 4) return null;
    off += 4 + 4 * b.readUInt16BE(off + 2);
  }
  if (b.length < off) return null;
  return {
    marker: (b[1] & 0x80) !== 0, pt: b[1] & 0x7f, seq: b.readUInt16BE(2),
    ts: b.readUInt32BE(4), ssrc: b.readUInt32BE(8), payload: b.subarray(off),
  };
}

// RTCP on the RTP port (rtcp-mux): packet types 200..204 where RTP has marker + payload type.
const isRtcp = (b) => b.length >= 2 && b[1] >= 200 && b[1] <= 204;

class EchoFarEnd {
  // sipPort: where Kamailio sends the calls (its ECHO_URI); rtpPort: even, rtpPort + 1 free too.
  constructor({ sipPort, rtpPort }) {
    this.sipPort = sipPort;
    this.rtpPort = rtpPort;
    this.requests = [];      // every SIP request received, parsed, retransmissions included
    this.events = [];        // telephone-event packets: { at, marker, pt, seq, ts, event, end, ... }
    this.audio = { packets: 0, echoed: 0, pts: new Set(), firstTs: null, lastTs: null, ssrc: null };
    this.other = [];         // RTP that is neither the answered audio nor telephone-event
    this.offers = [];        // SDP bodies of the INVITEs received
    this.eventPt = -1;       // the telephone-event payload type answered, -1: none offered
    this.dialogs = new Map();  // Call-ID -> { toTag, pending: 200 not yet ACKed }
    this.answers = new Map();  // Via branch + method -> the response sent (for retransmissions)
    this.sip = dgram.createSocket('udp4');
    this.rtp = dgram.createSocket('udp4');
    this.rtcp = dgram.createSocket('udp4');  // only so that RTCP to rtpPort + 1 finds a socket
  }

  async start() {
    const bind = (sock, port) => new Promise((resolve, reject) => {
      sock.once('error', reject);
      sock.bind(port, '127.0.0.1', () => { sock.removeListener('error', reject); resolve(); });
    });
    await bind(this.sip, this.sipPort);
    await bind(this.rtp, this.rtpPort);
    await bind(this.rtcp, this.rtpPort + 1);
    this.sip.on('message', (raw, rinfo) => this.onSip(raw, rinfo));
    this.rtp.on('message', (b, rinfo) => this.onRtp(b, rinfo));
    this.rtcp.on('message', () => {});
    return this;
  }

  close() {
    for (const d of this.dialogs.values()) clearTimeout(d.timer);
    for (const sock of [this.sip, this.rtp, this.rtcp]) {
      try { sock.close(); } catch { /* not bound */ }
    }
  }

  methods() { return this.requests.map((m) => m.method); }

  // What a failure message should show: the requests and the RTP seen.
  describe() {
    const evs = this.events.map((e) => `${e.event}${e.end ? 'E' : ''}@${e.ts}/${e.duration}`);
    return `far end got ${this.methods().join(', ') || 'no requests'}; audio ${this.audio.packets} ` +
      `packets (pt ${[...this.audio.pts].join(',') || '-'}), echoed ${this.audio.echoed}; ` +
      `${this.events.length} telephone-event packets [${evs.join(' ')}]` +
      `${this.other.length ? `; other RTP: ${this.other.map((o) => `pt ${o.pt}`).join(', ')}` : ''}`;
  }

  send(text, rinfo) {
    this.sip.send(Buffer.from(text, 'latin1'), rinfo.port, rinfo.address);
  }

  onSip(raw, rinfo) {
    let msg;
    try {
      msg = sip.parse(raw);
    } catch {
      return;  // not SIP (a keepalive): nothing to answer
    }
    if (!msg.isRequest) return;  // this UAS sends no requests
    this.requests.push(msg);
    const callId = msg.callId;
    if (msg.method === 'ACK') {
      const d = this.dialogs.get(callId);
      if (d) { clearTimeout(d.timer); d.pending = null; }
      return;
    }
    const key = `${sip.paramOf(msg.topVia || '', 'branch')} ${msg.method}`;
    const earlier = this.answers.get(key);
    if (earlier) { this.send(earlier, rinfo); return; }  // a retransmission

    let dialog = this.dialogs.get(callId);
    if (!dialog) {
      if (msg.method !== 'INVITE') {
        this.answer(key, rinfo, responseTo(msg, 481, 'Call/Transaction Does Not Exist'));
        return;
      }
      dialog = { toTag: sip.newTag(), version: 1, timer: null, pending: null };
      this.dialogs.set(callId, dialog);
    }
    if (msg.method === 'INVITE') {
      this.send(responseTo(msg, 100, 'Trying'), rinfo);
      this.offers.push(msg.body);
      const ok = responseTo(msg, 200, 'OK', {
        toTag: dialog.toTag, copyRR: true, body: this.answerSdp(msg.body, dialog.version++),
        headers: [`Contact: <sip:echo@127.0.0.1:${this.sipPort};transport=udp>`,
          'Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE',
          'Content-Type: application/sdp'],
      });
      this.answer(key, rinfo, ok);
      this.resendUntilAck(dialog, ok, rinfo);
      return;
    }
    this.answer(key, rinfo, responseTo(msg, 200, 'OK', { toTag: dialog.toTag }));
    if (msg.method === 'BYE') {
      clearTimeout(dialog.timer);
      this.dialogs.delete(callId);
    }
  }

  answer(key, rinfo, text) {
    this.answers.set(key, text);
    this.send(text, rinfo);
  }

  // UDP: the 2xx to an INVITE is the UAS's to resend (RFC 3261 13.3.1.4), T1 doubling.
  resendUntilAck(dialog, ok, rinfo) {
    clearTimeout(dialog.timer);
    dialog.pending = ok;
    let n = 0;
    const again = (ms) => {
      dialog.timer = setTimeout(() => {
        if (dialog.pending !== ok || ++n > MAX_RESENDS) return;
        this.send(ok, rinfo);
        again(Math.min(2 * ms, 4000));
      }, ms);
    };
    again(T1_MS);
  }

  // PCMU only, plus telephone-event/8000 with the offer's payload type when it has one.
  answerSdp(offer, version) {
    const te = /^a=rtpmap:(\d+) telephone-event\/8000/mi.exec(offer || '');
    this.eventPt = te ? Number(te[1]) : -1;
    const pts = te ? `0 ${this.eventPt}` : '0';
    return [
      'v=0', `o=echo 1 ${version} IN IP4 127.0.0.1`, 's=rtcgw e2e echo', 'c=IN IP4 127.0.0.1', 't=0 0',
      `m=audio ${this.rtpPort} RTP/AVP ${pts}`, 'a=rtpmap:0 PCMU/8000',
      ...(te ? [`a=rtpmap:${this.eventPt} telephone-event/8000`, `a=fmtp:${this.eventPt} 0-16`] : []),
      'a=ptime:20', 'a=sendrecv', ''].join('\r\n');
  }

  // Audio goes back to its source (rtcgw's port for this leg); events are kept, not echoed.
  onRtp(b, rinfo) {
    if (isRtcp(b)) return;
    const p = parseRtp(b);
    if (!p) return;
    if (p.pt === this.eventPt && p.payload.length >= 4) {
      this.events.push({
        at: Date.now(), marker: p.marker, pt: p.pt, seq: p.seq, ts: p.ts, ssrc: p.ssrc,
        event: p.payload[0], end: (p.payload[1] & 0x80) !== 0, volume: p.payload[1] & 0x3f,
        duration: p.payload.readUInt16BE(2),
        audioTs: this.audio.lastTs, audioSsrc: this.audio.ssrc,  // the audio just before it
      });
      return;
    }
    if (p.pt !== 0) {
      this.other.push({ pt: p.pt, len: b.length });
      return;
    }
    this.audio.packets++;
    this.audio.pts.add(p.pt);
    if (this.audio.firstTs === null) this.audio.firstTs = p.ts;
    this.audio.lastTs = p.ts;
    this.audio.ssrc = p.ssrc;
    this.rtp.send(b, rinfo.port, rinfo.address, (err) => { if (!err) this.audio.echoed++; });
  }
}

// RFC 4733 event codes 0-15 as the digits JsSIP sends.
const DIGITS = '0123456789*#ABCD';
const digitOf = (event) => DIGITS[event] || `?${event}`;

// The telephone-event packets grouped into events (one RTP timestamp each, RFC 4733 2.5.1.2), in
// the order their first packets arrived: { digit, ts, packets, marker (of the first packet), ends,
// endDuration, ... }.
function eventsOf(packets) {
  const byTs = new Map();
  for (const p of packets) {
    let e = byTs.get(p.ts);
    if (!e) {
      e = { digit: digitOf(p.event), codes: new Set(), ts: p.ts, firstAt: p.at, packets: 0,
        marker: p.marker, ends: 0, endDuration: 0, maxDuration: 0, ssrc: p.ssrc, pt: p.pt,
        audioTs: p.audioTs, audioSsrc: p.audioSsrc };
      byTs.set(p.ts, e);
    }
    e.codes.add(p.event);
    e.packets++;
    e.maxDuration = Math.max(e.maxDuration, p.duration);
    if (p.end) {
      e.ends++;
      e.endDuration = p.duration;
    }
  }
  return [...byTs.values()];  // a Map keeps insertion order
}

module.exports = { EchoFarEnd, eventsOf, parseRtp, digitOf };
