// Token scopes per endpoint (AIO defaults from the product text) and source selection from the
// environment (the Azure SDKs' order).
#include "connectors/identity/scopes.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>

#include "connectors/identity/source_selection.h"

namespace dataflow::identity {
namespace {

using config::AuthMethod;
using ::testing::HasSubstr;
using ::testing::StartsWith;

config::Authentication systemAssigned(std::optional<std::string> audience = std::nullopt) {
  config::Authentication a;
  a.method = AuthMethod::SystemAssignedManagedIdentity;
  a.system_assigned = config::SystemAssignedManagedIdentitySettings{audience};
  return a;
}

config::Authentication userAssigned(std::optional<std::string> scope = std::nullopt) {
  config::Authentication a;
  a.method = AuthMethod::UserAssignedManagedIdentity;
  a.user_assigned = config::UserAssignedManagedIdentitySettings{"client-1", "tenant-1", scope};
  return a;
}

std::string kafka(const config::Authentication& a, const std::string& host) {
  Result<std::string> scope = kafkaScope(a, host);
  EXPECT_TRUE(scope.isOk()) << scope.status().message();
  return scope.isOk() ? scope.value() : "";
}

TEST(ScopesTest, KafkaDefaultsToTheEventHubsHostWithoutPort) {
  EXPECT_EQ(kafka(systemAssigned(), "ns.servicebus.windows.net:9093"),
            "https://ns.servicebus.windows.net/.default");
  EXPECT_EQ(kafka(userAssigned(), "ns.servicebus.windows.net:9093"),
            "https://ns.servicebus.windows.net/.default");
  EXPECT_EQ(kafka(systemAssigned(), "broker.local"), "https://broker.local/.default");
}

TEST(ScopesTest, KafkaAudienceAndScopeOverride) {
  EXPECT_EQ(kafka(systemAssigned("https://other.servicebus.windows.net"), "ns:9093"),
            "https://other.servicebus.windows.net/.default");
  EXPECT_EQ(kafka(userAssigned("https://scope.example/.default"), "ns:9093"),
            "https://scope.example/.default");
  EXPECT_EQ(kafka(userAssigned("https://scope.example"), "ns:9093"),
            "https://scope.example/.default");
}

TEST(ScopesTest, EventGridDefaultAndOverride) {
  EXPECT_EQ(eventGridScope(systemAssigned()).value(), "https://eventgrid.azure.net/.default");
  EXPECT_EQ(eventGridScope(userAssigned()).value(), "https://eventgrid.azure.net/.default");
  EXPECT_EQ(eventGridScope(systemAssigned("https://eventgrid.azure.net/")).value(),
            "https://eventgrid.azure.net//.default");
  config::Authentication anonymous;
  anonymous.method = AuthMethod::Anonymous;
  EXPECT_FALSE(eventGridScope(anonymous).isOk());
}

TEST(ScopesTest, ResourceDropsDefaultSuffixOnly) {
  EXPECT_EQ(resourceOf("https://ns.servicebus.windows.net/.default"),
            "https://ns.servicebus.windows.net");
  EXPECT_EQ(resourceOf("https://eventgrid.azure.net//.default"), "https://eventgrid.azure.net/");
  EXPECT_EQ(resourceOf("https://x"), "https://x");
}

TEST(ScopesTest, ManagedIdentityOfSettings) {
  EXPECT_EQ(managedIdentityOf(systemAssigned()).value().kind,
            ManagedIdentity::Kind::SystemAssigned);
  ManagedIdentity user = managedIdentityOf(userAssigned()).value();
  EXPECT_EQ(user.client_id, "client-1");
  EXPECT_EQ(user.tenant_id, "tenant-1");
  config::Authentication missing = userAssigned();
  missing.user_assigned->tenant_id.clear();
  EXPECT_THAT(managedIdentityOf(missing).status().message(), HasSubstr("tenantId"));
}

class SelectionTest : public ::testing::Test {
 protected:
  Result<std::unique_ptr<TokenSource>> select(const ManagedIdentity& identity) {
    SourceDependencies deps;
    deps.http = std::shared_ptr<HttpClient>(makeCurlHttpClient());
    deps.clock = &clock_;
    return selectTokenSource(
        identity,
        [this](const char* name) -> std::optional<std::string> {
          auto it = env_.find(name);
          if (it == env_.end()) return std::nullopt;
          return it->second;
        },
        deps);
  }
  std::string chosen(const ManagedIdentity& identity) {
    auto source = select(identity);
    EXPECT_TRUE(source.isOk()) << source.status().message();
    return source.isOk() ? source.value()->describe() : "";
  }

