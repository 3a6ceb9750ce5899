// Browser end-to-end transcoding test (issue 4): rtcgw with
//   transcoding: { browser_codecs: [opus], network_codecs: [PCMU] }
// answers the browser's offer with opus only and offers the IMS plain RTP/AVP PCMU (0 101);
// JsSIP in Debian's Chromium registers alice through rtcgw (Kamailio, demo/kamailio.cfg, as the
// IMS core) and calls sip:echo@rtcgw.demo: echo_far_end.js, a UAS that answers PCMU +
// telephone-event/8000 only, echoes the audio and records the RFC 4733 packets it gets (sipp's
// -rtp_echo could not say what it received). The audio goes through rtcgw's transcoder twice
// (opus -> PCMU -> echo -> PCMU -> opus). Checks:
//   - getStats: inbound-rtp and outbound-rtp codec audio/opus, DTLS connected, packets both ways,
//     inbound energy > 0;
//   - rtcgw's log says "transcoding opus/...";
//   - the INVITE the far end got offers m=audio <port> RTP/AVP 0 101 (PCMU, no opus);
//   - DTMF (dtmf_page.js): '12#' by SIP INFO, each answered 200 by rtcgw (no INFO reaches the far
//     end), then '90*' by RFC 4733 (RTCDTMFSender, telephone-event/48000 in rtcgw's answer); the
//     far end gets each digit, in order, as RFC 4733 events on pt 101 at 8 kHz: marker on the
//     first packet, end packets, the tone's length in 8 kHz units, the SSRC and timeline of the
//     PCMU stream;
//   - after the browser hangs up: rtcgw_media_sessions 0, rtcgw_media_ports_in_use 0;
//   - rtcgw exits 0 on SIGTERM.
//
//   unshare --net sh -c 'ip link set lo up && exec node tests/e2e/media_transcode.js \
//       --rtcgw build/rtcgw --out build/e2e/media_transcode'
'use strict';

const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const h = require('./harness');
const m = require('./media_call');
const { EchoFarEnd, eventsOf } = require('./echo_far_end');

const OVERALL_TIMEOUT_MS = 160000;
const ECHO = 'sip:echo@rtcgw.demo';
const TRANSCODING = { transcoding: { browser_codecs: ['opus'], network_codecs: ['PCMU'] } };
// DTMF as JsSIP sends it: ms of tone and of gap per digit; the network's clock and event pt
const DTMF = { duration: 120, interToneGap: 80 };
const INFO_DIGITS = '12#';
const RFC4733_DIGITS = '90*';
const NETWORK_EVENT_PT = 101;
const NETWORK_CLOCK = 8000;
const DTMF_WAIT_MS = 8000;

// --- DTMF ---------------------------------------------------------------------------------------

const signed32 = (x) => x | 0;  // an RTP timestamp difference, across the 2^32 wrap

