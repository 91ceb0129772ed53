# Writes the git revision of the source tree into a header, touching it only when
# the revision changes so that a rebuild recompiles one file at most.
# Inputs: SOURCE_DIR, OUT.
set(revision "unknown")
find_program(GIT git)
if(GIT)
  execute_process(COMMAND ${GIT} -C ${SOURCE_DIR} describe --always --dirty --abbrev=40
                  OUTPUT_VARIABLE described RESULT_VARIABLE rc ERROR_QUIET
                  OUTPUT_STRIP_TRAILING_WHITESPACE)
  if(rc EQUAL 0 AND described)
    set(revision "${described}")
  endif()
endif()
set(content "#define ENVFORGE_GIT_REVISION \"${revision}\"\n")
if(EXISTS ${OUT})
  file(READ ${OUT} old)
endif()
if(NOT "${old}" STREQUAL "${content}")
  file(WRITE ${OUT} "${content}")
endif()
