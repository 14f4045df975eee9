#include <belonging/Plugin.hpp>

extern const belonging::EmbeddedFile helloTemplates[];

namespace {
class Hello final : public belonging::Plugin {
public:
  void load(belonging::Host& host) override {
    host.registrar().addTemplates(helloTemplates);
    host.registrar().addRoute({"GET", "/hello", belonging::kPublic, false, false,
                               [&host](const belonging::Request& request, belonging::Response& response) {
      host.renderer().page(request, response, "hello/greeting", {{"name", "out-of-tree plugin"}}, "Hello");
    }});
    host.registrar().setPrivacyManifest({});
  }
};
} // namespace

BELONGING_PLUGIN(Hello, "hello", "1.0.0")
