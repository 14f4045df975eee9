#pragma once
// `belonging suppress`: makes a spreadsheet table of counts safe to publish.

#include <ostream>
#include <string>

namespace belonging {

struct SuppressOptions {
  std::string input;
  std::string output;        ///< Empty: standard output.
  int threshold = 11;
  int round = 0;             ///< 0, or 5 or 10 to round released counts.
  bool hideZeros = false;    ///< Show counts of 0 as "*".
  std::string format = "csv"; ///< "csv" (hidden cells "*") or "json" (value null plus status).
  std::string totals = "auto"; ///< "auto": release the totals the input has; "none": release none.
};

/**
 * Reads a CSV (first row column labels, first column row labels, optional Total row and
 * column), suppresses it and writes the same table with hidden cells as "*". Returns the exit
 * status: 0, or 2 for bad input with a message naming the row and column on `err`.
 */
int runSuppress(const SuppressOptions& options, std::ostream& err);

} // namespace belonging
