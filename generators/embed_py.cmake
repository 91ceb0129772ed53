# Embeds the files of one category's py/ folder into a C++ source: one function
# `std::string_view STEM_EXT()` per file (tools.py -> tools_py(), tool_schemas.json ->
# tool_schemas_json()), in namespace envforge::generators::CATEGORY, declared by the category's
# embedded.h. A marker @NAME@ in a file is replaced by the text of name.json from the same
# folder (tools.py carries its schemas inline as @TOOL_SCHEMAS@).
# Usage: cmake -DCATEGORY=trip -DFILES="a.py;b.json" -DOUT=out.cc -P embed_py.cmake
set(delim "efpy")
set(json_files ${FILES})
list(FILTER json_files INCLUDE REGEX "\\.json$")
string(CONCAT body "// Generated from generators/${CATEGORY}/py by generators/embed_py.cmake; do not edit.\n"
         "#include \"generators/${CATEGORY}/embedded.h\"\n\nnamespace envforge::generators::${CATEGORY} {\n")
foreach(f ${FILES})
  file(READ ${f} text)
  foreach(j ${json_files})
    get_filename_component(jstem ${j} NAME_WE)
    string(TOUPPER "${jstem}" marker)
    if(text MATCHES "@${marker}@")
      file(READ ${j} jtext)
      string(REPLACE "@${marker}@" "${jtext}" text "${text}")
    endif()
  endforeach()
  get_filename_component(stem ${f} NAME_WE)
  get_filename_component(ext ${f} LAST_EXT)
  string(SUBSTRING "${ext}" 1 -1 ext)
  string(APPEND body "\nstd::string_view ${stem}_${ext}() {\n  static constexpr const char kText[] = R\"${delim}(${text})${delim}\";\n  return kText;\n}\n")
endforeach()
string(APPEND body "\n}  // namespace envforge::generators::${CATEGORY}\n")
file(WRITE ${OUT} "${body}")
