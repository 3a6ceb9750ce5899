# Integration tests: the real rtcgw daemon with sipp and node WebSocket clients (node --test).
# Included from tests/CMakeLists.txt. Every test picks free ports at run time, so `ctest -j2` is
# safe. Needs node (with /node_modules from `npm ci`) and sipp.
find_program(RTCGW_NODE node)
find_program(RTCGW_SIPP sipp)
if(NOT RTCGW_NODE OR NOT RTCGW_SIPP)
  message(STATUS "integration tests disabled: node or sipp not found")
  return()
endif()

set(RTCGW_IT_TESTS
  register call_originating call_terminating bad_input jssip rfc4475 daemon tcp media)
foreach(name IN LISTS RTCGW_IT_TESTS)
  add_test(NAME it_${name}
    COMMAND ${RTCGW_NODE} --test ${CMAKE_CURRENT_SOURCE_DIR}/integration/${name}.test.js
    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  set_tests_properties(it_${name} PROPERTIES
    ENVIRONMENT "RTCGW_BIN=$<TARGET_FILE:rtcgw>;RTCGW_SHARED_DIR=${PROJECT_SOURCE_DIR}/../shared;RTCGW_MEDIA_LOAD=$<TARGET_FILE:rtcgw_bench_media_load>"
    TIMEOUT 120
    LABELS integration)
endforeach()
