#include "service/json.h"

#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace wxvault::service {
namespace {

const std::string& EmptyString() {
  static const std::string* const empty = new std::string();
  return *empty;
}

void AppendUtf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

constexpr uint32_t kReplacement = 0xFFFD;

// Length of the well-formed UTF-8 sequence starting at s[0] (Unicode 15,
// table 3-7), or 0 when it is ill-formed.
size_t ValidUtf8Length(absl::string_view s) {
  auto byte = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
  auto in = [&](size_t i, unsigned lo, unsigned hi) {
    return i < s.size() && byte(i) >= lo && byte(i) <= hi;
  };
  unsigned char b = byte(0);
  if (b >= 0xC2 && b <= 0xDF) return in(1, 0x80, 0xBF) ? 2 : 0;
  if (b >= 0xE0 && b <= 0xEF) {
    unsigned lo = b == 0xE0 ? 0xA0 : 0x80;
    unsigned hi = b == 0xED ? 0x9F : 0xBF;
    return in(1, lo, hi) && in(2, 0x80, 0xBF) ? 3 : 0;
  }
  if (b >= 0xF0 && b <= 0xF4) {
    unsigned lo = b == 0xF0 ? 0x90 : 0x80;
    unsigned hi = b == 0xF4 ? 0x8F : 0xBF;
    return in(1, lo, hi) && in(2, 0x80, 0xBF) && in(3, 0x80, 0xBF) ? 4 : 0;
  }
  return 0;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

class Parser {
 public:
  Parser(absl::string_view input, const JsonLimits& limits)
      : in_(input), limits_(limits) {}

  absl::StatusOr<JsonValue> ParseDocument() {
    if (in_.size() > limits_.max_bytes) {
      return absl::InvalidArgumentError(
          absl::StrCat("JSON: input of ", in_.size(), " bytes exceeds limit of ",
                       limits_.max_bytes));
    }
    JsonValue value;
    SkipWhitespace();
    if (absl::Status s = ParseValue(&value, 0); !s.ok()) return s;
    SkipWhitespace();
    if (pos_ != in_.size()) return Error("end of input");
    return value;
  }

 private:
  absl::Status Error(absl::string_view expected) const {
    return absl::InvalidArgumentError(
        absl::StrCat("JSON: expected ", expected, " at byte ", pos_));
  }

  bool AtEnd() const { return pos_ >= in_.size(); }
  char Peek() const { return in_[pos_]; }

  void SkipWhitespace() {
    while (!AtEnd() && (Peek() == ' ' || Peek() == '\t' || Peek() == '\n' ||
                        Peek() == '\r')) {
      ++pos_;
    }
  }

  absl::Status ParseValue(JsonValue* out, int depth) {
    if (AtEnd()) return Error("a value");
    switch (Peek()) {
      case '{':
        return ParseObject(out, depth + 1);
      case '[':
        return ParseArray(out, depth + 1);
      case '"': {
        std::string s;
        if (absl::Status st = ParseString(&s); !st.ok()) return st;
        *out = JsonValue::String(std::move(s));
        return absl::OkStatus();
      }
      case 't':
        return ParseLiteral("true", JsonValue::Bool(true), out);
      case 'f':
        return ParseLiteral("false", JsonValue::Bool(false), out);
      case 'n':
        return ParseLiteral("null", JsonValue(), out);
      default:
        return ParseNumber(out);
    }
  }

  absl::Status ParseLiteral(absl::string_view word, JsonValue value,
                            JsonValue* out) {
    if (in_.substr(pos_, word.size()) != word) return Error(word);
    pos_ += word.size();
    *out = std::move(value);
    return absl::OkStatus();
  }

  absl::Status ParseNumber(JsonValue* out) {
    size_t start = pos_;
    if (!AtEnd() && Peek() == '-') ++pos_;
    if (AtEnd() || !IsDigit(Peek())) return Error("a value");
    if (Peek() == '0') {
      ++pos_;
    } else {
      while (!AtEnd() && IsDigit(Peek())) ++pos_;
    }
    if (!AtEnd() && Peek() == '.') {
      ++pos_;
      if (AtEnd() || !IsDigit(Peek())) return Error("a digit");
      while (!AtEnd() && IsDigit(Peek())) ++pos_;
    }
    if (!AtEnd() && (Peek() == 'e' || Peek() == 'E')) {
      ++pos_;
      if (!AtEnd() && (Peek() == '+' || Peek() == '-')) ++pos_;
      if (AtEnd() || !IsDigit(Peek())) return Error("a digit");
      while (!AtEnd() && IsDigit(Peek())) ++pos_;
    }
    *out = JsonValue::Number(std::string(in_.substr(start, pos_ - start)));
    return absl::OkStatus();
  }

  // Reads 4 hex digits at pos_; -1 when they are not there.
  int32_t ReadHex4() {
    if (in_.size() - pos_ < 4) return -1;
    int32_t value = 0;
    for (int i = 0; i < 4; ++i) {
      int h = HexValue(in_[pos_ + i]);
      if (h < 0) return -1;
      value = value * 16 + h;
    }
    pos_ += 4;
    return value;
  }

  // After "\u": decodes one escape, pairing surrogates when possible.
  absl::Status ParseUnicodeEscape(std::string* out) {
    int32_t unit = ReadHex4();
    if (unit < 0) return Error("4 hex digits");
    uint32_t cp = static_cast<uint32_t>(unit);
    if (cp >= 0xD800 && cp <= 0xDBFF) {
      // A high surrogate: take the low one if it follows, else U+FFFD.
      if (in_.substr(pos_, 2) == "\\u") {
        size_t saved = pos_;
        pos_ += 2;
        int32_t low = ReadHex4();
        if (low >= 0xDC00 && low <= 0xDFFF) {
          cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
        } else {
          pos_ = saved;  // not a low surrogate: decode it on its own
          cp = kReplacement;
        }
      } else {
        cp = kReplacement;
      }
    } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
      cp = kReplacement;
    }
    if (cp != 0) AppendUtf8(cp, out);
    return absl::OkStatus();
  }

  absl::Status ParseString(std::string* out) {
    ++pos_;  // opening quote
    while (true) {
      if (AtEnd()) return Error("closing quote");
      unsigned char c = static_cast<unsigned char>(Peek());
      if (c == '"') {
        ++pos_;
        return absl::OkStatus();
      }
      if (c == '\\') {
        ++pos_;
        if (AtEnd()) return Error("an escape");
        char e = Peek();
        ++pos_;
        switch (e) {
          case '"': out->push_back('"'); break;
          case '\\': out->push_back('\\'); break;
          case '/': out->push_back('/'); break;
          case 'b': out->push_back('\b'); break;
          case 'f': out->push_back('\f'); break;
          case 'n': out->push_back('\n'); break;
          case 'r': out->push_back('\r'); break;
          case 't': out->push_back('\t'); break;
          case 'u':
            if (absl::Status s = ParseUnicodeEscape(out); !s.ok()) return s;
            break;
          default:
            --pos_;
            return Error("a valid escape");
        }
        continue;
      }
      if (c < 0x20) {  // raw control character: tolerated, dropped
        ++pos_;
        continue;
      }
      if (c < 0x80) {
        out->push_back(static_cast<char>(c));
        ++pos_;
        continue;
      }
      size_t len = ValidUtf8Length(in_.substr(pos_));
      if (len == 0) {
        AppendUtf8(kReplacement, out);
        ++pos_;
      } else {
        out->append(in_.data() + pos_, len);
        pos_ += len;
      }
    }
  }

  absl::Status CheckDepth(int depth) const {
    if (depth > limits_.max_depth) {
      return absl::InvalidArgumentError(absl::StrCat(
          "JSON: nesting deeper than ", limits_.max_depth, " at byte ", pos_));
    }
    return absl::OkStatus();
  }

  absl::Status ParseArray(JsonValue* out, int depth) {
    if (absl::Status s = CheckDepth(depth); !s.ok()) return s;
    ++pos_;  // '['
    std::vector<JsonValue> items;
    SkipWhitespace();
    if (!AtEnd() && Peek() == ']') {
      ++pos_;
      *out = JsonValue::Array(std::move(items));
      return absl::OkStatus();
    }
    while (true) {
      SkipWhitespace();
      items.emplace_back();
      if (absl::Status s = ParseValue(&items.back(), depth); !s.ok()) return s;
      SkipWhitespace();
      if (AtEnd()) return Error("',' or ']'");
      if (Peek() == ']') break;
      if (Peek() != ',') return Error("',' or ']'");
      ++pos_;
    }
    ++pos_;
    *out = JsonValue::Array(std::move(items));
    return absl::OkStatus();
  }

  absl::Status ParseObject(JsonValue* out, int depth) {
    if (absl::Status s = CheckDepth(depth); !s.ok()) return s;
    ++pos_;  // '{'
    std::vector<std::string> keys;
    std::vector<JsonValue> values;
    absl::flat_hash_set<std::string> seen;
    SkipWhitespace();
    if (!AtEnd() && Peek() == '}') {
      ++pos_;
      *out = JsonValue::Object(std::move(keys), std::move(values));
      return absl::OkStatus();
    }
    while (true) {
      SkipWhitespace();
      if (AtEnd() || Peek() != '"') return Error("a key");
      size_t key_pos = pos_;
      std::string key;
      if (absl::Status s = ParseString(&key); !s.ok()) return s;
      if (!seen.insert(key).second) {
        pos_ = key_pos;
        return Error("no duplicate key");
      }
      SkipWhitespace();
      if (AtEnd() || Peek() != ':') return Error("':'");
      ++pos_;
      SkipWhitespace();
      values.emplace_back();
      if (absl::Status s = ParseValue(&values.back(), depth); !s.ok()) return s;
      keys.push_back(std::move(key));
      SkipWhitespace();
      if (AtEnd()) return Error("',' or '}'");
      if (Peek() == '}') break;
      if (Peek() != ',') return Error("',' or '}'");
      ++pos_;
    }
    ++pos_;
    *out = JsonValue::Object(std::move(keys), std::move(values));
    return absl::OkStatus();
  }

  absl::string_view in_;
  const JsonLimits& limits_;
  size_t pos_ = 0;
};

}  // namespace

