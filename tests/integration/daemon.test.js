'use strict';
// The daemon as an operator drives it: --check, SIGHUP reload, SIGTERM with a transaction open.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { Env, sleep, responseTo } = require('./lib/harness');
const sip = require('./lib/sip');
const F = require('./lib/flows');
const { chromeOffer } = require('./lib/wsclient');

function rtcgwBin() {
  return process.env.RTCGW_BIN || path.join(__dirname, '..', '..', 'build', 'rtcgw');
}

test('--check: 0 on a valid file, 1 with every error named by file, line and key', () => {
  const dir = fs.mkdtempSync('/tmp/rtcgw-check-');
  const good = path.join(__dirname, '..', '..', 'config', 'rtcgw.yaml');
  const ok = spawnSync(rtcgwBin(), ['--check', '--config', good], { encoding: 'utf8', timeout: 20000 });
  assert.equal(ok.status, 0, `--check on the shipped config: ${ok.stderr}`);

  const bad = path.join(dir, 'bad.yaml');
  fs.writeFileSync(bad, [
    'websocket:',
    '  listen: [ "ws://127.0.0.1:8080" ]',
    'sip:',
    '  listen: [ "udp://127.0.0.1:5070" ]',
    '  pcscf: "127.0.0.1:"',
    'media:',
    '  port_range: [ 40000, 30000 ]',
    'log: { level: loud }',
    '',
  ].join('\n'));
  const r = spawnSync(rtcgwBin(), ['--check', '--config', bad], { encoding: 'utf8', timeout: 20000 });
  assert.equal(r.status, 1, `--check on a bad file exited ${r.status}`);
  assert.match(r.stderr, /bad\.yaml:5: sip\.pcscf: /, r.stderr);
  assert.match(r.stderr, /bad\.yaml:7: media\.port_range/, r.stderr);
  assert.match(r.stderr, /bad\.yaml:8: log\.level/, r.stderr);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('SIGHUP applies the new log level and origins without dropping connections', { timeout: 60000 }, () =>
  Env.run('sighup', async (env) => {
    const rt = await env.startRtcgw({ logLevel: 'info' });
    const client = await F.connect(rt);
    env.onCleanup(() => client.terminate());
    const cfg = fs.readFileSync(rt.cfgPath, 'utf8')
      .replace('allowed_origins: ["*"]', 'allowed_origins: ["https://phone.example.com"]')
      .replace('level: info', 'level: debug');
    fs.writeFileSync(rt.cfgPath, cfg);
    rt.proc.signal('SIGHUP');
    const until = Date.now() + 5000;
    while (!/reloaded: .*log\.level.*websocket\.allowed_origins/.test(rt.proc.stderr()) && Date.now() < until) await sleep(100);
    assert.match(rt.proc.stderr(), /reloaded: .*log\.level.*websocket\.allowed_origins/);
    // The open connection still works (keepalive answered)...
    client.send('\r\n\r\n');
    await sleep(300);
    assert.ok(client.ws.readyState === 1, 'connection dropped by reload');
    // ...and a new one from another origin is refused now.
    await assert.rejects(F.connect(rt, { origin: 'https://evil.example.com' }));
    const good = await F.connect(rt, { origin: 'https://phone.example.com' });
    good.close();
    // A broken file changes nothing and says so.
    fs.writeFileSync(rt.cfgPath, cfg.replace('level: debug', 'level: nonsense'));
    rt.proc.signal('SIGHUP');
    const until2 = Date.now() + 5000;
    while (!/reload failed/.test(rt.proc.stderr()) && Date.now() < until2) await sleep(100);
    assert.match(rt.proc.stderr(), /log\.level/);
    assert.match(rt.proc.stderr(), /reload failed: keeping the running configuration/);
    await F.assertCleanStop(rt);
  }));

test('SIGTERM with an INVITE open: cancelled towards the core, exit 0 within 5 s', { timeout: 60000 }, () =>
  Env.run('sigterm', async (env) => {
    const core = await env.startFakeCore({
      // 180 and no final answer: the INVITE stays open (and may be cancelled, RFC 3261 9.1).
      answer: (msg) => (msg.method === 'INVITE' ? responseTo(msg, 180, 'Ringing', { toTag: 'core1' }) : null),
    });
    const rt = await env.startRtcgw({ pcscfPort: core.port });
    const client = await F.connect(rt);
    env.onCleanup(() => client.terminate());
    const callId = sip.newCallId();
    client.send(client.buildRequest('INVITE', 'sip:bob@example.com', {
      callId, cseq: 1, extra: ['Content-Type: application/sdp'], body: chromeOffer(),
    }));
    await core.waitFor((e) => e.msg && e.msg.method === 'INVITE' && e.msg.callId === callId, 5000, 'the INVITE at the core');
    const r = await rt.stop(5000);
    assert.equal(r.code, 0, `exit code ${r.code} (signal ${r.signal})`);
    assert.ok(r.ms < 5000, `took ${r.ms} ms`);
    assert.ok(core.received.some((e) => e.msg && e.msg.method === 'CANCEL' && e.msg.callId === callId),
      'the open INVITE was not cancelled towards the core');
    assert.deepEqual(rt.sanitizerReports(), []);
  }));
