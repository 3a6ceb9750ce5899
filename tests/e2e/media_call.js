// Browser end-to-end media test (issue 3): JsSIP in Debian's Chromium registers alice through
// rtcgw with Kamailio (demo/kamailio.cfg) as the IMS core, then
//   1. alice calls sip:echo@rtcgw.demo (sipp, demo/echo_uas.xml, plain RTP/AVP, -rtp_echo): the
//      browser's ICE + DTLS-SRTP leg and the core's plain RTP leg meet in rtcgw's media anchor;
//      audio comes back through the echo (getStats: packets and energy both ways, DTLS connected,
//      an SRTP cipher), rtcgw's metrics show one media session and ports in use; hold and resume
//      (re-INVITEs) and audio flows again; the browser hangs up and the anchor is released;
//   2. the core calls alice (sipp, tests/e2e/sipp/uac_call_alice.xml, plain RTP/AVP offer,
//      -rtp_echo), the page answers at once, same checks, the far end hangs up, anchor released;
//   3. the same, but the browser hangs up.
// Each of the three runs even when an earlier one failed; the test fails if any did.
//
//   unshare --net sh -c 'ip link set lo up && exec node tests/e2e/media_call.js \
//       --rtcgw build/rtcgw --out build/e2e/media_call [--ice full]'
//
// --ice full runs rtcgw with media.ice: full (a libnice agent per call on the browser leg): the
// SDP the browser gets must then have no a=ice-lite, and Chromium's checks meet rtcgw's.
//
// Leaves screenshots, the page console (with every SDP), sipp's messages and every process's log
// in --out.
'use strict';

const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const h = require('./harness');

const OVERALL_TIMEOUT_MS = 220000;
const MEDIA_WAIT_MS = 10000;      // for DTLS, packets, energy
const RELEASE_WAIT_MS = 10000;    // for rtcgw to release an anchor after the call ended
const FAR_END_BYE_AFTER_MS = 15000;  // tests/e2e/sipp/uac_call_alice.xml's BYE timeout
const ALICE = 'sip:alice@rtcgw.demo';
const ECHO = 'sip:echo@rtcgw.demo';
let iceMode = 'lite';  // media.ice of this run (--ice)
const MIN_PACKETS = 25;           // ~0.5 s of 20 ms packets

let step = console.log;
let assertAlive = () => {};  // throws when rtcgw has died (set in main)

// For other tests reusing the helpers below (media_transcode.js): their log and liveness check.
function configure(hooks) {
  if (hooks.step) step = hooks.step;
  if (hooks.assertAlive) assertAlive = hooks.assertAlive;
}

// --- the page ------------------------------------------------------------------------------------

// The demo page (JsSIP, and an origin rtcgw allows) with media_page.js driving its own UA,
// registered as alice through rtcgw's WebSocket on `wsPort`. `scripts`: further page scripts
// (files next to this one) added before it registers.
async function openRegisteredPage(context, origin, wsPort, outDir, scripts = []) {
  const page = await h.openPhone(context, origin, 'alice', outDir);
  for (const s of ['media_page.js', ...scripts]) {
    await page.addScriptTag({ path: path.join(__dirname, s) });
  }
  await page.waitForFunction(() => window.mediaTest, null, { timeout: 5000 });
  await page.evaluate((o) => window.mediaTest.start(o),
    { ws: `ws://127.0.0.1:${wsPort}/`, uri: ALICE, password: 'demo' });
  await h.waitFor('alice to register', async () => {
    const st = await page.evaluate(() => window.mediaTest.state);
    if (st.registration === 'failed') throw new Error(`registration failed: ${st.error}`);
    return st.registration === 'registered';
  }, 10000);
  return page;
}

// The page's recent log, one line per event (the SDPs in full are in <out>/alice.console.log).
async function pageLog(page) {
  return page.evaluate(() => window.mediaTest.events.slice(-30).map((e) => e.split('\n')[0])
    .join('\n')).catch(() => '(page gone)');
}

