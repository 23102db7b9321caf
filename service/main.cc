// wxvaultd: the wxvault gRPC server. See `wxvaultd --help`, README.md and
// DESIGN.md. This file parses flags, owns the signals and prints; the server
// itself is service/server.h.
//
// Output: stderr carries only JSON log lines (service/log.h), including
// start-up failures and what gRPC and protobuf log themselves. stdout
// carries the human-facing announcements, once each, in this order: the
// --demo banner, "wxvaultd: health serving on <address>", "wxvaultd: metrics
// on http://<address>/metrics", "wxvaultd: serving on <address>" (last: it
// means SERVING). Each is also logged as a JSON line.
#include <signal.h>

#include <cstdio>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "google/protobuf/stubs/logging.h"
#include "grpc/support/log.h"
#include "service/config.h"
#include "service/log.h"
#include "service/server.h"

namespace {

using wxvault::service::LogField;
using wxvault::service::LogLevel;
using wxvault::service::LogMessage;

// Logs `message` (one line naming the flag at fault) as an error record and
// returns `code`. Written whatever --log_level says.
int Fail(const std::string& message, int code) {
  LogMessage(LogLevel::kError, __FILE__, __LINE__).stream() << message;
  return code;
}

// Prints an announcement on stdout and logs it with `fields`.
void Announce(const std::string& line, const LogField& field) {
  std::printf("wxvaultd: %s\n", line.c_str());
  std::fflush(stdout);
  WXV_LOG(INFO) << field << line;
}

// protobuf's own complaints (e.g. invalid UTF-8 in a request) go through
// wxvault's log instead of raw stderr.
void ProtobufLog(google::protobuf::LogLevel level, const char* file, int line, const std::string& message) {
  WXV_LOG(WARNING) << LogField("component", "protobuf") << message;
}

// So do gRPC's (by default errors only).
void GrpcLog(gpr_log_func_args* args) {
  const LogLevel level = args->severity == GPR_LOG_SEVERITY_ERROR  ? LogLevel::kError
                         : args->severity == GPR_LOG_SEVERITY_INFO ? LogLevel::kInfo
                                                                   : LogLevel::kDebug;
  if (!wxvault::service::ShouldLog(level)) return;
  LogMessage(level, args->file != nullptr ? args->file : "grpc", args->line).stream()
      << LogField("component", "grpc") << (args->message != nullptr ? args->message : "");
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  auto parsed = wxvault::service::ParseServerConfig(args, wxvault::service::ProcessEnvironment());
  if (!parsed.ok()) return Fail(std::string(parsed.status().message()), 2);
  if (parsed->help) {
    std::fputs(wxvault::service::ServerConfigHelp().c_str(), stdout);
    return 0;
  }
  wxvault::service::SetMinLogLevel(
      wxvault::service::ParseLogLevel(parsed->config.log_level).value_or(LogLevel::kInfo));
  google::protobuf::SetLogHandler(&ProtobufLog);
  gpr_set_log_function(&GrpcLog);
  // Debian's abseil is built with mutex deadlock detection on, which records
  // every lock acquisition in a global graph (~2 % of a loaded server's CPU).
  // The tests keep it on, where it belongs; the server does not pay for it.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);

  // Block the stop signals before any thread starts; main waits for them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  auto server = wxvault::service::WxvaultServer::Start(parsed->config);
  if (!server.ok()) return Fail(std::string(server.status().message()), 1);
  if (!(*server)->demo_banner().empty()) {
    std::fputs((*server)->demo_banner().c_str(), stdout);
    WXV_LOG(WARNING) << LogField("demo", true) << "DEMO MODE: never for production (banner on stdout)";
  }
  if (!(*server)->health_address().empty()) {
    const std::string& address = (*server)->health_address();
    Announce("health serving on " + address, LogField("health_address", address));
  }
  if (!(*server)->metrics_url().empty()) {
    const std::string url = (*server)->metrics_url();
    Announce("metrics on " + url, LogField("metrics_url", url));
  }
  Announce("serving on " + (*server)->address(), LogField("address", (*server)->address()));

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  WXV_LOG(INFO) << "received " << (signal_number == SIGINT ? "SIGINT" : "SIGTERM") << ", shutting down";
  (*server)->Shutdown();
  WXV_LOG(INFO) << "stopped";
  return 0;
}
