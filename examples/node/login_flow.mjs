#!/usr/bin/env node
// Login with WeChat through wxvault, from Node.js (@grpc/grpc-js + @grpc/proto-loader).
//
// What a Node backend does when a mobile app logs a user in with WeChat:
//
//   1. Exchange        trade the one-time `code` from the WeChat SDK for a
//                      stored login (and the user's profile, with include_user_info)
//   2. GetAccessToken  get a WeChat access token that is valid for a while yet
//                      (the hot path: call it whenever you need to call WeChat)
//   3. WatchEvents     follow the token lifecycle on a server stream
//   4. Revoke          log the user out; the REVOKED event shows up on the stream
//   5. errors          a deliberately bad code, to show the gRPC status code and
//                      the `wxvault-reason` / `wechat-errcode` trailing metadata
//
// Run it against `scripts/demo.sh` (wxvaultd --demo), whose banner prints the
// gRPC address and the URL of the in-process fake WeChat:
//
//   npm ci --prefix examples/node
//   node examples/node/login_flow.mjs --mint-from http://127.0.0.1:PORT
//
// or with a real code against a real server:
//
//   node examples/node/login_flow.mjs --address unix:/run/wxvault.sock --code CODE
//
// The .proto files are loaded at run time from ../../proto (--proto-root).

import path from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

const HERE = path.dirname(fileURLToPath(import.meta.url));

// Every unary call gets a deadline: wxvault never waits on WeChat longer than
// the caller's deadline (or 15 s), so 20 s is a comfortable upper bound.
const CALL_TIMEOUT_MS = 20_000;
// How long to wait for the REVOKED event after Revoke returned.
const EVENT_TIMEOUT_MS = 20_000;

const USAGE = `usage: login_flow.mjs (--code CODE | --mint-from URL) [options]
  --address ADDR     wxvaultd gRPC address: host:port or unix:/path (default 127.0.0.1:50051)
  --code CODE        a WeChat login code (from the WeChat SDK on the phone)
  --mint-from URL    demo only: mint a code from the fake WeChat at URL (its /control/code endpoint)
  --openid OPENID    with --mint-from: the user to mint a code for (default: a new user)
  --app-id APPID     WeChat AppID; empty = the server's only app (default)
  --lang LANG        profile language: zh_CN, zh_TW or en (default en)
  --proto-root DIR   directory holding wxvault/v1/*.proto (default ${path.join(HERE, '..', '..', 'proto')})`;