// What a sipp saw: the first line of each message it sent or received.
function sippExchange(file) {
  let text = '';
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return '(no message log)';
  }
  const lines = text.split('\n').filter((l) => /^(SIP\/2\.0 \d+|[A-Z]+ sips?:\S+ SIP\/2\.0)/.test(l));
  return lines.map((l) => l.trim().replace(/ SIP\/2\.0$/, '')).join(', ') || '(no messages)';
}

async function callEntry(page) {
  return page.evaluate(() => {
    const c = window.mediaTest.current();
    return c && { ...c };
  });
}

function mLine(sdp) {
  const m = /^m=audio .*$/m.exec(sdp || '');
  return m ? m[0].trim() : '(no m=audio line)';
}

// Why a call ended before it was up, in words that point at the cause.
function describeEnd(entry, what) {
  let text = `${what} ${entry.state} (${entry.endedBy}): ${entry.cause}` +
    `${entry.status ? ` (on a SIP ${entry.status})` : ''}`;
  if (entry.cause === 'Bad Media Description' || /WebRTC Error|Not Acceptable/.test(entry.cause)) {
    text += `\n  the browser could not apply the SDP it got from rtcgw: ${mLine(entry.remoteSdp)}`;
    if (entry.sdpError) text += `\n  ${entry.sdpError}`;
    if (/RTP\/AVP /.test(mLine(entry.remoteSdp))) {
      text += '\n  (plain RTP/AVP reached the browser: rtcgw did not anchor the media, ' +
        'no ICE-lite/DTLS-SRTP SDP)';
    }
  }
  return text;
}

// Waits for the call to reach `state`; fails at once when it ends or fails instead.
async function waitCallState(page, state, what, ms) {
  const deadline = Date.now() + ms;
  for (;;) {
    assertAlive();
    const entry = await callEntry(page);
    if (entry && entry.state === state) return entry;
    if (entry && (entry.state === 'failed' || entry.state === 'ended') && state !== entry.state) {
      throw new Error(`${describeEnd(entry, what)}\npage log:\n${await pageLog(page)}`);
    }
    if (Date.now() > deadline) {
      throw new Error(`${what}: not ${state} after ${ms / 1000} s ` +
        `(call state ${entry ? entry.state : 'none'})\npage log:\n${await pageLog(page)}`);
    }
    await h.sleep(100);
  }
}

const stats = (page) => page.evaluate(() => window.mediaTest.stats());

// Polls getStats until `check(stats)` returns true; `describe(stats)` says what was missing.
async function waitStats(page, what, check, describe, ms = MEDIA_WAIT_MS) {
  const deadline = Date.now() + ms;
  let last = null;
  for (;;) {
    assertAlive();
    last = await stats(page);
    if (last && check(last)) return last;
    if (Date.now() > deadline) {
      throw new Error(`${what} after ${ms / 1000} s: ${last ? describe(last) : 'no call'}\n` +
        `getStats: ${JSON.stringify(last)}\npage log:\n${await pageLog(page)}`);
    }
    await h.sleep(200);
  }
}

