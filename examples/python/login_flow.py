#!/usr/bin/python3
"""Login with WeChat through wxvault, from Python (grpcio).

What a Python backend does when a mobile app logs a user in with WeChat:

  1. Exchange      trade the one-time `code` from the WeChat SDK for a stored
                   login (and the user's profile, with include_user_info)
  2. GetAccessToken  get a WeChat access token that is valid for a while yet
                   (the hot path: call it whenever you need to call WeChat)
  3. WatchEvents   follow the token lifecycle on a server stream
  4. Revoke        log the user out; the REVOKED event shows up on the stream
  5. errors        a deliberately bad code, to show the gRPC status code and
                   the `wxvault-reason` / `wechat-errcode` trailing metadata

Run it against `scripts/demo.sh` (wxvaultd --demo), whose banner prints the
gRPC address and the URL of the in-process fake WeChat:

  /usr/bin/python3 examples/python/login_flow.py --mint-from http://127.0.0.1:PORT

or with a real code against a real server:

  /usr/bin/python3 examples/python/login_flow.py --address unix:/run/wxvault.sock --code CODE

Stubs: generated at start-up from proto/ into a temporary directory with
`protoc` and `grpc_python_plugin` (Debian: protobuf-compiler and
protobuf-compiler-grpc). In your own project, generate them once at build time
instead (see generate.sh beside this file) and import them.
"""

import argparse
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import urllib.parse
import urllib.request

try:
    import grpc  # Debian: python3-grpcio (use /usr/bin/python3, not a virtualenv without it)
except ImportError:
    sys.exit("grpcio is missing: apt-get install python3-grpcio python3-protobuf, run with /usr/bin/python3")

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_PROTO_ROOT = os.path.normpath(os.path.join(HERE, "..", "..", "proto"))

# Every unary call gets a deadline: wxvault never waits on WeChat longer than
# the caller's deadline (or 15 s), so 20 s is a comfortable upper bound.
CALL_TIMEOUT_SECONDS = 20
# How long to wait for the REVOKED event after Revoke returned.
EVENT_TIMEOUT_SECONDS = 20


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--address", default="127.0.0.1:50051",
                        help="wxvaultd gRPC address: host:port or unix:/path (default %(default)s)")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--code", help="a WeChat login code (from the WeChat SDK on the phone)")
    source.add_argument("--mint-from", metavar="URL",
                        help="demo only: mint a code from the fake WeChat at URL (its /control/code endpoint)")
    parser.add_argument("--openid", default="",
                        help="with --mint-from: the user to mint a code for (default: a new user)")
    parser.add_argument("--app-id", default="",
                        help="WeChat AppID; empty = the server's only app (default)")
    parser.add_argument("--lang", default="en", help="profile language: zh_CN, zh_TW or en (default %(default)s)")
    parser.add_argument("--proto-root", default=DEFAULT_PROTO_ROOT,
                        help="directory holding wxvault/v1/*.proto (default %(default)s)")
    parser.add_argument("--protoc", default=os.environ.get("PROTOC", "protoc"),
                        help="protoc binary (default: $PROTOC or protoc on PATH)")
    parser.add_argument("--grpc-python-plugin", default=os.environ.get("GRPC_PYTHON_PLUGIN", "grpc_python_plugin"),
                        help="grpc_python_plugin binary (default: $GRPC_PYTHON_PLUGIN or grpc_python_plugin on PATH)")
    return parser.parse_args()