JsonValue JsonValue::Bool(bool b) {
  JsonValue v;
  v.type_ = Type::kBool;
  v.bool_ = b;
  return v;
}

JsonValue JsonValue::Number(std::string lexeme) {
  JsonValue v;
  v.type_ = Type::kNumber;
  v.text_ = std::move(lexeme);
  return v;
}

JsonValue JsonValue::String(std::string s) {
  JsonValue v;
  v.type_ = Type::kString;
  v.text_ = std::move(s);
  return v;
}

JsonValue JsonValue::Array(std::vector<JsonValue> items) {
  JsonValue v;
  v.type_ = Type::kArray;
  v.items_ = std::move(items);
  return v;
}

JsonValue JsonValue::Object(std::vector<std::string> keys,
                            std::vector<JsonValue> values) {
  JsonValue v;
  v.type_ = Type::kObject;
  v.keys_ = std::move(keys);
  v.items_ = std::move(values);
  return v;
}

const std::string& JsonValue::string_value() const {
  return type_ == Type::kString ? text_ : EmptyString();
}

const std::string& JsonValue::number_lexeme() const {
  return type_ == Type::kNumber ? text_ : EmptyString();
}

absl::optional<int64_t> JsonValue::AsInt64() const {
  if (type_ != Type::kNumber) return absl::nullopt;
  if (text_.find_first_of(".eE") != std::string::npos) return absl::nullopt;
  int64_t value = 0;
  if (!absl::SimpleAtoi(text_, &value)) return absl::nullopt;
  return value;
}

