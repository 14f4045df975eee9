#include "Registry.hpp"

#include <catch2/catch.hpp>

using namespace belonging;

namespace {
Route route(std::string method, std::string pattern) {
  return {std::move(method), std::move(pattern), kSignedIn, false, false,
          [](const Request&, Response&) {}};
}
} // namespace

TEST_CASE("routes match literal segments and {parameters}", "[core][router]") {
  Registry registry;
  registry.addRoute("p", route("GET", "/networks"));
  registry.addRoute("p", route("GET", "/networks/{slug}"));
  registry.addRoute("p", route("POST", "/networks/{slug}/membership"));
  registry.addRoute("p", route("GET", "/"));

  auto match = registry.match("GET", "/networks/lgbtq");
  REQUIRE(match.route);
  CHECK(match.route->route.pattern == "/networks/{slug}");
  CHECK(match.parameters.at("slug") == "lgbtq");
  CHECK(registry.match("GET", "/networks").route);
  CHECK(registry.match("HEAD", "/networks").route);
  CHECK(registry.match("GET", "/").route->route.pattern == "/");
  CHECK_FALSE(registry.match("GET", "/networks/").route);
  CHECK_FALSE(registry.match("GET", "/nope").route);
  CHECK_FALSE(registry.match("GET", "/nope").otherMethod);

  auto wrongMethod = registry.match("GET", "/networks/lgbtq/membership");
  CHECK_FALSE(wrongMethod.route);
  CHECK(wrongMethod.otherMethod);
}

TEST_CASE("a route two plugins both claim is refused, naming both", "[core][router]") {
  Registry registry;
  registry.addRoute("core", route("GET", "/networks/{slug}"));
  CHECK_THROWS_WITH(registry.addRoute("other", route("GET", "/networks/{name}")),
                    "plugin \"other\" registers GET /networks/{name}, which plugin \"core\" already "
                    "registered as /networks/{slug}");
  CHECK_NOTHROW(registry.addRoute("other", route("POST", "/networks/{name}")));
}

TEST_CASE("anonymous routes must be public and only they may skip CSRF", "[core][router]") {
  Registry registry;
  Route anonymous = route("POST", "/submit");
  anonymous.anonymous = true;
  CHECK_THROWS_AS(registry.addRoute("p", anonymous), RegistrationError);
  anonymous.permission = kPublic;
  CHECK_NOTHROW(registry.addRoute("p", anonymous));
  Route exempt = route("POST", "/other");
  exempt.csrfExempt = true;
  CHECK_THROWS_WITH(registry.addRoute("p", exempt),
                    "plugin \"p\" exempts /other from CSRF checks: only anonymous routes may be exempt");
}

TEST_CASE("a route guarded by an unregistered permission fails at start-up", "[core][router]") {
  Registry registry;
  Route guarded = route("GET", "/x");
  guarded.permission = "nobody.registered";
  registry.addRoute("p", guarded);
  CHECK_THROWS_WITH(registry.finalise(), Catch::Contains("\"nobody.registered\", which no plugin registers"));
}

TEST_CASE("roles grant only the permissions listed for them", "[core][permissions]") {
  Registry registry;
  registry.addPermission("p", {"p.read", "", {"staff", "admin"}});
  registry.addPermission("p", {"p.anonymous", "", {"people-analyst"}});
  const auto admin = registry.permissionsFor({{"admin", ""}});
  CHECK(admin.contains("p.read"));
  // Admin is not all-seeing: it holds only what is granted to it.
  CHECK_FALSE(admin.contains("p.anonymous"));
  CHECK(registry.permissionsFor({}).empty());
}

TEST_CASE("the registrar refuses calls after it is closed", "[core][plugins]") {
  Registry registry;
  PluginRegistrar registrar(registry, "late");
  registrar.addRoute(route("GET", "/early"));
  registrar.close();
  CHECK_THROWS_WITH(registrar.addRoute(route("GET", "/late")),
                    "plugin \"late\" tried to register route GET /late after load; register "
                    "everything inside load()");
  CHECK_THROWS_AS(registrar.addPermission({"x", "", {}}), RegistrationError);
}

TEST_CASE("removing a plugin drops everything it registered", "[core][plugins]") {
  Registry registry;
  registry.addRoute("gone", route("GET", "/gone"));
  registry.addTemplate("gone", "page", "x");
  registry.addPermission("gone", {"gone.read", "", {"staff"}});
  registry.addRoute("kept", route("GET", "/kept"));
  registry.removePlugin("gone");
  CHECK_FALSE(registry.match("GET", "/gone").route);
  CHECK(registry.match("GET", "/kept").route);
  CHECK(registry.templates().empty());
  CHECK(registry.permissions().empty());
}
