#!/usr/bin/python3
"""A second-language client: Python (Debian's python3-grpcio) against the real
wxvaultd and the standalone fake WeChat.

Stubs are generated at test time, from the public .proto files, with protoc
and grpc_python_plugin (the protoc bundled with Debian's python3-grpc-tools is
too old for the API's file options). The flow is what a Python backend does:
Exchange -> GetUserInfo -> GetAccessToken -> Revoke, plus one error with its
trailing metadata.

Usage (ctest passes these):
  python_client_test.py --wxvaultd PATH --fake_wechat PATH --proto_root DIR
                        --protoc PATH --grpc_python_plugin PATH
"""

import argparse
import glob
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import unittest
import urllib.request

ARGS = None


def generate_stubs(out_dir):
    os.makedirs(out_dir, exist_ok=True)
    protos = sorted(glob.glob(os.path.join(ARGS.proto_root, "wxvault", "v1", "*.proto")))
    subprocess.run(
        [ARGS.protoc, "-I" + ARGS.proto_root, "--python_out=" + out_dir, "--grpc_python_out=" + out_dir,
         "--plugin=protoc-gen-grpc_python=" + ARGS.grpc_python_plugin] + protos,
        check=True)
    sys.path.insert(0, out_dir)


def start(argv, ready_pattern):
    """Starts argv; returns (process, the first output line matching ready_pattern)."""
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output = []
    for line in proc.stdout:  # bounded by the child: it prints the line or exits
        output.append(line)
        match = re.search(ready_pattern, line)
        if match:
            return proc, match
    raise RuntimeError("%s did not start:\n%s" % (argv[0], "".join(output)))


class PythonClientTest(unittest.TestCase):

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="wxvault-py-")
        self.addCleanup(self.tmp.cleanup)
        generate_stubs(os.path.join(self.tmp.name, "gen"))
        self.fake, match = start([ARGS.fake_wechat, "--listen=127.0.0.1:0"], r"listening (http://\S+)")
        self.addCleanup(self.stop, self.fake)
        self.fake_url = match.group(1)
        key_file = os.path.join(self.tmp.name, "master.keys")
        secret_file = os.path.join(self.tmp.name, "app.secret")
        with open(key_file, "w") as f:
            import base64
            f.write("py1:%s\n" % base64.b64encode(os.urandom(32)).decode())
        with open(secret_file, "w") as f:
            f.write("fake-secret-0001\n")
        os.chmod(key_file, 0o600)
        socket = os.path.join(self.tmp.name, "wxvaultd.sock")
        self.server, match = start(
            [ARGS.wxvaultd, "--listen=unix:" + socket, "--data_dir=" + os.path.join(self.tmp.name, "vault"),
             "--master_key_file=" + key_file, "--app_id=wxfakeapp0000001", "--app_secret_file=" + secret_file,
             "--wechat_api_base=" + self.fake_url], r"wxvaultd: serving on (\S+)")
        self.addCleanup(self.stop, self.server)
        # Keep draining the server's log so it never blocks on a full pipe.
        import threading
        threading.Thread(target=lambda: [None for _ in self.server.stdout], daemon=True).start()
        self.address = match.group(1)

    @staticmethod
    def stop(proc):
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def mint_code(self, openid):
        with urllib.request.urlopen("%s/control/code?openid=%s" % (self.fake_url, openid), timeout=10) as r:
            return json.load(r)["code"]

    def test_exchange_userinfo_revoke(self):
        import grpc
        from wxvault.v1 import token_vault_pb2 as tv
        from wxvault.v1 import token_vault_pb2_grpc as tv_grpc
        from wxvault.v1 import types_pb2

        with grpc.insecure_channel(self.address) as channel:
            vault = tv_grpc.TokenVaultStub(channel)
            login = vault.Exchange(tv.ExchangeRequest(code=self.mint_code("o_python"), include_user_info=True),
                                   timeout=10)
            self.assertEqual(login.token.openid, "o_python")
            self.assertEqual(login.token.state, types_pb2.TOKEN_STATE_ACTIVE)
            self.assertTrue(login.access_token)
            self.assertEqual(login.user_info.openid, "o_python")

            info = vault.GetUserInfo(tv.GetUserInfoRequest(openid="o_python", lang="en"), timeout=10)
            self.assertEqual(info.user_info.openid, "o_python")
            self.assertEqual(info.user_info.lang, "en")
            self.assertIn("\U0001F600", info.user_info.nickname)  # 4-byte emoji survives

            token = vault.GetAccessToken(tv.GetAccessTokenRequest(openid="o_python"), timeout=10)
            self.assertEqual(token.access_token, login.access_token)

            revoked = vault.Revoke(tv.RevokeRequest(openid="o_python"), timeout=10)
            self.assertTrue(revoked.existed)

            with self.assertRaises(grpc.RpcError) as caught:
                vault.GetUserInfo(tv.GetUserInfoRequest(openid="o_python"), timeout=10)
            self.assertEqual(caught.exception.code(), grpc.StatusCode.NOT_FOUND)
            trailers = dict(caught.exception.trailing_metadata())
            self.assertEqual(trailers.get("wxvault-reason"), "TOKEN_NOT_FOUND")


def main():
    global ARGS
    parser = argparse.ArgumentParser()
    for flag in ("--wxvaultd", "--fake_wechat", "--proto_root", "--protoc", "--grpc_python_plugin"):
        parser.add_argument(flag, required=True)
    ARGS, rest = parser.parse_known_args()
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)


if __name__ == "__main__":
    main()
