// Browser end-to-end transcoding test (issue 4): rtcgw with
//   transcoding: { browser_codecs: [opus], network_codecs: [PCMU] }
// answers the browser's offer with opus only and offers the IMS plain RTP/AVP PCMU (0 101);
// JsSIP in Debian's Chromium registers alice through rtcgw (Kamailio, demo/kamailio.cfg, as the
// IMS core) and calls sip:echo@rtcgw.demo (sipp, demo/echo_uas.xml, -rtp_echo). The audio goes
// through rtcgw's transcoder twice (opus -> PCMU -> echo -> PCMU -> opus). Checks:
//   - getStats: inbound-rtp and outbound-rtp codec audio/opus, DTLS connected, packets both ways,
//     inbound energy > 0;
//   - rtcgw's log says "transcoding opus/...";
//   - the INVITE the far end got offers m=audio <port> RTP/AVP 0 101 (PCMU, no opus);
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

const OVERALL_TIMEOUT_MS = 160000;
const ALICE = 'sip:alice@rtcgw.demo';
const ECHO = 'sip:echo@rtcgw.demo';
const TRANSCODING = { transcoding: { browser_codecs: ['opus'], network_codecs: ['PCMU'] } };

// The SDP body of the first INVITE in a sipp message log (what the far end received).
function receivedInviteSdp(file) {
  const text = fs.readFileSync(file, 'utf8');
  const start = text.search(/^INVITE sips?:\S+ SIP\/2\.0/m);
  if (start < 0) return null;
  const rest = text.slice(start);
  // the message ends at sipp's next separator ("----" line) or at the next message
  const end = rest.search(/^-{5,}|^(SIP\/2\.0 \d+|[A-Z]+ sips?:\S+ SIP\/2\.0)/m);
  const message = end > 0 ? rest.slice(0, end) : rest;
  const body = message.split(/\r?\n\r?\n/).slice(1).join('\n\n');
  return body.trim() ? body : null;
}

async function run(ctx, step) {
  const { page, metricsPort, outDir, rtcgwEntry } = ctx;
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
  const sdp = receivedInviteSdp(path.join(outDir, 'sipp-echo.messages.log'));
  assert.ok(sdp, `${label}: the far end's INVITE has an SDP offer`);
  const mline = m.mLine(sdp);
  assert.match(mline, /^m=audio \d+ RTP\/AVP 0 101$/,
    `${label}: the far end was offered PCMU + telephone-event only (got ${mline})`);
  assert.ok(!/opus/i.test(sdp), `${label}: no opus in the far end's offer\n${sdp}`);
  step(`${label}: the far end was offered ${mline}`);

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
    const echo = h.startSipp(procs, 'sipp-echo', path.join(h.SOURCE_DIR, 'demo', 'echo_uas.xml'),
      ['-i', '127.0.0.1', '-p', String(echoPort), '-mi', '127.0.0.1', '-mp', String(echoRtpPort),
        '-rtp_echo', '-aa'], outDir);
    await h.waitUdpListening('sipp (echo far end)', echoPort, echo, procs);
    step(`echo far end (sipp) on udp 127.0.0.1:${echoPort}, RTP echo on ${echoRtpPort}`);
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
    page = await h.openPhone(chromium.context, gw.origin, 'alice', outDir);
    await page.addScriptTag({ path: path.join(__dirname, 'media_page.js') });
    await page.waitForFunction(() => window.mediaTest, null, { timeout: 5000 });
    await page.evaluate((o) => window.mediaTest.start(o),
      { ws: `ws://127.0.0.1:${wsPort}/`, uri: ALICE, password: 'demo' });
    await h.waitFor('alice to register', async () => {
      const st = await page.evaluate(() => window.mediaTest.state);
      if (st.registration === 'failed') throw new Error(`registration failed: ${st.error}`);
      return st.registration === 'registered';
    }, 10000);
    step('alice registered through rtcgw');

    await run({ page, metricsPort, outDir, rtcgwEntry }, step);
    await page.screenshot({ path: path.join(outDir, 'alice.png'), timeout: 5000 }).catch(() => {});

    const exit = await procs.stop(rtcgwEntry, 10000);
    assert.ok(exit && exit.code === 0 && !exit.killed,
      `rtcgw stops cleanly on SIGTERM: exit ${JSON.stringify(exit)}\n${h.tail(rtcgwEntry.logPath)}`);
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
    fs.rmSync(workDir, { recursive: true, force: true });
  }
  if (failure) {
    for (const p of procs.list) {
      if (p.name.startsWith('sipp')) {
        console.error(`--- ${p.name}: ${m.sippExchange(path.join(outDir, `${p.name}.messages.log`))}`);
      } else if (p.name !== 'chromium') {
        console.error(`--- ${p.name} (last lines)\n${h.tail(p.logPath, 25)}`);
      }
    }
    console.error(`FAIL: ${failure.stack || failure}`);
    console.error(`logs, page console and screenshots: ${outDir}`);
    process.exit(1);
  }
  console.log(`PASS (${((Date.now() - started) / 1000).toFixed(1)} s); logs in ${outDir}`);
  process.exit(0);
}

main();
