// Labelled and hierarchical tables, rounding, zeros, ledger flags, rates and how figures are
// shown (Disclosure.hpp). Every suppressed table here also goes through the GLPK auditor.

#include "MustacheRenderer.hpp"
#include "Registry.hpp"
#include "TableAuditor.hpp"

#include "belonging/Disclosure.hpp"

#include <catch2/catch.hpp>

#include <random>
#include <set>

extern const belonging::EmbeddedFile belongingCoreTemplates[];

using namespace belonging;
using belonging::testing::auditTable;
using belonging::testing::formatTable;

namespace {

using Cell = std::vector<std::size_t>;

/** Pay bands grouped into the AfC clusters of the staff survey. */
Dimension bands() {
  return {"Pay band",
          {"Band 2", "Band 3", "Band 4", "Band 5", "Band 6", "Band 7", "Band 8a", "Band 8b"},
          {"AfC 1-4", "AfC 1-4", "AfC 1-4", "AfC 5-7", "AfC 5-7", "AfC 5-7", "AfC 8a-8b", "AfC 8a-8b"},
          "All bands"};
}

Dimension ethnicity() { return {"Ethnicity", {"White", "BME"}, {}, "Total"}; }

ReleasedTable suppressAndAudit(const Table& table, const DisclosurePolicy& policy) {
  ReleasedTable released = suppress(table, policy);
  const auto audit = auditTable(released.flat(), policy);
  INFO(formatTable(released.flat()) << audit.describe());
  REQUIRE(audit.passed());
  return released;
}

std::size_t find(const Table& table, std::size_t dimension, const std::string& label) {
  const auto& positions = table.positions(dimension);
  for (std::size_t i = 0; i < positions.size(); ++i) {
    if (positions[i].label == label) return i;
  }
  FAIL("no position " << label);
  return 0;
}

} // namespace

TEST_CASE("disclosure table: a grouped dimension lists each group's subtotal, its categories, then the total",
          "[core][disclosure]") {
  Table table({bands()});
  const auto& positions = table.positions(0);
  REQUIRE(positions.size() == 3 + 8 + 1);
  CHECK(positions[0].label == "AfC 1-4");
  CHECK(positions[0].kind == Position::Kind::Group);
  CHECK(positions[1].label == "Band 2");
  CHECK(positions[1].depth == 1);
  CHECK(positions[4].label == "AfC 5-7");
  CHECK(positions.back().label == "All bands");
  CHECK(positions.back().kind == Position::Kind::Total);
  table.add({"Band 5"}, 30);
  table.add({"Band 6"}, 12);
  table.add({"Band 2"}, 4);
  CHECK(table.count({find(table, 0, "AfC 5-7")}) == 42);
  CHECK(table.count({find(table, 0, "AfC 1-4")}) == 4);
  CHECK(table.count({find(table, 0, "All bands")}) == 46);
  CHECK(table.describe({find(table, 0, "Band 6")}) == "Pay band=Band 6");
}

TEST_CASE("disclosure table: bad dimensions and labels are refused by name", "[core][disclosure]") {
  CHECK_THROWS_WITH(Table({{"Band", {"A", "B"}, {"X"}, "Total"}}), Catch::Contains("needs one group per category (2), not 1"));
  CHECK_THROWS_WITH(Table({{"Band", {"A", "B", "C"}, {"X", "Y", "X"}, "Total"}}),
                    Catch::Contains("the categories of group \"X\" must be listed together"));
  CHECK_THROWS_WITH(Table({{"Band", {"A", "A"}, {}, "Total"}}), Catch::Contains("lists a category twice"));
  CHECK_THROWS_WITH(Table({}), Catch::Contains("1 to 3 dimensions"));
  Table table({ethnicity()});
  CHECK_THROWS_WITH(table.add({"Green"}), Catch::Contains("\"Green\" is not a category of Ethnicity"));
  CHECK_THROWS_WITH(table.add({"White"}, -1), Catch::Contains("cannot be negative"));
}