// Waits for `digits` as RFC 4733 events at the far end, counting from its packet `from` on, and
// checks how they came: one event per digit, in order, on the network's telephone-event pt, a
// marker on the first packet, end packets, the tone's duration at 8 kHz, and in the PCMU stream
// (same SSRC, timestamps on its timeline: a 48 kHz timestamp left unscaled would be far off).
async function expectEvents(farEnd, from, digits, label) {
  const got = () => eventsOf(farEnd.events.slice(from));
  let allEndedAt = 0;
  try {
    // rtcgw and Chrome both send three end packets: wait for them, or for 1 s once every event
    // has one
    await h.waitFor(`${digits.length} events with end packets`, () => {
      const evs = got();
      if (evs.length < digits.length || evs.some((e) => e.ends === 0)) return false;
      if (evs.every((e) => e.ends >= 3)) return true;
      allEndedAt = allEndedAt || Date.now();
      return Date.now() - allEndedAt > 1000;
    }, DTMF_WAIT_MS, 50);
  } catch (e) {
    throw new Error(`${label}: ${e.message}; ${farEnd.describe()}`);
  }
  await h.sleep(300);  // anything that should not come (a repeated or extra event) shows up here
  const evs = got();
  const seen = evs.map((e) => `${e.digit}(${e.ends} end, ${e.endDuration})`).join(' ');
  assert.equal(evs.map((e) => e.digit).join(''), digits,
    `${label}: the far end got the digits in order [${seen}]; ${farEnd.describe()}`);
  const want = DTMF.duration * NETWORK_CLOCK / 1000;
  let prev = null;
  for (const e of evs) {
    const what = `${label}: digit ${e.digit} at the far end`;
    assert.equal(e.codes.size, 1, `${what}: one event code per timestamp (${[...e.codes]})`);
    assert.equal(e.pt, NETWORK_EVENT_PT, `${what}: pt ${e.pt}, not the network's ${NETWORK_EVENT_PT}`);
    assert.ok(e.marker, `${what}: no marker bit on its first packet (RFC 4733 2.5.1.3)`);
    assert.ok(e.ends >= 1, `${what}: no end packet`);
    // JsSIP asked for 120 ms: 960 at 8 kHz (5760 would be the browser's 48 kHz left unscaled)
    assert.ok(e.endDuration >= want / 2 && e.endDuration <= want * 2,
      `${what}: end duration ${e.endDuration}, expected about ${want} (${DTMF.duration} ms at ` +
      `${NETWORK_CLOCK} Hz)`);
    assert.equal(e.ssrc, e.audioSsrc, `${what}: SSRC ${e.ssrc} is not the PCMU stream's ` +
      `(${e.audioSsrc})`);
    const offset = signed32(e.ts - e.audioTs);
    assert.ok(Math.abs(offset) <= NETWORK_CLOCK,
      `${what}: timestamp ${e.ts} is ${offset} from the PCMU audio just before it (${e.audioTs}): ` +
      `not on the 8 kHz audio timeline`);
    if (prev) {
      assert.ok(signed32(e.ts - prev.ts) > 0,
        `${what}: timestamp ${e.ts} does not follow digit ${prev.digit}'s ${prev.ts}`);
    }
    prev = e;
  }
  return { evs, seen };
}

// JsSIP's default DTMF: one SIP INFO (application/dtmf-relay) per digit. rtcgw answers each 200
// itself (dtmf.info_to_rfc4733) and plays the digit as RFC 4733 events towards the IMS.
async function dtmfByInfo({ page, farEnd }, label, step) {
  const from = farEnd.events.length;
  const infosBefore = farEnd.methods().filter((x) => x === 'INFO').length;
  await page.evaluate(([t, o]) => window.dtmfTest.info(t, o), [INFO_DIGITS, DTMF]);
  let sent = [];
  try {
    await h.waitFor(`${INFO_DIGITS.length} INFO answered`, async () => {
      sent = await page.evaluate(() => window.dtmfTest.sent.map((x) => ({ ...x })));
      return sent.length === INFO_DIGITS.length && sent.every((x) => x.status >= 200);
    }, DTMF_WAIT_MS);
  } catch (e) {
    throw new Error(`${label}: ${e.message}: the browser's INFOs: ${JSON.stringify(sent)}\n` +
      `page log:\n${await m.pageLog(page)}`);
  }
  assert.equal(sent.map((x) => x.tone).join(''), INFO_DIGITS, `${label}: JsSIP sent the INFO digits`);
  for (const x of sent) {
    assert.equal(x.status, 200, `${label}: INFO ${x.tone} answered ${x.status} ${x.reason}`);
  }
  // the far end answers INFO too: that they were answered does not say that rtcgw did
  const infos = farEnd.methods().filter((x) => x === 'INFO').length - infosBefore;
  assert.equal(infos, 0, `${label}: ${infos} INFO reached the far end (rtcgw should answer them ` +
    `and send RFC 4733 events instead); ${farEnd.describe()}`);
  const { seen } = await expectEvents(farEnd, from, INFO_DIGITS, `${label}, DTMF by INFO`);
  step(`${label}: DTMF '${INFO_DIGITS}' by INFO: 200 from rtcgw, no INFO at the far end, ` +
    `RFC 4733 events there: ${seen}`);
}