function parseOptions() {
  const { values } = parseArgs({
    options: {
      address: { type: 'string', default: '127.0.0.1:50051' },
      code: { type: 'string' },
      'mint-from': { type: 'string' },
      openid: { type: 'string', default: '' },
      'app-id': { type: 'string', default: '' },
      lang: { type: 'string', default: 'en' },
      'proto-root': { type: 'string', default: path.join(HERE, '..', '..', 'proto') },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  if (!values.code === !values['mint-from']) {
    console.error(`exactly one of --code and --mint-from is required\n${USAGE}`);
    process.exit(2);
  }
  return values;
}

// Loads the API from the .proto files. keepCase keeps the proto field names
// (snake_case, as in the docs); longs as strings (uint64 sequences do not fit
// a JS number); enums as their names; defaults fills unset scalars (an unset
// message field is null).
function loadTokenVault(protoRoot) {
  const definition = protoLoader.loadSync('wxvault/v1/token_vault.proto', {
    includeDirs: [protoRoot],
    keepCase: true,
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  return grpc.loadPackageDefinition(definition).wxvault.v1.TokenVault;
}

// Demo only: asks the fake WeChat for a fresh login code (what the WeChat SDK
// would hand the mobile app after the user taps "Allow").
async function mintDemoCode(baseUrl, openid) {
  const url = new URL('/control/code', baseUrl);
  if (openid) url.searchParams.set('openid', openid);
  const answer = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  if (!answer.ok) throw new Error(`${url}: HTTP ${answer.status}`);
  return (await answer.json()).code;
}

// Calls a unary method with a deadline and returns a promise of the response.
function call(client, method, request) {
  return new Promise((resolve, reject) => {
    client[method](request, { deadline: Date.now() + CALL_TIMEOUT_MS }, (err, response) =>
      err ? reject(err) : resolve(response));
  });
}

// Never log a token: a prefix and the length are enough to tell two apart.
function redact(secret) {
  return `${secret.slice(0, 6)}... (${secret.length} chars)`;
}

// google.protobuf.Timestamp ({seconds: '…', nanos}) as RFC 3339, and as
// nanoseconds for comparisons.
function rfc3339(ts) {
  return ts ? new Date(Number(ts.seconds) * 1000 + Math.floor(ts.nanos / 1e6)).toISOString() : '(unset)';
}
function nanos(ts) {
  return BigInt(ts.seconds) * 1_000_000_000n + BigInt(ts.nanos);
}

// One line for a failed call: the gRPC status code, wxvault's machine-readable
// reason and WeChat's errcode, all from the trailing metadata (err.metadata).
// Branch on the reason, never on the message.
function trailer(err, key) {
  const values = err.metadata ? err.metadata.get(key) : [];
  return values.length ? String(values[0]) : undefined;
}
function describeError(err) {
  if (err.code === undefined) return String(err);  // not a gRPC error
  return `${grpc.status[err.code] ?? err.code} wxvault-reason=${trailer(err, 'wxvault-reason') ?? '-'} ` +
    `wechat-errcode=${trailer(err, 'wechat-errcode') ?? '-'} message=${JSON.stringify(err.details)}`;
}

// Consumes WatchEvents and prints every event. The stream first replays the
// retained history (after_sequence 0: from the oldest event), then delivers
// new events as they are committed, and never ends on its own: cancel() it
// when done. A real consumer would persist the last sequence it processed and
// resume from it after a disconnect. Resolves `revoked` when the REVOKED event
// that ends this login arrives: history may hold older logins of the same
// user, so it must be stamped at or after this login's created_at (both come
// from the server's clock).
function watchEvents(client, token) {
  const stream = client.WatchEvents({ app_id: token.app_id, after_sequence: '0' });
  let onRevoked;
  let onError;
  const revoked = new Promise((resolve, reject) => { onRevoked = resolve; onError = reject; });
  stream.on('data', (event) => {
    console.log(`  event #${event.sequence} ${event.type} openid=${event.openid} at=${rfc3339(event.at)} ` +
      `detail=${JSON.stringify(event.detail)}`);
    if (event.type === 'TOKEN_EVENT_TYPE_REVOKED' && event.openid === token.openid &&
        nanos(event.at) >= nanos(token.created_at)) {
      onRevoked(event);
    }
  });
  stream.on('error', (err) => {
    if (err.code !== grpc.status.CANCELLED) onError(err);  // CANCELLED: we stopped it
  });
  return { stream, revoked };
}

function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: nothing within ${ms / 1000} s`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function run(options, vault) {
  const code = options.code ?? await mintDemoCode(options['mint-from'], options.openid);

  // 1. Exchange: the "user logged in" call. Idempotent: retrying with the
  // same code returns the first result (replayed = true).
  console.log(`== Exchange (include_user_info, lang=${options.lang})`);
  const login = await call(vault, 'Exchange', {
    app_id: options['app-id'], code, include_user_info: true, lang: options.lang,
  });
  const token = login.token;
  console.log(`Exchange OK: openid=${token.openid} state=${token.state} replayed=${login.replayed}`);
  console.log(`  app_id:                   ${token.app_id}`);
  console.log(`  unionid:                  ${token.unionid || '(none)'}`);
  console.log(`  scopes:                   ${token.scopes.join(',')}`);
  console.log(`  access_token_expires_at:  ${rfc3339(token.access_token_expires_at)}`);
  console.log(`  refresh_token_expires_at: ${rfc3339(token.refresh_token_expires_at)}`);
  console.log(`  created_at:               ${rfc3339(token.created_at)}`);
  console.log(`  access_token:             ${redact(login.access_token)}`);
  if (login.user_info) {
    console.log(`  nickname: ${login.user_info.nickname}`);
  } else {
    // The login succeeded anyway; GetUserInfo would say why.
    console.log(`  nickname: (no profile: scope ${token.scopes.join(',')})`);
  }

  // 2. GetAccessToken: ask for a token valid at least 10 more minutes;
  // wxvault refreshes it first when needed (refreshed = true).
  console.log('== GetAccessToken (min_ttl_seconds=600)');
  const fresh = await call(vault, 'GetAccessToken', {
    app_id: token.app_id, openid: token.openid, min_ttl_seconds: 600,
  });
  console.log(`GetAccessToken OK: access_token=${redact(fresh.access_token)} ` +
    `expires_at=${rfc3339(fresh.expires_at)} refreshed=${fresh.refreshed}`);

  // 3. WatchEvents on the event loop, alongside the calls below.
  console.log('== WatchEvents (after_sequence=0)');
  const watcher = watchEvents(vault, token);

  // 4. Revoke: logout. Idempotent (existed = false the second time).
  console.log('== Revoke');
  try {
    const revoked = await call(vault, 'Revoke', { app_id: token.app_id, openid: token.openid });
    console.log(`Revoke OK: existed=${revoked.existed}`);
    await withTimeout(watcher.revoked, EVENT_TIMEOUT_MS, `REVOKED event for ${token.openid}`);
  } finally {
    watcher.stream.cancel();
  }
  console.log(`REVOKED event received for openid=${token.openid}`);

  // 5. Errors: every wxvault error carries trailing metadata `wxvault-reason`
  // and, when WeChat refused, `wechat-errcode`.
  console.log('== Exchange with a bad code (expected to fail)');
  try {
    await call(vault, 'Exchange', { app_id: options['app-id'], code: 'not-a-real-code' });
    console.log('Exchange with a bad code unexpectedly succeeded');
    return 1;
  } catch (err) {
    if (err.code === undefined) throw err;
    console.log(`Exchange failed as expected: ${describeError(err)}`);
    if (['INVALID_CODE', 'CODE_EXPIRED', 'CODE_ALREADY_USED'].includes(trailer(err, 'wxvault-reason'))) {
      console.log('  -> ask the app for a new code (the user logs in again)');
    }
  }

  console.log('login flow done');
  return 0;
}

async function main() {
  const options = parseOptions();
  const TokenVault = loadTokenVault(options['proto-root']);
  // One client per process, shared by all calls. wxvault's TokenVault needs
  // no credential: it listens on loopback, a Unix socket ("unix:/path" works
  // as a target as is) or mTLS (grpc.credentials.createSsl).
  const vault = new TokenVault(options.address, grpc.credentials.createInsecure());
  try {
    return await run(options, vault);
  } catch (err) {
    console.error(`failed: ${describeError(err)}`);
    return 1;
  } finally {
    vault.close();
  }
}

process.exitCode = await main();
