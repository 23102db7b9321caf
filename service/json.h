// json: a small, strict, bounded JSON parser for upstream responses, and
// the string encoder the JSON log lines use (AppendJsonString).
//
// wxvault reads JSON only from WeChat, so this parser is built for hostile or
// broken input rather than for convenience: it enforces a size and a nesting
// limit, rejects trailing garbage, duplicate object keys and non-standard
// numbers, and never echoes input bytes in its error messages (a response
// body may hold tokens).
//
// Deliberate tolerances (WeChat quirks, DESIGN §5):
//   * raw control characters (U+0000..U+001F) inside strings are accepted and
//     dropped from the decoded string (old nicknames carried them);
//   * invalid UTF-8 and unpaired \uD800-\uDFFF escapes decode to U+FFFD, so
//     every returned string is valid UTF-8 (protobuf string fields need it);
//   * "\u0000" decodes to nothing (no NUL bytes in returned strings).
// "\/" and surrogate pairs ("\ud83d\ude00") decode as JSON says.
//
// Thread safety: ParseJson is reentrant. A JsonValue is an immutable value
// after parsing; concurrent const access is safe.
#ifndef WXVAULT_SERVICE_JSON_H_
#define WXVAULT_SERVICE_JSON_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/optional.h"

namespace wxvault::service {

struct JsonLimits {
  // Inputs longer than this are rejected without being read.
  size_t max_bytes = 1 << 20;
  // Arrays and objects nested deeper than this are rejected.
  int max_depth = 32;
};

class JsonValue {
 public:
  enum class Type { kNull, kBool, kNumber, kString, kArray, kObject };

  JsonValue() = default;  // null
  static JsonValue Bool(bool b);
  // `lexeme` must be a valid JSON number; the parser guarantees it.
  static JsonValue Number(std::string lexeme);
  static JsonValue String(std::string s);
  static JsonValue Array(std::vector<JsonValue> items);
  // `keys` and `values` have equal sizes.
  static JsonValue Object(std::vector<std::string> keys,
                          std::vector<JsonValue> values);

  Type type() const { return type_; }
  bool is_null() const { return type_ == Type::kNull; }
  bool is_bool() const { return type_ == Type::kBool; }
  bool is_number() const { return type_ == Type::kNumber; }
  bool is_string() const { return type_ == Type::kString; }
  bool is_array() const { return type_ == Type::kArray; }
  bool is_object() const { return type_ == Type::kObject; }

  // false unless a bool.
  bool bool_value() const { return bool_; }
  // The decoded string, or "" unless a string.
  const std::string& string_value() const;
  // The number as written in the input, or "" unless a number.
  const std::string& number_lexeme() const;
  // A number written without fraction or exponent that fits int64_t.
  absl::optional<int64_t> AsInt64() const;
  // Any number as a double (may be +-inf for huge exponents).
  absl::optional<double> AsDouble() const;

  // Arrays: the items; empty for other types.
  const std::vector<JsonValue>& items() const { return items_; }
  // Objects: keys in input order, parallel to items(); empty otherwise.
  const std::vector<std::string>& keys() const { return keys_; }
  // Objects: the member named `key`, or nullptr (also for non-objects).
  const JsonValue* Find(absl::string_view key) const;

 private:
  Type type_ = Type::kNull;
  bool bool_ = false;
  std::string text_;               // string value or number lexeme
  std::vector<std::string> keys_;  // objects
  std::vector<JsonValue> items_;   // array items or object values
};

// Parses exactly one JSON value surrounded by optional whitespace.
// Errors: INVALID_ARGUMENT with the byte offset and what was expected, for
// malformed input, input over limits.max_bytes, nesting over
// limits.max_depth, duplicate keys or trailing bytes.
absl::StatusOr<JsonValue> ParseJson(absl::string_view input,
                                    const JsonLimits& limits = JsonLimits());

// Appends `text` to `out` as a quoted JSON string that is always valid
// UTF-8 JSON, whatever the input: '"' and backslash are escaped, \b \f \n \r \t
// get their short escapes, other control characters (U+0000..U+001F and
// DEL) become \u00XX, and each byte that is not part of a well-formed UTF-8
// sequence becomes U+FFFD. Well-formed multi-byte sequences (emoji
// included) are copied as they are; '/' is not escaped.
// Thread safety: reentrant.
void AppendJsonString(absl::string_view text, std::string* out);

}  // namespace wxvault::service

#endif  // WXVAULT_SERVICE_JSON_H_
