// MetricsHttpServer: the --metrics_listen endpoint. Serves
//   GET /metrics   200, Content-Type "text/plain; version=0.0.4; charset=utf-8",
//                  MetricsRegistry::RenderText()
//   anything else  404
// over plain HTTP/1.1 with cpp-httplib, on its own small thread pool, so a
// scrape never takes a gRPC or worker thread.
//
// Thread safety: Start and Stop are called from one thread (the server's
// start-up / shutdown); address() is safe from any thread. The registry is
// not owned and must outlive the server (Stop joins every handler).
#ifndef WXVAULT_SERVICE_METRICS_HTTP_H_
#define WXVAULT_SERVICE_METRICS_HTTP_H_

#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "service/metrics.h"

namespace httplib {
class Server;
}  // namespace httplib

namespace wxvault::service {

class MetricsHttpServer {
 public:
  // Listens on `address`: "host:port" or "[v6 address]:port"; port 0 picks
  // a free port. Errors: INVALID_ARGUMENT "--metrics_listen: ..." for a
  // malformed address, UNAVAILABLE "--metrics_listen: cannot listen on ..."
  // when binding fails.
  static absl::StatusOr<std::unique_ptr<MetricsHttpServer>> Start(const std::string& address,
                                                                   const MetricsRegistry* registry);
  // Stops if Stop() was not called.
  ~MetricsHttpServer();
  MetricsHttpServer(const MetricsHttpServer&) = delete;
  MetricsHttpServer& operator=(const MetricsHttpServer&) = delete;

  // "host:port" with the bound port, e.g. "127.0.0.1:9464" or "[::1]:9464".
  const std::string& address() const { return address_; }
  // "http://<address>/metrics".
  std::string url() const { return "http://" + address_ + "/metrics"; }

  // Stops accepting, finishes the requests in progress, joins. Idempotent.
  void Stop();

 private:
  MetricsHttpServer();
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  std::string address_;
};

}  // namespace wxvault::service

#endif  // WXVAULT_SERVICE_METRICS_HTTP_H_
