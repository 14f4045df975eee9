#include "ExperienceService.hpp"

#include "PaperCodes.hpp"

#include <cstdlib>
#include <ctime>
#include <fstream>
#include <regex>

namespace experience {
namespace {

const std::vector<std::string> kDefaultDirectorates{"Corporate services", "Finance and performance",
                                                    "Nursing and quality", "Medical", "Operations",
                                                    "Strategy and transformation"};

bool validDate(const std::string& text) {
  static const std::regex kDate(R"((\d{4})-(\d{2})-(\d{2}))");
  std::smatch parts;
  if (!std::regex_match(text, parts, kDate)) return false;
  std::tm date{};
  date.tm_year = std::stoi(parts[1]) - 1900;
  date.tm_mon = std::stoi(parts[2]) - 1;
  date.tm_mday = std::stoi(parts[3]);
  date.tm_hour = 12;
  std::tm normalised = date;
  timegm(&normalised); // Rolls 2026-02-30 over to March: a changed day means no such date.
  return normalised.tm_mday == date.tm_mday && normalised.tm_mon == date.tm_mon;
}

} // namespace

bool RateLimit::full(const std::string& key) {
  const auto now = std::chrono::steady_clock::now();
  std::lock_guard lock(mutex_);
  const auto found = events_.find(key);
  if (found == events_.end()) return false;
  auto& events = found->second;
  while (!events.empty() && now - events.front() > window_) events.pop_front();
  return events.size() >= limit_;
}

bool RateLimit::allow(const std::string& key) {
  const auto now = std::chrono::steady_clock::now();
  std::lock_guard lock(mutex_);
  auto& events = events_[key];
  while (!events.empty() && now - events.front() > window_) events.pop_front();
  if (events.size() >= limit_) return false;
  events.push_back(now);
  // Once a window, forget keys with nothing inside it: a key per person who ever asked for a
  // token grew the map (and the soak's RSS) for as long as the server ran.
  if (now - lastPruned_ > window_) {
    std::erase_if(events_, [&](const auto& entry) { return entry.second.empty() || now - entry.second.back() > window_; });
    lastPruned_ = now;
  }
  return true;
}

ExperienceService::ExperienceService(belonging::Host& pluginHost)
    : host(pluginHost), waves(pluginHost.database()), anonymous(pluginHost.anonymousDatabase()) {}

void ExperienceService::configureLimits() {
  std::call_once(configured_, [this] {
    const auto& settings = host.settings();
    std::vector<std::string> directorates = settings.value("directorates", kDefaultDirectorates);
    if (directorates.empty()) directorates = kDefaultDirectorates;
    questionnaires_ = shippedQuestionnaires(directorates);
    failures_.setLimit(settings.value("failed_attempts_per_minute", std::size_t{600}));
    issuances_.setLimit(settings.value("token_requests_per_user_per_minute", std::size_t{10}));
    MixSettings mix;
    mix.batch = settings.value("mix_batch", std::size_t{20});
    mix.checkEvery = std::chrono::milliseconds(
        static_cast<std::int64_t>(1000.0 * settings.value("mix_check_seconds", 10.0)));
    mix.lease = std::chrono::seconds(settings.value("mix_lease_seconds", 60));
    anonymous.configure(mix);
  });
}

const MixSettings& ExperienceService::mix() {
  configureLimits();
  return anonymous.settings();
}

const Questionnaire& ExperienceService::questionnaire(int version) {
  configureLimits();
  const auto found = questionnaires_.find(version);
  if (found == questionnaires_.end()) {
    throw ExperienceError(500, "questionnaire version " + std::to_string(version) + " is not shipped with this release");
  }
  return found->second;
}

int ExperienceService::latestVersion() {
  configureLimits();
  return questionnaires_.rbegin()->first;
}

std::string ExperienceService::today() {
  const std::time_t now = std::time(nullptr);
  std::tm parts{};
  gmtime_r(&now, &parts);
  char buffer[16];
  std::strftime(buffer, sizeof(buffer), "%Y-%m-%d", &parts);
  return buffer;
}

Wave ExperienceService::requireWave(std::int64_t id) {
  auto wave = waves.find(id);
  if (!wave) throw ExperienceError(404, "There is no such survey wave.");
  return *wave;
}

KeyEncryptionKey ExperienceService::keyEncryptionKey() {
  // The environment wins, so a key need never be written into a config file.
  std::string hex;
  if (const char* fromEnvironment = std::getenv("BELONGING_EXPERIENCE_KEY"); fromEnvironment && *fromEnvironment) {
    hex = fromEnvironment;
  } else if (const std::string file = host.settings().value("key_file", std::string()); !file.empty()) {
    std::ifstream in(file);
    if (!in) throw ExperienceError(500, "cannot read the experience key file " + file);
    std::getline(in, hex);
  }
  while (!hex.empty() && (hex.back() == '\n' || hex.back() == '\r' || hex.back() == ' ')) hex.pop_back();
  if (hex.empty()) {
    throw ExperienceError(503, "Survey keys are not set up: set the BELONGING_EXPERIENCE_KEY environment variable "
                               "(64 hexadecimal characters, e.g. from `openssl rand -hex 32`) or [plugins.experience] "
                               "key_file.");
  }
  try {
    return KeyEncryptionKey::fromHex(hex);
  } catch (const BlindRsaError& error) {
    throw ExperienceError(503, std::string("The survey key-encryption key is not valid: ") + error.what());
  }
}

std::int64_t ExperienceService::createWave(const std::string& name, const std::string& opensOn,
                                           const std::string& closesOn) {
  if (name.empty()) throw ExperienceError(422, "Enter a name for the wave", "name");
  if (name.size() > 120) throw ExperienceError(422, "The name must be 120 characters or fewer", "name");
  if (!validDate(opensOn)) throw ExperienceError(422, "Enter the opening date as a real date, YYYY-MM-DD", "opensOn");
  if (!validDate(closesOn)) throw ExperienceError(422, "Enter the closing date as a real date, YYYY-MM-DD", "closesOn");
  if (closesOn < opensOn) throw ExperienceError(422, "The closing date must be on or after the opening date", "closesOn");
  for (const auto& existing : waves.all()) {
    if (existing.name == name) throw ExperienceError(422, "A wave called \"" + name + "\" already exists", "name");
  }
  const WaveKey key = generateWaveKey(keyEncryptionKey());
  Wave wave;
  wave.name = name;
  wave.opensOn = opensOn;
  wave.closesOn = closesOn;
  wave.questionnaireVersion = latestVersion();
  wave.publicKey = base64UrlEncode(key.publicKeySpki);
  wave.encryptedPrivateKey = base64UrlEncode(key.encryptedPrivateKey);
  return waves.create(wave);
}

void ExperienceService::openWave(std::int64_t id) {
  const Wave wave = requireWave(id);
  if (wave.status == WaveStatus::Closed) {
    throw ExperienceError(409, "This wave is closed; a closed wave cannot reopen, because its answers have been "
                               "shuffled and published.");
  }
  anonymous.openWave(id);
  waves.setStatus(id, WaveStatus::Open);
}

CloseReport ExperienceService::closeWave(std::int64_t id, bool again) {
  configureLimits();
  const Wave wave = requireWave(id);
  if (wave.status == WaveStatus::Closed && !again) throw ExperienceError(409, "This wave is already closed.");
  if (wave.status != WaveStatus::Closed && again) throw ExperienceError(409, "This wave is not closed yet.");
  // Identified side first, so no new tokens are issued; then the anonymous side stops taking
  // submissions, writes every pool, and shuffles.
  waves.setStatus(id, WaveStatus::Closed);
  {
    std::lock_guard lock(keysMutex_);
    signers_.erase(id);
  }
  return anonymous.closeWave(id);
}

std::shared_ptr<const BlindSigner> ExperienceService::signer(const Wave& wave) {
  std::lock_guard lock(keysMutex_);
  auto& cached = signers_[wave.id];
  if (!cached) {
    try {
      cached = std::make_shared<const BlindSigner>(
          BlindSigner::fromEncrypted(base64UrlDecode(wave.encryptedPrivateKey), keyEncryptionKey()));
    } catch (const BlindRsaError& error) {
      signers_.erase(wave.id);
      throw ExperienceError(503, std::string("This wave's signing key cannot be used: ") + error.what());
    }
  }
  return cached;
}

std::shared_ptr<const BlindVerifier> ExperienceService::verifier(const Wave& wave) {
  std::lock_guard lock(keysMutex_);
  auto& cached = verifiers_[wave.id];
  if (!cached) cached = std::make_shared<const BlindVerifier>(BlindVerifier::fromSpki(base64UrlDecode(wave.publicKey)));
  return cached;
}

std::string ExperienceService::issueToken(std::int64_t waveId, std::int64_t userId, const std::string& blindedMessage) {
  if (!issuances_.allow(std::to_string(userId))) {
    throw ExperienceError(429, "Too many requests: wait a minute and try again.");
  }
  const auto found = waves.findRecent(waveId);
  if (!found) throw ExperienceError(404, "There is no such survey wave.");
  const Wave& wave = *found;
  if (!wave.accepting(today())) throw ExperienceError(410, "This survey is not open.");
  Bytes blinded;
  try {
    blinded = base64UrlDecode(blindedMessage);
  } catch (const BlindRsaError& error) {
    throw ExperienceError(400, std::string("blindedMessage is not base64url: ") + error.what(), "blindedMessage");
  }
  const auto key = signer(wave);
  if (blinded.size() != key->modulusBytes()) {
    throw ExperienceError(400, "blindedMessage must be " + std::to_string(key->modulusBytes()) + " bytes, not " +
                                   std::to_string(blinded.size()), "blindedMessage");
  }
  std::optional<std::string> signature;
  try {
    signature = waves.issue(waveId, userId, [&] { return base64UrlEncode(key->blindSign(blinded)); });
  } catch (const BlindRsaError& error) {
    throw ExperienceError(400, std::string("blindedMessage cannot be signed: ") + error.what(), "blindedMessage");
  }
  if (!signature) {
    throw ExperienceError(409, "You have already been given your one-time survey token for this wave, so you cannot "
                               "take part again. If your answers did not go through, ask the People team for a "
                               "paper code.");
  }
  return *signature;
}

std::pair<std::string, std::string> ExperienceService::checkedAnswers(const Wave& wave,
                                                                      const std::map<std::string, std::string>& answers,
                                                                      const std::string& comment) {
  const Questionnaire& asked = questionnaire(wave.questionnaireVersion);
  try {
    const auto stored = asked.validate(answers);
    nlohmann::json json = nlohmann::json::object();
    for (const auto& [question, value] : stored) json[question] = value;
    return {json.dump(), asked.cleanComment(comment)};
  } catch (const AnswerError& error) {
    throw ExperienceError(422, error.what(), error.field());
  }
}

ExperienceError ExperienceService::invalid(int status, const std::string& message, const std::string& field) {
  if (!failures_.allow()) return ExperienceError(429, "Too many invalid attempts: wait a minute and try again.", field);
  return ExperienceError(status, message, field);
}

void ExperienceService::store(Submission submission) {
  configureLimits();
  static const char* kSpent = "These answers have already been recorded: each token or code can be used once.";
  const std::string hash = submission.credentialHash;
  if (knownSpent_.full(hash)) throw ExperienceError(409, kSpent);
  switch (anonymous.submit(std::move(submission))) {
  case SubmitOutcome::Received: return;
  case SubmitOutcome::AlreadySpent: knownSpent_.allow(hash); throw ExperienceError(409, kSpent);
  // Not remembered: if the instance holding it stops, the same credential is good once more.
  case SubmitOutcome::HeldElsewhere: throw ExperienceError(409, kSpent);
  case SubmitOutcome::NotOpen: throw ExperienceError(410, "This survey has closed.");
  case SubmitOutcome::UnknownCode:
    throw invalid(400, "That code is not recognised: check it against your slip, or ask for another.", "code");
  }
}

void ExperienceService::submitWithToken(std::int64_t waveId, const std::string& token, const std::string& signature,
                                        const std::map<std::string, std::string>& answers, const std::string& comment) {
  const auto wave = waves.findRecent(waveId);
  if (!wave) throw ExperienceError(400, "wave is not a survey wave");
  Bytes prepared, signatureBytes;
  try {
    prepared = base64UrlDecode(token);
    signatureBytes = base64UrlDecode(signature);
  } catch (const BlindRsaError& error) {
    throw ExperienceError(400, std::string("token and signature must be base64url: ") + error.what());
  }
  if (prepared.size() < 32 || prepared.size() > 512) {
    throw ExperienceError(400, "token must be between 32 and 512 bytes", "token");
  }
  // The signature is checked before any limit is consulted (a verify costs about 20 µs), so
  // however many forgeries arrive, a real token is never refused because of them.
  if (!verifier(*wave)->verify(prepared, signatureBytes, kSaltLength)) {
    throw invalid(400, "The token's signature is not valid for this wave.", "signature");
  }
  if (!wave->accepting(today())) throw ExperienceError(410, "This survey is not open.");
  auto [json, cleanComment] = checkedAnswers(*wave, answers, comment);
  // Hash the canonical form of the token's bytes, so "abc" and "abc=" are one token.
  store({waveId, wave->questionnaireVersion, credentialHash("token", waveId, base64UrlEncode(prepared)), std::nullopt, std::move(json),
         std::move(cleanComment)});
}

Wave ExperienceService::waveForCode(const std::string& typedCode, bool mustBeOpen) {
  std::string error;
  const auto code = normalisePaperCode(typedCode, error);
  if (!code) throw ExperienceError(400, error, "code");
  // Looked up before any limit is consulted (a hash and an indexed read per wave), so however
  // many codes are guessed, a real one is never refused because of them; at 87 bits a code
  // cannot be guessed anyway.
  // A code's hash is salted with its wave, so try each wave that is taking part.
  for (const auto& wave : waves.all()) {
    if (wave.status == WaveStatus::Draft) continue;
    if (anonymous.waveOfCode(credentialHash("code", wave.id, *code))) {
      if (mustBeOpen && !wave.accepting(today())) throw ExperienceError(410, "The survey this code is for (" + wave.name + ") is not open.");
      return wave;
    }
  }
  throw invalid(400, "That code is not recognised: check it against your slip, or ask for another.", "code");
}

void ExperienceService::submitWithCode(const std::string& typedCode, const std::map<std::string, std::string>& answers,
                                       const std::string& comment) {
  const Wave wave = waveForCode(typedCode);
  std::string error;
  const std::string code = *normalisePaperCode(typedCode, error);
  auto [json, cleanComment] = checkedAnswers(wave, answers, comment);
  const std::string hash = credentialHash("code", wave.id, code);
  store({wave.id, wave.questionnaireVersion, hash, hash, std::move(json), std::move(cleanComment)});
}

ReceiptStatus ExperienceService::receiptForToken(std::int64_t waveId, const std::string& token) {
  Bytes prepared;
  try {
    prepared = base64UrlDecode(token);
  } catch (const BlindRsaError& error) {
    throw ExperienceError(400, std::string("token must be base64url: ") + error.what(), "token");
  }
  if (prepared.size() < 32 || prepared.size() > 512) throw ExperienceError(400, "token must be between 32 and 512 bytes", "token");
  return anonymous.receipt(credentialHash("token", waveId, base64UrlEncode(prepared)));
}

ReceiptStatus ExperienceService::receiptForCode(const std::string& typedCode) {
  const Wave wave = waveForCode(typedCode, false);
  std::string error;
  return anonymous.receipt(credentialHash("code", wave.id, *normalisePaperCode(typedCode, error)));
}

std::vector<std::string> ExperienceService::makePaperCodes(std::int64_t waveId, int count) {
  const Wave wave = requireWave(waveId);
  if (wave.status == WaveStatus::Closed) throw ExperienceError(409, "Wave " + wave.name + " is closed.");
  if (count < 1 || count > 100000) throw ExperienceError(422, "--count must be between 1 and 100000", "count");
  std::vector<std::string> codes, hashes;
  std::string error;
  for (int i = 0; i < count; ++i) {
    codes.push_back(generatePaperCode());
    hashes.push_back(credentialHash("code", waveId, *normalisePaperCode(codes.back(), error)));
  }
  anonymous.addCodes(waveId, hashes);
  return codes;
}

void addRoute(ExperienceService& service, belonging::Route route) {
  route.handler = [&service, handler = std::move(route.handler)](const belonging::Request& request,
                                                                  belonging::Response& response) {
    try {
      handler(request, response);
    } catch (const ExperienceError& error) {
      const int status = error.status();
      if (request.wantsJson() || request.header("content-type").starts_with("application/json")) {
        nlohmann::json body{{"error", error.what()}};
        if (!error.field().empty()) body["field"] = error.field();
        response.json(body, status);
        if (status == 429) response.headers.emplace_back("Retry-After", "60");
        return;
      }
      const char* heading = status == 404   ? "Page not found"
                            : status == 403 ? "You cannot do this"
                            : status == 409 ? "This cannot be done"
                            : status == 410 ? "This survey is not open"
                            : status == 429 ? "Too many attempts"
                                            : "There is a problem";
      service.host.renderer().errorPage(request, response, status, heading, error.what());
    }
  };
  service.host.registrar().addRoute(std::move(route));
}

std::int64_t idParam(const belonging::Request& request, const std::string& name) {
  const std::string text = request.param(name);
  if (text.empty() || text.size() > 18 || text.find_first_not_of("0123456789") != std::string::npos) {
    throw ExperienceError(404, "There is no such survey wave.");
  }
  return std::stoll(text);
}

} // namespace experience
