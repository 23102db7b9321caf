#include "service/curl_http_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <cstring>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "service/error_reason.h"
#include "service/log.h"

namespace wxvault::service {
namespace {

struct EasyDeleter {
  void operator()(CURL* handle) const { curl_easy_cleanup(handle); }
};
using EasyHandle = std::unique_ptr<CURL, EasyDeleter>;

struct ShareDeleter {
  void operator()(CURLSH* share) const { curl_share_cleanup(share); }
};
using ShareHandle = std::unique_ptr<CURLSH, ShareDeleter>;

struct SlistDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};
using HeaderList = std::unique_ptr<curl_slist, SlistDeleter>;

constexpr size_t kMaxHeaders = 100;

// curl_global_init is not thread-safe; a function-local static runs it once.
CURLcode GlobalInit() {
  static const CURLcode code = curl_global_init(CURL_GLOBAL_DEFAULT);
  return code;
}

// Per-call state the libcurl callbacks write into.
struct Transfer {
  explicit Transfer(size_t cap) : max_body(cap) { errbuf[0] = '\0'; }
  size_t max_body;
  bool too_large = false;
  HttpResponse response;
  char errbuf[CURL_ERROR_SIZE];
};

size_t WriteBody(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t n = size * count;
  if (t->response.body.size() + n > t->max_body) {
    t->too_large = true;
    return 0;  // makes libcurl abort with CURLE_WRITE_ERROR
  }
  t->response.body.append(data, n);
  return n;
}

size_t WriteHeader(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t n = size * count;
  absl::string_view line(data, n);
  if (absl::StartsWith(line, "HTTP/")) {  // a new response (proxy, 100)
    t->response.headers.clear();
    t->response.content_type.clear();
    return n;
  }
  size_t colon = line.find(':');
  if (colon == absl::string_view::npos ||
      t->response.headers.size() >= kMaxHeaders) {
    return n;
  }
  std::string name = absl::AsciiStrToLower(line.substr(0, colon));
  std::string value(absl::StripAsciiWhitespace(line.substr(colon + 1)));
  if (name == "content-type") t->response.content_type = value;
  t->response.headers.emplace_back(std::move(name), std::move(value));
  return n;
}

bool FailedBeforeSending(CURLcode code, long request_size) {
  switch (code) {
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
      return true;
    default:
      return request_size == 0;
  }
}

// The one place where libcurl's outcome becomes an absl::Status. `where` is
// "GET scheme://host/path" (never the query string).
absl::Status StatusFromCurl(CURLcode code, const Transfer& t,
                            absl::string_view where, long request_size) {
  if (t.too_large || code == CURLE_FILESIZE_EXCEEDED) {
    return MakeError(absl::StatusCode::kUnavailable,
                     absl::StrCat(where, ": response larger than ",
                                  t.max_body, " bytes"),
                     reason::kUpstreamUnavailable);
  }
  // libcurl's detail text rarely names the URL; cut any query string anyway.
  absl::string_view detail(t.errbuf, strnlen(t.errbuf, CURL_ERROR_SIZE));
  detail = detail.substr(0, detail.find('?'));
  std::string message =
      absl::StrCat(where, " failed: ", curl_easy_strerror(code));
  if (!detail.empty()) absl::StrAppend(&message, " (", SanitizeForLog(detail), ")");
  absl::Status status;
  if (code == CURLE_URL_MALFORMAT || code == CURLE_UNSUPPORTED_PROTOCOL) {
    status = MakeError(absl::StatusCode::kInternal, message,
                       reason::kUpstreamBadRequest);
  } else {
    // Timeouts, resets, DNS, connect, TLS, partial bodies: all transient as
    // far as the caller can tell.
    status = MakeError(absl::StatusCode::kUnavailable, message,
                       reason::kUpstreamUnavailable);
  }
  if (FailedBeforeSending(code, request_size)) {
    status = MarkRequestNotSent(std::move(status));
  }
  return status;
}

}  // namespace

absl::Status CurlHttpClientOptions::Validate() const {
  if (connect_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("connect_timeout must be positive");
  }
  if (max_response_bytes == 0) {
    return absl::InvalidArgumentError("max_response_bytes must be positive");
  }
  return absl::OkStatus();
}

struct CurlHttpClient::Impl {
  // Declaration order matters: handles go before the share object, and the
  // share's locks outlive it (curl_share_cleanup calls the lock function).
  CurlHttpClientOptions options;
  // One lock per kind of data the share object protects.
  absl::Mutex share_mu[CURL_LOCK_DATA_LAST];
  absl::Mutex pool_mu;
  ShareHandle share;
  HeaderList headers;
  std::vector<EasyHandle> idle ABSL_GUARDED_BY(pool_mu);

  static void LockShare(CURL*, curl_lock_data data, curl_lock_access,
                        void* user) ABSL_NO_THREAD_SAFETY_ANALYSIS {
    static_cast<Impl*>(user)->share_mu[data].Lock();
  }
  static void UnlockShare(CURL*, curl_lock_data data,
                          void* user) ABSL_NO_THREAD_SAFETY_ANALYSIS {
    static_cast<Impl*>(user)->share_mu[data].Unlock();
  }

  EasyHandle Acquire() {
    {
      absl::MutexLock lock(&pool_mu);
      if (!idle.empty()) {
        EasyHandle handle = std::move(idle.back());
        idle.pop_back();
        return handle;
      }
    }
    return EasyHandle(curl_easy_init());
  }

  void Release(EasyHandle handle) {
    // Reset options but keep live connections for reuse.
    curl_easy_reset(handle.get());
    absl::MutexLock lock(&pool_mu);
    if (idle.size() < options.max_idle_handles) idle.push_back(std::move(handle));
  }