// The browser-side media checks of the issue: DTLS connected with an SRTP cipher, packets sent,
// packets received growing with energy (the echo sends back what the browser sent: both
// directions through rtcgw).
async function expectMedia(page, label) {
  const t = await waitStats(page, `${label}: DTLS not connected`,
    (s) => s.transport && s.transport.dtlsState === 'connected',
    (s) => `transport ${JSON.stringify(s.transport)}`);
  assert.ok(t.transport.srtpCipher, `${label}: no srtpCipher in the transport stats`);
  const dtls = { FEFD: 'DTLS 1.2', FEFC: 'DTLS 1.3' }[t.transport.tlsVersion] || t.transport.tlsVersion;
  step(`${label}: ${dtls || 'DTLS'} connected (${t.transport.dtlsRole || '?'}), ` +
    `SRTP ${t.transport.srtpCipher}, pair ${t.pair ? `${t.pair.local} -> ${t.pair.remote}` : '?'}, ` +
    `codecs ${JSON.stringify(t.codecs)}`);
  const first = t;
  const sentBase = first.outbound ? first.outbound.packetsSent : 0;
  const s1 = await waitStats(page, `${label}: no outbound audio packets`,
    (s) => s.outbound && s.outbound.packetsSent >= sentBase + MIN_PACKETS,
    (s) => `outbound-rtp packetsSent ${s.outbound ? s.outbound.packetsSent : 'none'}`);
  const recvBase = first.inbound ? first.inbound.packetsReceived : 0;
  const s2 = await waitStats(page, `${label}: no inbound audio packets`,
    (s) => s.inbound && s.inbound.packetsReceived >= recvBase + MIN_PACKETS,
    (s) => `inbound-rtp packetsReceived ${s.inbound ? s.inbound.packetsReceived : 'none'}`);
  const s3 = await waitStats(page, `${label}: inbound audio is silent (totalAudioEnergy 0)`,
    (s) => s.inbound.totalAudioEnergy > 0,
    (s) => `inbound-rtp ${JSON.stringify(s.inbound)}`);
  step(`${label}: audio both ways: sent ${s1.outbound.packetsSent}, received ` +
    `${s3.inbound.packetsReceived} (lost ${s3.inbound.packetsLost}), energy ` +
    `${s3.inbound.totalAudioEnergy.toFixed(4)}`);
  return s2;
}

// After a resume: inbound packets still grow and the energy increases again.
async function expectAudioResumes(page, label) {
  const base = await stats(page);
  assert.ok(base && base.inbound, `${label}: no inbound-rtp stats after resume`);
  const s = await waitStats(page, `${label}: inbound audio did not resume`,
    (x) => x.inbound.packetsReceived >= base.inbound.packetsReceived + MIN_PACKETS &&
      x.inbound.totalAudioEnergy > base.inbound.totalAudioEnergy,
    (x) => `inbound-rtp packetsReceived ${base.inbound.packetsReceived} -> ` +
      `${x.inbound.packetsReceived}, totalAudioEnergy ${base.inbound.totalAudioEnergy} -> ` +
      `${x.inbound.totalAudioEnergy}`);
  step(`${label}: audio flows again: received ${base.inbound.packetsReceived} -> ` +
    `${s.inbound.packetsReceived}, energy ${base.inbound.totalAudioEnergy.toFixed(4)} -> ` +
    `${s.inbound.totalAudioEnergy.toFixed(4)}`);
}

// --- rtcgw's metrics -----------------------------------------------------------------------------

function mediaMetrics(m) {
  const packets = m.samples.filter((x) => x.name === 'rtcgw_media_packets_total')
    .map((x) => `${x.labels.leg}/${x.labels.direction}=${x.value}`).join(' ');
  return `rtcgw_media_sessions ${m.totals.rtcgw_media_sessions}, ` +
    `rtcgw_media_ports_in_use ${m.totals.rtcgw_media_ports_in_use}` +
    `${packets ? `, packets ${packets}` : ''}`;
}

function requireGauges(m) {
  for (const name of ['rtcgw_media_sessions', 'rtcgw_media_ports_in_use']) {
    if (!(name in m.totals)) throw new Error(`${name} missing from rtcgw's /metrics`);
  }
}

async function expectAnchored(metricsPort, label) {
  const m = await h.scrapeMetrics(metricsPort);
  requireGauges(m);
  assert.equal(m.totals.rtcgw_media_sessions, 1, `${label}: rtcgw_media_sessions (${mediaMetrics(m)})`);
  assert.ok(m.totals.rtcgw_media_ports_in_use > 0,
    `${label}: rtcgw_media_ports_in_use > 0 (${mediaMetrics(m)})`);
  step(`${label}: metrics ${mediaMetrics(m)}`);
}

