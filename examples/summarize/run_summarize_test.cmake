# Runs the `summarize` program once and checks what users would see.
#   PROGRAM          the summarize executable
#   ARGS             its arguments, separated by '|'
#   EXPECT_EXIT      the exit status it must return
#   EXPECT_STDOUT    (optional) regex that standard output, trailing newline removed, must match;
#                    standard output must then be non-empty
#   EXPECT_STDERR    (optional) regex that standard error must match
#   STDIN_FILE       (optional) file fed to standard input
#   JSONL_DOCUMENTS  (optional) N: write N documents (copies of lines of the sample) as JSON Lines
#                    to WORK_DIR/input.jsonl, pass it with --jsonl, and check N objects come back
#   WORK_DIR         scratch folder
cmake_minimum_required(VERSION 3.16)

file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")

string(REPLACE "|" ";" args "${ARGS}")

if(JSONL_DOCUMENTS)
  set(lines "")
  foreach(i RANGE 1 ${JSONL_DOCUMENTS})
    # Dialogue turns of growing length, so the batch is padded.
    set(document "#Person1#: Would you like to come out with me tonight?")
    foreach(j RANGE 1 ${i})
      string(APPEND document "\\n#Person2#: Sorry, I can't. I have to work late on day ${j}.")
    endforeach()
    string(APPEND lines "{\"id\": ${i}, \"document\": \"${document}\"}\n")
  endforeach()
  # A blank line between records is allowed.
  file(WRITE "${WORK_DIR}/input.jsonl" "\n${lines}")
  list(APPEND args --jsonl "${WORK_DIR}/input.jsonl" --no-progress)
endif()

set(stdin_arg "")
if(STDIN_FILE)
  set(stdin_arg INPUT_FILE "${STDIN_FILE}")
endif()

execute_process(
  COMMAND "${PROGRAM}" ${args}
  ${stdin_arg}
  WORKING_DIRECTORY "${WORK_DIR}"
  RESULT_VARIABLE status
  OUTPUT_VARIABLE stdout
  ERROR_VARIABLE stderr
  TIMEOUT 110)

message(STATUS "command: ${PROGRAM} ${args}")
message(STATUS "exit status: ${status}")
message(STATUS "standard output:\n${stdout}")
message(STATUS "standard error:\n${stderr}")

if(NOT "${status}" STREQUAL "${EXPECT_EXIT}")
  message(FATAL_ERROR "exit status ${status}, expected ${EXPECT_EXIT}")
endif()

if(DEFINED EXPECT_STDOUT AND NOT EXPECT_STDOUT STREQUAL "")
  string(REGEX REPLACE "\n$" "" trimmed "${stdout}")
  if(trimmed STREQUAL "")
    message(FATAL_ERROR "standard output is empty")
  endif()
  if(NOT trimmed MATCHES "${EXPECT_STDOUT}")
    message(FATAL_ERROR "standard output does not match '${EXPECT_STDOUT}'")
  endif()
endif()

if(DEFINED EXPECT_STDERR AND NOT EXPECT_STDERR STREQUAL "")
  if(NOT stderr MATCHES "${EXPECT_STDERR}")
    message(FATAL_ERROR "standard error does not match '${EXPECT_STDERR}'")
  endif()
endif()

if(JSONL_DOCUMENTS)
  string(REGEX MATCHALL "[^\n]+" records "${stdout}")
  list(LENGTH records count)
  if(NOT count EQUAL JSONL_DOCUMENTS)
    message(FATAL_ERROR "${count} JSON lines came back, expected ${JSONL_DOCUMENTS}")
  endif()
  set(expected_id 1)
  foreach(record IN LISTS records)
    # Input order and the original fields (in their order) are kept; the summary is a
    # non-empty string added last.
    if(NOT record MATCHES "^{\"id\":${expected_id},\"document\":\"" OR NOT record MATCHES "\"summary_text\":\"[^\"]+\"}$")
      message(FATAL_ERROR "record ${expected_id} is wrong: ${record}")
    endif()
    math(EXPR expected_id "${expected_id} + 1")
  endforeach()
endif()
