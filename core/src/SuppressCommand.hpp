#pragma once
// `belonging suppress`: makes a spreadsheet table of counts safe to publish.

#include <ostream>
#include <string>
#include <vector>

namespace belonging {

struct SuppressOptions {
  std::string input;
  std::string output;        ///< Empty: standard output.
  int threshold = 11;
  int round = 0;             ///< 0, or 5 or 10 to round released counts.
  bool hideZeros = false;    ///< Show counts of 0 as "*".
  std::string format = "csv"; ///< "csv" (hidden cells "*") or "json" (value null plus status).
  std::string totals = "auto"; ///< "auto": release the totals the input has; "none": release none.
  /** Labels, besides "Total", "Grand Total" and "All", that mark a total row or column (any case). */
  std::vector<std::string> totalLabels;
};

/**
 * Reads a CSV (first row column labels, first column row labels, optional total row and
 * column), suppresses it and writes the same table with hidden cells as "*". Returns the exit
 * status: 0, or 2 for bad input (a second total row or column, a total that is not the sum of
 * its parts) with a message naming the row and column on `err`. The summary goes to `err` too,
 * and says how many cells are hidden, never why or how many people they hold.
 */
int runSuppress(const SuppressOptions& options, std::ostream& err);

} // namespace belonging