absl::optional<double> JsonValue::AsDouble() const {
  if (type_ != Type::kNumber) return absl::nullopt;
  double value = 0;
  if (!absl::SimpleAtod(text_, &value)) return absl::nullopt;
  return value;
}

const JsonValue* JsonValue::Find(absl::string_view key) const {
  for (size_t i = 0; i < keys_.size(); ++i) {
    if (keys_[i] == key) return &items_[i];
  }
  return nullptr;
}

absl::StatusOr<JsonValue> ParseJson(absl::string_view input,
                                    const JsonLimits& limits) {
  return Parser(input, limits).ParseDocument();
}

void AppendJsonString(absl::string_view text, std::string* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out->reserve(out->size() + text.size() + 2);
  out->push_back('"');
  for (size_t i = 0; i < text.size();) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c >= 0x80) {
      const size_t len = ValidUtf8Length(text.substr(i));
      if (len == 0) {
        AppendUtf8(kReplacement, out);
        ++i;
      } else {
        out->append(text.data() + i, len);
        i += len;
      }
      continue;
    }
    ++i;
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\b':
        out->append("\\b");
        break;
      case '\f':
        out->append("\\f");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      default:
        if (c < 0x20 || c == 0x7F) {
          out->append("\\u00");
          out->push_back(kHex[c >> 4]);
          out->push_back(kHex[c & 0xF]);
        } else {
          out->push_back(static_cast<char>(c));
        }
    }
  }
  out->push_back('"');
}

}  // namespace wxvault::service
