// What the generator agent is told: the artefact contract (system prompt), the first
// round's request, and each "make it harder" round's request with the previous task and its
// validation feedback.
#pragma once

#include <string>

#include "generators/authored/submission.h"

namespace envforge::generators::authored {

// Used when a job gives no category description.
std::string default_description();

std::string generator_system_prompt(const std::string& description, const SubmissionRules& rules);

std::string first_round_request(const std::string& description);

// `feedback`: what validation said of the previous task ("" when it was usable).
std::string hardening_request(int round, const Submission& previous, bool previous_usable, const std::string& feedback);

// The solvers' system prompt when the agent gives none.
std::string default_solver_prompt(const std::string& description);

}  // namespace envforge::generators::authored
