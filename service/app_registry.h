// AppRegistry: the WeChat apps this wxvault serves and their secrets.
//
// Built once at start-up from --app_id/--app_secret_file (one app) or
// --apps_file (YAML list of {app_id, secret_file}); immutable afterwards.
// Secrets come only from files and are never logged or returned.
//
// Thread safety: immutable after construction; all const methods are safe to
// call concurrently.
#ifndef WXVAULT_SERVICE_APP_REGISTRY_H_
#define WXVAULT_SERVICE_APP_REGISTRY_H_

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "service/wechat_client.h"

namespace wxvault::service {

// app_id syntax: "wx" followed by 1..30 letters or digits.
bool IsValidAppId(absl::string_view app_id);

class AppRegistry {
 public:
  // Builds a registry from (app_id, secret) pairs.
  // Errors: INVALID_ARGUMENT for no apps, a malformed app_id, an empty or
  // oversized secret, or a duplicate app_id.
  static absl::StatusOr<std::unique_ptr<AppRegistry>> Create(std::vector<WeChatApp> apps);

  // Reads one app's secret from `secret_file` (trimmed of surrounding
  // whitespace). Errors: INVALID_ARGUMENT naming the file when it is missing,
  // unreadable or empty (messages never contain the secret).
  static absl::StatusOr<WeChatApp> LoadApp(absl::string_view app_id, const std::string& secret_file);

  // Parses an --apps_file: a YAML sequence of maps with `app_id` and
  // `secret_file` (relative paths are relative to the apps file).
  // Errors: INVALID_ARGUMENT naming the file and entry.
  static absl::StatusOr<std::unique_ptr<AppRegistry>> LoadAppsFile(const std::string& path);

  // The app for `app_id`; an empty app_id means the only app.
  // Errors: INVALID_ARGUMENT/APP_ID_REQUIRED (empty with several apps),
  // INVALID_ARGUMENT/INVALID_ARGUMENT (malformed), NOT_FOUND/UNKNOWN_APP.
  absl::StatusOr<const WeChatApp*> Resolve(absl::string_view app_id) const;

  std::vector<std::string> app_ids() const;
  size_t size() const { return apps_.size(); }

 private:
  explicit AppRegistry(std::map<std::string, WeChatApp> apps) : apps_(apps.begin(), apps.end()) {}
  std::map<std::string, WeChatApp, std::less<>> apps_;  // std::less<>: found by string_view
};

}  // namespace wxvault::service

#endif  // WXVAULT_SERVICE_APP_REGISTRY_H_
