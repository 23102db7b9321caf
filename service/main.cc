// wxvaultd: the wxvault gRPC server. See `wxvaultd --help`, README.md and
// DESIGN.md. This file parses flags, owns the signals and prints; the server
// itself is service/server.h.
#include <signal.h>

#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/str_replace.h"
#include "google/protobuf/stubs/logging.h"
#include "service/config.h"
#include "service/log.h"
#include "service/server.h"

namespace {

using wxvault::service::LogLevel;

// Prints "wxvaultd: <message>" on one line and returns `code`.
int Fail(const std::string& message, int code) {
  std::fprintf(stderr, "wxvaultd: %s\n", absl::StrReplaceAll(message, {{"\n", " "}}).c_str());
  return code;
}

LogLevel ParseLevel(const std::string& level) {
  if (level == "debug") return LogLevel::kDebug;
  if (level == "warning") return LogLevel::kWarning;
  if (level == "error") return LogLevel::kError;
  return LogLevel::kInfo;
}

// protobuf's own complaints (e.g. invalid UTF-8 in a request) go through
// wxvault's log instead of raw stderr.
void ProtobufLog(google::protobuf::LogLevel level, const char* file, int line, const std::string& message) {
  WXV_LOG(WARNING) << "protobuf: " << message;
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
  wxvault::service::SetMinLogLevel(ParseLevel(parsed->config.log_level));
  google::protobuf::SetLogHandler(&ProtobufLog);

  // Block the stop signals before any thread starts; main waits for them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  auto server = wxvault::service::WxvaultServer::Start(parsed->config);
  if (!server.ok()) return Fail(std::string(server.status().message()), 1);
  if (!(*server)->demo_banner().empty()) std::fputs((*server)->demo_banner().c_str(), stderr);
  if (!(*server)->health_address().empty()) {
    std::fprintf(stderr, "wxvaultd: health serving on %s\n", (*server)->health_address().c_str());
  }
  std::fprintf(stderr, "wxvaultd: serving on %s\n", (*server)->address().c_str());
  std::fflush(stderr);

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  WXV_LOG(INFO) << "received " << (signal_number == SIGINT ? "SIGINT" : "SIGTERM") << ", shutting down";
  (*server)->Shutdown();
  WXV_LOG(INFO) << "stopped";
  return 0;
}
