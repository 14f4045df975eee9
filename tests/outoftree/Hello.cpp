#include <belonging/Plugin.hpp>

extern const belonging::EmbeddedFile helloTemplates[];

namespace {
class Hello final : public belonging::Plugin {
public:
  void load(belonging::Host& host) override {
    host.registrar().addTemplates(helloTemplates);
    host.registrar().addRoute({"GET", "/hello", belonging::kPublic, false, false,
                               [&host](const belonging::Request& request, belonging::Response& response) {
      // A figure about people, released through the SDK's disclosure control: 3 is fewer than k.
      belonging::Table table({{"Band", {"Band 5", "Band 6"}}});
      table.add({"Band 5"}, 3);
      table.add({"Band 6"}, 40);
      const auto released = host.disclosure().releaseCounts(table);
      const auto figure = host.renderer().render(
          "core/figure", belonging::templateData(released.figure({0}), released.policy()));
      host.renderer().page(request, response, "hello/greeting", {{"name", "out-of-tree plugin"}, {"figure", figure}}, "Hello");
    }});
    host.registrar().setPrivacyManifest({});
  }
};
} // namespace

BELONGING_PLUGIN(Hello, "hello", "1.0.0")