// transportType 'RFC2833': RTCDTMFSender sends telephone-event/48000 in the browser's stream,
// which rtcgw relays rescaled to 8 kHz with the network's pt. Chrome can only do so when rtcgw's
// answer gave it telephone-event at the opus clock.
async function dtmfByRfc4733({ page, farEnd }, answerSdp, label, step) {
  const te = /^a=rtpmap:(\d+) telephone-event\/48000/mi.exec(answerSdp || '');
  assert.ok(te, `${label}: rtcgw's answer to the browser has no telephone-event/48000, so ` +
    `RTCDTMFSender cannot send RFC 4733 (src/sdp): ${m.mLine(answerSdp)}`);
  const from = farEnd.events.length;
  const infosBefore = farEnd.methods().filter((x) => x === 'INFO').length;
  const r = await page.evaluate(([t, o]) => window.dtmfTest.rfc4733(t, o), [RFC4733_DIGITS, DTMF]);
  assert.ok(r.canInsertDTMF, `${label}: the browser cannot send RFC 4733 DTMF: ${r.why} ` +
    `(answer: ${m.mLine(answerSdp)})`);
  const { seen } = await expectEvents(farEnd, from, RFC4733_DIGITS, `${label}, DTMF by RFC 4733`);
  const played = await page.evaluate(() => window.dtmfTest.played.join(''));
  assert.equal(played, RFC4733_DIGITS, `${label}: RTCDTMFSender played '${played}'`);
  const infos = farEnd.methods().filter((x) => x === 'INFO').length - infosBefore;
  assert.equal(infos, 0, `${label}: ${infos} INFO reached the far end during RFC 4733 DTMF`);
  step(`${label}: DTMF '${RFC4733_DIGITS}' by RFC 4733 (browser pt ${te[1]}/48000): ` +
    `events at the far end: ${seen}`);
}