  SystemClock clock_;
  std::map<std::string, std::string> env_;
  const ManagedIdentity system_{};
  const ManagedIdentity user_{ManagedIdentity::Kind::UserAssigned, "client-m", "tenant-m"};
};

TEST_F(SelectionTest, NothingSetMeansImdsAtItsAddress) {
  EXPECT_EQ(chosen(system_), "IMDS at http://169.254.169.254");
  EXPECT_EQ(chosen(user_), "IMDS at http://169.254.169.254 (client id client-m)");
}

TEST_F(SelectionTest, PodIdentityHostOverridesImds) {
  env_["AZURE_POD_IDENTITY_AUTHORITY_HOST"] = "http://127.0.0.1:8080/";
  EXPECT_EQ(chosen(system_), "IMDS at http://127.0.0.1:8080");
  env_["AZURE_POD_IDENTITY_AUTHORITY_HOST"] = "http://10.0.0.5:8080";
  EXPECT_THAT(select(system_).status().message(), HasSubstr("must be https"));
}

TEST_F(SelectionTest, ArcNeedsBothVariablesAndSystemAssigned) {
  env_["IDENTITY_ENDPOINT"] = "http://localhost:40342/metadata/identity/oauth2/token";
  EXPECT_THAT(chosen(system_), StartsWith("IMDS"));
  env_["IMDS_ENDPOINT"] = "http://localhost:40342";
  EXPECT_EQ(chosen(system_),
            "Azure Arc identity endpoint http://localhost:40342/metadata/identity/oauth2/token");
  EXPECT_THAT(select(user_).status().message(), HasSubstr("system-assigned identity only"));
}

TEST_F(SelectionTest, WorkloadIdentityComesFirstWithManifestIdsForUserAssigned) {
  env_["IDENTITY_ENDPOINT"] = "http://localhost:40342/t";
  env_["IMDS_ENDPOINT"] = "http://localhost:40342";
  env_["AZURE_FEDERATED_TOKEN_FILE"] = "/var/run/secrets/azure/tokens/azure-identity-token";
  env_["AZURE_TENANT_ID"] = "tenant-e";
  env_["AZURE_CLIENT_ID"] = "client-e";
  EXPECT_EQ(chosen(user_),
            "workload identity (Entra ID https://login.microsoftonline.com/tenant-m, client id "
            "client-m)");
  EXPECT_EQ(chosen(system_),
            "workload identity (Entra ID https://login.microsoftonline.com/tenant-e, client id "
            "client-e)");
  env_["AZURE_AUTHORITY_HOST"] = "https://login.microsoftonline.us";
  EXPECT_THAT(chosen(user_), HasSubstr("https://login.microsoftonline.us/tenant-m"));
  env_["AZURE_AUTHORITY_HOST"] = "http://login.example";
  EXPECT_THAT(select(user_).status().message(), HasSubstr("must be https"));
}

TEST_F(SelectionTest, WorkloadIdentityWithoutIdsIsAClearError) {
  env_["AZURE_FEDERATED_TOKEN_FILE"] = "/token";
  EXPECT_THAT(select(system_).status().message(), HasSubstr("tenant id"));
  env_["AZURE_TENANT_ID"] = "tenant/../x";
  EXPECT_THAT(select(system_).status().message(), HasSubstr("tenant id"));
  env_["AZURE_TENANT_ID"] = "tenant-e";
  EXPECT_THAT(select(system_).status().message(), HasSubstr("client id"));
}

TEST_F(SelectionTest, AppServiceIsRefusedNotSilentlyImds) {
  env_["IDENTITY_ENDPOINT"] = "http://localhost:8081/msi/token";
  env_["IDENTITY_HEADER"] = "secret-header";
  const std::string message = select(system_).status().message();
  EXPECT_THAT(message, HasSubstr("App Service"));
  EXPECT_THAT(message, ::testing::Not(HasSubstr("secret-header")));
}

}  // namespace
}  // namespace dataflow::identity
