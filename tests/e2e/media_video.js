// Browser end-to-end video test (issue 3: video m-lines bridged as they are, no transcoding).
// rtcgw runs with media.video: passthrough; JsSIP in Debian's Chromium (fake microphone: a tone
// file; fake camera: Chromium's moving test pattern) registers alice through rtcgw (Kamailio,
// demo/kamailio.cfg, as the IMS core), then
//   1. alice calls sip:echo@rtcgw.demo with audio and video: echo_far_end.js with video on, which
//      answers PCMU and the first of VP8/H264 in plain RTP/AVP and echoes both back (video under
//      another SSRC). Checks:
//      - the SDP the far end got: m=video on a non-zero port of its own, RTP/AVP, only the
//        codecs of media.video_codecs (the first of them first), b=AS of media.video_max_kbps,
//        none of the browser's a=rtcp-fb, a=extmap, a=ssrc, a=mid, and no a=fingerprint or
//        a=ice- anywhere;
//      - the SDP the browser got: m=video on a non-zero port, UDP/TLS/RTP/SAVPF, in the BUNDLE
//        group with the audio, only media.video_codecs, a=rtcp-fb nack, nack pli and ccm fir for
//        each (and, when the core called, Chromium's answer keeping them);
//      - getStats: audio both ways with energy (media_call.js's checks); video packets sent and
//        received, and frames decoded from what came back through rtcgw, under the far end's
//        SSRC; the far end got video packets including a keyframe, and no video on its audio
//        port;
//      - rtcgw's metrics: one media session and a video port pair while up; sessions and ports
//        0 after the browser hangs up;
//   2. the core calls alice with audio and video (sipp, tests/e2e/sipp/uac_call_alice_video.xml,
//      VP8 and H264, -rtp_echo: it echoes -mp and -mp + 2); the page answers with video. The
//      offer the browser got has m=video bundled with the audio; the answer the core got (also
//      checked by the scenario) passes the checks of the far end's offer in 1; the same getStats
//      checks; the browser hangs up;
//   3. rtcgw exits 0 on SIGTERM.
// Each call runs even when the other failed; the test fails if any did.
//
//   unshare --net sh -c 'ip link set lo up && exec node tests/e2e/media_video.js \
//       --rtcgw build/rtcgw --out build/e2e/media_video [--video-codecs H264]'
//
// --video-codecs sets media.video_codecs (default VP8,H264): every video line may carry only
// those, and the far end (which takes the first VP8/H264 of the offer) must get the first of them:
// H264 runs Chromium's H264 encoder and decoder through rtcgw instead of VP8.
'use strict';

const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const h = require('./harness');
const m = require('./media_call');
const { EchoFarEnd, mSections } = require('./echo_far_end');

const OVERALL_TIMEOUT_MS = 160000;
const ECHO = 'sip:echo@rtcgw.demo';
const VIDEO_MAX_KBPS = 1500;  // not the default (2000): b=AS must come from the configuration
let videoCodecs = ['VP8', 'H264'];  // media.video_codecs of this run (--video-codecs)
const MIN_VIDEO_PACKETS = 50;   // a few frames of the test pattern
const VIDEO_WAIT_MS = 15000;
// what the browser's video line carries and a plain RTP/AVP line towards the IMS must not
const BROWSER_ONLY = /^a=(rtcp-fb|extmap|ssrc|ssrc-group|mid|fingerprint|ice-|setup|rtcp-mux)\b/;

// --- SDP -----------------------------------------------------------------------------------------

const section = (sdp, type) => mSections(sdp).find((s) => s.type === type);
const sectionText = (sec) => (sec ? [`m=${sec.type} ${sec.port} ${sec.proto} ${sec.fmts.join(' ')}`,
  ...sec.lines].join(' | ') : '(none)');

// The codec names of a section's payload types ('?' for a pt without an rtpmap).
function codecsOf(sec) {
  return sec.fmts.map((pt) => {
    const re = new RegExp(`^a=rtpmap:${pt} ([^/]+)/(\\d+)`);
    const r = sec.lines.map((l) => re.exec(l)).find(Boolean);
    return { pt, name: r ? r[1] : '?', clock: r ? Number(r[2]) : 0 };
  });
}

function expectOnlyVideoCodecs(sec, what) {
  const codecs = codecsOf(sec);
  const bad = codecs.filter((c) => !videoCodecs.includes(c.name.toUpperCase()) ||
    c.clock !== 90000);
  assert.equal(bad.length, 0, `${what}: payload types other than ${videoCodecs.join('/')} ` +
    `(${bad.map((c) => `${c.pt} ${c.name}`).join(', ')}): ${sectionText(sec)}`);
  return codecs;
}

