// The only translation unit that includes httplib.h.
#include "tests/fake_wechat/fake_wechat.h"

#include <httplib.h>

#include <cstdio>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "tests/fake_wechat/json_writer.h"

namespace wxvault::fake {
namespace {

// The base clock plus an offset that the control surface moves.
class OffsetClock final : public Clock {
 public:
  explicit OffsetClock(Clock* base) : base_(base) {}
  absl::Time Now() const override {
    absl::MutexLock lock(&mu_);
    return base_->Now() + offset_;
  }
  void Advance(absl::Duration d) {
    absl::MutexLock lock(&mu_);
    offset_ += d;
  }
  void Set(absl::Time t) {
    absl::MutexLock lock(&mu_);
    offset_ = t - base_->Now();
  }
  void ClearOffset() {
    absl::MutexLock lock(&mu_);
    offset_ = absl::ZeroDuration();
  }

 private:
  Clock* const base_;
  mutable absl::Mutex mu_;
  absl::Duration offset_ ABSL_GUARDED_BY(mu_);
};

FakeParams ToParams(const httplib::Request& req) {
  FakeParams params;
  for (const auto& [key, value] : req.params) params.emplace(key, value);
  return params;
}

std::string Get(const FakeParams& params, const std::string& key) {
  auto it = params.find(key);
  return it == params.end() ? std::string() : it->second;
}

bool GetInt(const FakeParams& params, const std::string& key, int* out) {
  auto it = params.find(key);
  return it != params.end() && absl::SimpleAtoi(it->second, out);
}

void Reply(httplib::Response& res, int status, std::string json) {
  res.status = status;
  res.set_content(std::move(json), "application/json");
}

void ReplyError(httplib::Response& res, absl::string_view message) {
  Reply(res, 400, JsonWriter(false).String("error", message).Finish());
}

constexpr size_t kOversizeBytes = 2 << 20;

}  // namespace

absl::StatusOr<Fault> ParseFault(const FakeParams& params) {
  static const std::map<std::string, FaultKind> kKinds = {
      {"errcode", FaultKind::kErrcode},     {"http", FaultKind::kHttpStatus},
      {"reset", FaultKind::kReset},         {"stall", FaultKind::kStall},
      {"garbage", FaultKind::kGarbage},     {"truncated", FaultKind::kTruncated},
      {"oversize", FaultKind::kOversize}};
  Fault fault;
  std::string kind = Get(params, "kind");
  auto it = kKinds.find(kind.empty() ? "errcode" : kind);
  if (it == kKinds.end()) return absl::InvalidArgumentError("unknown kind");
  fault.kind = it->second;
  int value = 0;
  if (GetInt(params, "errcode", &value)) fault.errcode = value;
  if (GetInt(params, "status", &value)) fault.http_status = value;
  if (GetInt(params, "stall_ms", &value)) fault.stall = absl::Milliseconds(value);
  if (GetInt(params, "count", &value)) fault.count = value;
  fault.after_processing = Get(params, "after") == "1";
  if (fault.count < 1) return absl::InvalidArgumentError("count must be >= 1");
  if (fault.http_status < 100 || fault.http_status > 599) {
    return absl::InvalidArgumentError("status must be 100..599");
  }
  return fault;
}

struct FakeWeChat::Impl {
  Impl(FakeWeChatOptions options, FakeServerConfig cfg)
      : config(std::move(cfg)),
        clock(config.clock != nullptr ? config.clock : RealClock::Get()),
        state(std::move(options), &clock) {}

  FakeServerConfig config;
  OffsetClock clock;
  FakeWeChatState state;
  httplib::Server server;
  std::thread thread;
  int port = 0;
  int listen_socket = -1;

  mutable absl::Mutex mu;
  bool stopping ABSL_GUARDED_BY(mu) = false;
  std::map<FakeEndpoint, std::deque<Fault>> faults ABSL_GUARDED_BY(mu);
  std::map<FakeEndpoint, int> calls ABSL_GUARDED_BY(mu);

  // Counts the call and takes the next queued fault, if any.
  absl::optional<Fault> BeginCall(FakeEndpoint endpoint) {
    absl::MutexLock lock(&mu);
    ++calls[endpoint];
    std::deque<Fault>& queue = faults[endpoint];
    if (queue.empty()) return absl::nullopt;
    Fault fault = queue.front();
    if (--queue.front().count == 0) queue.pop_front();
    return fault;
  }

