// csv.h — RFC 4180 CSV, as spreadsheets write it, for uploads (the device import): fields
// separated by ',', records by CRLF or LF; a field in double quotes may hold commas, line breaks
// and doubled quotes (""). A UTF-8 byte order mark at the start is skipped; empty lines are
// skipped. Errors name the line (1-based) where they are.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace keel::fleet {

struct CsvRecord {
  int64_t line = 0;  // where the record starts (1-based)
  std::vector<std::string> fields;
};

struct CsvError {
  int64_t line = 0;
  std::string message;
};

class CsvReader {
 public:
  explicit CsvReader(std::string_view text);
  // The next record, or nullopt at the end of the text or at an error (then error() is set;
  // reading stops there: after a quoting mistake, where the next record starts is unknown).
  std::optional<CsvRecord> next();
  const std::optional<CsvError>& error() const { return error_; }

 private:
  std::string_view text_;
  size_t pos_ = 0;
  int64_t line_ = 1;
  std::optional<CsvError> error_;
};

}  // namespace keel::fleet
