// Browser end-to-end test: two pages of the demo phone (JsSIP in Debian's Chromium) register alice
// and bob through rtcgw with Kamailio (demo/kamailio.cfg) as the IMS core, alice sends bob a
// MESSAGE (delivered by the core through the Path rtcgw put on bob's REGISTER), both unregister.
//
//   unshare --net sh -c 'ip link set lo up && exec node tests/e2e/register_message.js \
//       --rtcgw build/rtcgw --out build/e2e'
//
// Leaves screenshots, page consoles and every process's log in --out.
'use strict';

const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const h = require('./harness');

const OVERALL_TIMEOUT_MS = 90000;

async function register(page, uri) {
  await page.fill('#uri', uri);
  await page.fill('#password', 'demo');
  await page.click('#register');
  await h.waitPhone(page, `${uri} to register`,
    () => window.phone.state.registration === 'registered');
  const status = await page.textContent('#status');
  assert.equal(status, 'Registered', `status badge of ${uri}`);
}

async function unregister(page, uri) {
  await page.click('#unregister');
  await h.waitPhone(page, `${uri} to unregister`,
    () => window.phone.state.registration === 'unregistered');
  // the un-REGISTER was answered by the core (not just the WebSocket closed)
  const answered = await page.evaluate(
    () => window.phone.events.some((e) => /^unregistered \(200 /.test(e.text)));
  assert.ok(answered, `${uri}: un-REGISTER answered 200`);
}

async function sendMessage(page, target, text) {
  await page.fill('#target', target);
  await page.fill('#message-text', text);
  await page.click('#send');
}

async function main() {
  const args = h.parseArgs(process.argv.slice(2));
  assert.ok(args.rtcgw, 'usage: register_message.js --rtcgw PATH [--out DIR]');
  assert.ok(fs.existsSync(path.join(h.SOURCE_DIR, 'web', 'jssip.min.js')),
    'web/jssip.min.js is missing: run scripts/setup.sh');
  const { outDir, workDir } = h.makeDirs(args.out);
  const procs = new h.Processes(outDir);
  let browser = null;
  const pages = {};  // name -> page, for screenshots when something fails
  const started = Date.now();
  const step = (text) => console.log(`[${((Date.now() - started) / 1000).toFixed(1)} s] ${text}`);

  const watchdog = setTimeout(() => {
    console.error(`FAIL: the test took longer than ${OVERALL_TIMEOUT_MS / 1000} s`);
    procs.stopAll().finally(() => process.exit(1));
  }, OVERALL_TIMEOUT_MS);

  let failure = null;
  try {
    const kamPort = await h.freeSipPort();
    const echoPort = await h.freeSipPort();
    const gwSipPort = await h.freeSipPort();
    const wsPort = await h.freeTcpPort();
    const metricsPort = await h.freeTcpPort();

    await h.startKamailio(procs, { sipPort: kamPort, echoPort, workDir });
    step(`Kamailio answers on udp 127.0.0.1:${kamPort}`);
    const gw = await h.startRtcgw(procs, {
      bin: args.rtcgw, workDir, wsPort, sipPort: gwSipPort, pcscfPort: kamPort, metricsPort,
    });
    step(`rtcgw serves the page at ${gw.origin}/`);
    const chromium = await h.startChromium(procs, { workDir });
    browser = chromium.browser;
    step('Chromium attached');

    const alice = pages.alice = await h.openPhone(chromium.context, gw.origin, 'alice', outDir);
    const bob = pages.bob = await h.openPhone(chromium.context, gw.origin, 'bob', outDir);
    step('two pages loaded from rtcgw');
    assert.equal(await alice.inputValue('#ws-url'), `ws://127.0.0.1:${wsPort}/`,
      'the page defaults to its own origin for the WebSocket');

    await register(alice, 'sip:alice@rtcgw.demo');
    step('alice registered (digest with Kamailio through rtcgw)');
    await register(bob, 'sip:bob@rtcgw.demo');
    step('bob registered');

    const text = `hello bob, it is alice (${process.pid})`;
    await sendMessage(alice, 'sip:bob@rtcgw.demo', text);
    await h.waitPhone(bob, 'bob to receive the MESSAGE', (body) => window.phone.messages.some(
      (m) => m.direction === 'in' && m.body === body && m.peer === 'sip:alice@rtcgw.demo'), text);
    await h.waitPhone(alice, 'alice to see the MESSAGE delivered', () => window.phone.messages.some(
      (m) => m.direction === 'out' && m.status.startsWith('delivered (200)')));
    assert.equal(await bob.textContent('#messages li.in .body'), text, 'bob shows the text');
    step('MESSAGE alice -> bob delivered');

    for (const [name, page] of Object.entries(pages)) {
      await page.bringToFront();
      await page.screenshot({ path: path.join(outDir, `${name}.png`) });
    }

    await unregister(alice, 'sip:alice@rtcgw.demo');
    step('alice unregistered');

    // The core no longer knows alice: a MESSAGE to her fails.
    await sendMessage(bob, 'sip:alice@rtcgw.demo', 'are you there?');
    await h.waitPhone(bob, 'bob\'s MESSAGE to the unregistered alice to fail', () =>
      window.phone.messages.some((m) => m.direction === 'out' && m.status.startsWith('failed (404')));
    step('MESSAGE to the unregistered alice answered 404');

    await unregister(bob, 'sip:bob@rtcgw.demo');
    step('bob unregistered');

    const metrics = await h.httpGet(`http://127.0.0.1:${metricsPort}/metrics`);
    assert.equal(metrics.status, 200, '/metrics answers');
    const health = await h.httpGet(`http://127.0.0.1:${metricsPort}/health`);
    assert.equal(health.status, 200, '/health answers');

    // rtcgw stops cleanly on SIGTERM (a sanitizer report would make it exit non-zero).
    const rtcgwEntry = procs.list.find((p) => p.name === 'rtcgw');
    const stopError = await h.stopCleanly(procs, rtcgwEntry);
    if (stopError) throw stopError;
    step('rtcgw stopped cleanly');
  } catch (e) {
    failure = e;
    for (const [name, page] of Object.entries(pages)) {
      await page.bringToFront()
        .then(() => page.screenshot({ path: path.join(outDir, `${name}-failure.png`), timeout: 5000 }))
        .catch(() => {});
    }
  } finally {
    clearTimeout(watchdog);
    if (browser) await browser.close().catch(() => {});
    await procs.stopAll();
    fs.rmSync(workDir, { recursive: true, force: true });
  }
  if (failure) {
    console.error(`FAIL: ${failure.stack || failure}`);
    console.error(`logs and screenshots: ${outDir}`);
    for (const p of procs.list) {
      if (p.name !== 'chromium') console.error(`--- ${p.name} (last lines)\n${h.tail(p.logPath, 25)}`);
    }
    process.exit(1);
  }
  console.log(`PASS (${((Date.now() - started) / 1000).toFixed(1)} s); screenshots in ${outDir}`);
}

main();
