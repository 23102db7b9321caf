#include "vault/clock.h"

namespace wxvault {

RealClock* RealClock::Get() {
  static RealClock* const clock = new RealClock();
  return clock;
}

}  // namespace wxvault
