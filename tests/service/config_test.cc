#include "service/config.h"

#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/temp_dir.h"

namespace wxvault::service {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

void WriteFile(const std::string& path, const std::string& content) {
  std::ofstream(path, std::ios::trunc) << content;
}

class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    WriteFile(dir_.Sub("keys"), "k1:AAAA\n");
    WriteFile(dir_.Sub("secret"), "s\n");
  }
  // The smallest valid command line, plus `extra`.
  std::vector<std::string> Args(std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"--master_key_file=" + dir_.Sub("keys"), "--app_id", "wxapp1",
                                     "--app_secret_file=" + dir_.Sub("secret")};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  }
  std::string Error(std::vector<std::string> extra, std::map<std::string, std::string> env = {}) {
    absl::StatusOr<ParsedCommandLine> parsed = ParseServerConfig(Args(std::move(extra)), env);
    EXPECT_FALSE(parsed.ok());
    return parsed.ok() ? "" : std::string(parsed.status().message());
  }
  testing::TempDir dir_;
};

TEST_F(ConfigTest, DefaultsMatchTheDesign) {
  absl::StatusOr<ParsedCommandLine> parsed = ParseServerConfig(Args(), {});
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  const ServerConfig& c = parsed->config;
  EXPECT_EQ(c.listen, "127.0.0.1:50051");
  EXPECT_EQ(c.health_listen, "");
  EXPECT_EQ(c.data_dir, "./wxvault-data");
  EXPECT_EQ(c.wechat_api_base, "https://api.weixin.qq.com");
  EXPECT_EQ(c.refresh_token_ttl, absl::Hours(4320));
  EXPECT_EQ(c.renew_before, absl::Hours(168));
  EXPECT_EQ(c.access_token_min_ttl, absl::Seconds(300));
  EXPECT_EQ(c.upstream_qps, 50);
  EXPECT_EQ(c.shutdown_grace, absl::Seconds(10));
  EXPECT_EQ(c.worker_threads, 8);
  EXPECT_EQ(c.log_level, "info");
  EXPECT_FALSE(c.demo);
  EXPECT_EQ(c.app_id, "wxapp1");
}

TEST_F(ConfigTest, BothFlagFormsBoolsAndDurations) {
  absl::StatusOr<ParsedCommandLine> parsed =
      ParseServerConfig(Args({"--renew_before", "24h", "--access_token_min_ttl=90s", "--upstream_qps=12.5",
                              "--worker_threads", "3", "--demo=false", "--listen=unix:/tmp/x.sock"}),
                        {});
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->config.renew_before, absl::Hours(24));
  EXPECT_EQ(parsed->config.access_token_min_ttl, absl::Seconds(90));
  EXPECT_EQ(parsed->config.upstream_qps, 12.5);
  EXPECT_EQ(parsed->config.worker_threads, 3);
  EXPECT_FALSE(parsed->config.demo);
  EXPECT_EQ(parsed->config.listen, "unix:/tmp/x.sock");
  parsed = ParseServerConfig({"--demo"}, {});
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_TRUE(parsed->config.demo);
}

TEST_F(ConfigTest, EnvironmentIsReadAndTheCommandLineWins) {
  std::map<std::string, std::string> env = {{"WXVAULT_LISTEN", "127.0.0.1:6000"},
                                            {"WXVAULT_RENEW_BEFORE", "48h"},
                                            {"WXVAULT_DEMO", "no"},
                                            {"UNRELATED", "x"}};
  absl::StatusOr<ParsedCommandLine> parsed = ParseServerConfig(Args({"--listen=127.0.0.1:7000"}), env);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->config.listen, "127.0.0.1:7000");
  EXPECT_EQ(parsed->config.renew_before, absl::Hours(48));
  EXPECT_THAT(Error({}, {{"WXVAULT_UPSTREAM_QPS", "lots"}}),
              AllOf(StartsWith("--upstream_qps:"), HasSubstr("WXVAULT_UPSTREAM_QPS")));
}