// The SDP towards the IMS: a plain RTP/AVP video line of its own, nothing of WebRTC.
function expectNetworkVideoSdp(sdp, label) {
  const what = `${label}: the far end's SDP`;
  assert.ok(sdp, `${what}: none`);
  const audio = section(sdp, 'audio');
  const video = section(sdp, 'video');
  assert.ok(audio && audio.port !== 0, `${what}: an audio line on a non-zero port\n${sdp}`);
  assert.ok(video, `${what}: no m=video line (media.video: passthrough)\n${sdp}`);
  assert.ok(video.port !== 0, `${what}: video refused with port 0: ${sectionText(video)}`);
  assert.equal(video.proto, 'RTP/AVP', `${what}: video proto: ${sectionText(video)}`);
  assert.ok(video.port !== audio.port && video.port !== audio.port + 1,
    `${what}: video on port ${video.port}, not a port pair of its own (audio ${audio.port})`);
  const codecs = expectOnlyVideoCodecs(video, what);
  assert.ok(codecs.length > 0, `${what}: video line without payload types`);
  const extra = video.lines.filter((l) => BROWSER_ONLY.test(l));
  assert.equal(extra.length, 0,
    `${what}: WebRTC attributes on the video line: ${extra.join(' | ')}`);
  const bas = video.lines.find((l) => /^b=AS:/.test(l));
  assert.equal(bas, `b=AS:${VIDEO_MAX_KBPS}`, `${what}: b=AS of media.video_max_kbps on the ` +
    `video line: ${sectionText(video)}`);
  const webrtc = sdp.split(/\r?\n/).filter((l) => /^a=(fingerprint|ice-|group:BUNDLE)/.test(l));
  assert.equal(webrtc.length, 0, `${what}: WebRTC attributes: ${webrtc.join(' | ')}`);
  return { video, codecs };
}

// The SDP towards the browser: video bundled with the audio on the one DTLS-SRTP transport.
function expectBrowserVideoSdp(sdp, label) {
  const what = `${label}: the browser's SDP from rtcgw`;
  assert.ok(sdp, `${what}: none`);
  const audio = section(sdp, 'audio');
  const video = section(sdp, 'video');
  assert.ok(video, `${what}: no m=video line\n${sdp}`);
  assert.ok(video.port !== 0, `${what}: video refused with port 0: ${sectionText(video)}`);
  assert.equal(video.proto, 'UDP/TLS/RTP/SAVPF', `${what}: video proto: ${sectionText(video)}`);
  const midOf = (sec) => {
    const l = sec && sec.lines.find((x) => x.startsWith('a=mid:'));
    return l ? l.slice(6).trim() : null;
  };
  const group = /^a=group:BUNDLE (.*)$/m.exec(sdp);
  assert.ok(group, `${what}: no a=group:BUNDLE\n${sdp}`);
  const bundled = group[1].trim().split(/\s+/);
  for (const [name, sec] of [['audio', audio], ['video', video]]) {
    const mid = midOf(sec);
    assert.ok(mid !== null && bundled.includes(mid),
      `${what}: the ${name} line (mid ${mid}) is not in a=group:BUNDLE ${group[1]}`);
  }
  const codecs = expectOnlyVideoCodecs(video, what);
  expectKeyFrameFeedback(video, codecs, what);
  return { video, codecs, group: group[0].trim() };
}

// Key frame requests and NACK negotiated for every video codec (Chromium offers them all, and
// rtcgw offers them all), so a browser that missed a key frame asks for another.
function expectKeyFrameFeedback(sec, codecs, what) {
  for (const c of codecs) {
    for (const fb of ['nack', 'nack pli', 'ccm fir']) {
      assert.ok(sec.lines.includes(`a=rtcp-fb:${c.pt} ${fb}`),
        `${what}: no a=rtcp-fb:${c.pt} ${fb} for ${c.name}: ${sectionText(sec)}`);
    }
  }
}

// --- getStats ------------------------------------------------------------------------------------

const vin = (s) => (s.video && s.video.inbound) || null;
const vout = (s) => (s.video && s.video.outbound) || null;

