# Functions for building Belonging plugins, in this tree and out of it (installed with the SDK).
#
#   belonging_add_plugin(hello SOURCES hello.cpp TEMPLATES templates/page.mustache)
#
# builds hello.so (hidden visibility, one exported entry point) into
# BELONGING_PLUGIN_OUTPUT_DIR, with the templates compiled in as `helloTemplates`
# (pass it to Registrar::addTemplates). STATIC also builds hello_static, a static library of
# the same sources whose entry point is belonging_plugin_entry_hello, for unit tests.

function(belonging_embed_files target symbol)
  set(output ${CMAKE_CURRENT_BINARY_DIR}/${symbol}.cpp)
  set(files "")
  foreach(file IN LISTS ARGN)
    get_filename_component(absolute "${file}" ABSOLUTE)
    list(APPEND files "${absolute}")
  endforeach()
  add_custom_command(OUTPUT ${output}
    COMMAND ${CMAKE_COMMAND} -DOUTPUT=${output} -DSYMBOL=${symbol} "-DFILES=${files}" -P ${BELONGING_EMBED_SCRIPT}
    DEPENDS ${files} ${BELONGING_EMBED_SCRIPT}
    COMMENT "Embedding ${symbol}" VERBATIM)
  target_sources(${target} PRIVATE ${output})
endfunction()

function(belonging_add_plugin name)
  cmake_parse_arguments(ARG "STATIC" "" "SOURCES;TEMPLATES;LIBRARIES" ${ARGN})
  if(NOT BELONGING_PLUGIN_OUTPUT_DIR)
    set(BELONGING_PLUGIN_OUTPUT_DIR ${CMAKE_BINARY_DIR}/plugins)
  endif()
  add_library(${name} MODULE ${ARG_SOURCES})
  set_target_properties(${name} PROPERTIES PREFIX "" CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON LIBRARY_OUTPUT_DIRECTORY ${BELONGING_PLUGIN_OUTPUT_DIR})
  target_link_libraries(${name} PRIVATE Belonging::sdk ${ARG_LIBRARIES})
  if(TARGET belonging_warnings)
    target_link_libraries(${name} PRIVATE belonging_warnings)
  endif()
  if(ARG_TEMPLATES)
    belonging_embed_files(${name} ${name}Templates ${ARG_TEMPLATES})
  endif()
  if(ARG_STATIC)
    add_library(${name}_static STATIC ${ARG_SOURCES})
    target_compile_definitions(${name}_static PRIVATE BELONGING_PLUGIN_STATIC_ENTRY=belonging_plugin_entry_${name})
    target_link_libraries(${name}_static PUBLIC Belonging::sdk ${ARG_LIBRARIES})
    if(ARG_TEMPLATES)
      belonging_embed_files(${name}_static ${name}Templates ${ARG_TEMPLATES})
    endif()
  endif()
endfunction()
