// Anonymous staff experience: survey waves whose answers feed WRES indicators 5-8 and WDES
// metrics 4-9a. One submission per person per wave, unlinkable to the person (RFC 9474 blind
// signatures in the browser, or one-time paper codes), stored in the anonymous store, and
// released only after the wave closes, through disclosure control (DESIGN §5 and §6).

#include "DemoData.hpp"
#include "ExperienceService.hpp"
#include "PaperCodes.hpp"
#include "Results.hpp"

#include <belonging/Plugin.hpp>

#include <CLI/CLI.hpp>

#include <fstream>
#include <iostream>
#include <memory>

extern const belonging::EmbeddedFile experienceTemplates[];

namespace {

using belonging::Request;
using belonging::Response;
using experience::ExperienceError;
using experience::ExperienceService;
using experience::Wave;
using experience::WaveStatus;
using nlohmann::json;

constexpr const char* kTake = "experience.take";
constexpr const char* kManage = "experience.manage";
constexpr const char* kResults = "experience.results";

json waveData(const Wave& wave, const std::string& today) {
  return {{"id", wave.id},
          {"name", wave.name},
          {"opensOn", wave.opensOn},
          {"closesOn", wave.closesOn},
          {"status", experience::statusName(wave.status)},
          {"draft", wave.status == WaveStatus::Draft},
          {"open", wave.status == WaveStatus::Open},
          {"closed", wave.status == WaveStatus::Closed},
          {"accepting", wave.accepting(today)},
          {"questionnaireVersion", wave.questionnaireVersion},
          {"fingerprint", belonging::experience::keyFingerprint(belonging::experience::base64UrlDecode(wave.publicKey))}};
}

std::map<std::string, std::string> formAnswers(const Request& request) {
  std::map<std::string, std::string> answers;
  for (const auto& [name, value] : request.form) {
    if (name == "_csrf" || name == "code" || name == "comment") continue;
    answers[name] = value;
  }
  return answers;
}

class ExperiencePlugin final : public belonging::Plugin {
public:
  void load(belonging::Host& host) override {
    service_ = std::make_unique<ExperienceService>(host);
    ExperienceService& service = *service_;
    auto& registrar = host.registrar();
    registrar.addTemplates(experienceTemplates);
    for (auto& migration : experience::WaveStore::migrations()) registrar.addMigration(std::move(migration));
    for (auto& migration : experience::AnonymousStore::migrations()) registrar.addAnonymousMigration(std::move(migration));

    registrar.addPermission({kTake, "Take part in staff experience surveys", {"staff"}});
    registrar.addPermission({kManage, "Create, open and close survey waves and print paper codes", {"people-analyst"}});
    registrar.addPermission({kResults, "See a closed wave's disclosure-controlled results and comments", {"people-analyst"}});
    registrar.addSetting({"directorates", "Directorates staff choose from (the survey's breakdown)",
                          json::array({"Corporate services", "Finance and performance", "Nursing and quality", "Medical",
                                       "Operations", "Strategy and transformation"})});
    registrar.addSetting({"key_file", "File holding the 64-hex-character key that encrypts wave signing keys "
                                      "(BELONGING_EXPERIENCE_KEY in the environment takes precedence)", ""});
    registrar.addSetting({"public_url", "The portal's address as staff type it, printed on paper-code slips", ""});
    // Kept only so existing configs still load: valid submissions are no longer capped (see
    // ExperienceService::failures_), because a cap could only ever refuse real people.
    registrar.addSetting({"submissions_per_minute", "Not used: valid submissions are bounded by the tokens and codes issued", 6000});
    registrar.addSetting({"failed_attempts_per_minute", "Invalid tokens or codes per minute (everyone together) before "
                                                        "further invalid ones get 429; valid ones are never refused", 600});
    registrar.addSetting({"token_requests_per_user_per_minute", "Most token requests per person per minute", 10});
    registrar.addSetting({"mix_batch", "B: the fewest submissions written to the anonymous store together (at least the "
                                       "disclosure threshold k); answers wait in memory until B have arrived or the wave closes", 20});
    registrar.addSetting({"mix_check_seconds", "Mean seconds between the mix's checks for a due batch (each wait is "
                                               "randomised by half either way)", 10});
    registrar.addSetting({"mix_lease_seconds", "How long a server may go silent before the answers it holds count as "
                                               "lost, so their browsers may send them again", 60});
    if (const int lease = host.settings().value("mix_lease_seconds", 60); lease < 1 || lease > 3600) {
      throw std::runtime_error("[plugins.experience] mix_lease_seconds must be between 1 and 3600");
    }
    const auto batch = host.settings().value("mix_batch", 20);
    const int threshold = host.disclosure().policy().threshold;
    if (batch < threshold || batch > 100000) {
      throw std::runtime_error("[plugins.experience] mix_batch is " + std::to_string(batch) + ": it must be at least the "
                               "disclosure threshold k (" + std::to_string(threshold) + ") and at most 100000, so every "
                               "batch written to the anonymous store hides each answer among at least k");
    }
    if (const double check = host.settings().value("mix_check_seconds", 10.0); !(check >= 0.01 && check <= 3600)) {
      throw std::runtime_error("[plugins.experience] mix_check_seconds must be between 0.01 and 3600");
    }
    registrar.addNavigationItem({"Staff survey", "/experience", kTake, 40});
    registrar.addNavigationItem({"Survey waves", "/experience/manage", kManage, 45});
    registrar.addHomeCards({kTake, 20, [&service](const Request&) {
                              std::vector<belonging::HomeCard> cards;
                              const std::string today = ExperienceService::today();
                              for (const auto& wave : service.waves.all()) {
                                // Shown even after the token is issued (on opening the page), since
                                // the server cannot and must not know whether they answered.
                                if (!wave.accepting(today)) continue;
                                cards.push_back({wave.name, "Tell us about your experience at work, anonymously. Open until " +
                                                                wave.closesOn + ".",
                                                 "/experience/waves/" + std::to_string(wave.id), "Take part"});
                              }
                              return cards;
                            }});
    registrar.setPrivacyManifest(
        {{{"survey participation",
           "That you were given your one-time token for a survey wave, so that you cannot be given a second. Not when, "
           "and nothing that links it to your answers, which are stored anonymously and are not personal data.",
           false, "while your account exists"}},
         [&service](std::int64_t userId) {
           json waves = json::array();
           for (const auto id : service.waves.wavesIssuedTo(userId)) {
             const auto wave = service.waves.find(id);
             waves.push_back({{"wave", wave ? wave->name : std::to_string(id)}, {"tokenIssued", true}});
           }
           return json{{"surveyWaves", waves},
                       {"note", "Your answers are anonymous: nothing links them to you, so they cannot be exported "
                                "or erased."}};
         },
         [&service](std::int64_t userId) { service.waves.eraseUser(userId); }});

    addStaffRoutes(service);
    addAnonymousRoutes(service);
    addAnalystRoutes(service);
    registrar.addCommand({"experience", "Staff experience surveys: paper codes (`belonging experience codes --help`)",
                          [&service](const std::vector<std::string>& arguments) { return runCommand(service, arguments); }});
    registrar.addDemoData([&service] { experience::seedDemo(service); });
  }

private:
  static void addStaffRoutes(ExperienceService& service) {
    experience::addRoute(service, {"GET", "/experience", kTake, false, false, [&service](const Request& request, Response& response) {
      const std::string today = ExperienceService::today();
      json open = json::array();
      for (const auto& wave : service.waves.all()) {
        if (!wave.accepting(today)) continue;
        json entry = waveData(wave, today);
        entry["takenPart"] = service.waves.wasIssued(wave.id, request.user->userId);
        open.push_back(entry);
      }
      service.host.renderer().page(request, response, "experience/waves", {{"waves", open}, {"none", open.empty()}},
                                   "Staff experience survey");
    }});
    experience::addRoute(service, {"GET", "/experience/waves/{id}", kTake, false, false, [&service](const Request& request, Response& response) {
      const Wave wave = service.requireWave(experience::idParam(request, "id"));
      const std::string today = ExperienceService::today();
      if (!wave.accepting(today)) throw ExperienceError(410, wave.name + " is not open. It runs from " + wave.opensOn + " to " + wave.closesOn + ".");
      json data = service.questionnaire(wave.questionnaireVersion).formData({});
      data["wave"] = waveData(wave, today);
      data["tokenMode"] = true;
      data["csrfToken"] = request.csrfToken;
      data["publicKey"] = wave.publicKey;
      data["tokenUrl"] = "/experience/waves/" + std::to_string(wave.id) + "/token";
      data["action"] = "/experience/submit";
      // The browser keeps the token it got when the page was first opened; if it has none,
      // the page says so (issued) instead of asking for a second.
      data["issued"] = service.waves.wasIssued(wave.id, request.user->userId) ? "true" : "false";
      data["mixOthers"] = service.mix().batch - 1;
      service.host.renderer().page(request, response, "experience/questionnaire", data, wave.name);
    }});
    experience::addRoute(service, {"POST", "/experience/waves/{id}/token", kTake, false, false, [&service](const Request& request, Response& response) {
      const std::int64_t waveId = experience::idParam(request, "id");
      json body = json::parse(request.body, nullptr, false);
      if (!body.is_object() || !body.contains("blindedMessage") || !body["blindedMessage"].is_string()) {
        throw ExperienceError(400, "Send a JSON object with blindedMessage (base64url).", "blindedMessage");
      }
      const std::string signature = service.issueToken(waveId, request.user->userId, body["blindedMessage"].get<std::string>());
      response.json({{"blindSignature", signature}});
    }});
  }

