# Embeds an environment's Python files (tools.py with tool_schemas.json inlined, verify.py,
# and any EXTRA modules) into a C++ source file, in namespace envforge::generators::NS.
# Usage: cmake -DPY_DIR=... -DOUT=... [-DNS=trip] [-DEXTRA=probe] -P embed_py.cmake
if(NOT NS)
  set(NS trip)
endif()
file(READ ${PY_DIR}/tools.py tools)
file(READ ${PY_DIR}/tool_schemas.json schemas)
file(READ ${PY_DIR}/verify.py verify)
string(REPLACE "@TOOL_SCHEMAS@" "${schemas}" tools "${tools}")
set(delim "efpy")
set(extra "")
foreach(name IN LISTS EXTRA)
  file(READ ${PY_DIR}/${name}.py text)
  string(APPEND extra "std::string_view ${name}_py() {\n  static constexpr const char kText[] = R\"${delim}(${text})${delim}\";\n  return kText;\n}\n\n")
endforeach()
file(WRITE ${OUT} "// Generated from generators/${NS}/py by embed_py.cmake; do not edit.\n"
  "#include \"generators/${NS}/embedded.h\"\n\n"
  "namespace envforge::generators::${NS} {\n\n"
  "std::string_view tools_py() {\n  static constexpr const char kText[] = R\"${delim}(${tools})${delim}\";\n  return kText;\n}\n\n"
  "std::string_view tool_schemas_json() {\n  static constexpr const char kText[] = R\"${delim}(${schemas})${delim}\";\n  return kText;\n}\n\n"
  "std::string_view verify_py() {\n  static constexpr const char kText[] = R\"${delim}(${verify})${delim}\";\n  return kText;\n}\n\n"
  "${extra}"
  "}  // namespace envforge::generators::${NS}\n")