  void Inject(FakeEndpoint endpoint, const Fault& fault) {
    absl::MutexLock lock(&mu);
    faults[endpoint].push_back(fault);
  }

  void Reset(bool all) {
    absl::MutexLock lock(&mu);
    faults.clear();
    calls.clear();
    if (all) {
      state.Clear();
      clock.ClearOffset();
    }
  }

  // Waits `d` of real time, or less if the server stops.
  void Stall(absl::Duration d) {
    mu.LockWhenWithTimeout(absl::Condition(&stopping), d);
    mu.Unlock();
  }

  void ApplyFault(const Fault& fault, const FakeResponse& processed,
                  httplib::Response& res) {
    switch (fault.kind) {
      case FaultKind::kErrcode:
        Write(state.ErrorResponse(fault.errcode), res);
        return;
      case FaultKind::kHttpStatus:
        res.status = fault.http_status;
        res.set_content(absl::StrCat("<html><body><h1>", fault.http_status,
                                     " Bad Gateway</h1></body></html>"),
                        "text/html");
        return;
      case FaultKind::kReset: {
        res.status = 200;
        res.set_content_provider(
            4096, "text/plain",
            [](size_t offset, size_t, httplib::DataSink& sink) {
              if (offset > 0) return false;  // close mid-body
              static constexpr char kPartial[] = "{\"access_token\":\"";
              sink.write(kPartial, sizeof(kPartial) - 1);
              return true;
            });
        return;
      }
      case FaultKind::kGarbage:
        res.status = 200;
        res.set_content("<html><body>\xff\xfe system maintenance</body></html>",
                        "text/html");
        return;
      case FaultKind::kTruncated: {
        std::string body = processed.body.empty()
                               ? std::string("{\"errcode\":0,\"errmsg\":\"ok\"}")
                               : processed.body;
        res.status = 200;
        res.set_content(body.substr(0, body.size() / 2), "text/plain");
        return;
      }
      case FaultKind::kOversize:
        res.status = 200;
        res.set_chunked_content_provider(
            "text/plain", [](size_t offset, httplib::DataSink& sink) {
              if (offset >= kOversizeBytes) {
                sink.done();
                return true;
              }
              std::string chunk(64 * 1024, ' ');
              if (offset == 0) chunk[0] = '{';
              sink.write(chunk.data(), chunk.size());
              return true;
            });
        return;
      case FaultKind::kStall:
        Write(processed, res);
        return;
    }
  }

  static void Write(const FakeResponse& response, httplib::Response& res) {
    res.status = response.http_status;
    res.set_content(response.body, response.content_type);
  }

  void ServeApi(FakeEndpoint endpoint, const httplib::Request& req,
                httplib::Response& res) {
    absl::optional<Fault> fault = BeginCall(endpoint);
    if (fault.has_value() && fault->kind == FaultKind::kStall) {
      Stall(fault->stall);
      fault.reset();
    }
    if (fault.has_value() && !fault->after_processing) {
      ApplyFault(*fault, FakeResponse(), res);
      return;
    }
    FakeResponse response = state.Handle(endpoint, ToParams(req));
    if (fault.has_value()) {
      ApplyFault(*fault, response, res);
    } else {
      Write(response, res);
    }
  }

