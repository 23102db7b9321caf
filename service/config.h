// ServerConfig: every setting of wxvaultd, parsed from the command line and
// the environment (DESIGN §4).
//
// Sources, strongest first:
//   1. the command line: `--flag=value` or `--flag value`; booleans also as a
//      bare `--flag` (true) or `--flag=true|false|1|0|yes|no`;
//   2. the environment: WXVAULT_<FLAG_UPPER>, e.g. WXVAULT_LISTEN,
//      WXVAULT_REFRESH_TOKEN_TTL;
//   3. the defaults below (listed by `wxvaultd --help`).
// Durations use absl syntax ("90s", "168h", "1h30m").
//
// Secrets are never flag values: the app secret, the admin token and the
// master keys are read from the files the flags name. Validation checks that
// every named file is a readable regular file; the contents are read by the
// components that use them (keyring, app registry, admin token).
//
// Every error is INVALID_ARGUMENT with a one-line message that starts with
// the flag it is about, e.g.
//   "--renew_before: must be shorter than --refresh_token_ttl (4320h)"
// so that main() can print "wxvaultd: <message>" and exit non-zero.
//
// Thread safety: pure functions over their arguments; no global state.
#ifndef WXVAULT_SERVICE_CONFIG_H_
#define WXVAULT_SERVICE_CONFIG_H_

#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace wxvault::service {

struct ServerConfig {
  std::string listen = "127.0.0.1:50051";
  std::string health_listen;
  std::string data_dir = "./wxvault-data";
  std::string master_key_file;
  std::string app_id;
  std::string app_secret_file;
  std::string apps_file;
  std::string wechat_api_base = "https://api.weixin.qq.com";
  absl::Duration refresh_token_ttl = absl::Hours(4320);
  absl::Duration renew_before = absl::Hours(168);
  absl::Duration access_token_min_ttl = absl::Seconds(300);
  double upstream_qps = 50;
  std::string admin_token_file;
  std::string metrics_listen;
  std::string tls_cert_file;
  std::string tls_key_file;
  std::string tls_client_ca_file;
  bool demo = false;
  absl::Duration shutdown_grace = absl::Seconds(10);
  int worker_threads = 8;
  // Refresher: tokens worked concurrently, event log retention, how long
  // REVOKED / REAUTH_REQUIRED tombstones are kept.
  int refresher_workers = 4;
  absl::Duration event_retention = absl::Hours(168);
  absl::Duration tombstone_retention = absl::Hours(720);
  std::string log_level = "info";

  // Names of the flags given explicitly (command line or environment),
  // e.g. "data_dir". Lets --demo pick its own defaults.
  std::set<std::string> explicitly_set;
};

struct ParsedCommandLine {
  ServerConfig config;
  bool help = false;  // --help was given: print ServerConfigHelp(), exit 0
};

// Parses `args` (argv without argv[0]) over `env` (name -> value, e.g. the
// process environment) and validates the result (ValidateServerConfig).
// Errors: INVALID_ARGUMENT "--<flag>: <problem>" for an unknown flag, a
// missing or malformed value, a positional argument, or a failed check.
absl::StatusOr<ParsedCommandLine> ParseServerConfig(const std::vector<std::string>& args,
                                                    const std::map<std::string, std::string>& env);

// Checks ranges, combinations and that every file flag names a readable
// regular file. Errors: INVALID_ARGUMENT "--<flag>: <problem>".
absl::Status ValidateServerConfig(const ServerConfig& config);

// The --help text: usage, then every flag with its env variable, default and
// meaning.
std::string ServerConfigHelp();

// Reads a small file a flag names (the admin token, TLS PEM files): its
// content without surrounding whitespace. Errors: INVALID_ARGUMENT
// "--<flag>: ..." when the file cannot be read, is larger than `max_bytes`
// or is empty. The message never contains the content.
absl::StatusOr<std::string> ReadFlagFile(const std::string& flag, const std::string& path,
                                         size_t max_bytes = 4096);

// The process environment as a map (for ParseServerConfig).
std::map<std::string, std::string> ProcessEnvironment();

}  // namespace wxvault::service

#endif  // WXVAULT_SERVICE_CONFIG_H_
