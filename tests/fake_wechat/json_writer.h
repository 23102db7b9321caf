// JsonWriter: builds the fake WeChat's response bodies, quirks included.
//
// Not a general JSON library: it writes one flat-ish object the way WeChat
// does, optionally escaping '/' as "\/" and optionally passing raw control
// characters through unescaped (old WeChat nicknames did both).
//
// Thread safety: none; one writer per response.
#ifndef WXVAULT_TESTS_FAKE_WECHAT_JSON_WRITER_H_
#define WXVAULT_TESTS_FAKE_WECHAT_JSON_WRITER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace wxvault::fake {

class JsonWriter {
 public:
  explicit JsonWriter(bool escape_slashes) : escape_slashes_(escape_slashes) {
    out_.push_back('{');
  }

  JsonWriter& String(absl::string_view key, absl::string_view value,
                     bool raw_controls = false) {
    Key(key);
    AppendString(value, raw_controls);
    return *this;
  }
  JsonWriter& Int(absl::string_view key, int64_t value) {
    Key(key);
    absl::StrAppend(&out_, value);
    return *this;
  }
  JsonWriter& StringArray(absl::string_view key,
                          const std::vector<std::string>& values) {
    Key(key);
    out_.push_back('[');
    for (size_t i = 0; i < values.size(); ++i) {
      if (i > 0) out_.push_back(',');
      AppendString(values[i], false);
    }
    out_.push_back(']');
    return *this;
  }
  // A member whose value is already JSON text.
  JsonWriter& Raw(absl::string_view key, absl::string_view json) {
    Key(key);
    out_.append(json.data(), json.size());
    return *this;
  }

  std::string Finish() {
    out_.push_back('}');
    return std::move(out_);
  }

 private:
  void Key(absl::string_view key) {
    if (!first_) out_.push_back(',');
    first_ = false;
    AppendString(key, false);
    out_.push_back(':');
  }

  void AppendString(absl::string_view s, bool raw_controls) {
    out_.push_back('"');
    for (char c : s) {
      unsigned char u = static_cast<unsigned char>(c);
      if (c == '"' || c == '\\') {
        out_.push_back('\\');
        out_.push_back(c);
      } else if (c == '/' && escape_slashes_) {
        out_.append("\\/");
      } else if (u < 0x20 && !raw_controls) {
        static constexpr char kHex[] = "0123456789abcdef";
        out_.append("\\u00");
        out_.push_back(kHex[u >> 4]);
        out_.push_back(kHex[u & 0xF]);
      } else {
        out_.push_back(c);
      }
    }
    out_.push_back('"');
  }

  bool escape_slashes_;
  bool first_ = true;
  std::string out_;
};

}  // namespace wxvault::fake

#endif  // WXVAULT_TESTS_FAKE_WECHAT_JSON_WRITER_H_