TEST_CASE("disclosure table: a small band is protected within its cluster and overall", "[core][disclosure]") {
  Table table({bands(), ethnicity()});
  const std::vector<std::pair<std::string, std::pair<int, int>>> counts{
      {"Band 2", {40, 20}}, {"Band 3", {35, 3}}, {"Band 4", {50, 30}}, {"Band 5", {60, 45}},
      {"Band 6", {55, 25}}, {"Band 7", {30, 14}}, {"Band 8a", {20, 12}}, {"Band 8b", {15, 11}}};
  for (const auto& [band, pair] : counts) {
    table.add({band, "White"}, pair.first);
    table.add({band, "BME"}, pair.second);
  }
  const auto released = suppressAndAudit(table, {});
  const std::size_t band3 = find(table, 0, "Band 3"), bme = find(table, 1, "BME");
  CHECK(released.status({band3, bme}) == CellStatus::Primary);
  CHECK_FALSE(released.value({band3, bme}));
  // The cluster subtotal and the band total are released, so something else in the cluster
  // must be hidden too: more than the one primary cell.
  CHECK(released.cells(CellStatus::Secondary) >= 3);
  CHECK(released.value({find(table, 0, "All bands"), find(table, 1, "Total")}) == 465);
}

TEST_CASE("disclosure audit: 600 random hierarchical tables", "[core][disclosure]") {
  std::mt19937 random(20261121);
  for (int round = 0; round < 600; ++round) {
    std::vector<Dimension> dimensions;
    const int count = 1 + static_cast<int>(random() % 2);
    for (int d = 0; d < count; ++d) {
      Dimension dimension{"D" + std::to_string(d), {}, {}, "Total"};
      const bool grouped = d == 0 || random() % 2 == 0;
      const std::size_t groups = 1 + random() % 3;
      for (std::size_t g = 0; g < groups; ++g) {
        const std::size_t members = 1 + random() % 3;
        for (std::size_t m = 0; m < members; ++m) {
          dimension.categories.push_back("c" + std::to_string(dimension.categories.size()));
          if (grouped) dimension.groups.push_back("g" + std::to_string(g));
        }
      }
      dimensions.push_back(std::move(dimension));
    }
    Table table(dimensions);
    for (const auto& row : dimensions[0].categories) {
      auto pick = [&] {
        const auto kind = random() % 4;
        return static_cast<std::int64_t>(kind == 0 ? 0 : kind == 1 ? 1 + random() % 10 : random() % 60);
      };
      if (count == 1) {
        table.add({row}, pick());
      } else {
        for (const auto& column : dimensions[1].categories) table.add({row, column}, pick());
      }
    }
    DisclosurePolicy policy;
    policy.threshold = random() % 2 ? 11 : 5;
    INFO("round " << round);
    suppressAndAudit(table, policy);
  }
}

TEST_CASE("disclosure: rounding marks every released count and rounds to the nearest 5", "[core][disclosure]") {
  Table table({{"Group", {"A", "B", "C", "D"}, {}, "Total"}});
  table.add({"A"}, 42);
  table.add({"B"}, 13);
  table.add({"C"}, 0);
  table.add({"D"}, 27);
  DisclosurePolicy policy;
  policy.roundTo = 5;
  const auto released = suppressAndAudit(table, policy);
  CHECK(released.status({0}) == CellStatus::Rounded);
  CHECK(released.value({0}) == 40);
  CHECK(released.value({1}) == 15);
  CHECK(released.value({2}) == 0);
  CHECK(released.value({3}) == 25);
  CHECK(released.value({4}) == 80); // 82
  CHECK(roundCount(12, 5) == 10);
  CHECK(roundCount(15, 10) == 20);
  CHECK(displayText(released.figure({0}), policy).hint == "rounded to the nearest 5");
}

