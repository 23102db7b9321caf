#include "service/metrics_http.h"

#include <httplib.h>
#include <sys/socket.h>

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace wxvault::service {
namespace {

constexpr char kContentType[] = "text/plain; version=0.0.4; charset=utf-8";
// Scrapes are rare and small: two handler threads are plenty.
constexpr size_t kHandlerThreads = 2;

struct HostPort {
  std::string host;  // without brackets
  int port = -1;
};

absl::StatusOr<HostPort> SplitAddress(absl::string_view address) {
  const size_t colon = address.rfind(':');
  HostPort result;
  if (colon == absl::string_view::npos || colon == 0 || !absl::SimpleAtoi(address.substr(colon + 1), &result.port) ||
      result.port < 0 || result.port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("--metrics_listen: '", address, "' is not HOST:PORT"));
  }
  absl::string_view host = address.substr(0, colon);
  if (absl::StartsWith(host, "[") && absl::EndsWith(host, "]")) host = host.substr(1, host.size() - 2);
  result.host = std::string(host);
  return result;
}

}  // namespace

MetricsHttpServer::MetricsHttpServer() : server_(std::make_unique<httplib::Server>()) {}

MetricsHttpServer::~MetricsHttpServer() { Stop(); }

absl::StatusOr<std::unique_ptr<MetricsHttpServer>> MetricsHttpServer::Start(const std::string& address,
                                                                            const MetricsRegistry* registry) {
  absl::StatusOr<HostPort> host_port = SplitAddress(address);
  if (!host_port.ok()) return host_port.status();
  std::unique_ptr<MetricsHttpServer> metrics(new MetricsHttpServer());
  httplib::Server& server = *metrics->server_;
  server.new_task_queue = [] { return new httplib::ThreadPool(kHandlerThreads); };
  server.set_read_timeout(5, 0);
  server.set_write_timeout(5, 0);
  server.set_keep_alive_timeout(5);
  server.set_payload_max_length(4096);
  // SO_REUSEADDR only: httplib's default also sets SO_REUSEPORT, which would
  // let a second wxvaultd bind the same port and take half the scrapes.
  server.set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  server.Get("/metrics", [registry](const httplib::Request&, httplib::Response& res) {
    res.set_content(registry->RenderText(), kContentType);
  });
  int port = host_port->port;
  if (port == 0) {
    port = server.bind_to_any_port(host_port->host);
  } else if (!server.bind_to_port(host_port->host, port)) {
    port = -1;
  }
  if (port <= 0) return absl::UnavailableError(absl::StrCat("--metrics_listen: cannot listen on ", address));
  const bool v6 = host_port->host.find(':') != std::string::npos;
  metrics->address_ = absl::StrCat(v6 ? "[" : "", host_port->host, v6 ? "]" : "", ":", port);
  metrics->thread_ = std::thread([&server] { server.listen_after_bind(); });
  // stop() only takes effect once the accept loop runs; wait for it (the
  // socket already listens, so no connection is lost meanwhile).
  const absl::Time give_up = absl::Now() + absl::Seconds(5);
  while (!server.is_running() && absl::Now() < give_up) absl::SleepFor(absl::Milliseconds(1));
  return metrics;
}

void MetricsHttpServer::Stop() {
  if (!thread_.joinable()) return;
  server_->stop();
  thread_.join();
}

}  // namespace wxvault::service