// Video out (the fake camera) and back (the far end's echo through rtcgw), decoded.
async function expectVideo(page, farEnd, label) {
  const why = () => (farEnd ? `; ${farEnd.describeVideo()}` : '');
  const base = await m.stats(page);
  const sentBase = base && vout(base) ? vout(base).packetsSent : 0;
  const sent = await m.waitStats(page, `${label}: no outbound video packets`,
    (s) => vout(s) && vout(s).packetsSent >= sentBase + MIN_VIDEO_PACKETS,
    (s) => `outbound video ${JSON.stringify(vout(s))}${why()}`, VIDEO_WAIT_MS);
  const got = await m.waitStats(page, `${label}: no inbound video packets`,
    (s) => vin(s) && vin(s).packetsReceived >= MIN_VIDEO_PACKETS,
    (s) => `inbound video ${JSON.stringify(vin(s))}${why()}`, VIDEO_WAIT_MS);
  const decoded = await m.waitStats(page, `${label}: no video frames decoded`,
    (s) => vin(s).framesDecoded > 0,
    (s) => `inbound video ${JSON.stringify(vin(s))} (keyframes the far end saw: ` +
      `${farEnd ? farEnd.video.keyframes : 'n/a'})${why()}`, VIDEO_WAIT_MS);
  // and it goes on: more packets in after the first decoded frame
  const later = await m.waitStats(page, `${label}: inbound video stopped`,
    (s) => vin(s).packetsReceived >= vin(decoded).packetsReceived + MIN_VIDEO_PACKETS,
    (s) => `inbound video ${JSON.stringify(vin(s))}${why()}`, VIDEO_WAIT_MS);
  const o = vout(later);
  const i = vin(later);
  for (const [side, x] of [['inbound', i], ['outbound', o]]) {
    const name = /^video\/([^/]+)\//.exec(x.codec || '');
    assert.ok(name && videoCodecs.includes(name[1].toUpperCase()),
      `${label}: ${side} video codec ${x.codec}, not one of ${videoCodecs.join(', ')}`);
  }
  return {
    text: `video sent ${o.packetsSent} packets (${o.framesEncoded} frames, ${o.frameWidth}x` +
      `${o.frameHeight}, ${o.codec}, ${o.encoderImplementation}), received ${i.packetsReceived} ` +
      `(lost ${i.packetsLost}), frames decoded ${i.framesDecoded} (${i.keyFramesDecoded} key, ` +
      `${i.frameWidth}x${i.frameHeight}, ${i.codec}, ${i.decoderImplementation}); before: sent ` +
      `${vout(sent).packetsSent}, received ${vin(got).packetsReceived}`,
    stats: later,
  };
}

// An audio call holds 3 ports (the browser's, the network's RTP/RTCP pair); video adds a network
// pair of its own (the browser's video shares the audio's transport).
async function expectVideoPorts(metricsPort, label) {
  const x = await h.scrapeMetrics(metricsPort);
  assert.ok(x.totals.rtcgw_media_ports_in_use >= 5, `${label}: rtcgw_media_ports_in_use ` +
    `${x.totals.rtcgw_media_ports_in_use}, expected the audio's 3 + a video pair`);
}

// The page with the echoed video playing (what a user would see), for the record.
async function screenshot({ page, outDir }, name) {
  await page.screenshot({ path: path.join(outDir, name), timeout: 5000 }).catch(() => {});
}

// --- the calls -----------------------------------------------------------------------------------

async function outgoingVideoCall(ctx) {
  const { page, metricsPort, farEnd, step } = ctx;
  const label = 'alice -> echo (audio + video)';
  const offersBefore = farEnd.offers.length;
  await page.evaluate((t) => window.mediaTest.call(t, { video: true }), ECHO);
  const entry = await m.waitCallState(page, 'confirmed', `call to ${ECHO}`, 15000);
  // in the order they were made: rtcgw's offer to the IMS, then its answer to the browser
  const net = expectNetworkVideoSdp(farEnd.offers[offersBefore], label);
  step(`${label}: call up; the far end was offered ${sectionText(net.video)}, answered ` +
    `${farEnd.video.codec} pt ${farEnd.video.pt}`);
  const browser = expectBrowserVideoSdp(entry.remoteSdp, label);
  step(`${label}: the browser got ${sectionText(browser.video)}; ${browser.group}`);
  assert.equal(farEnd.video.codec, videoCodecs[0], `${label}: the far end answered the first ` +
    `codec of the offer, which should be media.video_codecs' first: ${sectionText(net.video)}`);
  assert.ok(browser.codecs.some((c) => c.name.toUpperCase() === farEnd.video.codec),
    `${label}: the browser's answer lacks the far end's ${farEnd.video.codec}: ` +
    `${sectionText(browser.video)}`);

  await m.expectMedia(page, label);  // DTLS + SRTP, audio both ways with energy
  const v = await expectVideo(page, farEnd, label);
  step(`${label}: ${v.text}`);
  await screenshot(ctx, 'outgoing-video.png');
  assert.ok(farEnd.video.packets >= MIN_VIDEO_PACKETS && farEnd.video.keyframes > 0,
    `${label}: the far end got video with a keyframe: ${farEnd.describeVideo()}`);
  assert.equal(farEnd.other.length, 0, `${label}: RTP other than PCMU/telephone-event on the ` +
    `far end's audio port (video sent on the audio leg?): ${farEnd.describe()}`);
  step(`${label}: far end: ${farEnd.describeVideo()}`);
  // the far end echoes under SSRC ^ 0x5a5a5a5a: the browser's own SSRC back would be video that
  // never went through the far end
  const sentSsrc = vout(v.stats).ssrc;
  const gotSsrc = vin(v.stats).ssrc;
  assert.notEqual(gotSsrc, sentSsrc, `${label}: the browser receives video under its own SSRC ` +
    `${sentSsrc}: not the far end's echo (${farEnd.describeVideo()})`);
  step(`${label}: video SSRC out ${sentSsrc}, in ${gotSsrc}` +
    `${gotSsrc === ((sentSsrc ^ 0x5a5a5a5a) >>> 0) ? ' (the far end\'s echo, as relayed)' : ''}`);
  await m.expectAnchored(metricsPort, label);
  await expectVideoPorts(metricsPort, label);

  await page.evaluate(() => window.mediaTest.hangup());
  await m.waitCallState(page, 'ended', `${label}: hang-up`, 5000);
  step(`${label}: the browser hung up`);
  await m.expectReleased(metricsPort, label);
}