TEST_CASE("disclosure: zeros are withheld when the policy hides them", "[core][disclosure]") {
  Table table({{"Group", {"A", "B", "C"}, {}, "Total"}});
  table.add({"A"}, 42);
  table.add({"C"}, 20);
  DisclosurePolicy policy;
  policy.showZeros = false;
  const auto released = suppressAndAudit(table, policy);
  CHECK(released.status({1}) == CellStatus::Withheld);
  CHECK(csvText(released.figure({1})) == "*");
  CHECK(released.value({0}) == 42);
  policy.showZeros = true;
  CHECK(suppress(table, policy).value({1}) == 0);
}

TEST_CASE("disclosure: a table held back by the ledger hides every cell alike", "[core][disclosure]") {
  Table table({bands(), ethnicity()});
  table.add({"Band 5", "White"}, 31);
  table.add({"Band 6", "BME"}, 3);
  const auto held = holdBack(table, {});
  for (const auto& cell : table.allPositions()) {
    INFO(table.describe(cell));
    CHECK(held.status(cell) == CellStatus::Differencing);
    CHECK_FALSE(held.value(cell));
  }
  CHECK(held.figure({0, 0}).reason == kHiddenExplanation);
}

TEST_CASE("disclosure: the policy refuses a threshold below 5 and odd rounding", "[core][disclosure]") {
  CHECK_THROWS_WITH(validatePolicy({4, 0, true, true}), Catch::Contains("at least 5, not 4"));
  CHECK_THROWS_WITH(validatePolicy({11, 3, true, true}), Catch::Contains("must be 0 (off), 5 or 10, not 3"));
  CHECK_NOTHROW(validatePolicy({5, 10, false, true}));
}

TEST_CASE("disclosure: a rate is released only when every count in it is", "[core][disclosure]") {
  Table table({{"Ethnicity", {"White", "BME"}, {}, "Total"}, {"Harassed", {"Yes", "No"}, {}, "Total"}});
  table.add({"White", "Yes"}, 30);
  table.add({"White", "No"}, 90);
  table.add({"BME", "Yes"}, 4);
  table.add({"BME", "No"}, 36);
  const auto released = suppressAndAudit(table, {});
  const Cell whiteYes{0, 0}, whiteAll{0, 2}, bmeYes{1, 0}, bmeAll{1, 2};
  const Figure white = percentage(released.figure(whiteYes), released.figure(whiteAll));
  const Figure bme = percentage(released.figure(bmeYes), released.figure(bmeAll));
  CHECK(bme.status == CellStatus::RateSuppressed);
  CHECK_FALSE(bme.value);
  CHECK(bme.reason == kHiddenExplanation); // Not "fewer than 11": that would narrow it.
  const Figure likelihood = relativeLikelihood(released.figure(whiteYes), released.figure(whiteAll),
                                               released.figure(bmeYes), released.figure(bmeAll));
  CHECK(likelihood.status == CellStatus::RateSuppressed);
  // White, Yes is a secondary cell here (it would give away BME, Yes via the column total).
  if (released.status(whiteYes) == CellStatus::Released) {
    CHECK(white.value == Approx(25.0));
  } else {
    CHECK(white.status == CellStatus::RateSuppressed);
    CHECK(white.reason == kHiddenExplanation);
  }

  const Figure forty{Figure::Kind::Count, CellStatus::Released, 40.0, {}};
  const Figure ten{Figure::Kind::Count, CellStatus::Released, 10.0, {}};
  const Figure twenty{Figure::Kind::Count, CellStatus::Released, 20.0, {}};
  const Figure none{Figure::Kind::Count, CellStatus::Released, 0.0, {}};
  CHECK(percentage(ten, forty).value == Approx(25.0));
  CHECK(relativeLikelihood(twenty, forty, ten, forty).value == Approx(2.0));
  CHECK(percentage(ten, none).status == CellStatus::RateSuppressed);
  CHECK(percentage(ten, none).reason == kHiddenExplanation);
  CHECK(mean(3.75, forty).value == Approx(3.75));
  CHECK(mean(3.75, released.figure(bmeYes)).status == CellStatus::RateSuppressed);
  CHECK(displayText(percentage(ten, forty), {}).text == "25%");
  // Survey percentages are whole numbers everywhere: 1 of 3 is 33, 2 of 3 is 67.
  const Figure one{Figure::Kind::Count, CellStatus::Released, 1.0, {}}, two{Figure::Kind::Count, CellStatus::Released, 2.0, {}},
      three{Figure::Kind::Count, CellStatus::Released, 3.0, {}};
  CHECK(percentage(one, three).value == 33.0);
  CHECK(csvText(percentage(two, three)) == "67");
  CHECK(toJson(percentage(two, three)) == nlohmann::json({{"value", 67}, {"status", "released"}}));
  CHECK(csvText(relativeLikelihood(twenty, forty, ten, forty)) == "2.00");
}

