#pragma once
// Demo survey waves for `belonging demo`: one closed, with made-up answers, so the People
// team's results page shows real disclosure control at work; one open, for staff to try.

#include "ExperienceService.hpp"

namespace experience {

/** Idempotent: does nothing once any wave exists. */
void seedDemo(ExperienceService& service);

} // namespace experience
