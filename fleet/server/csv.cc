#include "csv.h"

namespace keel::fleet {

CsvReader::CsvReader(std::string_view text) : text_(text) {
  if (text_.substr(0, 3) == "\xEF\xBB\xBF") pos_ = 3;
}

std::optional<CsvRecord> CsvReader::next() {
  if (error_) return std::nullopt;
  // Empty lines (and the newline ending the last record) hold no record.
  while (pos_ < text_.size() && (text_[pos_] == '\n' || text_[pos_] == '\r')) {
    if (text_[pos_] == '\n') ++line_;
    else if (pos_ + 1 < text_.size() && text_[pos_ + 1] == '\n') {
      ++line_;
      ++pos_;
    } else {
      ++line_;  // a lone CR (old Mac line end) also ends a line
    }
    ++pos_;
  }
  if (pos_ >= text_.size()) return std::nullopt;
  CsvRecord rec;
  rec.line = line_;
  std::string field;
  for (;;) {
    // One field, starting at pos_.
    field.clear();
    if (pos_ < text_.size() && text_[pos_] == '"') {
      const int64_t opened = line_;
      ++pos_;
      for (;;) {
        if (pos_ >= text_.size()) {
          error_ = CsvError{opened, "a quoted field opened on this line is never closed (a \" is missing)"};
          return std::nullopt;
        }
        const char c = text_[pos_++];
        if (c == '"') {
          if (pos_ < text_.size() && text_[pos_] == '"') {
            field.push_back('"');
            ++pos_;
            continue;
          }
          break;
        }
        if (c == '\n') ++line_;
        else if (c == '\r' && !(pos_ < text_.size() && text_[pos_] == '\n')) ++line_;
        field.push_back(c);
      }
      if (pos_ < text_.size() && text_[pos_] != ',' && text_[pos_] != '\n' && text_[pos_] != '\r') {
        error_ = CsvError{line_, "text after the closing quote of a field (write a quote inside a quoted field as \"\")"};
        return std::nullopt;
      }
    } else {
      while (pos_ < text_.size() && text_[pos_] != ',' && text_[pos_] != '\n' && text_[pos_] != '\r') {
        if (text_[pos_] == '"') {
          error_ = CsvError{line_, "a quote inside an unquoted field (quote the whole field and double the quote: \"a\"\"b\")"};
          return std::nullopt;
        }
        field.push_back(text_[pos_++]);
      }
    }
    rec.fields.push_back(field);
    if (pos_ >= text_.size()) return rec;
    if (text_[pos_] == ',') {
      ++pos_;
      continue;
    }
    // End of the record: CRLF, LF or CR.
    if (text_[pos_] == '\r' && pos_ + 1 < text_.size() && text_[pos_ + 1] == '\n') ++pos_;
    ++pos_;
    ++line_;
    return rec;
  }
}

}  // namespace keel::fleet