def generate_stubs(args, out_dir):
    """Compiles wxvault/v1/*.proto into out_dir and makes it importable.

    Uses the system protoc with grpc_python_plugin: the protoc bundled with
    Debian 12's python3-grpc-tools is too old for the API's file options.
    """
    protos = sorted(glob.glob(os.path.join(args.proto_root, "wxvault", "v1", "*.proto")))
    if not protos:
        sys.exit("no .proto files under %s/wxvault/v1 (use --proto-root)" % args.proto_root)
    for tool in (args.protoc, args.grpc_python_plugin):
        if shutil.which(tool) is None:
            sys.exit("%s not found: install protobuf-compiler and protobuf-compiler-grpc" % tool)
    subprocess.run([args.protoc, "-I" + args.proto_root,
                    "--python_out=" + out_dir, "--grpc_python_out=" + out_dir,
                    "--plugin=protoc-gen-grpc_python=" + shutil.which(args.grpc_python_plugin)] + protos,
                   check=True)
    sys.path.insert(0, out_dir)


def mint_demo_code(base_url, openid):
    """Asks the demo's fake WeChat for a fresh login code (what the WeChat SDK
    would hand the mobile app after the user taps "Allow")."""
    query = urllib.parse.urlencode({"openid": openid} if openid else {})
    with urllib.request.urlopen("%s/control/code?%s" % (base_url.rstrip("/"), query), timeout=10) as answer:
        return json.load(answer)["code"]


def redact(secret):
    """Never log a token: a prefix and the length are enough to tell two apart."""
    return "%s... (%d chars)" % (secret[:6], len(secret))


def describe_error(err):
    """One line for a failed call: the gRPC status code, wxvault's machine-readable
    reason and WeChat's errcode. Branch on the reason, never on the message."""
    trailers = dict(err.trailing_metadata() or ())
    return "%s wxvault-reason=%s wechat-errcode=%s message=%r" % (
        err.code().name, trailers.get("wxvault-reason", "-"), trailers.get("wechat-errcode", "-"), err.details())


class EventWatcher(threading.Thread):
    """Consumes WatchEvents on a background thread and prints every event.

    The stream first replays the retained history (after_sequence=0: from the
    oldest event), then delivers new events as they are committed, and never
    ends on its own: cancel() it when done. A real consumer would persist the
    last sequence it processed and resume from it after a disconnect.
    """

    def __init__(self, stub, messages, app_id, openid, since):
        super().__init__(daemon=True)
        self._stream = stub.WatchEvents(messages.WatchEventsRequest(app_id=app_id, after_sequence=0))
        self._openid = openid
        self._since = since  # our login's created_at (a Timestamp)
        self.revoked = threading.Event()
        self.error = None

    def run(self):
        from wxvault.v1 import types_pb2
        try:
            for event in self._stream:
                print("  event #%d %s openid=%s at=%s detail=%r" % (
                    event.sequence, types_pb2.TokenEventType.Name(event.type), event.openid,
                    event.at.ToJsonString(), event.detail), flush=True)
                # History may hold older logins of the same user; the REVOKED
                # that ends *this* login is stamped at or after its created_at
                # (both come from the server's clock).
                if (event.type == types_pb2.TOKEN_EVENT_TYPE_REVOKED and event.openid == self._openid
                        and event.at.ToNanoseconds() >= self._since.ToNanoseconds()):
                    self.revoked.set()
        except grpc.RpcError as err:
            if err.code() != grpc.StatusCode.CANCELLED:  # CANCELLED: we stopped it
                self.error = err

    def cancel(self):
        self._stream.cancel()


def main():
    args = parse_args()
    with tempfile.TemporaryDirectory(prefix="wxvault-stubs-") as stubs_dir:
        generate_stubs(args, stubs_dir)
        return run(args)