  void ServeControl(const std::string& name, const FakeParams& params,
                    httplib::Response& res);
  void RegisterHandlers();
};

void FakeWeChat::Impl::ServeControl(const std::string& name,
                                    const FakeParams& params,
                                    httplib::Response& res) {
  auto ok = [&res] { Reply(res, 200, JsonWriter(false).Raw("ok", "true").Finish()); };
  if (name == "code") {
    std::string openid;
    std::string code = state.MintCode(Get(params, "app_id"),
                                      Get(params, "openid"),
                                      Get(params, "scope"), &openid);
    Reply(res, 200,
          JsonWriter(false).String("code", code).String("openid", openid).Finish());
  } else if (name == "user") {
    FakeUser user;
    user.openid = Get(params, "openid");
    if (user.openid.empty()) return ReplyError(res, "openid is required");
    for (auto [key, field] : {std::pair<const char*, std::string*>{
                                  "nickname", &user.nickname},
                              {"unionid", &user.unionid},
                              {"province", &user.province},
                              {"city", &user.city},
                              {"country", &user.country},
                              {"headimgurl", &user.headimgurl}}) {
      if (params.count(key) > 0) *field = Get(params, key);
    }
    GetInt(params, "sex", &user.sex);
    for (absl::string_view p :
         absl::StrSplit(Get(params, "privilege"), ',', absl::SkipEmpty())) {
      user.privilege.emplace_back(p);
    }
    state.SetUser(std::move(user));
    ok();
  } else if (name == "change_password") {
    if (Get(params, "openid").empty()) return ReplyError(res, "openid is required");
    state.ChangePassword(Get(params, "openid"));
    ok();
  } else if (name == "clock") {
    absl::Duration d;
    int64_t unix_seconds = 0;
    if (params.count("advance") > 0) {
      if (!absl::ParseDuration(Get(params, "advance"), &d)) {
        return ReplyError(res, "advance: bad duration");
      }
      clock.Advance(d);
    } else if (params.count("set_unix") > 0) {
      if (!absl::SimpleAtoi(Get(params, "set_unix"), &unix_seconds)) {
        return ReplyError(res, "set_unix: bad number");
      }
      clock.Set(absl::FromUnixSeconds(unix_seconds));
    }
    Reply(res, 200,
          JsonWriter(false).Int("now_unix", absl::ToUnixSeconds(clock.Now())).Finish());
  } else if (name == "fault") {
    absl::optional<FakeEndpoint> endpoint =
        ParseFakeEndpoint(Get(params, "endpoint"));
    if (!endpoint.has_value()) return ReplyError(res, "unknown endpoint");
    absl::StatusOr<Fault> fault = ParseFault(params);
    if (!fault.ok()) return ReplyError(res, fault.status().message());
    Inject(*endpoint, *fault);
    ok();
  } else if (name == "ttl") {
    absl::Duration d;
    if (!absl::ParseDuration(Get(params, "access_token"), &d) || d <= absl::ZeroDuration()) {
      return ReplyError(res, "access_token: expected a positive duration like 60s");
    }
    state.SetAccessTokenTtl(d);
    ok();
  } else if (name == "quirks") {
    FakeQuirks q = state.quirks();
    for (auto [key, flag] : {std::pair<const char*, bool*>{
                                 "text_plain", &q.text_plain_content_type},
                             {"escape_slashes", &q.escape_slashes},
                             {"trailing_comma", &q.trailing_comma_in_scope},
                             {"unionid", &q.include_unionid},
                             {"language", &q.include_language},
                             {"control_chars", &q.control_chars_in_nickname},
                             {"sex_as_string", &q.sex_as_string}}) {
      if (params.count(key) > 0) *flag = Get(params, key) == "1";
    }
    state.SetQuirks(q);
    ok();
  } else if (name == "stats") {
    JsonWriter calls_json(false);
    {
      absl::MutexLock lock(&mu);
      for (FakeEndpoint e : kAllFakeEndpoints) {
        calls_json.Int(FakeEndpointName(e), calls[e]);
      }
    }
    Reply(res, 200, JsonWriter(false)
                        .Raw("calls", calls_json.Finish())
                        .Int("now_unix", absl::ToUnixSeconds(clock.Now()))
                        .Finish());
  } else if (name == "reset") {
    Reset(Get(params, "all") == "1");
    ok();
  } else {
    Reply(res, 404, JsonWriter(false).String("error", "unknown control").Finish());
  }
}

void FakeWeChat::Impl::RegisterHandlers() {
  for (FakeEndpoint endpoint : kAllFakeEndpoints) {
    auto handler = [this, endpoint](const httplib::Request& req,
                                    httplib::Response& res) {
      ServeApi(endpoint, req, res);
    };
    std::string path(FakeEndpointPath(endpoint));
    server.Get(path, handler);
    server.Post(path, handler);
  }
  auto control = [this](const httplib::Request& req, httplib::Response& res) {
    ServeControl(req.matches[1], ToParams(req), res);
  };
  server.Get(R"(/control/([a-z_]+))", control);
  server.Post(R"(/control/([a-z_]+))", control);
  if (config.log_requests) {
    server.set_logger([](const httplib::Request& req,
                         const httplib::Response& res) {
      // Path only: query strings carry codes, tokens and secrets.
      std::fprintf(stderr, "fake-wechat: %s %s -> %d\n", req.method.c_str(),
                   req.path.c_str(), res.status);
    });
  }
  server.new_task_queue = [] { return new httplib::ThreadPool(32); };
  server.set_keep_alive_max_count(1000);
  server.set_tcp_nodelay(true);
  // Stop() waits for idle keep-alive connections; keep that wait short.
  server.set_keep_alive_timeout(1);  // else Nagle + delayed ACK add 40 ms
  // cpp-httplib listens with a backlog of 5: a client that opens more
  // connections at once (wxvaultd's refresher workers) loses SYNs and waits
  // out a 1 s retransmission. Keep the socket to listen again with a real
  // backlog once bound (Start).
  server.set_socket_options([this](int sock) {
    httplib::default_socket_options(sock);
    listen_socket = sock;
  });
}

absl::StatusOr<std::unique_ptr<FakeWeChat>> FakeWeChat::Start(
    FakeWeChatOptions options, FakeServerConfig config) {
  auto impl = std::make_unique<Impl>(std::move(options), std::move(config));
  impl->RegisterHandlers();
  const std::string& host = impl->config.host;
  if (impl->config.port == 0) {
    impl->port = impl->server.bind_to_any_port(host);
  } else {
    impl->port = impl->server.bind_to_port(host, impl->config.port)
                     ? impl->config.port
                     : -1;
  }
  if (impl->port <= 0) {
    return absl::UnavailableError(
        absl::StrCat("fake WeChat: cannot bind ", host, ":", impl->config.port));
  }
  // Linux lets a listening socket be listened on again to change its backlog.
  if (impl->listen_socket >= 0) ::listen(impl->listen_socket, SOMAXCONN);
  httplib::Server* server = &impl->server;
  impl->thread = std::thread([server] { server->listen_after_bind(); });
  absl::Time give_up = absl::Now() + absl::Seconds(5);
  while (!server->is_running() && absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  return std::unique_ptr<FakeWeChat>(new FakeWeChat(std::move(impl)));
}

FakeWeChat::FakeWeChat(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

FakeWeChat::~FakeWeChat() { Stop(); }

void FakeWeChat::Stop() {
  {
    absl::MutexLock lock(&impl_->mu);
    impl_->stopping = true;
  }
  impl_->server.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

int FakeWeChat::port() const { return impl_->port; }

std::string FakeWeChat::base_url() const {
  return absl::StrCat("http://", impl_->config.host, ":", impl_->port);
}

std::string FakeWeChat::MintCode(absl::string_view openid,
                                 absl::string_view scope,
                                 absl::string_view app_id,
                                 std::string* openid_out) {
  return impl_->state.MintCode(app_id, openid, scope, openid_out);
}

void FakeWeChat::SetUser(FakeUser user) { impl_->state.SetUser(std::move(user)); }
void FakeWeChat::ChangePassword(absl::string_view openid) {
  impl_->state.ChangePassword(openid);
}
void FakeWeChat::SetQuirks(const FakeQuirks& quirks) {
  impl_->state.SetQuirks(quirks);
}
FakeQuirks FakeWeChat::quirks() const { return impl_->state.quirks(); }

void FakeWeChat::InjectFault(FakeEndpoint endpoint, Fault fault) {
  impl_->Inject(endpoint, fault);
}

int FakeWeChat::CallCount(FakeEndpoint endpoint) const {
  absl::MutexLock lock(&impl_->mu);
  auto it = impl_->calls.find(endpoint);
  return it == impl_->calls.end() ? 0 : it->second;
}

absl::Time FakeWeChat::Now() const { return impl_->clock.Now(); }
void FakeWeChat::AdvanceClock(absl::Duration d) { impl_->clock.Advance(d); }
void FakeWeChat::SetClock(absl::Time t) { impl_->clock.Set(t); }

void FakeWeChat::Reset(bool all) { impl_->Reset(all); }

FakeWeChatState& FakeWeChat::state() { return impl_->state; }

}  // namespace wxvault::fake
