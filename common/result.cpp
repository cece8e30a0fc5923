#include "common/result.hpp"

#include <ostream>

namespace loraplane {

const char* to_string(Errc code) {
  switch (code) {
    case Errc::invalid_argument: return "invalid_argument";
    case Errc::not_found: return "not_found";
    case Errc::already_exists: return "already_exists";
    case Errc::conflict: return "conflict";
    case Errc::corrupt: return "corrupt";
    case Errc::io: return "io";
    case Errc::unavailable: return "unavailable";
    case Errc::limit_exceeded: return "limit_exceeded";
    case Errc::internal: return "internal";
  }
  return "internal";
}

std::ostream& operator<<(std::ostream& out, Errc code) { return out << to_string(code); }

}  // namespace loraplane
