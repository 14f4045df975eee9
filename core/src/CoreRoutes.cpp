// The core's own pages: sign-in and sign-out, the home page, the account page, health check,
// and the privacy and accessibility statements.

#include "Application.hpp"
#include "Cookies.hpp"
#include "CoreSchema.hpp"
#include "Crypto.hpp"
#include "JsonLogger.hpp"

#include <belonging/EmbeddedFile.hpp>

extern const belonging::EmbeddedFile belongingCoreTemplates[];

namespace belonging {
namespace {

/** Only local paths, so a crafted link cannot bounce a user to another site after sign-in. */
std::string safeNext(const std::string& next) { return safeLocalPath(next); }

nlohmann::json signinData(const Request& request, const Application& application,
                          const std::string& username, const std::string& next) {
  return {{"csrfToken", request.csrfToken},
          {"next", next},
          {"username", username},
          {"errors", nlohmann::json::array()},
          {"usernameError", ""},
          {"passwordError", ""},
          {"ssoEnabled", application.config.sso.enabled},
          {"demo", false}};
}

} // namespace

void registerCore(Application& application, Registrar& registrar) {
  Application* app = &application;
  registrar.addTemplates(belongingCoreTemplates);
  registrar.addNavigationItem({"Home", "/", kSignedIn, 0});
  for (auto& migration : coreMigrations()) registrar.addMigration(std::move(migration));
  registrar.setPrivacyManifest(
      {{{"account", "Username, display name, password hash, roles", false,
         "until the account is deleted; disabled accounts keep their name for the audit log"},
        {"sessions", "Sign-in sessions (hashed ids), failed sign-in counts, and a signed cookie in the browser "
                     "naming the account it last signed in to (so a lockout of its address does not lock it out)", false,
         "sessions end after the idle or absolute timeout; counts after the throttle window"},
        {"audit log", "Privileged actions with actor and time", false, "kept for audit"}},
       [app](std::int64_t userId) {
         nlohmann::json data = nlohmann::json::object();
         if (auto user = app->accounts->userById(userId)) {
           data["username"] = user->username;
           data["displayName"] = user->displayName;
           nlohmann::json roles = nlohmann::json::array();
           for (const auto& grant : app->accounts->roles(userId)) roles.push_back({{"role", grant.role}, {"scope", grant.scope}});
           data["roles"] = roles;
         }
         return data;
       },
       [](std::int64_t) {
         // Accounts are erased by disabling them (`belonging user disable`), which ends sessions
         // and tokens; the row stays so the audit log still names who did what.
       }});

  registrar.addRoute({"GET", "/healthz", kPublic, false, false, [app](const Request&, Response& response) {
    const bool up = app->database->ping();
    nlohmann::json plugins = nlohmann::json::array();
    for (const auto& status : app->plugins->statuses()) {
      if (status.status == "loaded") plugins.push_back({{"name", status.name}, {"version", status.version}});
    }
    response.json({{"status", up ? "ok" : "unavailable"},
                   {"version", BELONGING_VERSION},
                   {"database", app->database->dialectName()},
                   {"plugins", plugins}},
                  up ? 200 : 503);
  }});

  registrar.addRoute({"GET", "/", kSignedIn, false, false, [app](const Request& request, Response& response) {
    nlohmann::json cards = nlohmann::json::array();
    for (const auto& [plugin, provider] : app->registry.homeCards()) {
      if (provider.permission != kSignedIn && !request.can(provider.permission)) continue;
      for (const auto& card : provider.cards(request)) {
        cards.push_back({{"title", card.title}, {"text", card.text}, {"href", card.href}, {"linkText", card.linkText}});
      }
    }
    app->renderer->page(request, response, "core/home",
                        {{"displayName", request.user->displayName}, {"cards", cards}}, "Home");
  }});

  registrar.addRoute({"GET", "/signin", kPublic, false, false, [app](const Request& request, Response& response) {
    if (request.user) return response.redirect(safeNext(request.queryValue("next")));
    auto data = signinData(request, *app, "", safeNext(request.queryValue("next")));
    data["demo"] = app->accounts->userByUsername("staff").has_value() && !app->accounts->hasRealAccounts();
    app->renderer->page(request, response, "core/signin", data, "Sign in");
  }});

  registrar.addRoute({"POST", "/signin", kPublic, false, false, [app](const Request& request, Response& response) {
    const std::string username = request.formValue("username");
    const std::string password = request.formValue("password");
    const std::string next = safeNext(request.formValue("next"));
    auto data = signinData(request, *app, username, next);
    auto fail = [&](int status, const std::string& field, const std::string& message) {
      data["errors"].push_back({{"href", "#" + field}, {"text", message}});
      data["hasErrors"] = true;
      data[field + "Error"] = message;
      response.status = status;
      app->renderer->page(request, response, "core/signin", data, "Error: Sign in");
    };
    if (username.empty()) return fail(400, "username", "Enter your username");
    if (password.empty()) return fail(400, "password", "Enter your password");
    // A browser that signed in to this account before keeps its chance while others at its
    // address (or behind the same unlisted proxy) have used the address's up.
    const auto jar = cookies::parse(request.header("cookie"));
    const auto device = jar.find(cookies::kDevice);
    const bool knownDevice =
        device != jar.end() && app->throttle->knowsDevice(app->readSecret(), device->second, username);
    // Reserved before the slow hash, so guesses sent together cannot all be checked.
    if (const auto wait = app->throttle->reserve(username, request.remoteAddress, knownDevice); wait > 0) {
      response.headers.emplace_back("Retry-After", std::to_string(wait));
      return fail(429, "username", "Too many failed attempts. Try again in " +
                                       std::to_string((wait + 59) / 60) + " minutes.");
    }
    const auto user = app->accounts->userByUsername(username);
    // Verify even for unknown users (against a fixed hash) so timing does not reveal which
    // usernames exist.
    static const std::string kDummyHash =
        "$scrypt$ln=15,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    const bool passwordMatches = crypto::verifyPassword(
        password, user && !user->passwordHash.empty() ? user->passwordHash : kDummyHash);
    if (!user || user->disabled || !passwordMatches) {
      return fail(401, "username", "Enter a correct username and password"); // Counted by reserve().
    }
    app->throttle->recordSuccess(username, request.remoteAddress, knownDevice);
    // A new session id at every sign-in defeats session fixation.
    const auto session = app->sessions->create(user->id);
    const bool secure = app->config.server.tlsInFront();
    response.headers.emplace_back("Set-Cookie", cookies::setCookie(cookies::kSession, session.id, secure));
    response.headers.emplace_back("Set-Cookie", cookies::setCookie(cookies::kPresession, "", secure, 0));
    response.headers.emplace_back("Set-Cookie",
                                  cookies::setCookie(cookies::kDevice, app->throttle->deviceCookie(app->readSecret(), user->username),
                                                     secure, static_cast<int>(SigninThrottle::kDeviceSeconds)));
    response.redirect(next);
  }});