def run(args):
    # The generated modules exist only once generate_stubs() has run.
    from wxvault.v1 import token_vault_pb2 as messages
    from wxvault.v1 import token_vault_pb2_grpc as services
    from wxvault.v1 import types_pb2

    code = args.code or mint_demo_code(args.mint_from, args.openid)

    # One channel per process, shared by all calls and threads. wxvault's
    # TokenVault needs no credential: it listens on loopback, a Unix socket
    # ("unix:/path" works as a target as is) or mTLS (grpc.secure_channel).
    with grpc.insecure_channel(args.address) as channel:
        vault = services.TokenVaultStub(channel)

        # 1. Exchange: the "user logged in" call. Idempotent: retrying with the
        # same code returns the first result (replayed=True).
        print("== Exchange (include_user_info, lang=%s)" % args.lang)
        login = vault.Exchange(messages.ExchangeRequest(app_id=args.app_id, code=code, include_user_info=True,
                                                        lang=args.lang),
                               timeout=CALL_TIMEOUT_SECONDS)
        token = login.token
        print("Exchange OK: openid=%s state=%s replayed=%s" % (
            token.openid, types_pb2.TokenState.Name(token.state), login.replayed))
        print("  app_id:                   %s" % token.app_id)
        print("  unionid:                  %s" % (token.unionid or "(none)"))
        print("  scopes:                   %s" % ",".join(token.scopes))
        print("  access_token_expires_at:  %s" % token.access_token_expires_at.ToJsonString())
        print("  refresh_token_expires_at: %s" % token.refresh_token_expires_at.ToJsonString())
        print("  created_at:               %s" % token.created_at.ToJsonString())
        print("  access_token:             %s" % redact(login.access_token))
        if login.HasField("user_info"):
            print("  nickname: %s" % login.user_info.nickname)
        else:
            # The login succeeded anyway; GetUserInfo would say why.
            print("  nickname: (no profile: scope %s)" % ",".join(token.scopes))

        # 2. GetAccessToken: ask for a token valid at least 10 more minutes;
        # wxvault refreshes it first when needed (refreshed=True).
        print("== GetAccessToken (min_ttl_seconds=600)")
        fresh = vault.GetAccessToken(messages.GetAccessTokenRequest(app_id=token.app_id, openid=token.openid,
                                                                    min_ttl_seconds=600),
                                     timeout=CALL_TIMEOUT_SECONDS)
        print("GetAccessToken OK: access_token=%s expires_at=%s refreshed=%s" % (
            redact(fresh.access_token), fresh.expires_at.ToJsonString(), fresh.refreshed))

        # 3. WatchEvents on a background thread.
        print("== WatchEvents (after_sequence=0)")
        watcher = EventWatcher(vault, messages, token.app_id, token.openid, token.created_at)
        watcher.start()

        # 4. Revoke: logout. Idempotent (existed=False the second time).
        print("== Revoke")
        revoked = vault.Revoke(messages.RevokeRequest(app_id=token.app_id, openid=token.openid),
                               timeout=CALL_TIMEOUT_SECONDS)
        print("Revoke OK: existed=%s" % revoked.existed)
        seen = watcher.revoked.wait(EVENT_TIMEOUT_SECONDS)
        watcher.cancel()
        watcher.join(5)
        if watcher.error is not None:
            print("WatchEvents failed: %s" % describe_error(watcher.error))
            return 1
        if not seen:
            print("no REVOKED event for %s within %d s" % (token.openid, EVENT_TIMEOUT_SECONDS))
            return 1
        print("REVOKED event received for openid=%s" % token.openid)

        # 5. Errors: every wxvault error carries trailing metadata
        # `wxvault-reason` and, when WeChat refused, `wechat-errcode`.
        print("== Exchange with a bad code (expected to fail)")
        try:
            vault.Exchange(messages.ExchangeRequest(app_id=args.app_id, code="not-a-real-code"),
                           timeout=CALL_TIMEOUT_SECONDS)
        except grpc.RpcError as err:
            print("Exchange failed as expected: %s" % describe_error(err))
            trailers = dict(err.trailing_metadata() or ())
            if trailers.get("wxvault-reason") in ("INVALID_CODE", "CODE_EXPIRED", "CODE_ALREADY_USED"):
                print("  -> ask the app for a new code (the user logs in again)")
        else:
            print("Exchange with a bad code unexpectedly succeeded")
            return 1

    print("login flow done")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
    except grpc.RpcError as err:  # an unexpected failed call: say what failed, exit non-zero
        print("call failed: %s" % describe_error(err), file=sys.stderr)
        sys.exit(1)
