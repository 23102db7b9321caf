#include "service/server.h"

#include <chrono>
#include <filesystem>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "service/admin_auth.h"
#include "service/app_registry.h"
#include "service/curl_http_client.h"
#include "service/demo.h"
#include "service/event_notifier.h"
#include "service/health_service.h"
#include "service/key_guard.h"
#include "service/log.h"
#include "service/metrics_http.h"
#include "service/rate_limiter.h"
#include "service/refresher.h"
#include "service/server_metrics.h"
#include "service/token_service.h"
#include "service/token_vault_service.h"
#include "service/vault_admin_service.h"
#include "service/vault_maintenance.h"
#include "service/wechat_client.h"
#include "service/worker_pool.h"
#include "vault/key_check.h"
#include "vault/keyring.h"
#include "vault/rocks_token_store.h"
#include "vault/sealer.h"

namespace wxvault::service {
namespace {

// Largest request the server accepts (DESIGN: bad input of any size is
// refused early; every real request is well under 1 KiB).
constexpr int kMaxReceiveBytes = 64 * 1024;
// Tasks waiting for a worker, per worker thread.
constexpr size_t kQueuedPerWorker = 128;
constexpr size_t kMaxPemBytes = 1 << 20;

absl::Status Prefixed(absl::string_view flag, const absl::Status& status) {
  return absl::Status(status.code(), absl::StrCat("--", flag, ": ", status.message()));
}

// The address a client uses, with the bound port when `port` 0 was asked.
std::string ResolvedAddress(const std::string& address, int bound_port) {
  if (absl::StartsWith(address, "unix:")) return address;
  return absl::StrCat(address.substr(0, address.rfind(':')), ":", bound_port);
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> Credentials(const ServerConfig& config) {
  if (config.tls_cert_file.empty()) return grpc::InsecureServerCredentials();
  absl::StatusOr<std::string> cert = ReadFlagFile("tls_cert_file", config.tls_cert_file, kMaxPemBytes);
  if (!cert.ok()) return cert.status();
  absl::StatusOr<std::string> key = ReadFlagFile("tls_key_file", config.tls_key_file, kMaxPemBytes);
  if (!key.ok()) return key.status();
  grpc::SslServerCredentialsOptions options(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  if (!config.tls_client_ca_file.empty()) {
    absl::StatusOr<std::string> ca = ReadFlagFile("tls_client_ca_file", config.tls_client_ca_file, kMaxPemBytes);
    if (!ca.ok()) return ca.status();
    options.pem_root_certs = *ca;
    options.client_certificate_request = GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
  }
  options.pem_key_cert_pairs.push_back({*key, *cert});
  return grpc::SslServerCredentials(options);
}

absl::StatusOr<std::unique_ptr<AppRegistry>> LoadApps(const ServerConfig& config, const DemoEnvironment* demo) {
  if (demo != nullptr) return AppRegistry::Create({demo->app});
  if (!config.apps_file.empty()) return AppRegistry::LoadAppsFile(config.apps_file);
  absl::StatusOr<WeChatApp> app = AppRegistry::LoadApp(config.app_id, config.app_secret_file);
  if (!app.ok()) return Prefixed("app_secret_file", app.status());
  absl::StatusOr<std::unique_ptr<AppRegistry>> registry = AppRegistry::Create({*std::move(app)});
  if (!registry.ok()) return Prefixed("app_id", registry.status());
  return registry;
}

}  // namespace

// Every component, in construction order (destroyed in reverse).
struct WxvaultServer::Parts {
  ServerConfig config;
  std::string address;
  std::string health_address;
  std::string banner;
  bool shut_down = false;
  absl::Time started_at;

  std::unique_ptr<ServerMetrics> metrics;  // null without --metrics_listen
  std::unique_ptr<HealthService> health;
  std::unique_ptr<grpc::Server> health_server;
  std::unique_ptr<DemoEnvironment> demo;
  std::unique_ptr<vault::Keyring> keyring;
  std::unique_ptr<vault::Sealer> sealer;
  std::unique_ptr<KeyGuard> key_guard;  // locks the keys away while idle
  std::unique_ptr<vault::RocksTokenStore> store;
  std::unique_ptr<AppRegistry> apps;
  std::unique_ptr<CurlHttpClient> http;
  std::unique_ptr<RateLimiter> limiter;
  std::unique_ptr<WeChatClient> wechat;
  std::unique_ptr<TokenService> tokens;
  std::unique_ptr<Refresher> refresher;
  std::unique_ptr<WorkerPool> pool;
  std::unique_ptr<EventNotifier> notifier;
  std::unique_ptr<VaultMaintenance> maintenance;
  std::unique_ptr<AdminAuthorizer> auth;
  std::unique_ptr<TokenVaultService> token_vault;
  std::unique_ptr<VaultAdminService> admin;
  std::unique_ptr<grpc::Server> server;
  std::unique_ptr<MetricsHttpServer> metrics_http;
};

WxvaultServer::WxvaultServer(std::unique_ptr<Parts> parts) : parts_(std::move(parts)) {}

WxvaultServer::~WxvaultServer() { Shutdown(); }

const std::string& WxvaultServer::address() const { return parts_->address; }
const std::string& WxvaultServer::health_address() const { return parts_->health_address; }
const std::string& WxvaultServer::demo_banner() const { return parts_->banner; }
std::string WxvaultServer::metrics_url() const {
  return parts_->metrics_http != nullptr ? parts_->metrics_http->url() : std::string();
}

absl::StatusOr<std::unique_ptr<WxvaultServer>> WxvaultServer::Start(const ServerConfig& config) {
  std::unique_ptr<WxvaultServer> server(new WxvaultServer(std::make_unique<Parts>()));
  if (absl::Status s = server->Build(config); !s.ok()) return s;  // ~WxvaultServer stops what started
  return server;
}

absl::Status WxvaultServer::Build(const ServerConfig& input) {
  Parts& p = *parts_;
  p.config = input;
  ServerConfig& config = p.config;
  if (config.demo && config.explicitly_set.count("data_dir") == 0) config.data_dir = kDemoDataDir;
  std::error_code ec;
  const std::string data_dir = std::filesystem::absolute(config.data_dir, ec).lexically_normal().string();
  p.started_at = absl::Now();
  RealClock* clock = RealClock::Get();
  if (!config.metrics_listen.empty()) {
    const google::protobuf::DescriptorPool* pool = google::protobuf::DescriptorPool::generated_pool();
    p.metrics = std::make_unique<ServerMetrics>(std::vector<const google::protobuf::ServiceDescriptor*>{
        pool->FindServiceByName("wxvault.v1.TokenVault"), pool->FindServiceByName("wxvault.v1.VaultAdmin")});
  }
  RpcMetrics* rpc_metrics = p.metrics != nullptr ? p.metrics->rpc() : nullptr;

  // Health first, NOT_SERVING until the vault is open. Its builder is made
  // before reflection is switched on, so the probe port serves Health only.
  p.health = std::make_unique<HealthService>(
      std::vector<std::string>{"wxvault.v1.TokenVault", "wxvault.v1.VaultAdmin"});
  if (!config.health_listen.empty()) {
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort(config.health_listen, grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(p.health.get());
    builder.SetMaxReceiveMessageSize(kMaxReceiveBytes);
    p.health_server = builder.BuildAndStart();
    if (p.health_server == nullptr) {
      return absl::UnavailableError(absl::StrCat("--health_listen: cannot listen on ", config.health_listen));
    }
    p.health_address = ResolvedAddress(config.health_listen, port);
  }

  if (config.demo) {
    absl::StatusOr<std::unique_ptr<DemoEnvironment>> demo = StartDemo(config.data_dir, config.master_key_file);
    if (!demo.ok()) return demo.status();
    p.demo = *std::move(demo);
  }
  const std::string key_file = p.demo != nullptr ? p.demo->key_file : config.master_key_file;
  std::vector<std::string> warnings;
  absl::StatusOr<std::unique_ptr<vault::Keyring>> keyring = vault::Keyring::LoadFile(key_file, &warnings);
  if (!keyring.ok()) return Prefixed("master_key_file", keyring.status());
  for (const std::string& warning : warnings) WXV_LOG(WARNING) << "--master_key_file: " << warning;
  p.keyring = *std::move(keyring);
  p.sealer = std::make_unique<vault::Sealer>(p.keyring.get());

  std::filesystem::create_directories(config.data_dir, ec);
  if (ec) return absl::InvalidArgumentError(absl::StrCat("--data_dir: cannot create ", config.data_dir, ": ",
                                                         ec.message()));
  vault::RocksTokenStoreOptions store_options;
  store_options.path = config.data_dir;
  absl::StatusOr<std::unique_ptr<vault::RocksTokenStore>> store = vault::OpenVerifiedVault(store_options, *p.sealer);
  if (!store.ok()) {
    // A keyring that does not open the vault is a key problem; the rest
    // (locked by another process, I/O, corruption) is about the directory.
    return Prefixed(absl::IsFailedPrecondition(store.status()) ? "master_key_file" : "data_dir", store.status());
  }
  p.store = *std::move(store);
  WXV_LOG(INFO) << "vault open at " << data_dir << ", active key " << p.keyring->active_key_id();

  absl::StatusOr<std::unique_ptr<AppRegistry>> apps = LoadApps(config, p.demo.get());
  if (!apps.ok()) return apps.status();
  p.apps = *std::move(apps);

  absl::StatusOr<std::unique_ptr<CurlHttpClient>> http = CurlHttpClient::Create();
  if (!http.ok()) return http.status();
  p.http = *std::move(http);
  p.limiter = std::make_unique<RateLimiter>(RateLimiterOptions{config.upstream_qps, 0}, clock, RealSleeper::Get());
  WeChatClientOptions wechat_options;
  wechat_options.api_base = p.demo != nullptr ? p.demo->fake->base_url() : config.wechat_api_base;
  WeChatClient::Deps wechat_deps{p.http.get(), clock, p.limiter.get()};
  if (p.metrics != nullptr) wechat_deps.observer = p.metrics->upstream();
  absl::StatusOr<std::unique_ptr<WeChatClient>> wechat = WeChatClient::Create(wechat_deps, wechat_options);
  if (!wechat.ok()) return Prefixed("wechat_api_base", wechat.status());
  p.wechat = *std::move(wechat);

  TokenServiceOptions token_options;
  token_options.refresh_token_ttl = config.refresh_token_ttl;
  token_options.renew_before = config.renew_before;
  token_options.access_token_min_ttl = config.access_token_min_ttl;
  token_options.tombstone_retention = config.tombstone_retention;
  absl::StatusOr<std::unique_ptr<TokenService>> tokens =
      TokenService::Create({p.store.get(), p.sealer.get(), p.wechat.get(), p.apps.get(), clock}, token_options);
  if (!tokens.ok()) return tokens.status();
  p.tokens = *std::move(tokens);
  RefresherOptions refresher_options;
  refresher_options.workers = config.refresher_workers;
  refresher_options.event_retention = config.event_retention;
  if (absl::Status s = refresher_options.Validate(); !s.ok()) return Prefixed("refresher_workers", s);
  p.refresher = std::make_unique<Refresher>(p.tokens.get(), p.store.get(), clock, refresher_options);
  Refresher* refresher = p.refresher.get();
  p.tokens->SetScheduleListener([refresher](int64_t due_at_ms) { refresher->Wake(due_at_ms); });

  p.pool = std::make_unique<WorkerPool>(WorkerPoolOptions{
      config.worker_threads, kQueuedPerWorker * static_cast<size_t>(config.worker_threads)});
  absl::StatusOr<vault::StoreStats> stats = p.store->Stats();
  if (!stats.ok()) return Prefixed("data_dir", stats.status());
  p.notifier = std::make_unique<EventNotifier>(stats->last_event_sequence);
  EventNotifier* notifier = p.notifier.get();
  p.store->SetEventListener([notifier](uint64_t readable) { notifier->Notify(readable); });
  p.maintenance = std::make_unique<VaultMaintenance>(
      VaultMaintenance::Deps{p.store.get(), p.sealer.get(), p.tokens.get(), clock, data_dir});

  std::string admin_token;
  if (!config.admin_token_file.empty()) {
    absl::StatusOr<std::string> token = ReadFlagFile("admin_token_file", config.admin_token_file);
    if (!token.ok()) return token.status();
    admin_token = *std::move(token);
  }
  p.auth = std::make_unique<AdminAuthorizer>(std::move(admin_token), config.demo);
  p.token_vault = std::make_unique<TokenVaultService>(TokenVaultService::Deps{
      p.tokens.get(), p.store.get(), p.apps.get(), p.notifier.get(), p.pool.get(), clock, rpc_metrics});
  VaultAdminService::Deps admin_deps{p.store.get(), p.sealer.get(), p.apps.get(), p.limiter.get(),
                                     p.maintenance.get(), p.auth.get(), p.pool.get(), clock, data_dir,
                                     config.demo, p.started_at, p.refresher.get(), rpc_metrics};
  p.admin = std::make_unique<VaultAdminService>(std::move(admin_deps));

  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials = Credentials(config);
  if (!credentials.ok()) return credentials.status();
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(config.listen, *credentials, &port);
  builder.RegisterService(p.token_vault.get());
  builder.RegisterService(p.admin.get());
  builder.RegisterService(p.health.get());
  builder.SetMaxReceiveMessageSize(kMaxReceiveBytes);
  p.server = builder.BuildAndStart();
  if (p.server == nullptr) return absl::UnavailableError(absl::StrCat("--listen: cannot listen on ", config.listen));
  p.address = ResolvedAddress(config.listen, port);
  if (p.demo != nullptr) p.banner = DemoBanner(*p.demo, p.address, data_dir);
  if (p.metrics != nullptr) {
    p.metrics->AddCollectors({p.store.get(), p.keyring.get(), p.refresher.get(), p.limiter.get(), p.pool.get(), clock,
                              p.started_at, WXVAULT_VERSION});
    absl::StatusOr<std::unique_ptr<MetricsHttpServer>> http =
        MetricsHttpServer::Start(config.metrics_listen, p.metrics->registry());
    if (!http.ok()) return http.status();
    p.metrics_http = *std::move(http);
  }
  p.key_guard = std::make_unique<KeyGuard>(p.keyring.get());
  p.refresher->Start();
  p.health->SetServing(true);
  return absl::OkStatus();
}

void WxvaultServer::Shutdown() {
  Parts& p = *parts_;
  if (p.shut_down) return;
  p.shut_down = true;
  if (p.health != nullptr) p.health->Shutdown();        // NOT_SERVING; Watch streams end
  if (p.notifier != nullptr) p.notifier->Shutdown();    // WatchEvents streams end
  const auto deadline = std::chrono::system_clock::now() + absl::ToChronoNanoseconds(p.config.shutdown_grace);
  if (p.server != nullptr) p.server->Shutdown(deadline);  // in-flight calls finish or are cancelled
  if (p.pool != nullptr) p.pool->Shutdown();            // every accepted task has finished its call
  if (p.refresher != nullptr) p.refresher->Stop();      // started tokens finish (all or nothing), no new ones
  if (p.metrics_http != nullptr) p.metrics_http->Stop();  // no scrape reads the components any more
  if (p.health_server != nullptr) p.health_server->Shutdown(deadline);
  if (p.store != nullptr) p.store->SetEventListener(nullptr);
  // Nothing calls into the components any more: release them in dependency
  // order. The HTTP client goes before the demo fake so that its keep-alive
  // connections close and the fake stops at once.
  p.server.reset();
  p.health_server.reset();
  p.admin.reset();
  p.token_vault.reset();
  p.maintenance.reset();
  p.refresher.reset();
  p.tokens.reset();
  p.wechat.reset();
  p.http.reset();
  p.store.reset();  // closes RocksDB cleanly
  p.key_guard.reset();  // nothing seals any more: the keys end PROT_NONE
  if (p.demo != nullptr) p.demo->fake->Stop();
}

}  // namespace wxvault::service
