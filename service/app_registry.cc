#include "service/app_registry.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "service/error_reason.h"
#include "yaml-cpp/yaml.h"

namespace wxvault::service {
namespace {

constexpr size_t kMaxAppIdLength = 32;
constexpr size_t kMaxSecretLength = 256;
constexpr size_t kMaxSecretFileBytes = 4096;

}  // namespace

bool IsValidAppId(absl::string_view app_id) {
  if (app_id.size() < 3 || app_id.size() > kMaxAppIdLength || app_id.substr(0, 2) != "wx") return false;
  for (char c : app_id.substr(2)) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

absl::StatusOr<std::unique_ptr<AppRegistry>> AppRegistry::Create(std::vector<WeChatApp> apps) {
  if (apps.empty()) {
    return absl::InvalidArgumentError("no WeChat app configured: set --app_id and --app_secret_file, or --apps_file");
  }
  std::map<std::string, WeChatApp> by_id;
  for (WeChatApp& app : apps) {
    if (!IsValidAppId(app.app_id)) {
      return absl::InvalidArgumentError(
          absl::StrCat("app_id '", absl::CEscape(app.app_id.substr(0, 40)), "' is not 'wx' + 1..30 letters/digits"));
    }
    if (app.secret.empty() || app.secret.size() > kMaxSecretLength) {
      return absl::InvalidArgumentError(absl::StrCat("secret of app ", app.app_id, " is empty or longer than ",
                                                     kMaxSecretLength, " bytes"));
    }
    const std::string id = app.app_id;
    if (!by_id.emplace(id, std::move(app)).second) {
      return absl::InvalidArgumentError(absl::StrCat("app ", id, " is configured twice"));
    }
  }
  return std::unique_ptr<AppRegistry>(new AppRegistry(std::move(by_id)));
}

absl::StatusOr<WeChatApp> AppRegistry::LoadApp(absl::string_view app_id, const std::string& secret_file) {
  if (secret_file.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("app ", app_id, ": no secret file given"));
  }
  std::error_code ec;
  if (!std::filesystem::is_regular_file(secret_file, ec)) {
    return absl::InvalidArgumentError(absl::StrCat("app ", app_id, ": secret file ", secret_file,
                                                   " does not exist or is not a regular file"));
  }
  if (std::filesystem::file_size(secret_file, ec) > kMaxSecretFileBytes) {
    return absl::InvalidArgumentError(absl::StrCat("app ", app_id, ": secret file ", secret_file, " is too large"));
  }
  std::ifstream in(secret_file, std::ios::binary);
  if (!in) {
    return absl::InvalidArgumentError(absl::StrCat("app ", app_id, ": cannot read secret file ", secret_file));
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  std::string secret(absl::StripAsciiWhitespace(buffer.str()));
  if (secret.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("app ", app_id, ": secret file ", secret_file, " is empty"));
  }
  return WeChatApp{std::string(app_id), std::move(secret)};
}

absl::StatusOr<std::unique_ptr<AppRegistry>> AppRegistry::LoadAppsFile(const std::string& path) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("--apps_file ", path, ": ", e.what()));
  }
  if (!root.IsSequence()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--apps_file ", path, ": expected a YAML list of {app_id, secret_file}"));
  }
  const std::filesystem::path base = std::filesystem::path(path).parent_path();
  std::vector<WeChatApp> apps;
  for (size_t i = 0; i < root.size(); ++i) {
    const YAML::Node entry = root[i];
    const std::string where = absl::StrCat("--apps_file ", path, " entry ", i + 1);
    if (!entry.IsMap() || !entry["app_id"] || !entry["secret_file"] || !entry["app_id"].IsScalar() ||
        !entry["secret_file"].IsScalar()) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": needs app_id and secret_file"));
    }
    std::filesystem::path secret_file = entry["secret_file"].Scalar();
    if (secret_file.is_relative()) secret_file = base / secret_file;
    absl::StatusOr<WeChatApp> app = LoadApp(entry["app_id"].Scalar(), secret_file.string());
    if (!app.ok()) return absl::InvalidArgumentError(absl::StrCat(where, ": ", app.status().message()));
    apps.push_back(*std::move(app));
  }
  absl::StatusOr<std::unique_ptr<AppRegistry>> registry = Create(std::move(apps));
  if (!registry.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--apps_file ", path, ": ", registry.status().message()));
  }
  return registry;
}

absl::StatusOr<const WeChatApp*> AppRegistry::Resolve(absl::string_view app_id) const {
  if (app_id.empty()) {
    if (apps_.size() == 1) return &apps_.begin()->second;
    return MakeError(absl::StatusCode::kInvalidArgument, "app_id is required: several apps are configured",
                     "APP_ID_REQUIRED");
  }
  if (!IsValidAppId(app_id)) {
    return MakeError(absl::StatusCode::kInvalidArgument, "app_id must be 'wx' + 1..30 letters/digits",
                     reason::kInvalidArgument);
  }
  auto it = apps_.find(app_id);
  if (it == apps_.end()) {
    return MakeError(absl::StatusCode::kNotFound, absl::StrCat("app ", app_id, " is not configured"),
                     reason::kUnknownApp);
  }
  return &it->second;
}

std::vector<std::string> AppRegistry::app_ids() const {
  std::vector<std::string> ids;
  for (const auto& [id, app] : apps_) ids.push_back(id);
  return ids;
}

}  // namespace wxvault::service