  static void addAnonymousRoutes(ExperienceService& service) {
    // Anonymous: no cookie, session, address or request id reaches these handlers, and the
    // access log keeps only the day's counts by route and status.
    experience::addRoute(service, {"POST", "/experience/submit", belonging::kPublic, true, true, [&service](const Request& request, Response& response) {
      json body = json::parse(request.body, nullptr, false);
      if (!body.is_object()) throw ExperienceError(400, "The request body must be a JSON object.");
      auto stringField = [&](const char* name) {
        const auto found = body.find(name);
        if (found == body.end() || !found->is_string()) {
          throw ExperienceError(400, std::string(name) + " must be a string", name);
        }
        return found->get<std::string>();
      };
      const auto wave = body.find("wave");
      if (wave == body.end() || !wave->is_number_integer()) throw ExperienceError(400, "wave must be the wave's number", "wave");
      const std::string token = stringField("token"), signature = stringField("signature");
      std::map<std::string, std::string> answers;
      if (const auto given = body.find("answers"); given != body.end()) {
        if (!given->is_object()) throw ExperienceError(400, "answers must be an object of question to answer", "answers");
        for (const auto& [question, value] : given->items()) {
          if (!value.is_string()) throw ExperienceError(422, "The answer to " + question + " must be a string", question);
          answers[question] = value.get<std::string>();
        }
      }
      const std::string comment = body.contains("comment") && body["comment"].is_string() ? body["comment"].get<std::string>() : "";
      service.submitWithToken(wave->get<std::int64_t>(), token, signature, answers, comment);
      // 202: spent and held in the pool; the receipt route says when the batch is stored.
      response.json({{"status", "received"}, {"batch", service.mix().batch}}, 202);
    }});
    // Whether the answers a token paid for are stored yet, for the browser that holds it. No
    // cookie and no signature: only the token's holder can name it.
    experience::addRoute(service, {"POST", "/experience/receipt", belonging::kPublic, true, true, [&service](const Request& request, Response& response) {
      json body = json::parse(request.body, nullptr, false);
      if (!body.is_object()) throw ExperienceError(400, "The request body must be a JSON object.");
      const auto wave = body.find("wave");
      if (wave == body.end() || !wave->is_number_integer()) throw ExperienceError(400, "wave must be the wave's number", "wave");
      const auto token = body.find("token");
      if (token == body.end() || !token->is_string()) throw ExperienceError(400, "token must be a string", "token");
      const auto status = service.receiptForToken(wave->get<std::int64_t>(), token->get<std::string>());
      response.json({{"status", experience::receiptName(status)}, {"batch", service.mix().batch}});
    }});
    experience::addRoute(service, {"GET", "/experience/code", belonging::kPublic, true, false, [&service](const Request& request, Response& response) {
      service.host.renderer().page(request, response, "experience/code", json::object(), "Use a paper code");
    }});
    experience::addRoute(service, {"POST", "/experience/code", belonging::kPublic, true, true, [&service](const Request& request, Response& response) {
      const std::string code = request.formValue("code");
      try {
        // A code already used shows where its answers are; one whose answers were lost with a
        // stopped server (or never sent) gets the form again.
        const Wave any = service.waveForCode(code, false);
        const auto status = service.receiptForCode(code);
        if (status == experience::ReceiptStatus::Stored || status == experience::ReceiptStatus::Pending ||
            (status == experience::ReceiptStatus::Lost && !any.accepting(ExperienceService::today()))) {
          json data{{"wave", waveData(any, ExperienceService::today())},
                    {"stored", status == experience::ReceiptStatus::Stored},
                    {"pending", status == experience::ReceiptStatus::Pending},
                    {"lost", status == experience::ReceiptStatus::Lost},
                    {"others", service.mix().batch - 1}};
          service.host.renderer().page(request, response, "experience/code-status", data, "Your code");
          return;
        }
        const Wave wave = service.waveForCode(code);
        json data = service.questionnaire(wave.questionnaireVersion).formData({});
        data["wave"] = waveData(wave, ExperienceService::today());
        data["code"] = code;
        data["action"] = "/experience/code/answers";
        service.host.renderer().page(request, response, "experience/questionnaire", data, wave.name);
      } catch (const ExperienceError& error) {
        if (error.status() != 400) throw;
        response.status = 400;
        service.host.renderer().page(request, response, "experience/code", {{"code", code}, {"error", error.what()}},
                                     "Use a paper code");
      }
    }});
    experience::addRoute(service, {"POST", "/experience/code/answers", belonging::kPublic, true, true, [&service](const Request& request, Response& response) {
      const std::string code = request.formValue("code");
      const auto answers = formAnswers(request);
      const std::string comment = request.formValue("comment");
      try {
        service.submitWithCode(code, answers, comment);
      } catch (const ExperienceError& error) {
        if (error.status() != 422) throw;
        // Show the form again with what they chose, the error summary and the field marked.
        const Wave wave = service.waveForCode(code);
        auto selected = answers;
        selected["comment"] = comment;
        json data = service.questionnaire(wave.questionnaireVersion).formData(selected, error.field(), error.what());
        data["wave"] = waveData(wave, ExperienceService::today());
        data["code"] = code;
        data["action"] = "/experience/code/answers";
        data["errorSummary"] = {{{"field", error.field()}, {"message", error.what()}}};
        data["hasErrors"] = true;
        response.status = 422;
        service.host.renderer().page(request, response, "experience/questionnaire", data, "Error: " + wave.name);
        return;
      }
      const Wave wave = service.waveForCode(code, false);
      service.host.renderer().page(request, response, "experience/recorded",
                                   {{"wave", waveData(wave, ExperienceService::today())},
                                    {"today", ExperienceService::today()},
                                    {"others", service.mix().batch - 1}},
                                   "Your answers have been received");
    }});
  }

