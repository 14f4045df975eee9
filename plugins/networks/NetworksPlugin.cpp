// Staff networks: a directory, joining and leaving with consent, member lists for the people
// who run a network, announcements and events, administration, and membership figures for
// the People team through disclosure control. Membership is special category data (DESIGN §5).

#include "NetworksContext.hpp"

#include <belonging/Plugin.hpp>

#include <memory>

extern const belonging::EmbeddedFile networksTemplates[];

namespace {

using belonging::Request;
using belonging::Response;
using networks::Network;
using networks::NetworksContext;

struct DemoNetwork {
  const char* slug;
  const char* name;
  const char* summary;
  const char* purpose;
  const char* whoFor;
  bool alliesWelcome;
  const char* meetingPattern;
  const char* visibility;
  int members; ///< Demo colleagues who are members.
  int allies;
};

// Demo networks: names the NHS uses (the seeds name the first two). Numbers are made up.
const DemoNetwork kDemoNetworks[] = {
    {"ethnic-diverse-group", "Ethnic Diverse Group",
     "A network for colleagues from Black, Asian and minority ethnic backgrounds.",
     "A place to come together, share experiences and have a voice that is heard by the board, and to "
     "work with the People team on the Workforce Race Equality Standard.",
     "Colleagues who identify as being from a Black, Asian or minority ethnic background.", true,
     "Every other Wednesday, 12:30 to 13:30, on Teams", "open", 34, 12},
    {"disability-neurodiverse", "Disability and Neurodiverse Network",
     "Support and a voice for disabled and neurodivergent colleagues and those with long-term conditions.",
     "Peer support, reasonable-adjustment advice and a voice on the Workforce Disability Equality Standard.",
     "Colleagues who are disabled, neurodivergent or live with a long-term condition, whether or not they have told "
     "their manager.", true, "First Tuesday of the month, 13:00 to 14:00, hybrid", "confidential", 27, 8},
    {"lgbtq", "LGBTQ+ Network", "A safe space for lesbian, gay, bisexual, trans and queer colleagues and their allies.",
     "Visibility, peer support and advice on inclusive care and policies; Pride events each summer.",
     "Colleagues who are lesbian, gay, bisexual, trans, queer or questioning; allies are welcome.", true,
     "Monthly, third Thursday, 17:30, in the staff restaurant or online", "confidential", 23, 15},
    {"womens", "Women's Network", "Connecting and championing women across the organisation.",
     "Career development, mentoring and a voice on the gender pay gap.", "Colleagues who identify as women.", true,
     "Quarterly lunch-and-learn sessions", "open", 41, 6},
    {"carers", "Carers Network", "For colleagues who look after someone outside work.",
     "Peer support, carers' passports and flexible-working advice.",
     "Anyone who cares for a family member, partner or friend.", true, "Monthly coffee morning, online", "open", 19, 3},
    {"armed-forces", "Armed Forces Network", "For veterans, reservists and military families working here.",
     "Supports the Armed Forces Covenant and the Veteran Aware accreditation.",
     "Veterans, reservists, cadet instructors and their families.", true, "Every two months", "open", 12, 4},
    {"faith", "Faith Network", "Colleagues of all faiths and none, sharing and learning together.",
     "Prayer and quiet room provision, faith calendar awareness, interfaith events.",
     "Colleagues of any faith or belief.", true, "Monthly, online", "confidential", 15, 5},
    {"menopause", "Menopause Support Network", "Peer support and information about the menopause at work.",
     "Peer support sessions and advice on adjustments, with the Menopause Ambassadors.",
     "Anyone affected by the menopause, directly or as a partner, friend or manager.", true,
     "Monthly peer-support sessions", "open", 22, 9},
};

class NetworksPlugin final : public belonging::Plugin {
public:
  void load(belonging::Host& host) override {
    context_ = std::make_unique<NetworksContext>(host);
    NetworksContext& context = *context_;
    auto& registrar = host.registrar();
    registrar.addTemplates(networksTemplates);
    for (auto& migration : networks::NetworkStore::migrations()) registrar.addMigration(std::move(migration));

    registrar.addPermission({"networks.members",
                             "See member lists and export them (still only of the networks you chair or sponsor, "
                             "or, for open networks you belong to, the members who chose to be seen)",
                             {"staff", "network-chair"}});
    // Sponsors hold only the staff role, so staff get it too; it opens only networks one leads.
    registrar.addPermission({networks::kPostsPermission,
                             "Post events and announcements to the networks you chair or sponsor, and delete their posts",
                             {"staff", "network-chair"}});
    registrar.addPermission({"networks.manage",
                             "Create, edit and archive staff networks and appoint their chairs and sponsors "
                             "(not see who belongs to them)",
                             {"admin"}});
    registrar.addPermission({"networks.report",
                             "See staff-network membership figures by month (disclosure-controlled)",
                             {"people-analyst"}});
    registrar.addNavigationItem({"Staff networks", "/networks", belonging::kSignedIn, 20});
    registrar.addNavigationItem({"Network membership", "/networks/report", "networks.report", 700});
    registrar.addNavigationItem({"Manage networks", "/networks/manage", "networks.manage", 800});

    registrar.addHomeCards({belonging::kSignedIn, 20, [&context](const Request& request) {
      std::vector<belonging::HomeCard> cards;
      for (const auto& [network, post] : context.store.upcomingEventsFor(request.user->userId, NetworksContext::today(), 2)) {
        const auto data = networks::postData(post);
        cards.push_back({post.title, network.name + ": " + data["when"].get<std::string>() +
                                         (post.place.empty() ? "" : ", " + post.place),
                         "/networks/" + network.slug, "See the event"});
      }
      cards.push_back({"Staff networks",
                       "Find a staff network and join as a member or an ally. Who belongs is kept confidential.",
                       "/networks", "Find a staff network"});
      return cards;
    }});

    // Admin first: its literal /networks/manage and /networks/report must match before the
    // staff routes' /networks/{slug}.
    networks::registerAdminRoutes(context);
    networks::registerStaffRoutes(context);
    networks::registerLeadRoutes(context);
    networks::registerApiRoutes(context);

    registrar.setPrivacyManifest(
        {{{"staff network membership",
           "Which staff networks you belong to, as a member or an ally; whether other members may see your name; "
           "and the version of the membership statement you agreed to and when. Membership of some networks can "
           "reveal your health, ethnicity, religion or sexual orientation.",
           true, "until you leave the network or your account is disabled, then deleted at once"},
          {"staff network records",
           "For each network you have ever joined, a record holding a random number, kept after you leave: the "
           "membership figures count people by it, so leaving and rejoining is not mistaken for a new person. "
           "It holds no kind, consent or date.",
           true, "until you erase your network data or your account is disabled, then deleted at once"},
          {"network sponsorship", "If you are a network's executive sponsor, that appointment.", false,
           "until an administrator removes it or your account is disabled"}},
         [&context](std::int64_t userId) { return context.exportUserData(userId); },
         [&context](std::int64_t userId) { context.store.eraseUser(userId); }});

    registrar.addDemoData([&context] { seedDemo(context); });
  }

private:
  static void seedDemo(NetworksContext& context) {
    auto& users = context.host.users();
    const auto sponsor = users.findByUsername("sponsor");
    std::vector<std::int64_t> colleagues;
    for (int number = 1; number <= 120; ++number) {
      char username[32];
      std::snprintf(username, sizeof(username), "colleague%03d", number);
      if (auto user = users.findByUsername(username)) colleagues.push_back(user->id);
    }
    std::size_t next = 0;
    for (const DemoNetwork& demo : kDemoNetworks) {
      auto network = context.store.find(demo.slug);
      if (!network) {
        Network created;
        created.slug = demo.slug;
        created.name = demo.name;
        created.summary = demo.summary;
        created.purpose = demo.purpose;
        created.whoFor = demo.whoFor;
        created.alliesWelcome = demo.alliesWelcome;
        created.contactEmail = std::string(demo.slug) + "@example.nhs.uk";
        created.meetingPattern = demo.meetingPattern;
        created.visibility = demo.visibility;
        if (sponsor && (std::string(demo.slug) == "lgbtq" || std::string(demo.slug) == "disability-neurodiverse")) {
          created.sponsorUserId = sponsor->id;
        }
        created.id = context.store.create(created);
        network = created;
        // Colleagues overlap between networks, as people do.
        for (int i = 0; i < demo.members + demo.allies && !colleagues.empty(); ++i) {
          networks::Membership membership;
          membership.networkId = created.id;
          membership.userId = colleagues[next++ % colleagues.size()];
          membership.kind = i < demo.members ? "member" : "ally";
          membership.visible = i % 3 == 0;
          membership.consentVersion = networks::kConsentVersion;
          membership.consentedAt = static_cast<std::int64_t>(std::time(nullptr));
          context.store.join(membership);
        }
        next += 7;
        if (network->slug == "lgbtq") {
          networks::Post event;
          event.networkId = created.id;
          event.kind = "event";
          event.title = "Pride planning meeting";
          event.body = "Help plan this year's Pride stall and the staff march. Everyone welcome, allies too.";
          const std::time_t inTwoWeeks = std::time(nullptr) + 14 * 86400;
          std::tm parts{};
          gmtime_r(&inTwoWeeks, &parts);
          char date[16];
          std::strftime(date, sizeof(date), "%Y-%m-%d", &parts);
          event.eventDate = date;
          event.startTime = "17:30";
          event.endTime = "18:30";
          event.place = "Seminar room 2, education centre";
          event.onlineLink = "https://teams.example.nhs.uk/lgbtq-pride";
          event.accessibility = "Step-free access; hearing loop; captions on the Teams call.";
          event.postedOn = NetworksContext::today();
          context.store.addPost(event);
        }
      }
    }
  }

  std::unique_ptr<NetworksContext> context_;
};

} // namespace

BELONGING_PLUGIN(NetworksPlugin, "networks", "0.1.0")