TEST_CASE("disclosure: every hidden figure shows the same, whatever hid it", "[core][disclosure]") {
  // Issue 14, item 5: "fewer than 11" or "status": "primary" tells a reader a cell is 1..k-1,
  // and three such cells in a column of 30 must each be 10; "withheld" beside hidden zeros
  // says 0. Nothing that leaves the server may tell one hidden cell from another.
  const DisclosurePolicy policy;
  const Figure released{Figure::Kind::Count, CellStatus::Released, 1234.0, {}};
  CHECK(displayText(released, policy).text == "1,234");
  CHECK(displayText(released, policy).hint.empty());
  CHECK(csvText(released) == "1234");
  CHECK(toJson(released) == nlohmann::json({{"value", 1234}, {"status", "released"}}));
  for (const CellStatus status : {CellStatus::Primary, CellStatus::Secondary, CellStatus::Withheld, CellStatus::Differencing,
                                  CellStatus::RateSuppressed}) {
    INFO(statusName(status));
    for (const Figure::Kind kind : {Figure::Kind::Count, Figure::Kind::Percentage, Figure::Kind::Mean}) {
      const Figure hidden{kind, status, std::nullopt, "fewer than 11 people"};
      CHECK(displayText(hidden, policy).text == "*");
      CHECK(displayText(hidden, policy).hint == kHiddenExplanation);
      CHECK(csvText(hidden) == "*");
      CHECK(toJson(hidden) == nlohmann::json({{"value", nullptr}, {"status", "hidden"}}));
      CHECK(templateData(hidden, policy) ==
            nlohmann::json({{"text", "*"}, {"hint", kHiddenExplanation}, {"hidden", true}, {"status", "hidden"}}));
    }
  }
  // The reason survives for the audit log only.
  CHECK(std::string(statusName(CellStatus::RateSuppressed)) == "rate-suppressed");
  CHECK(std::string(publicStatusName(CellStatus::Primary)) == "hidden");
  CHECK(std::string(publicStatusName(CellStatus::Rounded)) == "rounded");
}

TEST_CASE("disclosure: three hidden cells summing to 30 carry nothing that says they are each 10", "[core][disclosure]") {
  // The label attack: a column of three small cells, 10 each, and a larger one, with the total
  // released. Were the three marked "fewer than 11" (primary), the total minus the released
  // cells, 30, split over three cells each at most 10, would pin every one of them.
  Table table({{"Directorate", {"Estates", "Finance", "Digital", "Nursing"}, {}, "Total"}});
  table.add({"Estates"}, 10);
  table.add({"Finance"}, 10);
  table.add({"Digital"}, 10);
  table.add({"Nursing"}, 70);
  const auto released = suppressAndAudit(table, {});
  const DisclosurePolicy policy;
  std::set<std::string> shownForHidden;
  for (const auto& cell : table.allPositions()) {
    const Figure figure = released.figure(cell);
    if (figure.released()) continue;
    shownForHidden.insert(toJson(figure).dump() + csvText(figure) + templateData(figure, policy).dump());
  }
  CHECK(shownForHidden.size() == 1); // Every hidden cell looks exactly alike.
  CHECK(released.value({4}) == 100);
}