async function expectReleased(metricsPort, label) {
  let last = null;
  try {
    await h.waitFor(`${label}: rtcgw to release the media (sessions 0, ports 0)`, async () => {
      last = await h.scrapeMetrics(metricsPort);
      requireGauges(last);
      return last.totals.rtcgw_media_sessions === 0 && last.totals.rtcgw_media_ports_in_use === 0;
    }, RELEASE_WAIT_MS, 200);
  } catch (e) {
    throw new Error(`${e.message}${last ? ` (last: ${mediaMetrics(last)})` : ''}`);
  }
  step(`${label}: media released (${mediaMetrics(last)})`);
}

// --- the three calls -----------------------------------------------------------------------------

// rtcgw's SDP says a=ice-lite exactly when it runs ICE-lite.
function expectIceMode(sdp, label) {
  assert.equal(/^a=ice-lite/m.test(sdp || ''), iceMode === 'lite',
    `${label}: a=ice-lite in rtcgw's SDP with media.ice ${iceMode}`);
}

async function outgoingCall(ctx) {
  const { page, metricsPort } = ctx;
  const label = 'alice -> echo';
  await page.evaluate((t) => window.mediaTest.call(t), ECHO);
  const entry = await waitCallState(page, 'confirmed', `call to ${ECHO}`, 15000);
  step(`${label}: call up; the browser got ${mLine(entry.remoteSdp)}`);
  expectIceMode(entry.remoteSdp, label);
  await expectMedia(page, label);
  await expectAnchored(metricsPort, label);

  const held = await h.within(page.evaluate(() => window.mediaTest.hold()), 20000);
  assert.equal(held, 'ok', `${label}: hold (re-INVITE sendonly) answered 2xx within 20 s`);
  await h.sleep(1500);
  const during = await stats(page);
  step(`${label}: on hold (sent ${during.outbound ? during.outbound.packetsSent : '?'}, ` +
    `received ${during.inbound ? during.inbound.packetsReceived : '?'})`);
  const resumed = await h.within(page.evaluate(() => window.mediaTest.unhold()), 20000);
  assert.equal(resumed, 'ok', `${label}: unhold (re-INVITE sendrecv) answered 2xx within 20 s`);
  step(`${label}: resumed`);
  await expectAudioResumes(page, label);

  await page.evaluate(() => window.mediaTest.hangup());
  await waitCallState(page, 'ended', `${label}: hang-up`, 5000);
  step(`${label}: the browser hung up`);
  await expectReleased(metricsPort, label);
}

async function incomingCall(ctx, { browserHangsUp }) {
  const { page, metricsPort, procs, outDir, kamPort } = ctx;
  const n = ++ctx.incoming;
  const label = `core -> alice #${n} (${browserHangsUp ? 'browser' : 'far end'} hangs up)`;
  const callsBefore = await page.evaluate(() => window.mediaTest.calls.length);
  const sippPort = await h.freeSipPort();
  const rtpPort = await h.freeRtpPort();
  const uac = ctx.uac = h.startSipp(procs, `sipp-uac-${n}`,
    path.join(h.SOURCE_DIR, 'tests', 'e2e', 'sipp', 'uac_call_alice.xml'),
    ['-s', 'alice', '-i', '127.0.0.1', '-p', String(sippPort), '-mi', '127.0.0.1',
      '-mp', String(rtpPort), '-rtp_echo', '-m', '1', '-timeout', '60s', '-timeout_error',
      `127.0.0.1:${kamPort}`], outDir);
  const messages = path.join(outDir, `sipp-uac-${n}.messages.log`);
  try {
    await h.waitFor(`${label}: the INVITE to reach the page`, async () => {
      procs.assertRunning(uac);
      return (await page.evaluate(() => window.mediaTest.calls.length)) > callsBefore;
    }, 10000, 100);
    const entry = await waitCallState(page, 'confirmed', `${label}: the incoming call`, 15000);
    step(`${label}: answered; the browser got ${mLine(entry.remoteSdp)}`);
    expectIceMode(entry.remoteSdp, label);
    await expectMedia(page, label);
    await expectAnchored(metricsPort, label);
    await endIncoming(ctx, label, browserHangsUp);
  } catch (e) {
    e.message += `\nthe sipp UAC's messages: ${sippExchange(messages)}`;
    throw e;
  }
  step(`${label}: sipp saw ${sippExchange(messages)}`);
  await expectReleased(metricsPort, label);
}