// The SDP of the first 200 to an INVITE in a sipp message log (-trace_msg: each message after a
// line of dashes), or null.
function sippAnswerSdp(file) {
  let text = '';
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return null;
  }
  const ok = text.split(/\n-{20,} /).find((msg) => /^SIP\/2\.0 200 /m.test(msg) &&
    /^CSeq: *\d+ INVITE/mi.test(msg) && /^v=0/m.test(msg));
  return ok ? ok.slice(ok.search(/^v=0/m)).trim() : null;
}

async function incomingVideoCall(ctx) {
  const { page, metricsPort, procs, outDir, kamPort, step } = ctx;
  const label = 'core -> alice (audio + video)';
  await page.evaluate(() => { window.mediaTest.answerOptions.video = true; });
  const callsBefore = await page.evaluate(() => window.mediaTest.calls.length);
  const sippPort = await h.freeSipPort();
  const rtpPort = await h.freeRtpPort();  // and rtpPort + 2 for video: sipp echoes both
  const uac = ctx.uac = h.startSipp(procs, 'sipp-uac-video',
    path.join(h.SOURCE_DIR, 'tests', 'e2e', 'sipp', 'uac_call_alice_video.xml'),
    ['-s', 'alice', '-i', '127.0.0.1', '-p', String(sippPort), '-mi', '127.0.0.1',
      '-mp', String(rtpPort), '-rtp_echo', '-m', '1', '-timeout', '60s', '-timeout_error',
      `127.0.0.1:${kamPort}`], outDir);
  const messages = path.join(outDir, 'sipp-uac-video.messages.log');
  try {
    await h.waitFor(`${label}: the INVITE to reach the page`, async () => {
      procs.assertRunning(uac);
      return (await page.evaluate(() => window.mediaTest.calls.length)) > callsBefore;
    }, 10000, 100);
    const entry = await m.waitCallState(page, 'confirmed', `${label}: the incoming call`, 15000);
    const offer = expectBrowserVideoSdp(entry.remoteSdp, label);
    step(`${label}: answered; the browser was offered ${sectionText(offer.video)}; ${offer.group}`);
    const accepted = section(entry.localSdp, 'video');
    assert.ok(accepted && accepted.port !== 0,
      `${label}: the browser accepted the video line: ${sectionText(accepted)}`);
    // Chromium's own answer keeps the feedback rtcgw offered: it will send PLI and NACK.
    expectKeyFrameFeedback(accepted, codecsOf(accepted), `${label}: the browser's answer`);
    // rtcgw answers the core once the browser has answered: the 200 is in sipp's log by now
    const answer = await h.waitFor('the 200 with SDP in sipp\'s message log',
      () => sippAnswerSdp(messages), 3000);
    const net = expectNetworkVideoSdp(answer, `${label}, the answer the core got`);
    step(`${label}: the core got ${sectionText(net.video)}`);
    await m.expectMedia(page, label);
    const v = await expectVideo(page, null, label);
    step(`${label}: ${v.text}; SSRC out ${vout(v.stats).ssrc}, in ${vin(v.stats).ssrc} (sipp ` +
      'echoes the packets as they came)');
    await screenshot(ctx, 'incoming-video.png');
    await m.expectAnchored(metricsPort, label);
    await expectVideoPorts(metricsPort, label);
    await m.endIncoming(ctx, label, true);
  } catch (e) {
    e.message += `\nthe sipp UAC's messages: ${m.sippExchange(messages)}`;
    throw e;
  } finally {
    await page.evaluate(() => { window.mediaTest.answerOptions.video = false; }).catch(() => {});
  }
  step(`${label}: sipp saw ${m.sippExchange(messages)}`);
  await m.expectReleased(metricsPort, label);
}

