#include "vault/secret_string.h"

#include <string>
#include <type_traits>
#include <utility>

#include "gtest/gtest.h"

namespace wxvault {
namespace vault {
namespace {

static_assert(!std::is_copy_constructible_v<SecretString>);
static_assert(!std::is_copy_assignable_v<SecretString>);
static_assert(std::is_nothrow_move_constructible_v<SecretString>);
static_assert(std::is_nothrow_move_assignable_v<SecretString>);

TEST(SecretStringTest, HoldsBytes) {
  SecretString empty;
  EXPECT_TRUE(empty.empty());
  EXPECT_EQ(empty.size(), 0u);

  SecretString s(std::string("refresh\0token", 13));
  EXPECT_EQ(s.size(), 13u);
  EXPECT_FALSE(s.empty());
  EXPECT_EQ(s.view(), absl::string_view("refresh\0token", 13));
  s.Clear();
  EXPECT_TRUE(s.empty());
}

TEST(SecretStringTest, ConstructorWipesItsArgument) {
  for (size_t n : {5, 100}) {  // Inline (SSO) and heap strings.
    std::string source(n, 'x');
    SecretString s(std::move(source));
    EXPECT_EQ(s.view(), std::string(n, 'x'));
    EXPECT_TRUE(source.empty());  // NOLINT(bugprone-use-after-move)
  }
}

TEST(SecretStringTest, MoveLeavesSourceEmpty) {
  for (size_t n : {5, 100}) {
    SecretString a(std::string(n, 'a'));
    SecretString b(std::move(a));
    EXPECT_TRUE(a.empty());  // NOLINT(bugprone-use-after-move)
    EXPECT_EQ(b.view(), std::string(n, 'a'));

    SecretString c(std::string(7, 'c'));
    c = std::move(b);
    EXPECT_TRUE(b.empty());  // NOLINT(bugprone-use-after-move)
    EXPECT_EQ(c.view(), std::string(n, 'a'));

    SecretString& alias = c;
    c = std::move(alias);  // Self-move keeps the value.
    EXPECT_EQ(c.view(), std::string(n, 'a'));
  }
}

TEST(WipeStringTest, EmptiesAndKeepsCapacity) {
  std::string s(200, 's');
  const size_t capacity = s.capacity();
  WipeString(s);
  EXPECT_TRUE(s.empty());
  EXPECT_EQ(s.capacity(), capacity);  // Wiped in place, not reallocated.
}

}  // namespace
}  // namespace vault
}  // namespace wxvault