async function run(ctx, step) {
  const { page, metricsPort, farEnd, rtcgwEntry } = ctx;
  const label = 'alice -> echo (transcoded)';
  await page.evaluate((t) => window.mediaTest.call(t), ECHO);
  const entry = await m.waitCallState(page, 'confirmed', `call to ${ECHO}`, 15000);
  step(`${label}: call up; the browser got ${m.mLine(entry.remoteSdp)}`);

  // the browser's leg: opus only in rtcgw's answer
  const answerCodecs = [...(entry.remoteSdp || '').matchAll(/^a=rtpmap:\d+ ([^/\s]+)/mg)]
    .map((x) => x[1]);
  assert.ok(answerCodecs.some((c) => c.toLowerCase() === 'opus'),
    `${label}: rtcgw's answer to the browser has opus (${m.mLine(entry.remoteSdp)})`);
  assert.ok(!answerCodecs.some((c) => /^(PCMU|PCMA)$/i.test(c)),
    `${label}: rtcgw's answer to the browser has no G.711 (rtpmaps: ${answerCodecs.join(' ')})`);

  const s = await m.expectMedia(page, label);  // DTLS + SRTP, packets both ways, energy > 0
  const fin = await m.stats(page);
  for (const side of ['inbound', 'outbound']) {
    const codec = fin.codecs[side] || '(no codec stats)';
    assert.match(codec, /^audio\/opus\//i, `${label}: ${side}-rtp codec is opus (got ${codec})`);
  }
  assert.ok(fin.inbound.packetsReceived >= m.MIN_PACKETS,
    `${label}: packetsReceived ${fin.inbound.packetsReceived} >= ${m.MIN_PACKETS}`);
  assert.ok(fin.inbound.totalAudioEnergy > 0, `${label}: totalAudioEnergy > 0`);
  assert.equal(fin.transport.dtlsState, 'connected', `${label}: DTLS connected`);
  step(`${label}: codecs ${JSON.stringify(fin.codecs)}, received ${fin.inbound.packetsReceived} ` +
    `(was ${s.inbound.packetsReceived}), energy ${fin.inbound.totalAudioEnergy.toFixed(4)}`);
  await m.expectAnchored(metricsPort, label);

  // rtcgw says it transcodes
  const log = fs.readFileSync(rtcgwEntry.logPath, 'utf8');
  const line = log.split('\n').find((l) => l.includes('transcoding opus/'));
  assert.ok(line, `${label}: rtcgw's log has "transcoding opus/"\n${h.tail(rtcgwEntry.logPath, 30)}`);
  step(`${label}: rtcgw: ${line.trim()}`);

  // the network leg: the far end was offered PCMU + telephone-event only
  const sdp = farEnd.offers[0];
  assert.ok(sdp, `${label}: the far end's INVITE has an SDP offer (${farEnd.describe()})`);
  const mline = m.mLine(sdp);
  assert.match(mline, /^m=audio \d+ RTP\/AVP 0 101$/,
    `${label}: the far end was offered PCMU + telephone-event only (got ${mline})`);
  assert.ok(!/opus/i.test(sdp), `${label}: no opus in the far end's offer\n${sdp}`);
  step(`${label}: the far end was offered ${mline}`);

  await dtmfByInfo(ctx, label, step);
  await dtmfByRfc4733(ctx, entry.remoteSdp, label, step);

  await page.evaluate(() => window.mediaTest.hangup());
  await m.waitCallState(page, 'ended', `${label}: hang-up`, 5000);
  step(`${label}: the browser hung up`);
  await m.expectReleased(metricsPort, label);
}

async function main() {
  const args = h.parseArgs(process.argv.slice(2));
  assert.ok(args.rtcgw, 'usage: media_transcode.js --rtcgw PATH [--out DIR]');
  assert.ok(fs.existsSync(path.join(h.SOURCE_DIR, 'web', 'jssip.min.js')),
    'web/jssip.min.js is missing: run scripts/setup.sh');
  const { outDir, workDir } = h.makeDirs(args.out);
  const procs = new h.Processes(outDir);
  const started = Date.now();
  const step = (text) => console.log(`[${((Date.now() - started) / 1000).toFixed(1)} s] ${text}`);
  m.configure({ step });
  let browser = null;
  let page = null;
  let farEnd = null;
  let failure = null;

  const watchdog = setTimeout(() => {
    console.error(`FAIL: the test took longer than ${OVERALL_TIMEOUT_MS / 1000} s; logs: ${outDir}`);
    procs.stopAll().finally(() => process.exit(1));
  }, OVERALL_TIMEOUT_MS);

  try {
    const kamPort = await h.freeSipPort();
    const echoPort = await h.freeSipPort();
    const echoRtpPort = await h.freeRtpPort();
    const gwSipPort = await h.freeSipPort();
    const wsPort = await h.freeTcpPort();
    const metricsPort = await h.freeTcpPort();

    await h.startKamailio(procs, { sipPort: kamPort, echoPort, workDir });
    step(`Kamailio answers on udp 127.0.0.1:${kamPort}`);
    farEnd = await new EchoFarEnd({ sipPort: echoPort, rtpPort: echoRtpPort }).start();
    step(`echo far end on udp 127.0.0.1:${echoPort}, RTP echo on ${echoRtpPort}`);
    const gw = await h.startRtcgw(procs, {
      bin: args.rtcgw, workDir, wsPort, sipPort: gwSipPort, pcscfPort: kamPort, metricsPort,
      media: { portRange: [41200, 41399] }, extra: TRANSCODING,
    });
    step(`rtcgw (transcoding opus <-> PCMU) serves the page at ${gw.origin}/`);
    const rtcgwEntry = procs.list.find((p) => p.name === 'rtcgw');
    m.configure({ assertAlive: () => procs.assertRunning(rtcgwEntry) });

    const tone = h.writeToneWav(path.join(workDir, 'tone.wav'));
    const chromium = await h.startChromium(procs, {
      workDir, extraArgs: [`--use-file-for-fake-audio-capture=${tone}`],
    });
    browser = chromium.browser;
    page = await m.openRegisteredPage(chromium.context, gw.origin, wsPort, outDir,
      ['dtmf_page.js']);
    await page.waitForFunction(() => window.dtmfTest, null, { timeout: 5000 });
    step('alice registered through rtcgw');

    await run({ page, metricsPort, farEnd, rtcgwEntry }, step);
    await page.screenshot({ path: path.join(outDir, 'alice.png'), timeout: 5000 }).catch(() => {});

    const stopError = await h.stopCleanly(procs, rtcgwEntry);
    if (stopError) throw stopError;
    step('rtcgw stopped cleanly');
  } catch (e) {
    failure = e;
    if (page) {
      await page.screenshot({ path: path.join(outDir, 'failure.png'), timeout: 5000 })
        .catch(() => {});
    }
  } finally {
    clearTimeout(watchdog);
    if (browser) await browser.close().catch(() => {});
    await procs.stopAll();
    if (farEnd) farEnd.close();
    fs.rmSync(workDir, { recursive: true, force: true });
  }
  if (failure) {
    for (const p of procs.list) {
      if (p.name !== 'chromium') console.error(`--- ${p.name} (last lines)\n${h.tail(p.logPath, 25)}`);
    }
    if (farEnd) console.error(`--- echo far end: ${farEnd.describe()}`);
    console.error(`FAIL: ${failure.stack || failure}`);
    console.error(`logs, page console and screenshots: ${outDir}`);
    process.exit(1);
  }
  console.log(`PASS (${((Date.now() - started) / 1000).toFixed(1)} s); logs in ${outDir}`);
  process.exit(0);
}

main();