  registrar.addRoute({"POST", "/signout", kSignedIn, false, false, [app](const Request& request, Response& response) {
    const auto jar = cookies::parse(request.header("cookie"));
    if (auto cookie = jar.find(cookies::kSession); cookie != jar.end()) app->sessions->destroy(cookie->second);
    const bool secure = app->config.server.tlsInFront();
    response.headers.emplace_back("Set-Cookie", cookies::setCookie(cookies::kSession, "", secure, 0));
    response.flash.push_back({"success", "You have signed out."});
    response.redirect("/signin");
  }});

  auto accountPage = [app](const Request& request, Response& response, nlohmann::json extra) {
    nlohmann::json roles = nlohmann::json::array();
    for (const auto& grant : request.user->roles) roles.push_back({{"role", grant.role}, {"scope", grant.scope}});
    const auto user = app->accounts->userById(request.user->userId);
    nlohmann::json data{{"displayName", request.user->displayName},
                        {"username", request.user->username},
                        {"roles", roles},
                        {"csrfToken", request.csrfToken},
                        {"passwordErrors", nlohmann::json::array()},
                        {"currentPasswordError", ""},
                        {"newPasswordError", ""},
                        {"canChangePassword", user && !user->passwordHash.empty()}};
    data.update(extra);
    app->renderer->page(request, response, "core/account", data, "Your account");
  };
  registrar.addRoute({"GET", "/account", kSignedIn, false, false, [accountPage](const Request& request, Response& response) {
    accountPage(request, response, nlohmann::json::object());
  }});
  // Subject access (UK GDPR Article 15): everything every plugin holds about the user, as JSON.
  registrar.addRoute({"GET", "/account/data", kSignedIn, false, false, [app](const Request& request, Response& response) {
    nlohmann::json data{{"service", app->config.server.serviceName},
                        {"exported_on", isoDate()},
                        {"data", app->exportUserData(request.user->userId)}};
    response.attachment("my-data.json", "application/json", jsonText(data, 2));
  }});
  registrar.addRoute({"POST", "/account/password", kSignedIn, false, false,
                      [app, accountPage](const Request& request, Response& response) {
    const auto user = app->accounts->userById(request.user->userId);
    auto fail = [&](const std::string& field, const std::string& message) {
      response.status = 400;
      accountPage(request, response,
                  {{"passwordErrors", {{{"href", "#" + std::string(field == "currentPassword" ? "current_password" : "new_password")}, {"text", message}}}},
                   {"hasPasswordErrors", true},
                   {field + "Error", message}});
    };
    if (!user || user->passwordHash.empty() ||
        !crypto::verifyPassword(request.formValue("current_password"), user->passwordHash)) {
      return fail("currentPassword", "Enter your current password correctly");
    }
    try {
      AccountStore::checkPassword(request.formValue("new_password"));
    } catch (const AccountError& error) {
      return fail("newPassword", "The new password must be at least 12 characters long");
    }
    app->accounts->setPassword(user->id, request.formValue("new_password"));
    app->audit->record(request, "password.change", "user:" + user->username);
    // setPassword ended every session, this one included: sign in again with the new password.
    response.flash.push_back({"success", "Your password has been changed. Sign in with your new password."});
    response.redirect("/signin");
  }});

  for (const auto& [path, name, title] : {std::tuple{"/privacy", "core/privacy", "Privacy"},
                                          std::tuple{"/accessibility", "core/accessibility", "Accessibility statement"}}) {
    const std::string templateName = name, pageTitle = title;
    registrar.addRoute({"GET", path, kPublic, false, false, [app, templateName, pageTitle](const Request& request, Response& response) {
      app->renderer->page(request, response, templateName, {{"serviceName", app->config.server.serviceName}}, pageTitle);
    }});
  }
}

} // namespace belonging
