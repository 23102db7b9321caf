// Integration-test harness: the real wxvaultd and wxvault-fake-wechat
// binaries as child processes, and gRPC clients for them.
//
//   FakeWeChatProcess  the standalone fake WeChat on a loopback port, driven
//                      through its HTTP /control surface
//   WxvaultdProcess    wxvaultd on a Unix socket in a temp dir (no port
//                      discovery), started against the fake; Start() returns
//                      once it printed "serving on" (or exited), and knows
//                      the /metrics URL it printed (--metrics_listen)
//   HttpGet, ParseLogLines  a plain HTTP GET; wxvaultd's JSON log lines
// Nothing here sleeps to let time pass: waits are for output lines, with a
// bound.
//
// Thread safety: a harness object belongs to one test; ChildProcess output
// is collected by a reader thread behind a mutex.
#ifndef WXVAULT_TESTS_INTEGRATION_HARNESS_H_
#define WXVAULT_TESTS_INTEGRATION_HARNESS_H_

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "service/json.h"
#include "wxvault/v1/token_vault.grpc.pb.h"
#include "wxvault/v1/vault_admin.grpc.pb.h"

namespace wxvault::integration {

// How long a child gets to print its ready line or to exit.
inline constexpr absl::Duration kStartTimeout = absl::Seconds(30);

// A child process whose stdout and stderr are captured (merged).
class ChildProcess {
 public:
  // Starts `argv` (argv[0] is the path). With `stderr_file`, the child's
  // stderr goes to that file (created or truncated) instead of the capture.
  // Errors: INTERNAL when fork/exec fails.
  static absl::StatusOr<std::unique_ptr<ChildProcess>> Start(const std::vector<std::string>& argv,
                                                             const std::string& stderr_file = "");
  ~ChildProcess();  // kills (SIGKILL) a child still running

  // Waits until a line containing `needle` has been printed; returns it.
  // nullopt when the child exited first or `timeout` passed.
  std::optional<std::string> WaitForLine(const std::string& needle, absl::Duration timeout);
  // Waits for the child to exit; its exit code (128 + signal when killed),
  // or -1 on timeout.
  int WaitForExit(absl::Duration timeout);
  // SIGTERM, then WaitForExit.
  int Terminate(absl::Duration timeout = absl::Seconds(30));
  // Everything printed so far.
  std::string Output() const;
  pid_t pid() const { return pid_; }

 private:
  ChildProcess(pid_t pid, int fd);
  void ReadLoop();

  const pid_t pid_;
  const int fd_;
  std::thread reader_;
  mutable absl::Mutex mu_;
  std::string output_ ABSL_GUARDED_BY(mu_);
  bool eof_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<int> exit_code_;
};

// The standalone fake WeChat.
class FakeWeChatProcess {
 public:
  // Default app of the fake.
  static constexpr char kAppId[] = "wxfakeapp0000001";
  static constexpr char kSecret[] = "fake-secret-0001";

  static absl::StatusOr<std::unique_ptr<FakeWeChatProcess>> Start(const std::vector<std::string>& extra_args = {});

  const std::string& base_url() const { return base_url_; }
  // GET /control/<path_and_query>; the JSON body ("" on a transport error).
  std::string Control(const std::string& path_and_query);
  // Mints a code for `openid` ("" = a new user).
  std::string MintCode(const std::string& openid, const std::string& scope = "snsapi_userinfo");
  // Calls the fake received on `endpoint` (access_token, refresh_token,
  // auth, userinfo) since start or the last reset.
  int CallCount(const std::string& endpoint);
  // Queues a fault: the next `count` calls to `endpoint` fail as `kind`
  // (see wxvault-fake-wechat --help); `extra` is appended to the query.
  void Fault(const std::string& endpoint, const std::string& kind, int count = 1, const std::string& extra = "");

 private:
  std::unique_ptr<ChildProcess> child_;
  std::string base_url_;
  int port_ = 0;
};

struct WxvaultdOptions {
  std::string data_dir;
  std::string key_file;
  std::string wechat_api_base;
  std::string listen;  // default: unix:<data_dir>/../wxvaultd-<n>.sock
  std::vector<std::string> extra_args;
  std::string stderr_file;  // non-empty: stderr goes there, not to Output()
};

// wxvaultd as a child process.
class WxvaultdProcess {
 public:
  // Starts wxvaultd and waits for "serving on". On failure the error
  // message holds the child's output.
  static absl::StatusOr<std::unique_ptr<WxvaultdProcess>> Start(const WxvaultdOptions& options,
                                                                const std::string& secret_file);
  // Runs wxvaultd with `args` to completion (for start-up failures); returns
  // the exit code and stores its output.
  static int RunToExit(const std::vector<std::string>& args, std::string* output);

  const std::string& address() const { return address_; }
  // "http://127.0.0.1:PORT/metrics" as printed; empty without --metrics_listen.
  const std::string& metrics_url() const { return metrics_url_; }
  std::shared_ptr<grpc::Channel> channel() const { return channel_; }
  std::unique_ptr<wxvault::v1::TokenVault::Stub> TokenVault() const;
  std::unique_ptr<wxvault::v1::VaultAdmin::Stub> VaultAdmin() const;
  ChildProcess& child() { return *child_; }
  // SIGTERM and wait; the exit code.
  int Stop();

 private:
  std::unique_ptr<ChildProcess> child_;
  std::string address_;
  std::string metrics_url_;
  std::shared_ptr<grpc::Channel> channel_;
};

// GET `url` ("http://host:port/path"); the HTTP status (0 on a transport
// error), with the body in `body` and the Content-Type in `content_type`.
int HttpGet(const std::string& url, std::string* body, std::string* content_type = nullptr);

// The /metrics URL in a "wxvaultd: metrics on <url>" line of `output`, or "".
std::string PrintedMetricsUrl(const std::string& output);

// wxvaultd's log: one JSON object per line with string "time", "level" and
// "msg". `records` holds the lines that are; `bad` the lines that are not.
struct LogLines {
  std::vector<wxvault::service::JsonValue> records;
  std::vector<std::string> bad;
};
LogLines ParseLogLines(const std::string& text);

// Reads a whole file ("" when it cannot be read).
std::string ReadFile(const std::string& path);

// Path of the wxvaultd binary under test.
std::string WxvaultdBinary();

// Channel to `address` ("unix:/path" or "host:port"), plaintext.
std::shared_ptr<grpc::Channel> PlaintextChannel(const std::string& address);

// A client context with a 10 s deadline (and optional admin bearer token).
std::unique_ptr<grpc::ClientContext> Context(const std::string& bearer_token = "");

// The value of trailing metadata `key`, or "" when absent.
std::string Trailer(const grpc::ClientContext& ctx, const std::string& key);

// Writes `content` to `path` with mode 0600.
void WriteFile(const std::string& path, const std::string& content);

// A keyring file line for key `id` with fresh random bytes.
std::string NewKeyLine(const std::string& id);

}  // namespace wxvault::integration

#endif  // WXVAULT_TESTS_INTEGRATION_HARNESS_H_