async function endIncoming(ctx, label, browserHangsUp) {
  const { page, outDir, uac } = ctx;
  if (browserHangsUp) {
    await page.evaluate(() => window.mediaTest.hangup());
    await waitCallState(page, 'ended', `${label}: hang-up`, 5000);
    step(`${label}: the browser hung up`);
  } else {
    const ended = await waitCallState(page, 'ended', `${label}: the far end's BYE`,
      FAR_END_BYE_AFTER_MS + 10000);
    assert.equal(ended.endedBy, 'remote', `${label}: ended by the far end`);
    step(`${label}: the far end hung up (${ended.cause})`);
  }
  const exit = await h.within(uac.exited, 15000);
  assert.ok(exit && exit.code === 0,
    `${label}: sipp UAC exit ${JSON.stringify(exit)} (0: the call went through and ended cleanly)\n` +
    `${h.tail(path.join(outDir, `${uac.name}.errors.log`), 20)}`);
}

// After a failed phase: end the call, stop the UAC, give rtcgw a moment.
async function cleanUp(ctx) {
  await ctx.page.evaluate(() => window.mediaTest.hangup()).catch(() => {});
  if (ctx.uac) await ctx.procs.stop(ctx.uac, 2000);
  ctx.uac = null;
  await h.waitFor('the call to end', async () => {
    const e = await callEntry(ctx.page);
    return !e || e.state === 'ended' || e.state === 'failed';
  }, 5000).catch(() => {});
  await h.sleep(500);
}

// --- main ----------------------------------------------------------------------------------------