// --- main ----------------------------------------------------------------------------------------

async function main() {
  const args = h.parseArgs(process.argv.slice(2));
  assert.ok(args.rtcgw, 'usage: media_video.js --rtcgw PATH [--out DIR] [--video-codecs VP8,H264]');
  if (args['video-codecs']) videoCodecs = args['video-codecs'].toUpperCase().split(',');
  const videoConfig = ['video: passthrough', `video_codecs: [${videoCodecs.join(', ')}]`,
    `video_max_kbps: ${VIDEO_MAX_KBPS}`];
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
  const failures = [];

  const watchdog = setTimeout(() => {
    for (const { name, error } of failures) console.error(`FAIL: ${name}: ${error.stack || error}`);
    console.error(`FAIL: the test took longer than ${OVERALL_TIMEOUT_MS / 1000} s; logs: ${outDir}`);
    if (farEnd) console.error(`--- echo far end: ${farEnd.describe()}`);
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
    farEnd = await new EchoFarEnd({ sipPort: echoPort, rtpPort: echoRtpPort, video: true }).start();
    step(`echo far end on udp 127.0.0.1:${echoPort}, audio echo on ${echoRtpPort}, video echo ` +
      `on ${farEnd.videoPort}`);
    const gw = await h.startRtcgw(procs, {
      bin: args.rtcgw, workDir, wsPort, sipPort: gwSipPort, pcscfPort: kamPort, metricsPort,
      media: { portRange: [41400, 41599], extra: videoConfig },
    });
    step(`rtcgw (media.${videoConfig.join(', ')}) serves the page at ${gw.origin}/`);
    const rtcgwEntry = procs.list.find((p) => p.name === 'rtcgw');
    m.configure({ assertAlive: () => procs.assertRunning(rtcgwEntry) });

    const tone = h.writeToneWav(path.join(workDir, 'tone.wav'));
    const chromium = await h.startChromium(procs, {
      workDir, extraArgs: [`--use-file-for-fake-audio-capture=${tone}`],
    });
    browser = chromium.browser;
    step('Chromium attached (fake microphone: a steady 440 Hz tone; fake camera: test pattern)');
    page = await m.openRegisteredPage(chromium.context, gw.origin, wsPort, outDir);
    step('alice registered through rtcgw');

    const ctx = { page, metricsPort, procs, outDir, kamPort, farEnd, step, uac: null };
    const phases = [
      ['alice calls the echo far end with video, browser hangs up', () => outgoingVideoCall(ctx)],
      ['the core calls alice with video, browser hangs up', () => incomingVideoCall(ctx)],
    ];
    for (const [name, run] of phases) {
      step(`--- ${name}`);
      try {
        procs.assertRunning(rtcgwEntry);
        await run();
        step(`ok: ${name}`);
      } catch (e) {
        failures.push({ name, error: e });
        step(`FAILED: ${name}: ${e.message.split('\n')[0]}`);
        await page.screenshot({ path: path.join(outDir, `failure-${failures.length}.png`),
          timeout: 5000 }).catch(() => {});
        await m.cleanUp(ctx);
      }
    }

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
    if (farEnd) farEnd.close();
    fs.rmSync(workDir, { recursive: true, force: true });
  }
  if (failures.length) {
    for (const p of procs.list) {
      if (p.name.startsWith('sipp')) {
        const log = path.join(outDir, `${p.name}.messages.log`);
        console.error(`--- ${p.name}: ${m.sippExchange(log)}`);
      } else if (p.name !== 'chromium') {
        console.error(`--- ${p.name} (last lines)\n${h.tail(p.logPath, 25)}`);
      }
    }
    if (farEnd) console.error(`--- echo far end: ${farEnd.describe()}`);
    for (const { name, error } of failures) console.error(`FAIL: ${name}: ${error.stack || error}`);
    console.error(`${failures.length} failure(s); logs, page console and screenshots: ${outDir}`);
    process.exit(1);
  }
  console.log(`PASS (${((Date.now() - started) / 1000).toFixed(1)} s); logs in ${outDir}`);
  process.exit(0);
}

main();
