// File: fuzz/json_check.h
//
// A strict JSON (RFC 8259) validator for the admin fuzzer: the admin port promises valid
// UTF-8 JSON whatever bytes a client put in its path or query, and this checks it.
#ifndef CONNSCHED_FUZZ_JSON_CHECK_H_
#define CONNSCHED_FUZZ_JSON_CHECK_H_

#include <cstddef>
#include <string_view>

namespace fuzz {

class JsonCheck {
 public:
  // True if `text` is one JSON value, optionally surrounded by whitespace.
  static bool valid(std::string_view text) {
    JsonCheck c(text);
    c.space();
    if (!c.value(0)) return false;
    c.space();
    return c.pos_ == c.s_.size();
  }

 private:
  explicit JsonCheck(std::string_view s) : s_(s) {}

  // Cursor helpers: reading past the end yields 0, which no rule accepts.

  bool at_end() const { return pos_ >= s_.size(); }
  unsigned char peek() const { return at_end() ? 0 : static_cast<unsigned char>(s_[pos_]); }
  bool eat(char c) {
    if (peek() != static_cast<unsigned char>(c)) return false;
    ++pos_;
    return true;
  }
  void space() {
    while (!at_end() && (peek() == ' ' || peek() == '\t' || peek() == '\n' || peek() == '\r'))
      ++pos_;
  }
  bool word(std::string_view w) {
    if (s_.substr(pos_, w.size()) != w) return false;
    pos_ += w.size();
    return true;
  }
  static bool digit(unsigned char c) { return c >= '0' && c <= '9'; }
  static bool hex(unsigned char c) {
    return digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
  }

  // Walks one value; nesting is bounded so a deep document cannot overflow the stack.
  bool value(int depth) {
    if (depth > 64) return false;
    switch (peek()) {
      case '{':
        return object(depth);
      case '[':
        return array(depth);
      case '"':
        return string();
      case 't':
        return word("true");
      case 'f':
        return word("false");
      case 'n':
        return word("null");
      default:
        return number();
    }
  }
  // The grammar's rules, one each; true when the text at the cursor is one, cursor after it.
  bool object(int depth) {
    eat('{');
    space();
    if (eat('}')) return true;
    while (true) {
      space();
      if (!string()) return false;
      space();
      if (!eat(':')) return false;
      space();
      if (!value(depth + 1)) return false;
      space();
      if (eat('}')) return true;
      if (!eat(',')) return false;
    }
  }
  bool array(int depth) {
    eat('[');
    space();
    if (eat(']')) return true;
    while (true) {
      space();
      if (!value(depth + 1)) return false;
      space();
      if (eat(']')) return true;
      if (!eat(',')) return false;
    }
  }
  bool number() {
    eat('-');
    if (eat('0')) {
    } else if (digit(peek())) {
      while (digit(peek())) ++pos_;
    } else {
      return false;
    }
    if (eat('.')) {
      if (!digit(peek())) return false;
      while (digit(peek())) ++pos_;
    }
    if (eat('e') || eat('E')) {
      if (!eat('+')) eat('-');
      if (!digit(peek())) return false;
      while (digit(peek())) ++pos_;
    }
    return true;
  }
  bool string() {
    if (!eat('"')) return false;
    while (!at_end()) {
      unsigned char c = peek();
      if (c == '"') {
        ++pos_;
        return true;
      }
      if (c < 0x20) return false;
      if (c == '\\') {
        ++pos_;
        unsigned char e = peek();
        ++pos_;
        if (e == 'u') {
          for (int i = 0; i < 4; ++i, ++pos_)
            if (!hex(peek())) return false;
        } else if (std::string_view("\"\\/bfnrt").find(static_cast<char>(e)) ==
                       std::string_view::npos ||
                   e == 0) {
          return false;
        }
      } else if (c >= 0x80) {
        if (!utf8()) return false;
      } else {
        ++pos_;
      }
    }
    return false;
  }
  // One well-formed UTF-8 sequence (RFC 3629), checked independently of the server's code.
  bool utf8() {
    unsigned char b0 = peek();
    std::size_t n = 0;
    unsigned lo = 0x80, hi = 0xBF;
    if (b0 >= 0xC2 && b0 <= 0xDF) {
      n = 1;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
      n = 2;
      if (b0 == 0xE0) lo = 0xA0;
      if (b0 == 0xED) hi = 0x9F;
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
      n = 3;
      if (b0 == 0xF0) lo = 0x90;
      if (b0 == 0xF4) hi = 0x8F;
    } else {
      return false;
    }
    ++pos_;
    for (std::size_t i = 0; i < n; ++i, ++pos_) {
      unsigned char b = peek();
      if (at_end() || b < (i == 0 ? lo : 0x80) || b > (i == 0 ? hi : 0xBF)) return false;
    }
    return true;
  }

  std::string_view s_;
  std::size_t pos_ = 0;
};

}  // namespace fuzz

#endif  // CONNSCHED_FUZZ_JSON_CHECK_H_