async function main() {
  const args = h.parseArgs(process.argv.slice(2));
  assert.ok(args.rtcgw, 'usage: media_call.js --rtcgw PATH [--out DIR] [--ice lite|full]');
  iceMode = args.ice || 'lite';
  assert.ok(fs.existsSync(path.join(h.SOURCE_DIR, 'web', 'jssip.min.js')),
    'web/jssip.min.js is missing: run scripts/setup.sh');
  const { outDir, workDir } = h.makeDirs(args.out);
  const procs = new h.Processes(outDir);
  let browser = null;
  let page = null;
  let metricsPort = 0;
  const started = Date.now();
  step = (text) => console.log(`[${((Date.now() - started) / 1000).toFixed(1)} s] ${text}`);

  const failures = [];
  const watchdog = setTimeout(() => {
    for (const { name, error } of failures) console.error(`FAIL: ${name}: ${error.stack || error}`);
    console.error(`FAIL: the test took longer than ${OVERALL_TIMEOUT_MS / 1000} s; logs: ${outDir}`);
    procs.stopAll().finally(() => process.exit(1));
  }, OVERALL_TIMEOUT_MS);

  try {
    const kamPort = await h.freeSipPort();
    const echoPort = await h.freeSipPort();
    const echoRtpPort = await h.freeRtpPort();
    const gwSipPort = await h.freeSipPort();
    const wsPort = await h.freeTcpPort();
    metricsPort = await h.freeTcpPort();

    await h.startKamailio(procs, { sipPort: kamPort, echoPort, workDir });
    step(`Kamailio answers on udp 127.0.0.1:${kamPort}`);
    const echo = h.startSipp(procs, 'sipp-echo', path.join(h.SOURCE_DIR, 'demo', 'echo_uas.xml'),
      ['-i', '127.0.0.1', '-p', String(echoPort), '-mi', '127.0.0.1', '-mp', String(echoRtpPort),
        '-rtp_echo', '-aa'], outDir);
    await h.waitUdpListening('sipp (echo far end)', echoPort, echo, procs);
    step(`echo far end (sipp) on udp 127.0.0.1:${echoPort}, RTP echo on ${echoRtpPort}`);
    const gw = await h.startRtcgw(procs, {
      bin: args.rtcgw, workDir, wsPort, sipPort: gwSipPort, pcscfPort: kamPort, metricsPort,
      media: { portRange: [41000, 41199], extra: [`ice: ${iceMode}`] },
    });
    step(`rtcgw serves the page at ${gw.origin}/, metrics on ${metricsPort}`);
    const tone = h.writeToneWav(path.join(workDir, 'tone.wav'));
    const chromium = await h.startChromium(procs, {
      workDir, extraArgs: [`--use-file-for-fake-audio-capture=${tone}`],
    });
    browser = chromium.browser;
    step('Chromium attached (fake microphone: a steady 440 Hz tone)');

    page = await openRegisteredPage(chromium.context, gw.origin, wsPort, outDir);
    step('alice registered through rtcgw');

    const rtcgwEntry = procs.list.find((p) => p.name === 'rtcgw');
    assertAlive = () => procs.assertRunning(rtcgwEntry);
    const ctx = { page, metricsPort, procs, outDir, kamPort, incoming: 0, uac: null };
    const phases = [
      ['alice calls the echo far end, hold/resume, browser hangs up', () => outgoingCall(ctx)],
      ['the core calls alice, the far end hangs up',
        () => incomingCall(ctx, { browserHangsUp: false })],
      ['the core calls alice, the browser hangs up',
        () => incomingCall(ctx, { browserHangsUp: true })],
    ];
    for (const [name, run] of phases) {
      step(`--- ${name}`);
      try {
        assertAlive();
        await run();
        step(`ok: ${name}`);
      } catch (e) {
        failures.push({ name, error: e });
        step(`FAILED: ${name}: ${e.message.split('\n')[0]}`);
        await page.screenshot({ path: path.join(outDir, `failure-${failures.length}.png`),
          timeout: 5000 }).catch(() => {});
        await cleanUp(ctx);
      }
    }
    await page.screenshot({ path: path.join(outDir, 'alice.png'), timeout: 5000 }).catch(() => {});

    // rtcgw stops cleanly on SIGTERM (a sanitizer report would make it exit non-zero).
    const stopError = await h.stopCleanly(procs, rtcgwEntry);
    if (stopError) failures.push({ name: 'rtcgw stops cleanly on SIGTERM', error: stopError });
    else step('rtcgw stopped cleanly');
  } catch (e) {
    failures.push({ name: 'setup', error: e });
    if (page) {
      await page.screenshot({ path: path.join(outDir, 'failure-setup.png'), timeout: 5000 })
        .catch(() => {});
    }
  } finally {
    clearTimeout(watchdog);
    if (browser) await browser.close().catch(() => {});
    await procs.stopAll();
    fs.rmSync(workDir, { recursive: true, force: true });
  }
  if (failures.length) {
    for (const p of procs.list) {
      if (p.name.startsWith('sipp')) {
        console.error(`--- ${p.name}: ${sippExchange(path.join(outDir, `${p.name}.messages.log`))}`);
      } else if (p.name !== 'chromium') {
        console.error(`--- ${p.name} (last lines)\n${h.tail(p.logPath, 25)}`);
      }
    }
    for (const { name, error } of failures) {
      console.error(`FAIL: ${name}: ${error.stack || error}`);
    }
    console.error(`${failures.length} failure(s); logs, page console and screenshots: ${outDir}`);
    process.exit(1);
  }
  console.log(`PASS (${((Date.now() - started) / 1000).toFixed(1)} s); logs in ${outDir}`);
  process.exit(0);
}

module.exports = {
  configure, openRegisteredPage, callEntry, cleanUp, endIncoming, expectAnchored, expectMedia, expectReleased, mLine,
  mediaMetrics, pageLog, sippExchange, stats, waitCallState, waitStats, MIN_PACKETS,
};

if (require.main === module) main();