  static void addAnalystRoutes(ExperienceService& service) {
    auto manage = [&service](const Request& request, Response& response, json form, int status) {
      const std::string today = ExperienceService::today();
      json waves = json::array();
      for (const auto& wave : service.waves.all()) waves.push_back(waveData(wave, today));
      form["waves"] = waves;
      form["hasWaves"] = !waves.empty();
      form["csrfToken"] = request.csrfToken;
      response.status = status;
      service.host.renderer().page(request, response, "experience/manage", form, "Survey waves");
    };
    experience::addRoute(service, {"GET", "/experience/manage", kManage, false, false, [manage](const Request& request, Response& response) {
      manage(request, response, json::object(), 200);
    }});
    experience::addRoute(service, {"POST", "/experience/manage", kManage, false, false, [&service, manage](const Request& request, Response& response) {
      const std::string name = request.formValue("name"), opensOn = request.formValue("opensOn"),
                        closesOn = request.formValue("closesOn");
      try {
        const auto id = service.createWave(name, opensOn, closesOn);
        service.host.audit().record(request, "experience.wave.create", "wave:" + std::to_string(id), name);
        response.flash.push_back({"success", "Created " + name + ". Open it when you are ready for staff to answer."});
        response.redirect("/experience/manage");
      } catch (const ExperienceError& error) {
        if (error.status() != 422) throw;
        manage(request, response,
               {{"name", name}, {"opensOn", opensOn}, {"closesOn", closesOn},
                {"errorSummary", {{{"field", error.field()}, {"message", error.what()}}}},
                {"hasErrors", true},
                {"error_" + error.field(), error.what()}},
               422);
      }
    }});
    experience::addRoute(service, {"POST", "/experience/manage/{id}/open", kManage, false, false, [&service](const Request& request, Response& response) {
      const auto id = experience::idParam(request, "id");
      service.openWave(id);
      service.host.audit().record(request, "experience.wave.open", "wave:" + std::to_string(id));
      response.flash.push_back({"success", "The wave is open: staff can answer between its dates."});
      response.redirect("/experience/manage");
    }});
    experience::addRoute(service, {"POST", "/experience/manage/{id}/close", kManage, false, false, [&service](const Request& request, Response& response) {
      const auto id = experience::idParam(request, "id");
      if (request.formValue("confirm") != "yes") {
        throw ExperienceError(422, "Tick the box to confirm: a closed wave cannot reopen.", "confirm");
      }
      const auto report = service.closeWave(id);
      service.host.audit().record(request, "experience.wave.close", "wave:" + std::to_string(id));
      response.flash.push_back({"success", "The wave is closed and its answers shuffled. Results are ready."});
      if (report.lost > 0) {
        response.flash.push_back({"warning", std::to_string(report.lost) + " submission(s) were received by a server that "
                                             "stopped before it could save them, and were not sent again before the close."});
      }
      response.redirect("/experience/waves/" + std::to_string(id) + "/results");
    }});
    experience::addRoute(service, {"GET", "/experience/waves/{id}/results", kResults, false, false, [&service](const Request& request, Response& response) {
      const Wave wave = service.requireWave(experience::idParam(request, "id"));
      auto results = experience::buildResults(service, wave);
      service.host.renderer().page(request, response, "experience/results", results.page, "Results: " + wave.name);
    }});
    experience::addRoute(service, {"GET", "/experience/waves/{id}/results.csv", kResults, false, false, [&service](const Request& request, Response& response) {
      const Wave wave = service.requireWave(experience::idParam(request, "id"));
      auto results = experience::buildResults(service, wave);
      service.host.audit().record(request, "experience.results.export", "wave:" + std::to_string(wave.id), "csv");
      response.attachment("wave-" + std::to_string(wave.id) + "-results.csv", "text/csv; charset=utf-8", results.csv);
    }});
    experience::addRoute(service, {"GET", "/experience/waves/{id}/results.json", kResults, false, false, [&service](const Request& request, Response& response) {
      const Wave wave = service.requireWave(experience::idParam(request, "id"));
      auto results = experience::buildResults(service, wave);
      service.host.audit().record(request, "experience.results.export", "wave:" + std::to_string(wave.id), "json");
      response.json(results.json);
    }});
    experience::addRoute(service, {"GET", "/experience/waves/{id}/comments", kResults, false, false, [&service](const Request& request, Response& response) {
      const Wave wave = service.requireWave(experience::idParam(request, "id"));
      if (wave.status != WaveStatus::Closed) {
        throw ExperienceError(409, "Comments are shown only after the wave closes.");
      }
      const int threshold = service.host.disclosure().policy().threshold;
      const auto count = service.anonymous.responseCount(wave.id);
      json data{{"wave", waveData(wave, ExperienceService::today())}, {"threshold", threshold}};
      if (count < threshold) {
        data["tooFew"] = true;
      } else {
        json comments = json::array();
        for (const auto& comment : service.anonymous.comments(wave.id)) comments.push_back({{"text", comment}});
        data["comments"] = comments;
        data["none"] = comments.empty();
        service.host.audit().record(request, "experience.comments.view", "wave:" + std::to_string(wave.id));
      }
      service.host.renderer().page(request, response, "experience/comments", data, "Comments: " + wave.name);
    }});
  }

