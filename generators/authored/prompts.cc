#include "generators/authored/prompts.h"

#include "generators/authored/text_util.h"

namespace envforge::generators::authored {

std::string default_description() {
  return "A small relational database of a domain you choose (for example a library catalogue, a shop's "
         "orders, a clinic's appointments), with tools to search and look up its records, and tasks that "
         "need several lookups and some reasoning over the results.";
}

std::string generator_system_prompt(const std::string& description, const SubmissionRules& rules) {
  return "You build environments for training tool-using agents. Category:\n" + description +
         "\n\n"
         "You work in a sandboxed workspace (the directory /work) through tools: run_python, run_bash, "
         "write_file, read_file, list_files, query_db, and submit. Each run is a fresh sandbox with no network; "
         "files you write under /work are kept between calls. Use only the Python standard library.\n\n"
         "Build these files in the workspace:\n"
         "- world.db: an SQLite database, the environment's state (build it with run_python and sqlite3; "
         "realistic, varied rows, enough that the task needs the tools).\n"
         "- tools.py: one Python function per tool, called as tool_name(**arguments), returning JSON-serializable "
         "values, and {\"error\": \"...\"} for bad input instead of raising. Open the database read-only at the "
         "path in the environment variable ENVFORGE_WORLD_DB: "
         "sqlite3.connect(\"file:%s?mode=ro\" % os.environ.get(\"ENVFORGE_WORLD_DB\", \"/world/world.db\"), "
         "uri=True). In the workspace that variable points at /work/world.db.\n"
         "- tools.json: a JSON array with one OpenAI function schema per function of tools.py: "
         "{\"type\": \"function\", \"function\": {\"name\", \"description\", \"parameters\": {JSON Schema of type "
         "object}}}.\n"
         "- verify.py: def verify(answer, world, task) returning {\"pass\": bool, \"score\": float, \"reason\": str}. "
         "`answer` is the solver's answer as JSON (any type: it may be null, a string, malformed), `world` is "
         "the database path, `task` is {\"prompt\": ..., \"params\": task_params}. It must never raise: a "
         "malformed or wrong answer returns pass false. It must be deterministic.\n\n"
         "Then call submit with: task_prompt (what the solver is asked, stating the exact JSON answer format), "
         "answer_schema (JSON Schema of the answer), reference_solution (the correct answer), task_params "
         "(optional data for verify), tool_examples (at least one working call of every tool), solver_system_prompt "
         "(optional), and wrong_answers: at least " +
         std::to_string(rules.min_wrong_answers) +
         " plausible answers that are wrong and that verify must reject, each with why.\n\n"
         "envforge then validates in its own sandbox: the tools answer their examples, the reference passes, "
         "every wrong answer fails, so do envforge's own wrong answers (empty, null, malformed JSON, wrong "
         "type), and a second run gives the same verdicts. A submission that is refused comes back as a tool "
         "error: fix it and submit again. After an accepted submit, reply with a one-line summary and no tool "
         "call.";
}

std::string first_round_request(const std::string& description) {
  return "Build a new environment of this category and one task for it:\n" + description +
         "\nTest your tools and your verifier in the workspace before you submit.";
}

std::string hardening_request(int round, const Submission& prev, bool previous_usable, const std::string& feedback) {
  std::string out = "Round " + std::to_string(round + 1) + ": make the task harder. The environment (world.db, "
                    "tools.py, tools.json) stays as it is; submit a new task for it that needs more steps, more "
                    "tools or more careful reasoning than the previous one, with its own reference solution, "
                    "verify.py and wrong answers.\n\nThe previous task:\n" +
                    clip_text(prev.prompt, 4000) + "\nIts answer schema: " + clip_text(prev.answer_schema.dump(), 2000) +
                    "\nIts reference solution: " + clip_text(prev.reference.dump(), 2000) + "\n\n";
  if (previous_usable)
    out += "It passed validation.";
  else
    out += "It FAILED validation: " + clip_text(feedback, 2000) +
           "\nMake sure the new task and its verifier do not repeat this mistake.";
  return out;
}

std::string default_solver_prompt(const std::string& description) {
  return "You are working in an environment with a database you can reach only through the tools. "
         "Environment: " +
         description +
         "\nUse the tools to find what the task asks for, then answer with JSON only, in the exact format the "
         "task states.";
}

}  // namespace envforge::generators::authored
