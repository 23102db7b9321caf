#include "service/config.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <variant>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "service/log.h"

extern char** environ;

namespace wxvault::service {
namespace {

using Field = std::variant<std::string ServerConfig::*, absl::Duration ServerConfig::*, double ServerConfig::*,
                           int ServerConfig::*, bool ServerConfig::*>;

struct FlagSpec {
  const char* name;
  Field field;
  const char* meaning;
  bool is_file = false;  // must name a readable regular file when set
};

// The one list of flags: parsing, --help and file checks all read it.
const std::vector<FlagSpec>& Flags() {
  static const auto* flags = new std::vector<FlagSpec>{
      {"listen", &ServerConfig::listen, "gRPC address: HOST:PORT, or unix:/path for a Unix socket"},
      {"health_listen", &ServerConfig::health_listen,
       "extra plaintext listener serving only grpc.health.v1 (kubelet probes); empty: none"},
      {"data_dir", &ServerConfig::data_dir, "RocksDB vault directory (created if missing)"},
      {"master_key_file", &ServerConfig::master_key_file,
       "keyring file, one '<key_id>:<base64 of 32 bytes>' per line; the last line seals new writes "
       "(required unless --demo)",
       true},
      {"app_id", &ServerConfig::app_id, "the single WeChat app served (with --app_secret_file)"},
      {"app_secret_file", &ServerConfig::app_secret_file, "file holding --app_id's AppSecret", true},
      {"apps_file", &ServerConfig::apps_file, "YAML list of {app_id, secret_file} for several apps", true},
      {"wechat_api_base", &ServerConfig::wechat_api_base, "WeChat API base URL (tests point it at a fake)"},
      {"refresh_token_ttl", &ServerConfig::refresh_token_ttl, "lifetime of a refresh token from its issue"},
      {"renew_before", &ServerConfig::renew_before, "how long before a refresh window ends the refresher acts"},
      {"access_token_min_ttl", &ServerConfig::access_token_min_ttl,
       "an access token with less left is refreshed before it is handed out (0s..1h)"},
      {"upstream_qps", &ServerConfig::upstream_qps, "ceiling on calls to WeChat per second, all callers together"},
      {"admin_token_file", &ServerConfig::admin_token_file,
       "file holding the VaultAdmin bearer token; empty: admin only over a Unix socket or in --demo", true},
      {"metrics_listen", &ServerConfig::metrics_listen,
       "HOST:PORT serving Prometheus GET /metrics (port 0: a free port, printed); empty: off"},
      {"tls_cert_file", &ServerConfig::tls_cert_file, "PEM server certificate chain (enables TLS on --listen)",
       true},
      {"tls_key_file", &ServerConfig::tls_key_file, "PEM private key of --tls_cert_file", true},
      {"tls_client_ca_file", &ServerConfig::tls_client_ca_file,
       "PEM CA bundle; when set, clients must present a certificate it signed (mTLS)", true},
      {"demo", &ServerConfig::demo,
       "self-contained demo: in-process fake WeChat, throwaway key in the data dir, admin without a token"},
      {"shutdown_grace", &ServerConfig::shutdown_grace,
       "on SIGTERM/SIGINT, how long in-flight calls may finish before they are cancelled"},
      {"worker_threads", &ServerConfig::worker_threads, "threads running blocking work (vault writes, WeChat calls)"},
      {"log_level", &ServerConfig::log_level, "debug, info, warning or error (JSON lines on stderr)"},
      {"refresher_workers", &ServerConfig::refresher_workers,
       "tokens the background refresher works on concurrently (each passes --upstream_qps)"},
      {"event_retention", &ServerConfig::event_retention,
       "how long lifecycle events stay readable by WatchEvents before they are trimmed"},
      {"tombstone_retention", &ServerConfig::tombstone_retention,
       "how long REVOKED and REAUTH_REQUIRED records are kept before they are purged"},
  };
  return *flags;
}

const FlagSpec* FindFlag(absl::string_view name) {
  for (const FlagSpec& flag : Flags()) {
    if (name == flag.name) return &flag;
  }
  return nullptr;
}

std::string EnvName(absl::string_view flag) { return absl::StrCat("WXVAULT_", absl::AsciiStrToUpper(flag)); }

absl::Status FlagError(absl::string_view flag, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat("--", flag, ": ", problem));
}

bool ParseBool(absl::string_view text, bool* out) {
  const std::string lower = absl::AsciiStrToLower(text);
  if (lower == "true" || lower == "1" || lower == "yes") {
    *out = true;
  } else if (lower == "false" || lower == "0" || lower == "no") {
    *out = false;
  } else {
    return false;
  }
  return true;
}

// Stores `value` into the field of `flag`.
absl::Status SetField(const FlagSpec& flag, absl::string_view value, ServerConfig* config) {
  struct Setter {
    absl::string_view value;
    ServerConfig* config;
    absl::Status operator()(std::string ServerConfig::*f) const {
      config->*f = std::string(value);
      return absl::OkStatus();
    }
    absl::Status operator()(absl::Duration ServerConfig::*f) const {
      return absl::ParseDuration(value, &(config->*f))
                 ? absl::OkStatus()
                 : absl::InvalidArgumentError(absl::StrCat("'", value, "' is not a duration like 90s or 168h"));
    }
    absl::Status operator()(double ServerConfig::*f) const {
      return absl::SimpleAtod(value, &(config->*f)) ? absl::OkStatus()
                                                    : absl::InvalidArgumentError(absl::StrCat("'", value,
                                                                                              "' is not a number"));
    }
    absl::Status operator()(int ServerConfig::*f) const {
      return absl::SimpleAtoi(value, &(config->*f)) ? absl::OkStatus()
                                                    : absl::InvalidArgumentError(absl::StrCat("'", value,
                                                                                              "' is not an integer"));
    }
    absl::Status operator()(bool ServerConfig::*f) const {
      return ParseBool(value, &(config->*f))
                 ? absl::OkStatus()
                 : absl::InvalidArgumentError(absl::StrCat("'", value, "' is not true/false/1/0/yes/no"));
    }
  };
  absl::Status s = std::visit(Setter{value, config}, flag.field);
  if (!s.ok()) return FlagError(flag.name, s.message());
  config->explicitly_set.insert(flag.name);
  return absl::OkStatus();
}

std::string DefaultText(const FlagSpec& flag) {
  static const ServerConfig defaults;
  struct Printer {
    std::string operator()(std::string ServerConfig::*f) const {
      return (defaults.*f).empty() ? "(empty)" : defaults.*f;
    }
    std::string operator()(absl::Duration ServerConfig::*f) const { return absl::FormatDuration(defaults.*f); }
    std::string operator()(double ServerConfig::*f) const { return absl::StrCat(defaults.*f); }
    std::string operator()(int ServerConfig::*f) const { return absl::StrCat(defaults.*f); }
    std::string operator()(bool ServerConfig::*f) const { return defaults.*f ? "true" : "false"; }
  };
  return std::visit(Printer{}, flag.field);
}

absl::Status CheckReadableFile(const FlagSpec& flag, const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return FlagError(flag.name, absl::StrCat(path, ": no such file"));
  if (!std::filesystem::is_regular_file(path, ec)) {
    return FlagError(flag.name, absl::StrCat(path, ": not a regular file"));
  }
  if (access(path.c_str(), R_OK) != 0) {
    return FlagError(flag.name, absl::StrCat(path, ": cannot read (", std::strerror(errno), ")"));
  }
  return absl::OkStatus();
}

absl::Status CheckAddress(absl::string_view flag, absl::string_view address) {
  if (absl::StartsWith(address, "unix:")) {
    if (address.size() <= 5) return FlagError(flag, "unix: needs a path, e.g. unix:/run/wxvault.sock");
    if (address.size() - 5 > 100) return FlagError(flag, "Unix socket path longer than 100 bytes");
    return absl::OkStatus();
  }
  const size_t colon = address.rfind(':');
  int port = -1;
  if (colon == absl::string_view::npos || colon == 0 || !absl::SimpleAtoi(address.substr(colon + 1), &port) ||
      port < 0 || port > 65535) {
    return FlagError(flag, absl::StrCat("'", address, "' is not HOST:PORT or unix:/path"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateServerConfig(const ServerConfig& c) {
  if (absl::Status s = CheckAddress("listen", c.listen); !s.ok()) return s;
  if (!c.health_listen.empty()) {
    if (absl::Status s = CheckAddress("health_listen", c.health_listen); !s.ok()) return s;
    if (c.health_listen == c.listen && !absl::EndsWith(c.listen, ":0")) {
      return FlagError("health_listen", "must differ from --listen");
    }
  }
  if (!c.metrics_listen.empty()) {
    if (absl::Status s = CheckAddress("metrics_listen", c.metrics_listen); !s.ok()) return s;
    if (absl::StartsWith(c.metrics_listen, "unix:")) {
      return FlagError("metrics_listen", "must be HOST:PORT (Prometheus scrapes over TCP)");
    }
  }
  if (c.data_dir.empty()) return FlagError("data_dir", "must not be empty");
  if (c.demo) {
    for (const char* name : {"app_id", "app_secret_file", "apps_file", "wechat_api_base"}) {
      if (c.explicitly_set.count(name) > 0) {
        return FlagError(name, "cannot be combined with --demo (the demo serves its own fake app)");
      }
    }
  } else {
    if (c.master_key_file.empty()) return FlagError("master_key_file", "required (or use --demo)");
    if (c.apps_file.empty() && c.app_id.empty()) {
      return FlagError("app_id", "required: set --app_id and --app_secret_file, or --apps_file");
    }
    if (!c.apps_file.empty() && (!c.app_id.empty() || !c.app_secret_file.empty())) {
      return FlagError("apps_file", "use either --apps_file or --app_id/--app_secret_file, not both");
    }
    if (!c.app_id.empty() && c.app_secret_file.empty()) {
      return FlagError("app_secret_file", "required with --app_id");
    }
    if (c.app_id.empty() && !c.app_secret_file.empty()) return FlagError("app_id", "required with --app_secret_file");
  }
  if (!absl::StartsWith(c.wechat_api_base, "http://") && !absl::StartsWith(c.wechat_api_base, "https://")) {
    return FlagError("wechat_api_base", "must start with http:// or https://");
  }
  if (c.refresh_token_ttl <= absl::ZeroDuration()) return FlagError("refresh_token_ttl", "must be positive");
  if (c.renew_before <= absl::ZeroDuration()) return FlagError("renew_before", "must be positive");
  if (c.renew_before >= c.refresh_token_ttl) {
    return FlagError("renew_before", absl::StrCat("must be shorter than --refresh_token_ttl (",
                                                  absl::FormatDuration(c.refresh_token_ttl), ")"));
  }
  if (c.access_token_min_ttl < absl::ZeroDuration() || c.access_token_min_ttl > absl::Hours(1)) {
    return FlagError("access_token_min_ttl", "must be between 0s and 1h");
  }
  if (!(c.upstream_qps > 0) || c.upstream_qps > 1e6) return FlagError("upstream_qps", "must be in (0, 1000000]");
  if (c.shutdown_grace < absl::ZeroDuration() || c.shutdown_grace > absl::Hours(1)) {
    return FlagError("shutdown_grace", "must be between 0s and 1h");
  }
  if (c.worker_threads < 1 || c.worker_threads > 256) return FlagError("worker_threads", "must be 1..256");
  if (c.refresher_workers < 1 || c.refresher_workers > 256) return FlagError("refresher_workers", "must be 1..256");
  if (c.event_retention < absl::Minutes(1)) return FlagError("event_retention", "must be at least 1m");
  if (c.tombstone_retention < absl::Minutes(1)) return FlagError("tombstone_retention", "must be at least 1m");
  if (!ParseLogLevel(c.log_level).has_value()) {
    return FlagError("log_level", "must be debug, info, warning or error");
  }
  if (c.tls_cert_file.empty() != c.tls_key_file.empty()) {
    return FlagError(c.tls_cert_file.empty() ? "tls_cert_file" : "tls_key_file",
                     "--tls_cert_file and --tls_key_file go together");
  }
  if (!c.tls_client_ca_file.empty() && c.tls_cert_file.empty()) {
    return FlagError("tls_client_ca_file", "needs --tls_cert_file and --tls_key_file");
  }
  for (const FlagSpec& flag : Flags()) {
    if (!flag.is_file) continue;
    const std::string& path = c.*std::get<std::string ServerConfig::*>(flag.field);
    if (path.empty()) continue;
    if (absl::Status s = CheckReadableFile(flag, path); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::StatusOr<ParsedCommandLine> ParseServerConfig(const std::vector<std::string>& args,
                                                    const std::map<std::string, std::string>& env) {
  ParsedCommandLine parsed;
  ServerConfig& config = parsed.config;
  for (const FlagSpec& flag : Flags()) {
    auto it = env.find(EnvName(flag.name));
    if (it == env.end()) continue;
    if (absl::Status s = SetField(flag, it->second, &config); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(s.message(), " (from ", EnvName(flag.name), ")"));
    }
  }
  for (size_t i = 0; i < args.size(); ++i) {
    absl::string_view arg = args[i];
    if (arg == "--help" || arg == "-h" || arg == "-help") {
      parsed.help = true;
      return parsed;
    }
    if (!absl::ConsumePrefix(&arg, "--") && !absl::ConsumePrefix(&arg, "-")) {
      return absl::InvalidArgumentError(absl::StrCat("unexpected argument '", arg, "' (flags start with --)"));
    }
    const size_t eq = arg.find('=');
    const absl::string_view name = arg.substr(0, eq);
    const FlagSpec* flag = FindFlag(name);
    if (flag == nullptr) return FlagError(name, "unknown flag (see --help)");
    std::string value;
    if (eq != absl::string_view::npos) {
      value = std::string(arg.substr(eq + 1));
    } else if (std::holds_alternative<bool ServerConfig::*>(flag->field)) {
      value = "true";
    } else if (i + 1 < args.size()) {
      value = args[++i];
    } else {
      return FlagError(name, "missing value");
    }
    if (absl::Status s = SetField(*flag, value, &config); !s.ok()) return s;
  }
  if (absl::Status s = ValidateServerConfig(config); !s.ok()) return s;
  return parsed;
}

std::string ServerConfigHelp() {
  std::string out =
      "wxvaultd: the wxvault gRPC server (Login with WeChat token vault).\n\n"
      "Usage: wxvaultd --master_key_file=FILE (--app_id=ID --app_secret_file=FILE | --apps_file=FILE) [flags]\n"
      "       wxvaultd --demo\n\n"
      "Flags (--flag=value or --flag value; each also read from the environment variable shown;\n"
      "the command line wins). Durations: 90s, 30m, 168h.\n\n";
  for (const FlagSpec& flag : Flags()) {
    absl::StrAppendFormat(&out, "  --%-22s %s\n  %-24s env %s, default %s\n", flag.name, flag.meaning, "",
                          EnvName(flag.name), DefaultText(flag));
  }
  return out;
}

absl::StatusOr<std::string> ReadFlagFile(const std::string& flag, const std::string& path, size_t max_bytes) {
  std::error_code ec;
  const std::uintmax_t size = std::filesystem::file_size(path, ec);
  if (ec) return FlagError(flag, absl::StrCat(path, ": cannot read (", ec.message(), ")"));
  if (size > max_bytes) return FlagError(flag, absl::StrCat(path, ": larger than ", max_bytes, " bytes"));
  std::ifstream in(path, std::ios::binary);
  if (!in) return FlagError(flag, absl::StrCat(path, ": cannot read"));
  std::stringstream buffer;
  buffer << in.rdbuf();
  std::string content(absl::StripAsciiWhitespace(buffer.str()));
  if (content.empty()) return FlagError(flag, absl::StrCat(path, ": is empty"));
  return content;
}

std::map<std::string, std::string> ProcessEnvironment() {
  std::map<std::string, std::string> env;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    absl::string_view text(*entry);
    const size_t eq = text.find('=');
    if (eq == absl::string_view::npos) continue;
    env.emplace(std::string(text.substr(0, eq)), std::string(text.substr(eq + 1)));
  }
  return env;
}

}  // namespace wxvault::service
