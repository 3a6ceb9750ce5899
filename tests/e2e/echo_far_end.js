// A far end for the browser tests that, unlike sipp's -rtp_echo, reports what it received: a UAS
// on UDP behind Kamailio that answers every INVITE with plain RTP/AVP PCMU + telephone-event/8000
// (the offer's event payload type, RFC 4733 section 2.3), echoes the caller's audio back to where
// it came from (so the browser hears its own tone) and keeps every telephone-event packet and every
// SIP request it got for the test to check. In the dialog it answers INFO, OPTIONS, UPDATE,
// re-INVITE and BYE with 200, like demo/echo_uas.xml. It runs inside the test's own node process:
// nothing to start or stop by PID, only sockets to close.
//
// With `video: true` it also answers the offer's first video line with the first of VP8/H264 the
// offer lists, on rtpPort + 2 (RTCP: + 3), counts the video packets and the keyframes among them,
// and echoes them back with another SSRC (received ^ 0x5a5a5a5a): a browser drops RTP that comes
// back under an SSRC it sends itself as its own. Audio is echoed as it came (rtcgw's relay or
// transcoder stands between the browser and this far end). Without it, and for any other line,
// a non-audio line is refused with port 0 (RFC 3264 6); an offer with audio only gets the same
// answer either way.
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
  // video: answer video lines (on rtpPort + 2, with + 3 for RTCP: harness.freeRtpPort() leaves 4).
  constructor({ sipPort, rtpPort, video = false }) {
    this.sipPort = sipPort;
    this.rtpPort = rtpPort;
    this.videoPort = video ? rtpPort + 2 : 0;
    this.requests = [];      // every SIP request received, parsed, retransmissions included
    this.events = [];        // telephone-event packets: { at, marker, pt, seq, ts, event, end, ... }
    this.audio = { packets: 0, echoed: 0, pts: new Set(), firstTs: null, lastTs: null, ssrc: null };
    this.other = [];         // RTP that is neither the answered audio nor telephone-event
    this.offers = [];        // SDP bodies of the INVITEs received
    this.answered = [];      // the SDP answers sent, in the same order
    this.video = { packets: 0, echoed: 0, keyframes: 0, firstKeyframeAt: 0, rtcp: 0, ssrc: null,
      pt: -1, codec: '', other: [] };
    this.eventPt = -1;       // the telephone-event payload type answered, -1: none offered
    this.dialogs = new Map();  // Call-ID -> { toTag, pending: 200 not yet ACKed }
    this.answers = new Map();  // Via branch + method -> the response sent (for retransmissions)
    this.sip = dgram.createSocket('udp4');
    this.rtp = dgram.createSocket('udp4');
    this.rtcp = dgram.createSocket('udp4');  // only so that RTCP to rtpPort + 1 finds a socket
    this.videoRtp = video ? dgram.createSocket('udp4') : null;
    this.videoRtcp = video ? dgram.createSocket('udp4') : null;
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
    if (this.videoRtp) {
      await bind(this.videoRtp, this.videoPort);
      await bind(this.videoRtcp, this.videoPort + 1);
      this.videoRtp.on('message', (b, rinfo) => this.onVideoRtp(b, rinfo));
      this.videoRtcp.on('message', () => { this.video.rtcp++; });
    }
    return this;
  }

  close() {
    for (const d of this.dialogs.values()) clearTimeout(d.timer);
    for (const sock of [this.sip, this.rtp, this.rtcp, this.videoRtp, this.videoRtcp]) {
      try { if (sock) sock.close(); } catch { /* not bound */ }
    }
  }

  methods() { return this.requests.map((m) => m.method); }

  // What a failure message should show: the requests and the RTP seen.
  describe() {
    const evs = this.events.map((e) => `${e.event}${e.end ? 'E' : ''}@${e.ts}/${e.duration}`);
    return `far end got ${this.methods().join(', ') || 'no requests'}; audio ${this.audio.packets} ` +
      `packets (pt ${[...this.audio.pts].join(',') || '-'}), echoed ${this.audio.echoed}; ` +
      `${this.events.length} telephone-event packets [${evs.join(' ')}]` +
      `${this.other.length ? `; other RTP: ${this.other.length} packets (pt ` +
        `${[...new Set(this.other.map((o) => o.pt))].join(',')})` : ''}` +
      (this.videoRtp ? `; ${this.describeVideo()}` : '');
  }

  describeVideo() {
    const v = this.video;
    return `video ${v.codec || '(not answered)'} pt ${v.pt}: ${v.packets} packets, ` +
      `${v.keyframes} keyframe packets, echoed ${v.echoed}, ${v.rtcp} RTCP` +
      `${v.other.length ? `, other RTP: pt ${[...new Set(v.other)].join(',')}` : ''}`;
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
      const sdp = this.answerSdp(msg.body, dialog.version++);
      this.answered.push(sdp);
      const ok = responseTo(msg, 200, 'OK', {
        toTag: dialog.toTag, copyRR: true, body: sdp,
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

  // Audio: PCMU only, plus telephone-event/8000 with the offer's payload type when it has one.
  // The other lines of the offer in their order (RFC 3264 6): the first video line with VP8 or
  // H264 when video is on, everything else refused with port 0.
  answerSdp(offer, version) {
    const te = /^a=rtpmap:(\d+) telephone-event\/8000/mi.exec(offer || '');
    this.eventPt = te ? Number(te[1]) : -1;
    const pts = te ? `0 ${this.eventPt}` : '0';
    const audio = [
      `m=audio ${this.rtpPort} RTP/AVP ${pts}`, 'a=rtpmap:0 PCMU/8000',
      ...(te ? [`a=rtpmap:${this.eventPt} telephone-event/8000`, `a=fmtp:${this.eventPt} 0-16`] : []),
      'a=ptime:20', 'a=sendrecv'];
    const sections = mSections(offer);
    let media = audio;
    if (sections.some((sec) => sec.type === 'audio')) {
      media = [];
      let audioDone = false;
      let videoDone = false;
      for (const sec of sections) {
        if (sec.type === 'audio' && !audioDone && sec.port !== 0) {
          audioDone = true;
          media.push(...audio);
        } else if (sec.type === 'video' && !videoDone && this.videoRtp && sec.port !== 0 &&
                   this.answerVideo(sec, media)) {
          videoDone = true;
        } else {
          media.push(`m=${sec.type} 0 ${sec.proto} ${sec.fmts[0] || '0'}`);
        }
      }
    }
    return ['v=0', `o=echo 1 ${version} IN IP4 127.0.0.1`, 's=rtcgw e2e echo',
      'c=IN IP4 127.0.0.1', 't=0 0', ...media, ''].join('\r\n');
  }

  // The offer's first VP8 or H264 payload type (in the offer's order), answered with the offer's
  // rtpmap and fmtp (H264's packetization-mode and profile must match); false when it has neither.
  answerVideo(sec, media) {
    for (const pt of sec.fmts) {
      const rtpmap = sec.lines.find((l) => l.startsWith(`a=rtpmap:${pt} `));
      const codec = rtpmap && /^a=rtpmap:\d+ (VP8|H264)\/90000/i.exec(rtpmap);
      if (!codec) continue;
      this.video.pt = Number(pt);
      this.video.codec = codec[1].toUpperCase();
      media.push(`m=video ${this.videoPort} RTP/AVP ${pt}`, rtpmap,
        ...sec.lines.filter((l) => l.startsWith(`a=fmtp:${pt} `)), 'a=sendrecv');
      return true;
    }
    return false;
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

  // Video goes back to its source with the SSRC changed; keyframes are counted (the first packet
  // of each), so that a browser decoding no frames can be told whether any were sent at all.
  onVideoRtp(b, rinfo) {
    if (isRtcp(b)) { this.video.rtcp++; return; }
    const p = parseRtp(b);
    if (!p) return;
    if (p.pt !== this.video.pt) {
      if (this.video.other.length < 100) this.video.other.push(p.pt);
      return;
    }
    this.video.packets++;
    this.video.ssrc = p.ssrc;
    if (isKeyframeStart(this.video.codec, p.payload)) {
      this.video.keyframes++;
      this.video.firstKeyframeAt = this.video.firstKeyframeAt || Date.now();
    }
    b.writeUInt32BE((p.ssrc ^ 0x5a5a5a5a) >>> 0, 8);
    this.videoRtp.send(b, rinfo.port, rinfo.address, (err) => { if (!err) this.video.echoed++; });
  }
}

// The m= sections of an SDP: { type, port, proto, fmts, lines (its a= lines and the rest) }.
function mSections(sdp) {
  const sections = [];
  for (const line of (sdp || '').split(/\r?\n/)) {
    const m = /^m=(\S+) (\d+)(?:\/\d+)? (\S+)(.*)$/.exec(line);
    if (m) {
      sections.push({ type: m[1], port: Number(m[2]), proto: m[3],
        fmts: m[4].trim().split(/\s+/).filter(Boolean), lines: [] });
    } else if (sections.length && line) {
      sections[sections.length - 1].lines.push(line);
    }
  }
  return sections;
}

// Whether an RTP payload starts a keyframe. VP8 (RFC 7741 4.2, 4.3): the payload descriptor
// (X: an extension byte; I: a 7 or 15 bit PictureID; L: TL0PICIDX; T/K: one more byte), then, on
// the first packet of partition 0 (S set, PID 0), the VP8 frame tag whose bit 0 is 0 for a key
// frame. H264 (RFC 6184): an IDR slice (5) or SPS (7), alone, in a STAP-A (24) or starting a FU-A
// (28).
function isKeyframeStart(codec, payload) {
  if (codec === 'VP8') {
    if (payload.length < 1) return false;
    const first = payload[0];
    const start = (first & 0x10) !== 0 && (first & 0x07) === 0;
    let off = 1;
    if (first & 0x80) {
      if (payload.length < 2) return false;
      const x = payload[1];
      off = 2;
      if (x & 0x80) off += payload.length > off && (payload[off] & 0x80) ? 2 : 1;  // PictureID
      if (x & 0x40) off += 1;  // TL0PICIDX
      if (x & 0x30) off += 1;  // TID/KEYIDX
    }
    return start && payload.length > off && (payload[off] & 0x01) === 0;
  }
  if (codec === 'H264') {
    if (payload.length < 2) return false;
    const type = payload[0] & 0x1f;
    if (type === 5 || type === 7) return true;
    if (type === 24) {  // STAP-A: 16-bit sizes, each NAL unit's first byte after its size
      for (let off = 1; off + 2 < payload.length; off += 2 + payload.readUInt16BE(off)) {
        const t = payload[off + 2] & 0x1f;
        if (t === 5 || t === 7) return true;
      }
      return false;
    }
    return type === 28 && (payload[1] & 0x80) !== 0 && ((payload[1] & 0x1f) === 5);
  }
  return false;
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

module.exports = { EchoFarEnd, eventsOf, parseRtp, digitOf, isKeyframeStart, mSections };