  static int runCommand(ExperienceService& service, const std::vector<std::string>& arguments) {
    CLI::App app{"Staff experience surveys"};
    app.name("belonging experience");
    app.require_subcommand(1);
    std::int64_t waveId = 0;
    int count = 0;
    std::string output, sheet;
    auto* codes = app.add_subcommand("codes", "Make one-time paper codes for a wave; only their hashes are kept, "
                                              "so no one can tell who received which");
    codes->add_option("--wave", waveId, "The wave's number (see /experience/manage)")->required();
    codes->add_option("--count", count, "How many codes")->required()->check(CLI::Range(1, 100000));
    codes->add_option("-o,--output", output, "CSV file to write the codes to (refuses to overwrite)")->required();
    codes->add_option("--sheet", sheet, "Also write a printable HTML sheet of slips to cut out");
    auto* list = app.add_subcommand("waves", "List the waves");
    bool again = false;
    auto* close = app.add_subcommand("close", "Close a wave: write every server's pooled answers, shuffle and wipe the "
                                              "store's old order (--again repeats this after a failed close)");
    close->add_option("--wave", waveId, "The wave's number")->required();
    close->add_flag("--again", again, "Repeat the anonymous store's close for an already-closed wave");
    std::vector<std::string> reversed(arguments.rbegin(), arguments.rend());
    try {
      app.parse(reversed);
    } catch (const CLI::ParseError& error) {
      return app.exit(error) == 0 ? 0 : 2;
    }
    try {
      if (list->parsed()) {
        for (const auto& wave : service.waves.all()) {
          std::printf("%lld\t%s\t%s to %s\t%s\n", static_cast<long long>(wave.id), experience::statusName(wave.status),
                      wave.opensOn.c_str(), wave.closesOn.c_str(), wave.name.c_str());
        }
        return 0;
      }
      if (close->parsed()) {
        const auto report = service.closeWave(waveId, again);
        std::printf("Closed wave %lld: its answers are written and shuffled, and the store's old order is gone.\n",
                    static_cast<long long>(waveId));
        if (report.lost > 0) {
          std::printf("%lld submission(s) were received by a server that stopped before saving them and were not sent "
                      "again.\n", static_cast<long long>(report.lost));
        }
        return 0;
      }
      for (const auto& path : {output, sheet}) {
        if (!path.empty() && std::ifstream(path)) {
          std::fprintf(stderr, "belonging: %s already exists; choose another file name\n", path.c_str());
          return 2;
        }
      }
      const Wave wave = service.requireWave(waveId);
      const auto made = service.makePaperCodes(waveId, count);
      std::ofstream csv(output);
      csv << "code\r\n";
      for (const auto& code : made) csv << code << "\r\n";
      if (!csv.flush()) throw std::runtime_error("cannot write " + output);
      if (!sheet.empty()) {
        json slips = json::array();
        for (const auto& code : made) slips.push_back({{"code", code}});
        const std::string url = service.host.settings().value("public_url", std::string());
        std::ofstream html(sheet);
        html << service.host.renderer().render("experience/code-sheet",
                                               {{"wave", wave.name}, {"closesOn", wave.closesOn}, {"slips", slips},
                                                {"url", url.empty() ? std::string("the staff survey page on the intranet")
                                                                    : url + "/experience/code"}});
        if (!html.flush()) throw std::runtime_error("cannot write " + sheet);
      }
      std::printf("Wrote %d one-time codes for %s to %s%s%s. Only their hashes are stored: keep the file safe, "
                  "hand slips out at random, and delete the file once printed.\n",
                  count, wave.name.c_str(), output.c_str(), sheet.empty() ? "" : " and ", sheet.c_str());
      return 0;
    } catch (const ExperienceError& error) {
      std::fprintf(stderr, "belonging: %s\n", error.what());
      return error.status() == 422 || error.status() == 404 ? 2 : 1;
    } catch (const std::exception& error) {
      std::fprintf(stderr, "belonging: %s\n", error.what());
      return 1;
    }
  }

  std::unique_ptr<ExperienceService> service_;
};

} // namespace

BELONGING_PLUGIN(ExperiencePlugin, "experience", "0.1.0")