  CURLcode Configure(CURL* h, const HttpRequest& request, Transfer* t) const {
    int64_t total_ms =
        std::max<int64_t>(1, absl::ToInt64Milliseconds(request.timeout));
    int64_t connect_ms = std::min<int64_t>(
        total_ms, std::max<int64_t>(
                      1, absl::ToInt64Milliseconds(options.connect_timeout)));
    CURLcode rc = CURLE_OK;
    auto set = [&](CURLoption opt, auto value) {
      if (rc == CURLE_OK) rc = curl_easy_setopt(h, opt, value);
    };
    set(CURLOPT_URL, request.url.c_str());
    set(CURLOPT_HTTPGET, 1L);
    set(CURLOPT_NOSIGNAL, 1L);
    set(CURLOPT_PROTOCOLS_STR, "http,https");
    set(CURLOPT_FOLLOWLOCATION, 0L);
    set(CURLOPT_SSL_VERIFYPEER, 1L);
    set(CURLOPT_SSL_VERIFYHOST, 2L);
    if (!options.ca_file.empty()) set(CURLOPT_CAINFO, options.ca_file.c_str());
    set(CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(connect_ms));
    set(CURLOPT_TIMEOUT_MS, static_cast<long>(total_ms));
    set(CURLOPT_TCP_KEEPALIVE, 1L);
    // No Accept-Encoding: WeChat's answers are a few hundred bytes, so
    // compression costs more CPU on both ends than it saves, and without it
    // the max_response_bytes cap is a cap on the bytes that arrive.
    set(CURLOPT_MAXFILESIZE_LARGE,
        static_cast<curl_off_t>(options.max_response_bytes));
    set(CURLOPT_USERAGENT, options.user_agent.c_str());
    set(CURLOPT_HTTPHEADER, headers.get());
    set(CURLOPT_SHARE, share.get());
    set(CURLOPT_ERRORBUFFER, t->errbuf);
    set(CURLOPT_WRITEFUNCTION, &WriteBody);
    set(CURLOPT_WRITEDATA, static_cast<void*>(t));
    set(CURLOPT_HEADERFUNCTION, &WriteHeader);
    set(CURLOPT_HEADERDATA, static_cast<void*>(t));
    return rc;
  }
};

absl::StatusOr<std::unique_ptr<CurlHttpClient>> CurlHttpClient::Create(
    CurlHttpClientOptions options) {
  if (absl::Status s = options.Validate(); !s.ok()) return s;
  if (CURLcode rc = GlobalInit(); rc != CURLE_OK) {
    return absl::InternalError(
        absl::StrCat("curl_global_init failed: ", curl_easy_strerror(rc)));
  }
  auto impl = std::make_unique<Impl>();
  impl->options = std::move(options);
  impl->share.reset(curl_share_init());
  if (impl->share == nullptr) return absl::InternalError("curl_share_init failed");
  CURLSH* share = impl->share.get();
  curl_share_setopt(share, CURLSHOPT_LOCKFUNC, &Impl::LockShare);
  curl_share_setopt(share, CURLSHOPT_UNLOCKFUNC, &Impl::UnlockShare);
  curl_share_setopt(share, CURLSHOPT_USERDATA, static_cast<void*>(impl.get()));
  curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
  curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
  impl->headers.reset(curl_slist_append(nullptr, "Accept: application/json"));
  if (impl->headers == nullptr) return absl::InternalError("curl_slist_append failed");
  return std::unique_ptr<CurlHttpClient>(new CurlHttpClient(std::move(impl)));
}

CurlHttpClient::CurlHttpClient(std::unique_ptr<Impl> impl)
    : impl_(std::move(impl)) {}

CurlHttpClient::~CurlHttpClient() {
  // Handles reference the share object: clean them up first.
  absl::MutexLock lock(&impl_->pool_mu);
  impl_->idle.clear();
}

absl::StatusOr<HttpResponse> CurlHttpClient::Get(const HttpRequest& request) {
  std::string where = absl::StrCat("GET ", RedactUrl(request.url));
  if (!absl::StartsWith(request.url, "https://") &&
      !absl::StartsWith(request.url, "http://")) {
    return MakeError(absl::StatusCode::kInternal,
                     absl::StrCat(where, ": only http and https URLs"),
                     reason::kUpstreamBadRequest);
  }
  EasyHandle handle = impl_->Acquire();
  if (handle == nullptr) return absl::InternalError("curl_easy_init failed");
  Transfer transfer(impl_->options.max_response_bytes);
  CURLcode rc = impl_->Configure(handle.get(), request, &transfer);
  if (rc != CURLE_OK) {
    impl_->Release(std::move(handle));
    return absl::InternalError(absl::StrCat(where, ": curl_easy_setopt: ",
                                            curl_easy_strerror(rc)));
  }
  rc = curl_easy_perform(handle.get());
  long request_size = 0;
  long status_code = 0;
  long connects = 0;
  curl_easy_getinfo(handle.get(), CURLINFO_REQUEST_SIZE, &request_size);
  curl_easy_getinfo(handle.get(), CURLINFO_RESPONSE_CODE, &status_code);
  curl_easy_getinfo(handle.get(), CURLINFO_NUM_CONNECTS, &connects);
  impl_->Release(std::move(handle));
  if (rc != CURLE_OK) {
    absl::Status status = StatusFromCurl(rc, transfer, where, request_size);
    WXV_LOG(DEBUG) << status;
    return status;
  }
  transfer.response.status_code = static_cast<int>(status_code);
  transfer.response.new_connections = static_cast<int>(connects);
  return std::move(transfer.response);
}

}  // namespace wxvault::service
