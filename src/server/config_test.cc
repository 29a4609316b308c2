#include "server/config.h"

#include <gtest/gtest.h>

namespace ferry::server {
namespace {

TEST(Config, FileKeysAreTheFlagNames) {
  Config config;
  ASSERT_TRUE(ApplyConfigText("listen = \"127.0.0.1:9000\"\nmax-upload = \"2G\"\n"
                              "idle-timeout = \"5m\"\nread-only = true\nthreads = 3\n",
                              "ferryd.toml", config)
                  .ok());
  EXPECT_EQ(config.listen, "127.0.0.1:9000");
  EXPECT_EQ(config.max_upload, std::uint64_t{2} << 30);
  EXPECT_EQ(config.idle_timeout, std::chrono::minutes(5));
  EXPECT_TRUE(config.read_only);
  EXPECT_EQ(config.threads, 3u);
}

TEST(Config, FlagsGivenOnTheCommandLineWin) {
  Config config;
  config.listen = "127.0.0.1:1";
  ASSERT_TRUE(ApplyConfigText("listen = \"127.0.0.1:2\"", "f", config, {"listen"}).ok());
  EXPECT_EQ(config.listen, "127.0.0.1:1");
}

TEST(Config, BadFilesNameTheFileTheLineAndTheKey) {
  Config config;
  Status unknown = ApplyConfigText("\nlisten_addr = \"x\"", "a.toml", config);
  EXPECT_NE(unknown.message().find("a.toml: unknown key 'listen_addr'"), std::string::npos)
      << unknown.message();
  Status bad = ApplyConfigText("\n\nmax-upload = \"lots\"", "b.toml", config);
  EXPECT_NE(bad.message().find("b.toml:3: bad value for 'max-upload'"), std::string::npos)
      << bad.message();
  EXPECT_FALSE(ApplyConfigText("threads = -1", "c", config).ok());
  EXPECT_FALSE(ApplyConfigText("read-only = \"yes\"", "c", config).ok());
  EXPECT_FALSE(ApplyConfigText("listen = [1, 2]", "c", config).ok());
  EXPECT_FALSE(ApplyConfigText("= broken", "c", config).ok());
}

TEST(Config, LoopbackAddresses) {
  for (const char* address : {"127.0.0.1:80", "127.1.2.3:0", "[::1]:7878", "localhost:1"}) {
    EXPECT_TRUE(IsLoopback(address)) << address;
  }
  for (const char* address : {"0.0.0.0:80", "[::]:80", "10.0.0.1:80", "example.org:1", "128.0.0.1:1"}) {
    EXPECT_FALSE(IsLoopback(address)) << address;
  }
}

TEST(Config, APublicAddressNeedsAuthOrAnExplicitAnonymous) {
  Config config;
  config.data = "/tmp/ferry-config-test/data";
  config.cache = "/tmp/ferry-config-test/cache";
  EXPECT_TRUE(ValidateConfig(config).ok());
  config.listen = "0.0.0.0:7878";
  EXPECT_FALSE(ValidateConfig(config).ok());
  config.allow_anonymous = true;
  EXPECT_TRUE(ValidateConfig(config).ok());
  config.allow_anonymous = false;
  config.auth_file = "/etc/ferry/auth.toml";
  EXPECT_TRUE(ValidateConfig(config).ok());
  config.tls_cert = "cert.pem";
  EXPECT_FALSE(ValidateConfig(config).ok());  // a certificate without its key
  config.tls_key = "key.pem";
  EXPECT_TRUE(ValidateConfig(config).ok());
}

TEST(Config, AnS3StoreNeedsABucketAndAnEndpoint) {
  Config config;
  config.store = "s3://my-bucket/files";
  Status missing = ValidateConfig(config);
  EXPECT_EQ(missing.code(), Code::kBadRequest);
  EXPECT_NE(missing.message().find("--s3-endpoint"), std::string::npos) << missing.message();
  config.s3_endpoint = "http://127.0.0.1:7480";
  EXPECT_TRUE(ValidateConfig(config).ok());
  config.store = "s3://No_Such";
  Status bad = ValidateConfig(config);
  EXPECT_EQ(bad.code(), Code::kBadRequest);
  EXPECT_NE(bad.message().find("--store"), std::string::npos) << bad.message();
}

// Found with config_fuzz: a folder name over NAME_MAX made weakly_canonical throw
// filesystem_error out of ValidateConfig, so ferryd died in std::terminate instead of saying
// what was wrong.
TEST(Config, FoldersTheFileSystemCannotResolveAreStillChecked) {
  Config config;
  const std::string too_long(300, 'a');
  config.data = "/tmp/" + too_long;
  config.cache = "/tmp/ferry-config-test/cache";
  Status valid;
  ASSERT_NO_THROW(valid = ValidateConfig(config));
  EXPECT_TRUE(valid.ok()) << valid.message();
  config.cache = "/tmp/" + too_long + "/cache";
  ASSERT_NO_THROW(valid = ValidateConfig(config));
  EXPECT_FALSE(valid.ok());  // still inside the data folder
  Status applied = ApplyConfigText("data = \"" + too_long + "\"", "f", config);
  ASSERT_TRUE(applied.ok());
  ASSERT_NO_THROW(valid = ValidateConfig(config));
}

TEST(Config, PrintedConfigParsesBackToTheSameConfig) {
  Config config;
  config.data = "/var/lib/ferry/data";
  config.cache_max_bytes = std::uint64_t{20} << 30;
  config.idle_timeout = std::chrono::minutes(2);
  config.threads = 3;
  config.read_only = true;
  config.access_log = "off";
  std::string text = RenderConfigFile(config);
  Config parsed;
  ASSERT_TRUE(ApplyConfigText(text, "printed", parsed).ok()) << text;
  EXPECT_EQ(RenderConfigFile(parsed), text);
  EXPECT_NE(text.find("\ndata = \"/var/lib/ferry/data\"\n"), std::string::npos) << text;
  EXPECT_NE(text.find("\ncache-max-bytes = \"20G\"\n"), std::string::npos) << text;
  EXPECT_NE(text.find("\nthreads = 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("\n# listen = \"127.0.0.1:7878\"\n"), std::string::npos) << text;
  // Every key is there, and every default parses back too.
  Config defaults;
  std::string all_defaults = RenderConfigFile(defaults);
  std::string uncommented;
  for (std::size_t at = 0; (at = all_defaults.find("\n# ", at)) != std::string::npos; at += 3) {
    std::size_t end = all_defaults.find('\n', at + 1);
    std::string line = all_defaults.substr(at + 3, end - at - 3);
    if (line.find(" = ") != std::string::npos) uncommented += line + "\n";
  }
  Config from_defaults;
  ASSERT_TRUE(ApplyConfigText(uncommented, "defaults", from_defaults).ok()) << uncommented;
  EXPECT_EQ(RenderConfigFile(from_defaults), all_defaults);
}

TEST(Config, ChangesAreSortedByWhetherAReloadAppliesThem) {
  Config before;
  Config after;
  after.log_level = "debug";
  after.max_connections = 10;
  after.listen = "127.0.0.1:1";
  after.cache_policy = "lru";
  ConfigChanges changes = CompareConfigs(before, after);
  EXPECT_EQ(changes.live, (std::vector<std::string>{"log-level", "max-connections"}));
  EXPECT_EQ(changes.restart, (std::vector<std::string>{"listen", "cache-policy"}));
  ApplyLiveOptions(after, before);
  EXPECT_EQ(before.log_level, "debug");
  EXPECT_EQ(before.max_connections, 10u);
  EXPECT_EQ(before.listen, "127.0.0.1:7878");  // a restart-only option stays
  EXPECT_TRUE(CompareConfigs(before, after).live.empty());
}

TEST(Config, ManPageListsEveryKey) {
  std::string page = RenderConfigManPage();
  EXPECT_TRUE(page.starts_with(".TH FERRYD.TOML 5")) << page;
  for (const char* key : {"listen", "cache\\-max\\-bytes", "log\\-format", "access\\-log", "tls\\-cert"}) {
    EXPECT_NE(page.find(std::string(".BI \"") + key + " = \""), std::string::npos) << key;
  }
}

TEST(Config, AReloadIsValidatedWithTheRunningAddresses) {
  Config running;
  running.listen = "0.0.0.0:7878";
  running.auth_file = "/etc/ferry/auth.toml";
  ASSERT_TRUE(ValidateConfig(running).ok());
  // The file moves listen to loopback (a restart-only change) and drops the auth file (a live
  // one): valid by itself, but it would leave 0.0.0.0 without authentication.
  Config loaded;
  loaded.listen = "127.0.0.1:7878";
  ASSERT_TRUE(ValidateConfig(loaded).ok());
  Result<Config> reloaded = ReloadedConfig(running, loaded);
  ASSERT_FALSE(reloaded.ok());
  EXPECT_NE(reloaded.status().message().find("--auth-file"), std::string::npos)
      << reloaded.status().message();
  loaded.auth_file = "/etc/ferry/other.toml";
  loaded.max_upload = 5;
  reloaded = ReloadedConfig(running, loaded);
  ASSERT_TRUE(reloaded.ok()) << reloaded.status().message();
  EXPECT_EQ(reloaded->listen, "0.0.0.0:7878");  // the running address stays
  EXPECT_EQ(reloaded->auth_file, "/etc/ferry/other.toml");
  EXPECT_EQ(reloaded->max_upload, 5u);
}

}  // namespace
}  // namespace ferry::server