TEST_F(ConfigTest, EveryErrorNamesItsFlag) {
  EXPECT_THAT(Error({"--renew_before=5000h"}), StartsWith("--renew_before: must be shorter than --refresh_token_ttl"));
  EXPECT_THAT(Error({"--refresh_token_ttl=eventually"}), StartsWith("--refresh_token_ttl:"));
  EXPECT_THAT(Error({"--access_token_min_ttl=2h"}), StartsWith("--access_token_min_ttl:"));
  EXPECT_THAT(Error({"--upstream_qps=0"}), StartsWith("--upstream_qps:"));
  EXPECT_THAT(Error({"--worker_threads=0"}), StartsWith("--worker_threads:"));
  EXPECT_THAT(Error({"--log_level=loud"}), StartsWith("--log_level:"));
  EXPECT_THAT(Error({"--listen=nowhere"}), StartsWith("--listen:"));
  EXPECT_THAT(Error({"--listen=unix:"}), StartsWith("--listen:"));
  EXPECT_THAT(Error({"--wechat_api_base=ftp://x"}), StartsWith("--wechat_api_base:"));
  EXPECT_THAT(Error({"--bogus=1"}), StartsWith("--bogus: unknown flag"));
  EXPECT_THAT(Error({"positional"}), HasSubstr("unexpected argument"));
  EXPECT_THAT(Error({"--data_dir"}), StartsWith("--data_dir: missing value"));
  EXPECT_THAT(Error({"--demo=maybe"}), StartsWith("--demo:"));
  EXPECT_THAT(Error({"--app_secret_file=" + dir_.Sub("missing")}), StartsWith("--app_secret_file:"));
  EXPECT_THAT(Error({"--admin_token_file=" + dir_.path()}), StartsWith("--admin_token_file:"));
  EXPECT_THAT(Error({"--tls_key_file=" + dir_.Sub("keys")}), StartsWith("--tls_cert_file:"));
  EXPECT_THAT(Error({"--tls_client_ca_file=" + dir_.Sub("keys")}), StartsWith("--tls_client_ca_file:"));
  EXPECT_THAT(Error({"--apps_file=" + dir_.Sub("keys")}), StartsWith("--apps_file: use either"));
  absl::StatusOr<ParsedCommandLine> no_key = ParseServerConfig({"--app_id=wxa", "--app_secret_file=x"}, {});
  EXPECT_THAT(std::string(no_key.status().message()), StartsWith("--master_key_file: required"));
  absl::StatusOr<ParsedCommandLine> demo_app = ParseServerConfig({"--demo", "--app_id=wxa"}, {});
  EXPECT_THAT(std::string(demo_app.status().message()), StartsWith("--app_id: cannot be combined with --demo"));
}

TEST_F(ConfigTest, HelpListsEveryFlagWithDefaultAndEnv) {
  absl::StatusOr<ParsedCommandLine> parsed = ParseServerConfig({"--help"}, {});
  ASSERT_TRUE(parsed.ok());
  EXPECT_TRUE(parsed->help);
  const std::string help = ServerConfigHelp();
  for (const char* text : {"--listen", "WXVAULT_LISTEN", "127.0.0.1:50051", "--refresh_token_ttl", "4320h",
                           "--renew_before", "168h", "--access_token_min_ttl", "5m", "--shutdown_grace",
                           "--worker_threads", "--log_level", "--metrics_listen", "--tls_client_ca_file"}) {
    EXPECT_THAT(help, HasSubstr(text));
  }
}

TEST_F(ConfigTest, ReadFlagFileTrimsAndRefusesEmptyOrHuge) {
  WriteFile(dir_.Sub("token"), "  tok  \n");
  EXPECT_EQ(*ReadFlagFile("admin_token_file", dir_.Sub("token")), "tok");
  WriteFile(dir_.Sub("empty"), "\n");
  EXPECT_THAT(std::string(ReadFlagFile("admin_token_file", dir_.Sub("empty")).status().message()),
              StartsWith("--admin_token_file:"));
  WriteFile(dir_.Sub("big"), std::string(5000, 'x'));
  EXPECT_FALSE(ReadFlagFile("admin_token_file", dir_.Sub("big")).ok());
}

}  // namespace
}  // namespace wxvault::service
