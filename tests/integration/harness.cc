#include "tests/integration/harness.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <regex>
#include <sstream>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "httplib.h"

#ifndef WXVAULT_WXVAULTD_BIN
#error "WXVAULT_WXVAULTD_BIN must name the wxvaultd binary"
#endif
#ifndef WXVAULT_FAKE_WECHAT_BIN
#error "WXVAULT_FAKE_WECHAT_BIN must name the wxvault-fake-wechat binary"
#endif

namespace wxvault::integration {
namespace {

// An idle gRPC C++ client answers the server's shutdown GOAWAY ping only on
// its backup poller (every 5 s by default), which would hold every graceful
// shutdown in these tests for that long. Poll often instead; this must be set
// before gRPC initialises, hence a static initialiser.
const bool kFastBackupPoll = setenv("GRPC_CLIENT_CHANNEL_BACKUP_POLL_INTERVAL_MS", "20", 0) == 0;

}  // namespace

absl::StatusOr<std::unique_ptr<ChildProcess>> ChildProcess::Start(const std::vector<std::string>& argv,
                                                                  const std::string& stderr_file) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return absl::InternalError("pipe failed");
  int err_fd = -1;
  if (!stderr_file.empty()) {
    err_fd = open(stderr_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (err_fd < 0) return absl::InternalError("cannot open " + stderr_file);
  }
  std::vector<char*> args;
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  const pid_t pid = fork();
  if (pid < 0) return absl::InternalError("fork failed");
  if (pid == 0) {
    // Child: stdout and stderr into the pipe; default signal dispositions.
    dup2(fds[1], STDOUT_FILENO);
    dup2(err_fd >= 0 ? err_fd : fds[1], STDERR_FILENO);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  close(fds[1]);
  if (err_fd >= 0) close(err_fd);
  return std::unique_ptr<ChildProcess>(new ChildProcess(pid, fds[0]));
}

ChildProcess::ChildProcess(pid_t pid, int fd) : pid_(pid), fd_(fd) {
  reader_ = std::thread([this] { ReadLoop(); });
}

ChildProcess::~ChildProcess() {
  if (!exit_code_.has_value()) {
    kill(pid_, SIGKILL);
    WaitForExit(absl::Seconds(30));
  }
  if (reader_.joinable()) reader_.join();
  close(fd_);
}

void ChildProcess::ReadLoop() {
  char buffer[4096];
  for (;;) {
    const ssize_t n = read(fd_, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    absl::MutexLock lock(&mu_);
    if (n <= 0) {
      eof_ = true;
      return;
    }
    output_.append(buffer, static_cast<size_t>(n));
  }
}

std::optional<std::string> ChildProcess::WaitForLine(const std::string& needle, absl::Duration timeout) {
  std::optional<std::string> line;
  auto found = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    const size_t at = output_.find(needle);
    if (at == std::string::npos) return eof_;
    const size_t start = output_.rfind('\n', at);
    const size_t end = output_.find('\n', at);
    if (end == std::string::npos) return eof_;  // wait for the whole line
    line = output_.substr(start == std::string::npos ? 0 : start + 1,
                          end - (start == std::string::npos ? 0 : start + 1));
    return true;
  };
  absl::MutexLock lock(&mu_);
  mu_.AwaitWithTimeout(absl::Condition(&found), timeout);
  return line;
}

int ChildProcess::WaitForExit(absl::Duration timeout) {
  if (exit_code_.has_value()) return *exit_code_;
  const absl::Time give_up = absl::Now() + timeout;
  for (;;) {
    int status = 0;
    const pid_t done = waitpid(pid_, &status, WNOHANG);
    if (done == pid_) {
      exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      if (reader_.joinable()) reader_.join();
      return *exit_code_;
    }
    if (absl::Now() >= give_up) return -1;
    absl::SleepFor(absl::Milliseconds(5));  // polling a child's exit, bounded
  }
}

int ChildProcess::Terminate(absl::Duration timeout) {
  if (!exit_code_.has_value()) kill(pid_, SIGTERM);
  return WaitForExit(timeout);
}

std::string ChildProcess::Output() const {
  absl::MutexLock lock(&mu_);
  return output_;
}

absl::StatusOr<std::unique_ptr<FakeWeChatProcess>> FakeWeChatProcess::Start(const std::vector<std::string>& extra) {
  std::vector<std::string> argv = {WXVAULT_FAKE_WECHAT_BIN, "--listen=127.0.0.1:0"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  absl::StatusOr<std::unique_ptr<ChildProcess>> child = ChildProcess::Start(argv);
  if (!child.ok()) return child.status();
  std::optional<std::string> line = (*child)->WaitForLine("listening http://", kStartTimeout);
  if (!line.has_value()) return absl::InternalError(absl::StrCat("fake did not start: ", (*child)->Output()));
  auto fake = std::unique_ptr<FakeWeChatProcess>(new FakeWeChatProcess());
  fake->child_ = *std::move(child);
  fake->base_url_ = line->substr(line->find("http://"));
  absl::SimpleAtoi(fake->base_url_.substr(fake->base_url_.rfind(':') + 1), &fake->port_);
  return fake;
}

std::string FakeWeChatProcess::Control(const std::string& path_and_query) {
  httplib::Client client("127.0.0.1", port_);
  client.set_read_timeout(10, 0);
  httplib::Result result = client.Get(absl::StrCat("/control/", path_and_query));
  return result ? result->body : std::string();
}

std::string FakeWeChatProcess::MintCode(const std::string& openid, const std::string& scope) {
  const std::string body = Control(absl::StrCat("code?openid=", openid, "&scope=", scope));
  std::smatch match;
  if (!std::regex_search(body, match, std::regex("\"code\":\"([^\"]+)\""))) return "";
  return match[1];
}

int FakeWeChatProcess::CallCount(const std::string& endpoint) {
  const std::string body = Control("stats");
  std::smatch match;
  if (!std::regex_search(body, match, std::regex(absl::StrCat("\"", endpoint, "\":([0-9]+)")))) return -1;
  int count = -1;
  absl::SimpleAtoi(match[1].str(), &count);
  return count;
}

void FakeWeChatProcess::Fault(const std::string& endpoint, const std::string& kind, int count,
                              const std::string& extra) {
  Control(absl::StrCat("fault?endpoint=", endpoint, "&kind=", kind, "&count=", count, extra));
}

absl::StatusOr<std::unique_ptr<WxvaultdProcess>> WxvaultdProcess::Start(const WxvaultdOptions& options,
                                                                        const std::string& secret_file) {
  static std::atomic<int> counter{0};
  std::string listen = options.listen;
  if (listen.empty()) {
    listen = absl::StrCat("unix:", options.data_dir, ".", getpid(), ".", counter++, ".sock");
  }
  std::vector<std::string> argv = {WXVAULT_WXVAULTD_BIN, "--listen=" + listen, "--data_dir=" + options.data_dir,
                                   "--master_key_file=" + options.key_file,
                                   "--wechat_api_base=" + options.wechat_api_base,
                                   absl::StrCat("--app_id=", FakeWeChatProcess::kAppId),
                                   "--app_secret_file=" + secret_file, "--worker_threads=4",
                                   "--shutdown_grace=5s"};
  argv.insert(argv.end(), options.extra_args.begin(), options.extra_args.end());
  absl::StatusOr<std::unique_ptr<ChildProcess>> child = ChildProcess::Start(argv, options.stderr_file);
  if (!child.ok()) return child.status();
  std::optional<std::string> line = (*child)->WaitForLine("wxvaultd: serving on ", kStartTimeout);
  if (!line.has_value()) {
    (*child)->Terminate();
    return absl::InternalError(absl::StrCat("wxvaultd did not start:\n", (*child)->Output(),
                                            options.stderr_file.empty() ? "" : ReadFile(options.stderr_file)));
  }
  auto process = std::unique_ptr<WxvaultdProcess>(new WxvaultdProcess());
  process->child_ = *std::move(child);
  process->address_ = line->substr(line->find("serving on ") + 11);
  process->metrics_url_ = PrintedMetricsUrl(process->child_->Output());
  process->channel_ = PlaintextChannel(process->address_);
  return process;
}

int WxvaultdProcess::RunToExit(const std::vector<std::string>& args, std::string* output) {
  std::vector<std::string> argv = {WXVAULT_WXVAULTD_BIN};
  argv.insert(argv.end(), args.begin(), args.end());
  absl::StatusOr<std::unique_ptr<ChildProcess>> child = ChildProcess::Start(argv);
  if (!child.ok()) return -1;
  const int code = (*child)->WaitForExit(kStartTimeout);
  if (code < 0) (*child)->Terminate();
  *output = (*child)->Output();
  return code;
}

std::unique_ptr<wxvault::v1::TokenVault::Stub> WxvaultdProcess::TokenVault() const {
  return wxvault::v1::TokenVault::NewStub(channel_);
}

std::unique_ptr<wxvault::v1::VaultAdmin::Stub> WxvaultdProcess::VaultAdmin() const {
  return wxvault::v1::VaultAdmin::NewStub(channel_);
}

int WxvaultdProcess::Stop() {
  channel_.reset();
  return child_->Terminate();
}

std::string WxvaultdBinary() { return WXVAULT_WXVAULTD_BIN; }

int HttpGet(const std::string& url, std::string* body, std::string* content_type) {
  std::smatch match;
  if (!std::regex_match(url, match, std::regex("http://([^/]+)(/.*)"))) return 0;
  httplib::Client client("http://" + match[1].str());
  client.set_connection_timeout(10, 0);
  client.set_read_timeout(10, 0);
  httplib::Result result = client.Get(match[2].str());
  if (!result) return 0;
  *body = result->body;
  if (content_type != nullptr) *content_type = result->get_header_value("Content-Type");
  return result->status;
}

std::string PrintedMetricsUrl(const std::string& output) {
  std::smatch match;
  if (!std::regex_search(output, match, std::regex("wxvaultd: metrics on (http://\\S+)"))) return "";
  return match[1];
}

LogLines ParseLogLines(const std::string& text) {
  LogLines lines;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    absl::StatusOr<wxvault::service::JsonValue> record = wxvault::service::ParseJson(line);
    const bool ok = record.ok() && record->is_object() && record->keys().size() >= 3 &&
                    record->keys()[0] == "time" && record->keys()[1] == "level" && record->keys()[2] == "msg" &&
                    record->Find("time")->is_string() && record->Find("level")->is_string() &&
                    record->Find("msg")->is_string();
    if (ok) {
      lines.records.push_back(*std::move(record));
    } else {
      lines.bad.emplace_back(line);
    }
  }
  return lines;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::shared_ptr<grpc::Channel> PlaintextChannel(const std::string& address) {
  return grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
}

std::unique_ptr<grpc::ClientContext> Context(const std::string& bearer_token) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  if (!bearer_token.empty()) ctx->AddMetadata("authorization", "Bearer " + bearer_token);
  return ctx;
}

std::string Trailer(const grpc::ClientContext& ctx, const std::string& key) {
  const auto& trailers = ctx.GetServerTrailingMetadata();
  auto it = trailers.find(key);
  return it == trailers.end() ? std::string() : std::string(it->second.data(), it->second.size());
}

void WriteFile(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  out.close();
  chmod(path.c_str(), 0600);
}

std::string NewKeyLine(const std::string& id) {
  std::string bytes(32, '\0');
  std::ifstream random("/dev/urandom", std::ios::binary);
  random.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return absl::StrCat(id, ":", absl::Base64Escape(bytes));
}

}  // namespace wxvault::integration