TEST_CASE("disclosure: survey proportions are released by the size of the group that answered", "[core][disclosure]") {
  // Issue 14: 3 medical respondents were hidden while "said yes: 0" beside them was released,
  // which told the reader how each of the three answered.
  Table table({{"Staff group", {"Nursing", "Admin", "Medical", "Allied"}, {}, "All"}, {"Answer", {"Yes", "No"}, {}, "Answered"}});
  table.add({"Nursing", "Yes"}, 2);
  table.add({"Nursing", "No"}, 38);
  table.add({"Admin", "Yes"}, 9);
  table.add({"Admin", "No"}, 21);
  table.add({"Medical", "No"}, 3); // said yes: 0
  table.add({"Allied", "Yes"}, 6);
  table.add({"Allied", "No"}, 8);
  const auto released = suppress(table, {}, MeasureRule::SurveyProportions);
  const std::size_t nursing = 0, admin = 1, medical = 2, allied = 3, all = 4, yes = 0, no = 1, answered = 2;
  // A group of at least k shows every answer, however few gave it.
  CHECK(released.value({nursing, yes}) == 2);
  CHECK(released.value({nursing, answered}) == 40);
  CHECK(percentage(released.figure({nursing, yes}), released.figure({nursing, answered})).value == 5.0);
  // The small group: every cell hidden, the zero included.
  for (const std::size_t answer : {yes, no, answered}) CHECK_FALSE(released.value({medical, answer}));
  CHECK(released.status({medical, yes}) == CellStatus::Primary); // For the audit log.
  // And its size cannot be worked out from the total minus the other groups: another group's
  // size is hidden too (Allied, the smallest that covers it), with all its answers.
  for (const std::size_t answer : {yes, no, answered}) CHECK_FALSE(released.value({allied, answer}));
  CHECK(released.value({admin, answered}) == 30);
  CHECK(released.value({all, answered}) == 87);
  CHECK(released.value({all, yes}) == 17);
  // The group sizes, as released, pass the independent auditor.
  Table sizes({{"Staff group", {"Nursing", "Admin", "Medical", "Allied"}, {}, "All"}});
  for (const auto& [group, people] : std::vector<std::pair<std::string, int>>{{"Nursing", 40}, {"Admin", 30}, {"Medical", 3}, {"Allied", 14}}) {
    sizes.add({group}, people);
  }
  std::vector<CellStatus> status;
  for (std::size_t g = 0; g <= all; ++g) status.push_back(released.status({g, answered}));
  const auto audit = auditTable(SuppressedTable(sizes.flat(), status), {});
  INFO(audit.describe());
  CHECK(audit.passed());
  // Zeros in a hidden group look like every other hidden figure.
  CHECK(toJson(released.figure({medical, yes})) == toJson(released.figure({allied, answered})));
  CHECK_THROWS_AS(suppress(Table({{"Answer", {"Yes", "No"}, {}, "Total"}}), {}, MeasureRule::SurveyProportions), DisclosureError);
}

TEST_CASE("disclosure: the core/figure template shows hidden figures with words for screen readers", "[core][disclosure]") {
  Registry registry;
  for (const EmbeddedFile* file = belongingCoreTemplates; file->name; ++file) registry.addTemplate("core", file->name, file->text);
  MustacheRenderer renderer(registry, {});
  const DisclosurePolicy policy;
  const Figure primary{Figure::Kind::Count, CellStatus::Primary, std::nullopt, "fewer than 11 people"};
  const Figure secondary{Figure::Kind::Count, CellStatus::Secondary, std::nullopt, "hidden so that a smaller group cannot be worked out from the totals"};
  const Figure released{Figure::Kind::Count, CellStatus::Released, 42.0, {}};
  const std::string hidden = "*<span class=\"nhsuk-u-visually-hidden\"> (hidden to protect small groups)</span>\n";
  CHECK(renderer.render("core/figure", templateData(primary, policy)) == hidden);
  CHECK(renderer.render("core/figure", templateData(secondary, policy)) == hidden);
  CHECK(renderer.render("core/figure", templateData(released, policy)) == "42\n");
  CHECK(templateData(primary, policy)["hidden"] == true);
  CHECK(templateData(primary, policy)["status"] == "hidden");
}
